/**
 * C prototype parser: turns `'int add(int a, int b)'` into the Signature the native call machinery
 * consumes. A small tokenizer feeds a recursive-descent parser for the one declarator shape we support
 * (a function taking scalars, pointers, function pointers and, given a type scope, the structs, unions,
 * enums and typedefs declared in it), so that every rejection can point at a column and say what would
 * have been accepted there.
 *
 * The declaration parser of lib/ctypes.ts (struct bodies, typedefs, enums) extends the Parser class
 * below; a prototype parsed with a TypeScope resolves the names declared there (docs/types.md).
 */
import { DlswapError } from './errors';
import { functionSpelling, functionType, pointerTo, type CType, type TypeScope } from './ctype_model';

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
  | 'string'
  /** A struct passed or returned by value (its layout is in TypeInfo.ctype). */
  | 'aggregate';

export interface TypeInfo {
  kind: Kind;
  /** Normalized C spelling, e.g. `'unsigned long'`, `'const char *'`, `'char *const *'`. */
  c: string;
  pointerDepth: number;
  /**
   * The full C type, present when the value needs more than its kind: a struct by value, a pointer
   * to a struct or union the scope declares, a function pointer (callback), an enum. Absent for the
   * plain scalars and pointers, which the kind describes completely.
   */
  ctype?: CType;
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

/** Wire codes of the native call machinery (native/call/kinds.h); test/wire_constants.test.ts keeps both equal. */
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
  aggregate: 14,
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

/** @internal */
export const QUALIFIERS: Record<string, 'const' | 'volatile' | 'restrict'> = {
  const: 'const',
  volatile: 'volatile',
  restrict: 'restrict',
  __restrict: 'restrict',
  __restrict__: 'restrict',
};
const QUALIFIER_ORDER = ['const', 'volatile', 'restrict'] as const;
/** @internal */
export type Qualifier = (typeof QUALIFIER_ORDER)[number];

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
/** @internal Reserved words that can never name a function, parameter, member or type. */
export const RESERVED = new Set([
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

/** @internal */
export interface Source {
  text: string;
  /** Noun for the message: 'C prototype', 'C type'. */
  what: string;
  /** Where the text came from when it is one field of a larger input, e.g. 'args[2]'. */
  where?: string;
  /**
   * Type declarations (lib/ctypes.ts): comments are skipped, and braces, `=` and the operators of
   * constant expressions are tokens. Prototypes refuse all of these.
   */
  declarations?: boolean;
  /** Longest input accepted (MAX_PROTOTYPE_LENGTH unless given). */
  maxLength?: number;
}

/** @internal */
export function fail(src: Source, col: number, message: string): never {
  const where = src.where ? ` (${src.where})` : '';
  throw new DlswapError(
    'ERR_DLSWAP_SIGNATURE',
    `Invalid ${src.what} ${quote(src.text, col)}${where} at column ${col}: ${message}`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Tokenizer

type TokenType = 'ident' | 'punct' | 'number' | 'eof';
/** @internal */
export interface Token {
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
/** Also tokens in declarations: bodies, enumerator values and the operators of constant expressions. */
const DECLARATION_PUNCT = new Set(['{', '}', '=', '+', '-', '~', '|', '&', '^', '/', '%', '!']);

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

/** @internal */
export function tokenize(src: Source): Token[] {
  const text = src.text;
  const tokens: Token[] = [];
  const decl = src.declarations === true;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isWhitespace(c)) {
      i++;
      continue;
    }
    const col = i + 1;
    if (decl && c === 0x2f /* / */ && (text[i + 1] === '*' || text[i + 1] === '/')) {
      if (text[i + 1] === '/') {
        const nl = text.indexOf('\n', i);
        i = nl < 0 ? text.length : nl + 1;
      } else {
        const end = text.indexOf('*/', i + 2);
        if (end < 0) fail(src, col, "unterminated comment: '/*' without '*/'");
        i = end + 2;
      }
      continue;
    }
    if (decl && c === 0x23 /* # */) {
      fail(src, col, 'preprocessor directives are not supported: declare constants as enum members, and pass the types a header would include');
    }
    if (decl && (text.startsWith('<<', i) || text.startsWith('>>', i))) {
      tokens.push({ type: 'punct', value: text.slice(i, i + 2), col });
      i += 2;
      continue;
    }
    if (decl && DECLARATION_PUNCT.has(text[i])) {
      tokens.push({ type: 'punct', value: text[i], col });
      i++;
      continue;
    }
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

/** @internal */
export function describeToken(t: Token): string {
  if (t.type === 'eof') return 'the end of the input';
  if (t.type === 'number') return `number '${t.value}'`;
  return `'${t.value}'`;
}

// ---------------------------------------------------------------------------------------------------
// Parser

/** What the declaration specifiers resolved to, before any '*'. @internal */
export interface BaseType {
  /** Normalized spelling without qualifiers: 'unsigned long', 'struct foo', a typedef name. */
  c: string;
  /** Kind of a value of this type; null for aggregates, typedef names and tags (see ctype). */
  kind: Kind | null;
  /** Plain `char` (not signed/unsigned): the only pointee that maps to strings. */
  plainChar: boolean;
  quals: Set<Qualifier>;
  col: number;
  /**
   * The type a tag or typedef name denotes, when a type scope knows it (lib/ctypes.ts). null for the
   * builtin scalars and for tags nobody declared (those stay opaque: usable behind a pointer only).
   */
  ctype: CType | null;
}

/** `(*name)(params)` after the specifiers of a parameter: a function pointer. @internal */
interface FunctionDeclarator {
  /** Qualifiers of each '*' inside the parentheses; empty for `name(params)` (a function type, which decays). */
  levels: Set<Qualifier>[];
  params: Param[];
  variadic: boolean;
  col: number;
}

/** @internal */
export interface Declarator {
  base: BaseType;
  /** Qualifiers of each pointer level, outermost last. */
  levels: Set<Qualifier>[];
  name: string | null;
  nameCol: number;
  col: number;
  /** Set for a function pointer (or function type) parameter: `levels` then apply to its return type. */
  func?: FunctionDeclarator;
}

/** Where the specifiers start: picks the "expected ..." wording when none are there. @internal */
export type Expectation = 'return' | 'first-param' | 'param' | 'type';

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

/** How deeply function pointer parameters may nest (`int f(void (*cb)(int (*)(int)))` is 2). */
export const MAX_FUNCTION_NESTING = 8;

/** @internal The recursive-descent parser; lib/ctypes.ts extends it for declarations. */
export class Parser {
  protected readonly tokens: Token[];
  protected pos = 0;
  /** Function pointer declarators being parsed, innermost last. */
  protected nesting = 0;

  constructor(
    protected readonly src: Source,
    protected readonly scope?: TypeScope,
  ) {
    if (typeof src.text !== 'string') {
      throw new DlswapError(
        'ERR_DLSWAP_SIGNATURE',
        `Invalid ${src.what}${src.where ? ` (${src.where})` : ''}: expected a string, got ${describeValue(src.text)}`,
      );
    }
    const max = src.maxLength ?? MAX_PROTOTYPE_LENGTH;
    if (src.text.length > max) {
      fail(src, max + 1, `input is ${src.text.length} characters long; the limit is ${max}`);
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

  /**
   * After `struct`, `union` or `enum`: the tag name and what the scope knows of it. Declarations
   * (lib/ctypes.ts) override this to parse bodies and attributes.
   */
  protected parseTagSpecifier(word: 'struct' | 'union' | 'enum', col: number): { c: string; ctype: CType | null } {
    const tag = this.peek();
    if (tag.type !== 'ident' || RESERVED.has(tag.value)) {
      this.fail(tag.col, `expected a ${word} tag name after '${word}', found ${describeToken(tag)}`);
    }
    this.next();
    return { c: `${word} ${tag.value}`, ctype: this.scope?.tag(word, tag.value) ?? null };
  }

  /** A typedef name of the scope, or undefined. */
  protected lookupTypedef(name: string): CType | undefined {
    return this.scope?.typedef(name);
  }

  /** Declaration specifiers: qualifiers and the words that together name the base type. */
  parseBase(expect: Expectation): BaseType {
    const quals = new Set<Qualifier>();
    const seen = new Map<string, number>(); // integer word -> column of its first occurrence
    let longs = 0;
    let named: { c: string; kind: Kind | null; word: string; col: number; ctype: CType | null } | null = null;
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
        named = { ...NAMED_TYPES[w], word: w, col: t.col, ctype: null };
        if (firstCol < 0) firstCol = t.col;
        this.next();
        continue;
      }

      if (TAG_WORDS.has(w)) {
        if (named) this.fail(t.col, `'${w}' cannot be combined with '${named.word}'`);
        const other = [...seen.keys()][0];
        if (other !== undefined) this.fail(t.col, `'${w}' cannot be combined with '${other}'`);
        this.next();
        const tagged = this.parseTagSpecifier(w as 'struct' | 'union' | 'enum', t.col);
        named = { c: tagged.c, kind: null, word: w, col: t.col, ctype: tagged.ctype };
        if (firstCol < 0) firstCol = t.col;
        continue;
      }

      if (!anySpecifier() && !UNSUPPORTED_WORDS[w]) {
        const td = this.lookupTypedef(w);
        if (td) {
          named = { c: w, kind: null, word: w, col: t.col, ctype: td };
          if (firstCol < 0) firstCol = t.col;
          this.next();
          continue;
        }
      }

      if (UNSUPPORTED_WORDS[w] && !(w === 'wchar_t' && anySpecifier())) this.fail(t.col, UNSUPPORTED_WORDS[w]);

      if (anySpecifier()) break; // an ordinary identifier after a type: the declarator's name

      if (expect === 'return' && this.isPunct('(', 1)) {
        this.fail(t.col, `expected a return type before the function name '${w}'`);
      }
      if (RESERVED.has(w)) this.fail(t.col, `${expectationText(expect)}, found keyword '${w}'`);
      this.fail(t.col, `unknown type '${w}'; ${SUPPORTED_HINT}${this.scope ? '; or declare it in the library\'s types (docs/types.md)' : ''}`);
    }

    if (!anySpecifier()) {
      const t = this.peek();
      if (quals.size > 0) {
        this.fail(t.col, `expected a type after the qualifier, found ${describeToken(t)}`);
      }
      if (t.type === 'punct' && t.value === '(' && this.isPunct('*', 1)) {
        this.fail(t.col, `${expectationText(expect)}, found a function pointer declarator; give the return type first, as in 'int (*cb)(int)'`);
      }
      this.fail(t.col, `${expectationText(expect)}, found ${describeToken(t)}`);
    }

    let c: string;
    let kind: Kind | null;
    let plainChar = false;
    let ctype: CType | null = null;
    if (named) {
      c = named.c;
      kind = named.kind;
      ctype = named.ctype;
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
    return { c, kind, plainChar, quals, col: firstCol, ctype };
  }

  /** `*`s and their qualifiers. */
  protected parsePointerLevels(): Set<Qualifier>[] {
    const levels: Set<Qualifier>[] = [];
    while (this.isPunct('*')) {
      const star = this.next();
      if (levels.length === MAX_POINTER_DEPTH) this.fail(star.col, `too many '*' (at most ${MAX_POINTER_DEPTH} levels)`);
      const quals = new Set<Qualifier>();
      while (this.peek().type === 'ident' && QUALIFIERS[this.peek().value]) quals.add(QUALIFIERS[this.next().value]);
      levels.push(quals);
    }
    return levels;
  }

  /** A name where a declarator may have one; null when there is none. */
  protected parseOptionalName(levels: Set<Qualifier>[], allowName: boolean): { name: string | null; col: number } {
    const t = this.peek();
    if (t.type !== 'ident') return { name: null, col: 0 };
    if (!allowName) this.fail(t.col, `unexpected ${describeToken(t)}: expected the end of the type`);
    if (RESERVED.has(t.value)) {
      const message =
        QUALIFIERS[t.value] && levels.length === 0
          ? `'${t.value}' must follow a type or '*'`
          : `'${t.value}' is a keyword and cannot be used as a name`;
      this.fail(t.col, message);
    }
    this.next();
    return { name: t.value, col: t.col };
  }

  /** Specifiers, pointer levels and an optional name: one parameter or the function's head. */
  parseDeclarator(expect: Expectation, allowName: boolean): Declarator {
    const base = this.parseBase(expect);
    const levels = this.parsePointerLevels();
    let { name, col: nameCol } = this.parseOptionalName(levels, allowName);
    let func: FunctionDeclarator | undefined;

    const inParams = expect === 'first-param' || expect === 'param';
    // `int (*cb)(int)` (or, abstract, `int (*)(int)`): a function pointer parameter.
    if (name === null && (inParams || expect === 'type') && this.isPunct('(') && this.isPunct('*', 1)) {
      const open = this.next();
      const inner = this.parsePointerLevels();
      const n = this.parseOptionalName(inner, allowName);
      name = n.name;
      nameCol = n.col;
      const close = this.peek();
      if (close.type === 'punct' && close.value === '[') this.fail(close.col, 'pointers to arrays are not supported; pass a pointer to the first element');
      if (!this.isPunct(')')) this.fail(close.col, `expected ')' to close the function pointer declarator, found ${describeToken(close)}`);
      this.next();
      const paren = this.peek();
      if (this.isPunct('[')) this.fail(paren.col, 'pointers to arrays are not supported; pass a pointer to the first element');
      if (!this.isPunct('(')) {
        this.fail(paren.col, `expected the parameter list of the function pointer after ')', found ${describeToken(paren)}`);
      }
      func = { levels: inner, ...this.parseFunctionParams(), col: open.col };
    } else if (name !== null && inParams && this.isPunct('(')) {
      // `int cb(int)`: a parameter of function type is a function pointer, as in C.
      func = { levels: [], ...this.parseFunctionParams(), col: base.col };
    }

    const after = this.peek();
    if (after.type === 'punct') {
      if (after.value === '[') this.fail(after.col, "arrays are not supported; declare the parameter as a pointer ('T *')");
      if (after.value === ':') this.fail(after.col, 'bit-fields are not supported');
      if (after.value === '(' && func) this.fail(after.col, 'functions returning functions are not supported');
      if (after.value === '(' && expect === 'type') {
        this.fail(after.col, "function types are not supported; write a function pointer, as in 'int (*)(int)'");
      }
      if (after.value === '(' && expect !== 'return') {
        this.fail(after.col, "unexpected '(': a function pointer parameter is written 'int (*name)(int)'");
      }
    }
    if (after.type === 'number') this.fail(after.col, `unexpected ${describeToken(after)}`);
    return { base, levels, name, nameCol, col: base.col, func };
  }

  /** The parenthesized parameter list of a function pointer: '(' params ')'. */
  protected parseFunctionParams(): { params: Param[]; variadic: boolean } {
    const open = this.next(); // '('
    if (this.nesting === MAX_FUNCTION_NESTING) {
      this.fail(open.col, `function pointers nested too deeply (at most ${MAX_FUNCTION_NESTING} levels)`);
    }
    this.nesting++;
    try {
      return this.parseParams();
    } finally {
      this.nesting--;
    }
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
      if (d.base.kind === 'void' && d.levels.length === 0 && !d.func) {
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
          ? "function types are not supported; write a function pointer, as in 'int (*)(int)'"
          : `unexpected ${describeToken(end)}: expected the end of the type`;
      this.fail(end.col, message);
    }
    if (d.base.kind === 'void' && d.levels.length === 0 && !d.func && position !== 'return') {
      this.fail(d.col, position === 'variadic' ? "'void' cannot be passed as a variadic argument" : "'void' is not a parameter type (only a return type)");
    }
    return { type: this.resolve(d, position), name: d.name };
  }

  resolve(d: Declarator, position: TypePosition): TypeInfo {
    if (d.func) return this.resolveFunctionPointer(d, position);
    const depth = d.levels.length;
    const c = spell(d.base, d.levels);
    if (d.base.ctype) return this.classify(this.applyPointers(d.base.ctype, d.base.quals, d.levels), position, c, d.col);
    if (depth === 0) {
      if (d.base.kind === null) {
        if (d.base.c.startsWith('enum ')) {
          this.fail(d.col, `'${d.base.c}' by value is not supported; declare it as its underlying integer type (usually 'int')${this.declareHint(d.base.c)}`);
        }
        this.fail(d.col, `'${d.base.c}' by value is not supported; pass a pointer ('${d.base.c} *')${this.declareHint(d.base.c)}`);
      }
      let kind = d.base.kind;
      if (position === 'variadic') kind = promote(kind);
      return { kind, c, pointerDepth: 0 };
    }
    const stringy =
      depth === 1 && d.base.plainChar && (position === 'return' || d.base.quals.has('const'));
    return { kind: stringy ? 'string' : 'pointer', c, pointerDepth: depth };
  }

  private declareHint(c: string): string {
    return this.scope ? `, or declare '${c}' with its members in the library's types` : '';
  }

  /** The type `base` qualified by `quals`, behind each pointer level in turn. */
  protected applyPointers(base: CType, quals: Set<Qualifier>, levels: Set<Qualifier>[]): CType {
    let t = base;
    let constTo = quals.has('const');
    for (const level of levels) {
      t = pointerTo(t, constTo);
      constTo = level.has('const');
    }
    return t;
  }

  /** A parameter declared `R (*name)(params)` (or `R name(params)`, which decays to it). */
  protected resolveFunctionPointer(d: Declarator, position: TypePosition): TypeInfo {
    const f = d.func!;
    const returns = this.resolve({ ...d, func: undefined, name: null }, 'return');
    const sig = buildSignature('', returns, f.params, f.variadic);
    let t: CType = functionType(sig);
    const levels = f.levels.length ? f.levels : [new Set<Qualifier>()];
    for (const _ of levels) t = pointerTo(t);
    const c = functionSpelling(sig, '*'.repeat(levels.length));
    const info: TypeInfo = { kind: 'pointer', c, pointerDepth: levels.length };
    if (levels.length === 1) info.ctype = t;
    if (position === 'return') this.fail(f.col, "functions returning function pointers are not supported; declare the result as 'void *'");
    return info;
  }

  /** The TypeInfo of a value of C type `t` in `position`; `c` is its spelling as written. */
  classify(t: CType, position: TypePosition, c: string, col: number): TypeInfo {
    switch (t.tag) {
      case 'void':
        if (position !== 'return') this.fail(col, `'${c}' is void: it is not a ${position === 'variadic' ? 'variadic argument' : 'parameter'} type (only a return type)`);
        return { kind: 'void', c, pointerDepth: 0 };
      case 'scalar':
        return { kind: position === 'variadic' ? promote(t.kind) : t.kind, c, pointerDepth: 0 };
      case 'enum':
        return { kind: position === 'variadic' ? promote(t.kind) : t.kind, c, pointerDepth: 0, ctype: t };
      case 'struct':
      case 'union': {
        const name = t.name ?? c;
        if (t.fields === null) {
          this.fail(col, `'${name}' by value is not supported: it is only declared, without its members; pass a pointer ('${name} *') or declare its members`);
        }
        if (t.tag === 'union') this.fail(col, `'${name}' (a union) by value is not supported; pass a pointer ('${name} *')`);
        if (t.packed) this.fail(col, `'${name}' is packed: packed structs by value are not supported; pass a pointer ('${name} *')`);
        if (position === 'variadic') this.fail(col, `'${name}' cannot be passed through '...' (structs by value are fixed parameters only)`);
        return { kind: 'aggregate', c, pointerDepth: 0, ctype: t };
      }
      case 'array':
        if (position === 'return') this.fail(col, `a function cannot return an array ('${c}')`);
        return this.classify(pointerTo(t.of), position, c, col);
      case 'function':
        if (position === 'return') this.fail(col, `a function cannot return a function ('${c}')`);
        return this.classify(pointerTo(t), position, c, col);
      case 'pointer': {
        let depth = 1;
        for (let p: CType = t.to; p.tag === 'pointer'; p = p.to) depth++;
        const to = t.to;
        if (to.tag === 'scalar' && to.plainChar && (position === 'return' || t.constTo)) return { kind: 'string', c, pointerDepth: depth };
        const info: TypeInfo = { kind: 'pointer', c, pointerDepth: depth };
        if (((to.tag === 'struct' || to.tag === 'union') && to.fields !== null) || to.tag === 'function') info.ctype = t;
        return info;
      }
    }
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

/** @internal C's default argument promotions: what actually travels through `...`. */
export function promote(kind: Kind): Kind {
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

/** @internal */
export function spell(base: BaseType, levels: Set<Qualifier>[]): string {
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
  // A function pointer: the name goes inside the parentheses, `int (*cb)(int)`.
  const fp = /\((\*+)\)\(/.exec(c);
  if (fp) return `${c.slice(0, fp.index + 1 + fp[1].length)}${name}${c.slice(fp.index + 1 + fp[1].length)}`;
  return c.endsWith('*') ? `${c}${name}` : `${c} ${name}`;
}

/** @internal */
export function buildSignature(name: string, returns: TypeInfo, params: Param[], variadic: boolean): Signature {
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
export function parsePrototype(text: string, scope?: TypeScope): Signature {
  return new Parser({ text, what: 'C prototype' }, scope).parsePrototype();
}

/**
 * Parses a lone C type such as `'unsigned long'` or `'const char *'`. `position` decides the pointer
 * and promotion rules (see TypePosition); the default, 'param', is what a fixed argument gets.
 */
export function parseType(text: string, position: TypePosition = 'param', scope?: TypeScope): TypeInfo {
  if (position !== 'param' && position !== 'return' && position !== 'variadic') {
    throw new DlswapError('ERR_DLSWAP_SIGNATURE', `Invalid type position ${JSON.stringify(String(position))}; expected 'param', 'return' or 'variadic'`);
  }
  return new Parser({ text, what: 'C type' }, scope).parseStandaloneType(position, false).type;
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
export function signatureFromObject(obj: SignatureObject, scope?: TypeScope): Signature {
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

  const ret = new Parser({ text: returns, what: 'C type', where: 'returns' }, scope).parseStandaloneType('return', false).type;

  const params: Param[] = [];
  const names = new Map<string, number>();
  // ['void'] is C's spelling of an empty list, accepted for symmetry with the prototype form.
  const lone = args.length === 1 && typeof args[0] === 'string' && isLoneVoid(args[0]);
  if (!lone) {
    args.forEach((arg, i) => {
      const where = `args[${i}]`;
      const parsed = new Parser({ text: arg, what: 'C type', where }, scope).parseStandaloneType('param', true);
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
