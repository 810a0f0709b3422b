/**
 * The first half of the parser: the token cursor and the declaration specifiers, i.e. the qualifiers
 * and words that name a base type before any '*' (`const unsigned long`, `struct foo`, a typedef).
 * Split from the declarators (lib/signature/signature_parser.ts) because the rules for combining integer words
 * are a subject of their own.
 */
import type { CType, TypeScope } from './ctype_model';
import { DlswapError } from '../errors';
import { type Kind, MAX_PROTOTYPE_LENGTH, plainCharKind } from './signature_kinds';
import { describeToken, describeValue, fail, type Source, type Token, tokenize } from './signature_tokens';
import { INTEGER_WORDS, KEYWORD_TYPES, NAMED_TYPES, type Qualifier, QUALIFIERS, RESERVED, TAG_WORDS, UNSUPPORTED_WORDS } from './signature_vocabulary';

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
   * The type a tag or typedef name denotes, when a type scope knows it (lib/signature/ctypes.ts). null for the
   * builtin scalars and for tags nobody declared (those stay opaque: usable behind a pointer only).
   */
  ctype: CType | null;
}

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

/** @internal Tokens and declaration specifiers: the part of the parser that reads base types. */
export class SpecifierParser {
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
   * (lib/signature/ctypes_declarations.ts) override this to parse bodies and attributes.
   */
  protected parseTagSpecifier(word: 'struct' | 'union' | 'enum', _col: number): { c: string; ctype: CType | null } {
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
      this.fail(t.col, `unknown type '${w}'; ${SUPPORTED_HINT}${this.scope ? "; or declare it in the library's types (docs/types.md)" : ''}`);
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
}
const INTEGER_CLASHES: Record<string, string[]> = {
  signed: ['unsigned'],
  unsigned: ['signed'],
  short: ['long', 'char'],
  long: ['short', 'char'],
  int: ['char'],
  char: ['short', 'long', 'int'],
};
