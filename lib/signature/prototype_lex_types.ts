/**
 * The type-level lexer of C prototypes (a character at a time, within a budget) and its vocabulary:
 * which words are qualifiers, integer words, type names or reserved. lib/signature/prototype_types.ts and
 * lib/signature/ctypes_types.ts read tokens through these.
 */
import type { AnyFunction } from './prototype_types';

/** Sentinel for "could not read this"; a string no C type can produce, so it never collides. @internal */
export type Invalid = '<dlswap: unreadable prototype>';
export type OrAny<F> = [F] extends [Invalid] ? AnyFunction : F;

// The character budget is a string of 900 'x's, one appended per character read: comparing two
// literals is O(1), where growing and measuring a tuple each round would make lexing quadratic.
type X10 = 'xxxxxxxxxx';
type X100 = `${X10}${X10}${X10}${X10}${X10}${X10}${X10}${X10}${X10}${X10}`;
/** Longest literal (in characters) read precisely; well under the 1000-round recursion limit. */
type Budget = `${X100}${X100}${X100}${X100}${X100}${X100}${X100}${X100}${X100}`;

type Whitespace = ' ' | '\t' | '\n' | '\r' | '\v' | '\f';
type Punct = '*' | '(' | ')' | ',' | ';';

type Push<Acc extends string[], Word extends string> = Word extends '' ? Acc : [...Acc, Word];

/** Characters to words: whitespace separates, punctuation stands alone, `...` stays one word. */
export type Lex<S extends string, Word extends string = '', Acc extends string[] = [], N extends string = ''> = N extends Budget
  ? Invalid
  : S extends `${infer C}${infer Rest}`
    ? string extends C
      ? Invalid // a `${string}` hole: the text is not fully known
      : C extends Whitespace
        ? Lex<Rest, '', Push<Acc, Word>, `${N}x`>
        : C extends Punct
          ? Lex<Rest, '', [...Push<Acc, Word>, C], `${N}x`>
          : Lex<Rest, `${Word}${C}`, Acc, `${N}x`>
    : S extends ''
      ? Push<Acc, Word>
      : Invalid;

/** [before, after] the first `D`, or Invalid if there is none. */
export type SplitAt<T extends string[], D extends string, Before extends string[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? H extends D
    ? [Before, R]
    : SplitAt<R, D, [...Before, H]>
  : Invalid;

/**
 * Comma-separated groups; an empty group (as in `f(int,)`) is kept so it can be rejected. Commas
 * inside parentheses (a function pointer's parameters) do not separate. @internal
 */
export type Groups<T extends string[], Cur extends string[] = [], Acc extends string[][] = [], Depth extends 0[] = []> = T extends [
  infer H extends string,
  ...infer R extends string[],
]
  ? H extends ','
    ? Depth extends []
      ? Groups<R, [], [...Acc, Cur], Depth>
      : Groups<R, [...Cur, H], Acc, Depth>
    : H extends '('
      ? Groups<R, [...Cur, H], Acc, [...Depth, 0]>
      : H extends ')'
        ? Groups<R, [...Cur, H], Acc, Depth extends [0, ...infer Less extends 0[]] ? Less : Depth>
        : Groups<R, [...Cur, H], Acc, Depth>
  : [...Acc, Cur];

/** [inside, after] the ')' that closes a '(' already consumed, or Invalid. @internal */
export type SplitClose<T extends string[], Inside extends string[] = [], Depth extends 0[] = []> = T extends [
  infer H extends string,
  ...infer R extends string[],
]
  ? H extends ')'
    ? Depth extends [0, ...infer Less extends 0[]]
      ? SplitClose<R, [...Inside, H], Less>
      : [Inside, R]
    : SplitClose<R, [...Inside, H], H extends '(' ? [...Depth, 0] : Depth>
  : Invalid;

// ---------------------------------------------------------------------------------------------------
// Vocabulary

/** @internal */
export type Qualifier = 'const' | 'volatile' | 'restrict' | '__restrict' | '__restrict__';
export type RestrictWord = 'restrict' | '__restrict' | '__restrict__';
/** @internal */
export type TagWord = 'struct' | 'union' | 'enum';
/** @internal */
export type IntegerWord = 'signed' | 'unsigned' | 'short' | 'long' | 'int' | 'char';

/** JS-facing category of a base type; 'def': a name the type registry declares. @internal */
export type Category = 'void' | 'bool' | 'number' | 'bigint' | 'char' | 'aggregate' | 'def';

/** @internal */
export type NamedCategory = {
  void: 'void';
  bool: 'bool';
  _Bool: 'bool';
  float: 'number';
  double: 'number';
  int8_t: 'number';
  uint8_t: 'number';
  int16_t: 'number';
  uint16_t: 'number';
  int32_t: 'number';
  uint32_t: 'number';
  int64_t: 'bigint';
  uint64_t: 'bigint';
  size_t: 'bigint';
  ssize_t: 'bigint';
  intptr_t: 'bigint';
  uintptr_t: 'bigint';
  ptrdiff_t: 'bigint';
};

/**
 * Integer spellings keyed by how many times each word occurs, in the order
 * signed, unsigned, short, long, int, char: this is what makes specifier order free.
 */
export type IntegerCategory = {
  '000010': 'number'; // int
  '100000': 'number'; // signed
  '100010': 'number';
  '010000': 'number'; // unsigned
  '010010': 'number';
  '001000': 'number'; // short
  '001010': 'number';
  '101000': 'number';
  '101010': 'number';
  '011000': 'number';
  '011010': 'number';
  '000100': 'bigint'; // long (LP64)
  '000110': 'bigint';
  '100100': 'bigint';
  '100110': 'bigint';
  '010100': 'bigint';
  '010110': 'bigint';
  '000200': 'bigint'; // long long
  '000210': 'bigint';
  '100200': 'bigint';
  '100210': 'bigint';
  '010200': 'bigint';
  '010210': 'bigint';
  '000001': 'char'; // plain char: the one pointee that maps to strings
  '100001': 'number';
  '010001': 'number';
};

/** Words that can never be a parameter or function name. */
type Reserved =
  | Qualifier
  | TagWord
  | IntegerWord
  | 'void'
  | 'bool'
  | '_Bool'
  | 'float'
  | 'double'
  | 'extern'
  | 'static'
  | 'register'
  | 'auto'
  | 'typedef'
  | 'inline'
  | '__inline'
  | '__inline__'
  | '_Noreturn'
  | '__attribute__'
  | '__extension__'
  | '__declspec'
  | '_Atomic'
  | '_Complex'
  | '_Imaginary'
  | '__int128'
  | '__int128_t'
  | '__uint128_t'
  | '_Float16'
  | '_Float128'
  | '__float128'
  | '_Alignas'
  | 'alignas'
  | 'typeof'
  | '__typeof__'
  | '_BitInt'
  | 'break'
  | 'case'
  | 'continue'
  | 'default'
  | 'do'
  | 'else'
  | 'for'
  | 'goto'
  | 'if'
  | 'return'
  | 'sizeof'
  | 'switch'
  | 'while'
  | 'true'
  | 'false'
  | 'nullptr'
  | 'constexpr'
  | 'static_assert'
  | '_Static_assert'
  | 'thread_local'
  | '_Thread_local'
  | '_Generic'
  | 'alignof'
  | '_Alignof'
  | 'typeof_unqual';

/** Characters no identifier contains; catches arrays, bit-fields, stray dots and the like. */
type Foreign = '[' | ']' | ':' | '.' | '/' | '=' | '{' | '}' | '&' | '#' | '"' | "'";

/** @internal */
export type IsName<W extends string> = W extends Reserved | Punct | '...' | '' ? false : W extends `${string}${Foreign}${string}` ? false : true;
