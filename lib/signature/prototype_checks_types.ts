/**
 * Unknown type names as compile-time errors: a prototype (or a HotLibrary function table) naming a
 * type that is neither builtin nor declared in the registry is refused at the call, naming the word,
 * instead of silently typing as AnyFunction.
 */
import type { TypeDefs } from './ctypes_defs_types';
import type { Groups, IsName, Lex, NamedCategory, Qualifier, SplitAt, SplitClose } from './prototype_lex_types';

/** The first word of a declaration, past its qualifiers. */
type FirstWord<G extends string[]> = G extends [infer H extends string, ...infer R extends string[]] ? (H extends Qualifier ? FirstWord<R> : H) : never;

/** W, if it is an identifier in a type's place that is no type the parser knows nor one D declares. */
type UnknownWord<W, D extends TypeDefs> = W extends string
  ? IsName<W> extends true
    ? W extends keyof NamedCategory
      ? never
      : W extends keyof D
        ? never
        : W
    : never
  : never;

type UnknownInGroups<G extends string[][], D extends TypeDefs> = G extends [infer H extends string[], ...infer R extends string[][]]
  ? UnknownWord<FirstWord<H>, D> extends infer U
    ? [U] extends [never]
      ? UnknownInGroups<R, D>
      : U
    : never
  : never;

type UnknownInTokens<T extends string[], D extends TypeDefs> =
  SplitAt<T, '('> extends [infer Head extends string[], infer Rest extends string[]]
    ? Head extends [...infer Ret extends string[], string]
      ? UnknownWord<FirstWord<Ret>, D> extends infer U
        ? [U] extends [never]
          ? SplitClose<Rest> extends [infer Inside extends string[], unknown]
            ? UnknownInGroups<Groups<Inside>, D>
            : never
          : U
        : never
      : never
    : never;

/**
 * The first word of prototype P that stands where a type must (the return type, the start of each
 * parameter) and is neither a C type the runtime parser knows nor a name D declares: `'itn'` in
 * `'itn add(int a)'`. never when there is none, or when P is not a literal. The runtime parser
 * refuses every such word ("unknown type"), so refusing it at compile time is never stricter.
 */
export type UnknownTypeName<P extends string, D extends TypeDefs = {}> = string extends P
  ? never
  : Lex<P> extends infer T extends string[]
    ? UnknownInTokens<T, D>
    : never;

/** P itself, or a message naming its unknown type: what `lib.func(P)` accepts. */
export type CheckedPrototype<P extends string, D extends TypeDefs = {}> = [UnknownTypeName<P, D>] extends [never]
  ? P
  : `dlswap: unknown C type '${UnknownTypeName<P, D>}' in '${P}' (a typo? a struct or typedef must be declared with types(), docs/types.md)`;

type BadFunctions<F, D extends TypeDefs> = {
  [K in keyof F]: F[K] extends string ? ([UnknownTypeName<F[K], D>] extends [never] ? never : K) : never;
}[keyof F];

/**
 * unknown when every prototype of a `functions` map is readable; otherwise an object type whose
 * one required key is the message (`"functions.handle: unknown C type 'itn' ..."`), which the
 * options object lacks: the compiler's error then names the function and the word.
 */
export type CheckFunctions<F, D extends TypeDefs = {}> = [BadFunctions<F, D>] extends [never]
  ? unknown
  : {
      [K in BadFunctions<F, D> &
        string as `functions.${K}: unknown C type '${UnknownTypeName<F[K] & string, D>}' (a typo? declare structs and typedefs with types())`]: never;
    };
