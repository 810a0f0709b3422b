/**
 * C prototype parser: turns `'int add(int a, int b)'` into the Signature the native call machinery
 * consumes. A small tokenizer feeds a recursive-descent parser for the one declarator shape we support
 * (a function taking scalars and pointers), so that every rejection can point at a column and say
 * what would have been accepted there.
 */
import { DlswapError } from './errors';

export type Kind =
  | 'void'
  | 'bool'
  | 'i8'
  | 'u8'
  | 'i16'
  | 'u16'
  | 'i32'
  | 'u32'
  | 'i64'
  | 'u64'
  | 'f32'
  | 'f64'
  | 'pointer'
  | 'string';

export interface TypeInfo {
  kind: Kind;
  /** Normalized C spelling, e.g. `'unsigned long'`, `'const char *'`, `'char *const *'`. */
  c: string;
  pointerDepth: number;
}

export interface Param {
  name: string | null;
  type: TypeInfo;
}

export interface Signature {
  name: string;
  returns: TypeInfo;
  params: Param[];
  variadic: boolean;
  /** Normalized prototype; parsing it again yields an identical Signature. */
  text: string;
}

/**
 * Where a type appears changes its kind: `char *` is a string when returned but a writable buffer
 * when passed, and values passed through `...` undergo C's default argument promotions.
 */
export type TypePosition = 'param' | 'return' | 'variadic';

/** Wire codes shared with the native call machinery: keep in sync with the C++ side. */
export const KIND_CODES: Readonly<Record<Kind, number>> = Object.freeze({
  void: 0,
  bool: 1,
  i8: 2,
  u8: 3,
  i16: 4,
  u16: 5,
  i32: 6,
  u32: 7,
  i64: 8,
  u64: 9,
  f32: 10,
  f64: 11,
  pointer: 12,
  string: 13,
});

export function kindCode(k: Kind): number {
  if (!Object.prototype.hasOwnProperty.call(KIND_CODES, k)) {
    throw new DlswapError('ERR_DLSWAP_SIGNATURE', `Unknown type kind ${JSON.stringify(String(k))}`);
  }
  return KIND_CODES[k];
}

/** Kinds whose values cross into JS as bigint: 64-bit integers and returned addresses. */
export function kindIsBigInt(k: Kind): boolean {
  return k === 'i64' || k === 'u64' || k === 'pointer';
}

export const MAX_PROTOTYPE_LENGTH = 4096;
export const MAX_PARAMS = 64;
/** C guarantees at least 12 declarator levels; nothing real needs more than a handful. */
export const MAX_POINTER_DEPTH = 16;

// Plain `char` has implementation-defined signedness: the ABIs of these architectures make it
// unsigned. Read on every parse rather than cached so tests can impersonate another architecture.
const UNSIGNED_CHAR_ARCHES = new Set(['arm', 'arm64', 'ppc', 'ppc64', 's390', 's390x', 'riscv64']);
function plainCharKind(): Kind {
  return UNSIGNED_CHAR_ARCHES.has(process.arch) ? 'u8' : 'i8';
}

// ---------------------------------------------------------------------------------------------------
// Vocabulary

const QUALIFIERS: Record<string, 'const' | 'volatile' | 'restrict'> = {
  const: 'const',
  volatile: 'volatile',
  restrict: 'restrict',
  __restrict: 'restrict',
  __restrict__: 'restrict',
};
const QUALIFIER_ORDER = ['const', 'volatile', 'restrict'] as const;
type Qualifier = (typeof QUALIFIER_ORDER)[number];

/** Single-word type names (keywords and the fixed-width typedefs) with their LP64 kind. */
const NAMED_TYPES: Record<string, { c: string; kind: Kind }> = {
  void: { c: 'void', kind: 'void' },
  bool: { c: 'bool', kind: 'bool' },
  _Bool: { c: 'bool', kind: 'bool' },
  float: { c: 'float', kind: 'f32' },
  double: { c: 'double', kind: 'f64' },
  int8_t: { c: 'int8_t', kind: 'i8' },
  uint8_t: { c: 'uint8_t', kind: 'u8' },
  int16_t: { c: 'int16_t', kind: 'i16' },
  uint16_t: { c: 'uint16_t', kind: 'u16' },
  int32_t: { c: 'int32_t', kind: 'i32' },
  uint32_t: { c: 'uint32_t', kind: 'u32' },
  int64_t: { c: 'int64_t', kind: 'i64' },
  uint64_t: { c: 'uint64_t', kind: 'u64' },
  size_t: { c: 'size_t', kind: 'u64' },
  ssize_t: { c: 'ssize_t', kind: 'i64' },
  intptr_t: { c: 'intptr_t', kind: 'i64' },
  uintptr_t: { c: 'uintptr_t', kind: 'u64' },
  ptrdiff_t: { c: 'ptrdiff_t', kind: 'i64' },
};
/** Named types that are C keywords (the rest are typedef names, which C lets a parameter shadow). */
const KEYWORD_TYPES = new Set(['void', 'bool', '_Bool', 'float', 'double']);
const INTEGER_WORDS = new Set(['signed', 'unsigned', 'short', 'long', 'int', 'char']);
const TAG_WORDS = new Set(['struct', 'union', 'enum']);

/** Words that are recognized only to explain why they are refused. */
const UNSUPPORTED_WORDS: Record<string, string> = {
  extern: "storage-class specifier 'extern' is not allowed in a prototype; remove it",
  static: "storage-class specifier 'static' is not allowed in a prototype; remove it",
  register: "storage-class specifier 'register' is not allowed in a prototype; remove it",
  auto: "storage-class specifier 'auto' is not allowed in a prototype; remove it",
  typedef: "'typedef' is not allowed in a prototype",
  inline: "'inline' is not allowed in a prototype; remove it",
  __inline: "'__inline' is not allowed in a prototype; remove it",
  __inline__: "'__inline__' is not allowed in a prototype; remove it",
  _Noreturn: "'_Noreturn' is not allowed in a prototype; remove it",
  __attribute__: 'attributes are not supported; remove the __attribute__((...))',
  __extension__: "'__extension__' is not supported; remove it",
  __declspec: "'__declspec' is not supported; remove it",
  _Atomic: "'_Atomic' types are not supported",
  _Complex: 'complex types are not supported',
  _Imaginary: 'imaginary types are not supported',
  __int128: "'__int128' is not supported",
  __int128_t: "'__int128_t' is not supported",
  __uint128_t: "'__uint128_t' is not supported",
  _Float16: "'_Float16' is not supported",
  _Float128: "'_Float128' is not supported",
  __float128: "'__float128' is not supported",
  _Alignas: "'_Alignas' is not supported",
  alignas: "'alignas' is not supported",
  typeof: "'typeof' is not supported",
  __typeof__: "'__typeof__' is not supported",
  _BitInt: "'_BitInt' is not supported",
  wchar_t: "'wchar_t' is not supported; use int32_t (Linux) or a pointer ('void *')",
};

/** Reserved words that can never name a function or parameter. */
const RESERVED = new Set([
  ...Object.keys(QUALIFIERS),
  ...KEYWORD_TYPES,
  ...INTEGER_WORDS,
  ...TAG_WORDS,
  ...Object.keys(UNSUPPORTED_WORDS).filter((w) => w !== 'wchar_t'),
  'break', 'case', 'continue', 'default', 'do', 'else', 'for', 'goto', 'if', 'return', 'sizeof',
  'switch', 'while', 'true', 'false', 'nullptr', 'constexpr', 'static_assert', '_Static_assert',
  'thread_local', '_Thread_local', '_Generic', 'alignof', '_Alignof', 'typeof_unqual',
]);

// ---------------------------------------------------------------------------------------------------
// Errors

const QUOTE_LIMIT = 100;

/** Long inputs are quoted as a window around the failure so the message stays readable. */
function quote(src: string, col: number): string {
  if (src.length <= QUOTE_LIMIT) return JSON.stringify(src);
  const at = Math.max(0, Math.min(col - 1, src.length));
  const start = Math.max(0, at - QUOTE_LIMIT / 2);
  const end = Math.min(src.length, start + QUOTE_LIMIT);
  return `${start > 0 ? '...' : ''}${JSON.stringify(src.slice(start, end))}${end < src.length ? '...' : ''}`;
}

interface Source {
  text: string;
  /** Noun for the message: 'C prototype', 'C type'. */
  what: string;
  /** Where the text came from when it is one field of a larger input, e.g. 'args[2]'. */
  where?: string;
}

function fail(src: Source, col: number, message: string): never {
  const where = src.where ? ` (${src.where})` : '';
  throw new DlswapError(
    'ERR_DLSWAP_SIGNATURE',
    `Invalid ${src.what} ${quote(src.text, col)}${where} at column ${col}: ${message}`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Tokenizer

type TokenType = 'ident' | 'punct' | 'number' | 'eof';
interface Token {
  type: TokenType;
  value: string;
  /** 1-based, in UTF-16 code units (what String.prototype indexing counts). */
  col: number;
}

function isIdentStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isWhitespace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

const SINGLE_PUNCT = new Set(['*', '(', ')', ',', ';', '[', ']', ':']);

function unexpectedCharacter(text: string, i: number): string {
  switch (text[i]) {
    case '.':
      return "unexpected '.'; a variadic parameter is written '...'";
    case '/':
      if (text[i + 1] === '*' || text[i + 1] === '/') return 'comments are not supported';
      break;
    case '{':
      return "unexpected '{': struct, union and enum bodies are not supported";
    case '=':
      return "unexpected '=': default arguments and initializers are not supported";
    case '&':
      return "unexpected '&': references are not supported; use a pointer ('*')";
  }
  return `unexpected character ${describeChar(text, i)}`;
}

function describeChar(text: string, i: number): string {
  const cp = text.codePointAt(i)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  // Invisible characters are named only by code point: quoting them would show nothing useful.
  if (/[\p{White_Space}\p{C}]/u.test(String.fromCodePoint(cp))) return hex;
  return `'${String.fromCodePoint(cp)}' (${hex})`;
}

function tokenize(src: Source): Token[] {
  const text = src.text;
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isWhitespace(c)) {
      i++;
      continue;
    }
    const col = i + 1;
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < text.length) {
        const d = text.charCodeAt(j);
        if (!isIdentStart(d) && !isDigit(d)) break;
        j++;
      }
      tokens.push({ type: 'ident', value: text.slice(i, j), col });
      i = j;
      continue;
    }
    if (isDigit(c)) {
      // Numbers only occur in array sizes and bit widths; lexing them whole lets the parser name
      // the construct instead of complaining about a stray digit.
      let j = i + 1;
      while (j < text.length) {
        const d = text.charCodeAt(j);
        if (!isIdentStart(d) && !isDigit(d)) break;
        j++;
      }
      tokens.push({ type: 'number', value: text.slice(i, j), col });
      i = j;
      continue;
    }
    const ch = text[i];
    if (ch === '.' && text.startsWith('...', i)) {
      tokens.push({ type: 'punct', value: '...', col });
      i += 3;
      continue;
    }
    if (SINGLE_PUNCT.has(ch)) {
      tokens.push({ type: 'punct', value: ch, col });
      i++;
      continue;
    }
    fail(src, col, unexpectedCharacter(text, i));
  }
  tokens.push({ type: 'eof', value: '', col: text.length + 1 });
  return tokens;
}

function describeToken(t: Token): string {
  if (t.type === 'eof') return 'the end of the input';
  if (t.type === 'number') return `number '${t.value}'`;
  return `'${t.value}'`;
}

// ---------------------------------------------------------------------------------------------------
// Parser

/** What the declaration specifiers resolved to, before any '*'. */
interface BaseType {
  /** Normalized spelling without qualifiers: 'unsigned long', 'struct foo'. */
  c: string;
  /** Kind of a value of this type; null for aggregates, which only work behind a pointer. */
  kind: Kind | null;
  /** Plain `char` (not signed/unsigned): the only pointee that maps to strings. */
  plainChar: boolean;
  quals: Set<Qualifier>;
  col: number;
}

interface Declarator {
  base: BaseType;
  /** Qualifiers of each pointer level, outermost last. */
  levels: Set<Qualifier>[];
  name: string | null;
  nameCol: number;
  col: number;
}

/** Where the specifiers start: picks the "expected ..." wording when none are there. */
type Expectation = 'return' | 'first-param' | 'param' | 'type';

function expectationText(e: Expectation): string {
  switch (e) {
    case 'return':
      return 'expected a return type';
    case 'first-param':
      return "expected a parameter type or ')' after '('";
    case 'param':
      return "expected a parameter type after ','";
    case 'type':
      return 'expected a type';
  }
}

const SUPPORTED_HINT =
  'supported types are void, bool, char, short, int, long, long long (signed/unsigned), ' +
  'int8_t..uint64_t, size_t, ssize_t, intptr_t, uintptr_t, ptrdiff_t, float, double and pointers; ' +
  "pass pointers to other types as 'void *'";

class Parser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(private readonly src: Source) {
    if (typeof src.text !== 'string') {
      throw new DlswapError(
        'ERR_DLSWAP_SIGNATURE',
        `Invalid ${src.what}${src.where ? ` (${src.where})` : ''}: expected a string, got ${describeValue(src.text)}`,
      );
    }
    if (src.text.length > MAX_PROTOTYPE_LENGTH) {
      fail(src, MAX_PROTOTYPE_LENGTH + 1, `input is ${src.text.length} characters long; the limit is ${MAX_PROTOTYPE_LENGTH}`);
    }
    this.tokens = tokenize(src);
  }

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  next(): Token {
    const t = this.tokens[this.pos];
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  isPunct(value: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.type === 'punct' && t.value === value;
  }

  fail(col: number, message: string): never {
    return fail(this.src, col, message);
  }

  /** Declaration specifiers: qualifiers and the words that together name the base type. */
  parseBase(expect: Expectation): BaseType {
    const quals = new Set<Qualifier>();
    const seen = new Map<string, number>(); // integer word -> column of its first occurrence
    let longs = 0;
    let named: { c: string; kind: Kind | null; word: string; col: number } | null = null;
    let firstCol = -1;
    const anySpecifier = () => named !== null || seen.size > 0;

    for (;;) {
      const t = this.peek();
      if (t.type !== 'ident') break;
      const w = t.value;

      const q = QUALIFIERS[w];
      if (q) {
        // restrict promises non-aliasing through a pointer; the base types here are never pointers.
        if (q === 'restrict') this.fail(t.col, `'${w}' applies only to pointers; write it after the '*'`);
        // Repeated qualifiers are legal C (C99 6.7.3p4) and mean the same as one.
        quals.add(q);
        if (firstCol < 0) firstCol = t.col;
        this.next();
        continue;
      }

      if (INTEGER_WORDS.has(w)) {
        if (w === 'long' && named?.word === 'double') this.fail(t.col, "'long double' is not supported");
        if (named) this.fail(t.col, `'${w}' cannot be combined with '${named.word}'`);
        if (w === 'long') {
          if (longs === 2) this.fail(t.col, "too many 'long' (at most 'long long')");
          longs++;
        } else if (seen.has(w)) {
          this.fail(t.col, `duplicate '${w}'`);
        }
        const clash = INTEGER_CLASHES[w].find((other) => seen.has(other));
        if (clash) this.fail(t.col, `'${w}' cannot be combined with '${clash}'`);
        if (!seen.has(w)) seen.set(w, t.col);
        if (firstCol < 0) firstCol = t.col;
        this.next();
        continue;
      }

      if (NAMED_TYPES[w] && (KEYWORD_TYPES.has(w) || !anySpecifier())) {
        if (w === 'double' && longs > 0) this.fail(seen.get('long')!, "'long double' is not supported");
        if (named) this.fail(t.col, `'${w}' cannot be combined with '${named.word}'`);
        const other = [...seen.keys()][0];
        if (other !== undefined) this.fail(t.col, `'${w}' cannot be combined with '${other}'`);
        named = { ...NAMED_TYPES[w], word: w, col: t.col };
        if (firstCol < 0) firstCol = t.col;
        this.next();
        continue;
      }

      if (TAG_WORDS.has(w)) {
        if (named) this.fail(t.col, `'${w}' cannot be combined with '${named.word}'`);
        const other = [...seen.keys()][0];
        if (other !== undefined) this.fail(t.col, `'${w}' cannot be combined with '${other}'`);
        this.next();
        const tag = this.peek();
        if (tag.type !== 'ident' || RESERVED.has(tag.value)) {
          this.fail(tag.col, `expected a ${w} tag name after '${w}', found ${describeToken(tag)}`);
        }
        this.next();
        named = { c: `${w} ${tag.value}`, kind: null, word: w, col: t.col };
        if (firstCol < 0) firstCol = t.col;
        continue;
      }

      if (UNSUPPORTED_WORDS[w] && !(w === 'wchar_t' && anySpecifier())) this.fail(t.col, UNSUPPORTED_WORDS[w]);

      if (anySpecifier()) break; // an ordinary identifier after a type: the declarator's name

      if (expect === 'return' && this.isPunct('(', 1)) {
        this.fail(t.col, `expected a return type before the function name '${w}'`);
      }
      if (RESERVED.has(w)) this.fail(t.col, `${expectationText(expect)}, found keyword '${w}'`);
      this.fail(t.col, `unknown type '${w}'; ${SUPPORTED_HINT}`);
    }

    if (!anySpecifier()) {
      const t = this.peek();
      if (quals.size > 0) {
        this.fail(t.col, `expected a type after the qualifier, found ${describeToken(t)}`);
      }
      if (t.type === 'punct' && t.value === '(' && this.isPunct('*', 1)) {
        this.fail(t.col, `${expectationText(expect)}, found a function pointer declarator; declare callbacks as 'void *'`);
      }
      this.fail(t.col, `${expectationText(expect)}, found ${describeToken(t)}`);
    }

    let c: string;
    let kind: Kind | null;
    let plainChar = false;
    if (named) {
      c = named.c;
      kind = named.kind;
    } else {
      const unsigned = seen.has('unsigned');
      const u = unsigned ? 'unsigned ' : '';
      if (seen.has('char')) {
        plainChar = !unsigned && !seen.has('signed');
        c = plainChar ? 'char' : unsigned ? 'unsigned char' : 'signed char';
        kind = plainChar ? plainCharKind() : unsigned ? 'u8' : 'i8';
      } else if (seen.has('short')) {
        c = `${u}short`;
        kind = unsigned ? 'u16' : 'i16';
      } else if (longs === 1) {
        c = `${u}long`;
        kind = unsigned ? 'u64' : 'i64';
      } else if (longs === 2) {
        c = `${u}long long`;
        kind = unsigned ? 'u64' : 'i64';
      } else {
        c = `${u}int`;
        kind = unsigned ? 'u32' : 'i32';
      }
    }
    return { c, kind, plainChar, quals, col: firstCol };
  }

  /** Specifiers, pointer levels and an optional name: one parameter or the function's head. */
  parseDeclarator(expect: Expectation, allowName: boolean): Declarator {
    const base = this.parseBase(expect);
    const levels: Set<Qualifier>[] = [];
    while (this.isPunct('*')) {
      const star = this.next();
      if (levels.length === MAX_POINTER_DEPTH) this.fail(star.col, `too many '*' (at most ${MAX_POINTER_DEPTH} levels)`);
      const quals = new Set<Qualifier>();
      while (this.peek().type === 'ident' && QUALIFIERS[this.peek().value]) quals.add(QUALIFIERS[this.next().value]);
      levels.push(quals);
    }

    let name: string | null = null;
    let nameCol = 0;
    const t = this.peek();
    if (t.type === 'ident') {
      if (!allowName) this.fail(t.col, `unexpected ${describeToken(t)}: expected the end of the type`);
      if (RESERVED.has(t.value)) {
        const message =
          QUALIFIERS[t.value] && levels.length === 0
            ? `'${t.value}' must follow a type or '*'`
            : `'${t.value}' is a keyword and cannot be used as a name`;
        this.fail(t.col, message);
      }
      name = t.value;
      nameCol = t.col;
      this.next();
    }

    const after = this.peek();
    if (after.type === 'punct') {
      if (after.value === '[') this.fail(after.col, "arrays are not supported; declare the parameter as a pointer ('T *')");
      if (after.value === ':') this.fail(after.col, 'bit-fields are not supported');
      if (after.value === '(' && expect === 'type') {
        this.fail(after.col, "function types are not supported; declare callbacks as 'void *'");
      }
      if (after.value === '(' && expect !== 'return') {
        this.fail(after.col, "function pointer parameters are not supported; declare the parameter as 'void *'");
      }
    }
    if (after.type === 'number') this.fail(after.col, `unexpected ${describeToken(after)}`);
    return { base, levels, name, nameCol, col: base.col };
  }

  parsePrototype(): Signature {
    const head = this.parseDeclarator('return', true);
    if (head.name === null) {
      const t = this.peek();
      if (t.type === 'punct' && t.value === '(') {
        const message = this.isPunct('*', 1)
          ? "expected a function name; function pointers are not supported (declare callbacks as 'void *')"
          : 'expected a function name before \'(\'';
        this.fail(t.col, message);
      }
      this.fail(t.col, `expected a function name, found ${describeToken(t)}`);
    }
    const open = this.peek();
    if (!this.isPunct('(')) this.fail(open.col, `expected '(' after the function name, found ${describeToken(open)}`);
    this.next();
    const returns = this.resolve(head, 'return');
    const { params, variadic } = this.parseParams();

    const close = this.peek();
    if (close.type === 'punct' && close.value === '(') {
      this.fail(close.col, "functions returning function pointers are not supported; declare the result as 'void *'");
    }
    if (this.isPunct(';')) this.next();
    const end = this.peek();
    if (end.type !== 'eof') this.fail(end.col, `unexpected ${describeToken(end)} after the parameter list`);
    return buildSignature(head.name, returns, params, variadic);
  }

  /** After '(' up to and including ')'. */
  parseParams(): { params: Param[]; variadic: boolean } {
    const params: Param[] = [];
    const names = new Map<string, number>();
    let voidCol = 0;
    let variadic = false;
    if (this.isPunct(')')) {
      this.next();
      return { params, variadic };
    }
    for (let index = 0; ; index++) {
      const t = this.peek();
      if (t.type === 'punct' && t.value === '...') {
        if (index === 0) this.fail(t.col, "'...' must come after at least one parameter");
        if (voidCol) this.fail(voidCol, "'void' must be the only parameter");
        this.next();
        variadic = true;
        const close = this.peek();
        if (!this.isPunct(')')) {
          this.fail(close.col, close.type === 'punct' && close.value === ',' ? "'...' must be the last parameter" : `expected ')' after '...', found ${describeToken(close)}`);
        }
        this.next();
        break;
      }
      if (index === MAX_PARAMS) this.fail(t.col, `too many parameters (the limit is ${MAX_PARAMS})`);
      const d = this.parseDeclarator(index === 0 ? 'first-param' : 'param', true);
      if (d.base.kind === 'void' && d.levels.length === 0) {
        if (d.base.quals.size > 0) this.fail(d.col, "a 'void' parameter list cannot be qualified; write '(void)'");
        if (d.name !== null) this.fail(d.nameCol, `a 'void' parameter cannot have a name ('${d.name}')`);
        if (index > 0) this.fail(d.col, "'void' must be the only parameter");
        voidCol = d.col;
      } else if (voidCol) {
        this.fail(voidCol, "'void' must be the only parameter");
      }
      if (d.name !== null) {
        if (names.has(d.name)) this.fail(d.nameCol, `duplicate parameter name '${d.name}' (first at column ${names.get(d.name)})`);
        names.set(d.name, d.nameCol);
      }
      if (!voidCol) params.push({ name: d.name, type: this.resolve(d, 'param') });

      const sep = this.next();
      if (sep.type === 'punct' && sep.value === ')') break;
      if (sep.type === 'punct' && sep.value === ',') continue;
      if (sep.type === 'eof') this.fail(sep.col, "expected ',' or ')' but the input ended");
      this.fail(sep.col, `expected ',' or ')' after the parameter, found ${describeToken(sep)}`);
    }
    return { params, variadic };
  }

  /** A whole input holding one type (and, if allowed, a name): parseType and the object form. */
  parseStandaloneType(position: TypePosition, allowName: boolean): { type: TypeInfo; name: string | null } {
    const d = this.parseDeclarator('type', allowName);
    if (this.isPunct(';')) {
      this.fail(this.peek().col, "unexpected ';': expected the end of the type");
    }
    const end = this.peek();
    if (end.type !== 'eof') {
      const message =
        end.type === 'punct' && end.value === '('
          ? "function types are not supported; declare callbacks as 'void *'"
          : `unexpected ${describeToken(end)}: expected the end of the type`;
      this.fail(end.col, message);
    }
    if (d.base.kind === 'void' && d.levels.length === 0 && position !== 'return') {
      this.fail(d.col, position === 'variadic' ? "'void' cannot be passed as a variadic argument" : "'void' is not a parameter type (only a return type)");
    }
    return { type: this.resolve(d, position), name: d.name };
  }

  resolve(d: Declarator, position: TypePosition): TypeInfo {
    const depth = d.levels.length;
    const c = spell(d.base, d.levels);
    if (depth === 0) {
      if (d.base.kind === null) {
        if (d.base.c.startsWith('enum ')) {
          this.fail(d.col, `'${d.base.c}' by value is not supported; declare it as its underlying integer type (usually 'int')`);
        }
        this.fail(d.col, `'${d.base.c}' by value is not supported; pass a pointer ('${d.base.c} *')`);
      }
      let kind = d.base.kind;
      if (position === 'variadic') kind = promote(kind);
      return { kind, c, pointerDepth: 0 };
    }
    const stringy =
      depth === 1 && d.base.plainChar && (position === 'return' || d.base.quals.has('const'));
    return { kind: stringy ? 'string' : 'pointer', c, pointerDepth: depth };
  }
}

const INTEGER_CLASHES: Record<string, string[]> = {
  signed: ['unsigned'],
  unsigned: ['signed'],
  short: ['long', 'char'],
  long: ['short', 'char'],
  int: ['char'],
  char: ['short', 'long', 'int'],
};

/** C's default argument promotions: what actually travels through `...`. */
function promote(kind: Kind): Kind {
  switch (kind) {
    case 'bool':
    case 'i8':
    case 'u8':
    case 'i16':
    case 'u16':
      return 'i32';
    case 'f32':
      return 'f64';
    default:
      return kind;
  }
}

function spellQuals(quals: Set<Qualifier>): string {
  return QUALIFIER_ORDER.filter((q) => quals.has(q)).join(' ');
}

function spell(base: BaseType, levels: Set<Qualifier>[]): string {
  const q = spellQuals(base.quals);
  let s = q ? `${q} ${base.c}` : base.c;
  for (let i = 0; i < levels.length; i++) {
    s += i === 0 ? ' *' : '*';
    const lq = spellQuals(levels[i]);
    if (lq) s += `${lq} `;
  }
  return s.trimEnd();
}

/** `const char *` + `s` -> `const char *s`; `int` + `n` -> `int n`. */
function joinName(c: string, name: string | null): string {
  if (name === null) return c;
  return c.endsWith('*') ? `${c}${name}` : `${c} ${name}`;
}

function buildSignature(name: string, returns: TypeInfo, params: Param[], variadic: boolean): Signature {
  const list = params.map((p) => joinName(p.type.c, p.name));
  if (variadic) list.push('...');
  const text = `${joinName(returns.c, name)}(${list.length ? list.join(', ') : 'void'})`;
  return { name, returns, params, variadic, text };
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

// ---------------------------------------------------------------------------------------------------
// Public entry points

/**
 * Parses one C function prototype, e.g. `'size_t strlen(const char *s)'`. Throws
 * `DlswapError('ERR_DLSWAP_SIGNATURE')` naming the column on anything outside the supported subset.
 */
export function parsePrototype(text: string): Signature {
  return new Parser({ text, what: 'C prototype' }).parsePrototype();
}

/**
 * Parses a lone C type such as `'unsigned long'` or `'const char *'`. `position` decides the pointer
 * and promotion rules (see TypePosition); the default, 'param', is what a fixed argument gets.
 */
export function parseType(text: string, position: TypePosition = 'param'): TypeInfo {
  if (position !== 'param' && position !== 'return' && position !== 'variadic') {
    throw new DlswapError('ERR_DLSWAP_SIGNATURE', `Invalid type position ${JSON.stringify(String(position))}; expected 'param', 'return' or 'variadic'`);
  }
  return new Parser({ text, what: 'C type' }).parseStandaloneType(position, false).type;
}

export interface SignatureObject {
  name: string;
  returns: string;
  /** One C type per parameter, optionally followed by a name: `'const char *'`, `'int count'`. */
  args: readonly string[];
  variadic?: boolean;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The object form of a prototype: `{ name: 'add', returns: 'int', args: ['int', 'int'] }`. */
export function signatureFromObject(obj: SignatureObject): Signature {
  const bad = (message: string): never => {
    throw new DlswapError('ERR_DLSWAP_SIGNATURE', `Invalid signature object: ${message}`);
  };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) bad(`expected an object, got ${describeValue(obj)}`);
  const { name, returns, args, variadic = false } = obj;
  if (typeof name !== 'string') bad(`'name' must be a string, got ${describeValue(name)}`);
  if (!IDENTIFIER.test(name) || RESERVED.has(name)) {
    bad(`'name' must be a C identifier that is not a keyword, got ${JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}...` : name)}`);
  }
  if (typeof returns !== 'string') bad(`'returns' must be a string, got ${describeValue(returns)}`);
  if (!Array.isArray(args)) bad(`'args' must be an array of C type strings, got ${describeValue(args)}`);
  if (typeof variadic !== 'boolean') bad(`'variadic' must be a boolean, got ${describeValue(variadic)}`);
  if (args.length > MAX_PARAMS) bad(`too many parameters (${args.length}; the limit is ${MAX_PARAMS})`);

  const ret = new Parser({ text: returns, what: 'C type', where: 'returns' }).parseStandaloneType('return', false).type;

  const params: Param[] = [];
  const names = new Map<string, number>();
  // ['void'] is C's spelling of an empty list, accepted for symmetry with the prototype form.
  const lone = args.length === 1 && typeof args[0] === 'string' && isLoneVoid(args[0]);
  if (!lone) {
    args.forEach((arg, i) => {
      const where = `args[${i}]`;
      const parsed = new Parser({ text: arg, what: 'C type', where }).parseStandaloneType('param', true);
      if (parsed.name !== null) {
        if (names.has(parsed.name)) bad(`duplicate parameter name '${parsed.name}' in ${where} (first in args[${names.get(parsed.name)}])`);
        names.set(parsed.name, i);
      }
      params.push({ name: parsed.name, type: parsed.type });
    });
  }
  if (variadic && params.length === 0) bad("a variadic function needs at least one fixed parameter before '...'");
  return buildSignature(name, ret, params, variadic);
}

function isLoneVoid(text: string): boolean {
  // Same whitespace set as the tokenizer, so no other spelling of 'void' slips through here.
  return /^[ \t\n\v\f\r]*void[ \t\n\v\f\r]*$/.test(text);
}
