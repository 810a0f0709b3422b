/**
 * Compile-time mirror of lib/signature/signature.ts: infers a function type from a literal prototype so that
 * `lib.func('int add(int a, int b)')` is typed `(a: number, b: number) => number`.
 *
 * The runtime parser is the authority. These types accept the common spellings precisely and answer
 * `AnyFunction` for anything they cannot read; they are sometimes more lenient than the runtime
 * (a prototype typed here may still be rejected when parsed), never stricter.
 *
 * Every loop below is tail-recursive (TypeScript evaluates those iteratively, up to 1000 rounds) and
 * the character loop carries a budget, so a long literal degrades to AnyFunction instead of raising
 * "Type instantiation is excessively deep". The lexer and the vocabulary are in
 * lib/signature/prototype_lex_types.ts, the unknown-name checks in lib/signature/prototype_checks_types.ts.
 */
import type { CallbackFunction } from './ctypes_types';
import type { CallbackArg, Def, DefParam, DefReturn, HandleDef, PtrDef, TypeDefs, UnknownDef } from './ctypes_defs_types';
import type {
  Category,
  Groups,
  IntegerCategory,
  IntegerWord,
  Invalid,
  IsName,
  Lex,
  NamedCategory,
  OrAny,
  Qualifier,
  RestrictWord,
  SplitAt,
  SplitClose,
  TagWord,
} from './prototype_lex_types';

// Checked where prototypes are accepted; re-exported so that prototype types stay one import.
export type { CheckedPrototype, CheckFunctions, UnknownTypeName } from './prototype_checks_types';

/** What a pointer parameter accepts: an address, NULL, or memory the callee reads or writes. */
export type PointerArg = bigint | null | ArrayBufferView | ArrayBuffer;
/** What a `const char *` parameter accepts: a JS string (passed as UTF-8), NULL, bytes or an address. */
export type StringArg = string | null | ArrayBufferView | bigint;
/**
 * What a 64-bit integer parameter (`int64_t`, `size_t`, `long`...) accepts: a bigint, or a number
 * that is a safe integer (larger ones are refused at the call). Results are always bigint.
 */
export type Int64Arg = number | bigint;
/** The type of a function whose prototype is not a literal or could not be read at compile time. */
export type AnyFunction = (...args: unknown[]) => unknown;

/**
 * Inferred function type of a literal C prototype; AnyFunction when P is `string` or unreadable. `D`
 * holds the types a registry declares (lib/signature/ctypes_types.ts): their names resolve in P.
 */
export type FunctionOf<P extends string, D extends TypeDefs = {}> = string extends P ? AnyFunction : OrAny<FromPrototype<P, D>>;

/**
 * Inferred function type of the object form `{ returns, args, variadic }`. Needs literal strings and
 * a tuple of args (declare the caller's type parameter `const`); AnyFunction otherwise.
 */
export type FunctionOfObject<O extends { returns: string; args: readonly string[]; variadic?: boolean }, D extends TypeDefs = {}> = OrAny<
  FromObject<O['returns'], O['args'], O extends { variadic: infer V } ? V : false, D>
>;

// ---------------------------------------------------------------------------------------------------
// Types

type Count<T extends string[], W extends string, N extends 0[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? Count<R, W, H extends W ? [...N, 0] : N>
  : N['length'];

type IntegerKey<S extends string[]> =
  `${Count<S, 'signed'>}${Count<S, 'unsigned'>}${Count<S, 'short'>}${Count<S, 'long'>}${Count<S, 'int'>}${Count<S, 'char'>}`;

/** @internal */
export type CategoryOf<Specs extends string[], D extends TypeDefs = {}> = Specs extends [infer One extends keyof NamedCategory]
  ? NamedCategory[One]
  : Specs extends [infer W extends TagWord, infer Tag extends string]
    ? `${W} ${Tag}` extends keyof D
      ? 'def'
      : IsName<Tag> extends true
        ? 'aggregate'
        : Invalid
    : Specs extends [infer One extends string]
      ? One extends keyof D
        ? 'def'
        : Specs extends IntegerWord[]
          ? IntegerKey<Specs> extends infer K extends keyof IntegerCategory
            ? IntegerCategory[K]
            : Invalid
          : Invalid
      : Specs extends IntegerWord[]
        ? IntegerKey<Specs> extends infer K extends keyof IntegerCategory
          ? IntegerCategory[K]
          : Invalid
        : Invalid;

/** The registry's definition of the specifiers (when CategoryOf says 'def'). @internal */
export type DefOf<Specs extends string[], D extends TypeDefs> = Specs extends [infer W extends TagWord, infer Tag extends string]
  ? `${W} ${Tag}` extends keyof D
    ? D[`${W} ${Tag}`]
    : UnknownDef
  : Specs extends [infer One extends keyof D]
    ? D[One]
    : UnknownDef;

/** @internal */
export type WithoutQualifiers<T extends string[], Acc extends string[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? WithoutQualifiers<R, H extends Qualifier ? Acc : [...Acc, H]>
  : Acc;

/** Pointer levels after the first '*': 0, 1, or 2 for "two or more"; Invalid if a non-qualifier hides there. */
type Depth<T extends string[], N extends 0[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? H extends '*'
    ? Depth<R, N['length'] extends 2 ? N : [...N, 0]>
    : H extends Qualifier
      ? Depth<R, N>
      : Invalid
  : N['length'];

/** @internal */
export interface Shape {
  category: Category;
  depth: number;
  /** `const` among the specifiers, i.e. on the pointee of the first '*'. */
  constBase: boolean;
  /** category 'def': what the registry says the name is. */
  def: Def;
}

/** Tokens of one type without a name. @internal */
export type ShapeOf<T extends string[], D extends TypeDefs = {}> =
  SplitAtStar<T> extends [infer Base extends string[], infer Stars extends string[]]
    ? [Extract<Base[number], RestrictWord>] extends [never]
      ? CategoryOf<WithoutQualifiers<Base>, D> extends infer C extends Category
        ? Depth<Stars> extends infer N extends number
          ? {
              category: C;
              depth: N;
              constBase: 'const' extends Base[number] ? true : false;
              def: C extends 'def' ? DefOf<WithoutQualifiers<Base>, D> : UnknownDef;
            }
          : Invalid
        : Invalid
      : Invalid
    : Invalid;

/** [specifiers, the first '*' and everything after it]. */
type SplitAtStar<T extends string[], Base extends string[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? H extends '*'
    ? [Base, T]
    : SplitAtStar<R, [...Base, H]>
  : [Base, []];

type HasSpecifier<T extends string[]> = [Exclude<T[number], Qualifier | '*'>] extends [never] ? false : true;

/**
 * Drops a trailing parameter name. As in C, a typedef name such as `size_t` names the type unless a
 * type specifier came before it (`int size_t` is an int parameter called size_t).
 */
type StripName<P extends string[]> = P extends [...infer Pre extends string[], infer Last extends string]
  ? IsName<Last> extends true
    ? Pre extends [...string[], TagWord]
      ? P
      : HasSpecifier<Pre> extends true
        ? Pre
        : P
    : P
  : P;

/**
 * The Def a declared type's shape stands for: itself, a pointer to it, or a pointer to a pointer
 * (which keeps the declared type only for a handle type: its out-parameter).
 */
type DefAtDepth<S extends Shape> = S['depth'] extends 0
  ? S['def']
  : S['depth'] extends 1
    ? PtrDef<S['def'], S['constBase']>
    : S['def'] extends HandleDef<string>
      ? PtrDef<PtrDef<S['def'], false>, false>
      : PtrDef<PtrDef<UnknownDef, false>, false>;

type ParamJs<S> = S extends Shape
  ? S['category'] extends 'def'
    ? DefParam<DefAtDepth<S>>
    : S['depth'] extends 0
      ? S['category'] extends 'number' | 'char'
        ? number
        : S['category'] extends 'bigint'
          ? Int64Arg
          : S['category'] extends 'bool'
            ? boolean
            : Invalid
      : S['depth'] extends 1
        ? S['category'] extends 'char'
          ? S['constBase'] extends true
            ? StringArg
            : PointerArg
          : PointerArg
        : PointerArg
  : Invalid;

type ReturnJs<S> = S extends Shape
  ? S['category'] extends 'def'
    ? DefReturn<DefAtDepth<S>>
    : S['depth'] extends 0
      ? S['category'] extends 'void'
        ? // biome-ignore lint/suspicious/noConfusingVoidType: a C function returning void returns JS's void
          void
        : S['category'] extends 'number' | 'char'
          ? number
          : S['category'] extends 'bigint'
            ? bigint
            : S['category'] extends 'bool'
              ? boolean
              : Invalid
      : S['depth'] extends 1
        ? S['category'] extends 'char'
          ? string | null
          : bigint
        : bigint
  : Invalid;

/** One parameter: a plain declarator, or a function pointer `R (*name)(params)`. */
type ParamOf<P extends string[], D extends TypeDefs = {}> = '(' extends P[number] ? FunctionPointerParam<P, D> : ParamJs<ShapeOf<StripName<P>, D>>;

/** `R (*name)(params)` or `R (*)(params)`: what a callback parameter accepts. */
type FunctionPointerParam<P extends string[], D extends TypeDefs> =
  SplitAt<P, '('> extends [infer Ret extends string[], infer After extends string[]]
    ? After extends ['*', ')', '(', ...infer Inner extends string[]]
      ? CallbackParamOf<Ret, Inner, D>
      : After extends ['*', infer Name extends string, ')', '(', ...infer Inner extends string[]]
        ? IsName<Name> extends true
          ? CallbackParamOf<Ret, Inner, D>
          : Invalid
        : Invalid
    : Invalid;

type CallbackParamOf<Ret extends string[], Inner extends string[], D extends TypeDefs> =
  SplitClose<Inner> extends [infer Params extends string[], infer Rest extends string[]]
    ? Rest extends []
      ? CallbackFunction<Ret, Params, D> extends infer F
        ? [F] extends [Invalid]
          ? Invalid
          : CallbackArg<F>
        : Invalid
      : Invalid
    : Invalid;

/** Parameter groups to a tuple; a final `...` becomes a rest element. */
type ParamTuple<G extends string[][], D extends TypeDefs = {}, Acc extends unknown[] = []> = G extends [infer P extends string[], ...infer R extends string[][]]
  ? P extends ['...']
    ? R extends []
      ? Acc extends []
        ? Invalid
        : [...Acc, ...unknown[]]
      : Invalid
    : ParamOf<P, D> extends infer J
      ? [J] extends [Invalid]
        ? Invalid
        : ParamTuple<R, D, [...Acc, J]>
      : Invalid
  : Acc;

type ParamsOf<Inside extends string[], D extends TypeDefs = {}> = Inside extends [] | ['void'] ? [] : ParamTuple<Groups<Inside>, D>;

type Fn<Args, Ret> = [Args] extends [Invalid] ? Invalid : [Ret] extends [Invalid] ? Invalid : Args extends unknown[] ? (...args: Args) => Ret : Invalid;

type FromTokens<T extends string[], D extends TypeDefs = {}> =
  SplitAt<T, '('> extends [infer Head extends string[], infer Rest extends string[]]
    ? SplitClose<Rest> extends [infer Inside extends string[], infer After extends string[]]
      ? After extends [] | [';']
        ? Head extends [...infer Ret extends string[], infer Name extends string]
          ? IsName<Name> extends true
            ? Fn<ParamsOf<Inside, D>, ReturnJs<ShapeOf<Ret, D>>>
            : Invalid
          : Invalid
        : Invalid
      : Invalid
    : Invalid;

type FromPrototype<P extends string, D extends TypeDefs = {}> = Lex<P> extends infer T extends string[] ? FromTokens<T, D> : Invalid;

/** @internal the token list of a prototype or type, as the runtime tokenizer would split it. */
export type LexOf<S extends string> = Lex<S>;

// Object form ----------------------------------------------------------------------------------------

type LexedParamTuple<A extends readonly string[], D extends TypeDefs, Acc extends unknown[] = []> = A extends readonly [
  infer H extends string,
  ...infer R extends readonly string[],
]
  ? string extends H
    ? Invalid
    : Lex<H> extends infer T extends string[]
      ? ParamOf<T, D> extends infer J
        ? [J] extends [Invalid]
          ? Invalid
          : LexedParamTuple<R, D, [...Acc, J]>
        : Invalid
      : Invalid
  : Acc;

type ObjectParams<A extends readonly string[], V, D extends TypeDefs> = number extends A['length']
  ? Invalid // an array, not a tuple: arity unknown
  : A extends readonly ['void']
    ? V extends false
      ? []
      : Invalid
    : LexedParamTuple<A, D> extends infer T
      ? [T] extends [Invalid]
        ? Invalid
        : T extends unknown[]
          ? V extends true
            ? T extends []
              ? Invalid
              : [...T, ...unknown[]]
            : V extends false
              ? T
              : Invalid // `boolean`: not known at compile time
          : Invalid
      : Invalid;

type ObjectReturn<R extends string, D extends TypeDefs> = string extends R
  ? Invalid
  : Lex<R> extends infer T extends string[]
    ? ReturnJs<ShapeOf<T, D>>
    : Invalid;

type FromObject<R extends string, A extends readonly string[], V, D extends TypeDefs = {}> = Fn<ObjectParams<A, V, D>, ObjectReturn<R, D>>;
