/**
 * Compile-time mirror of lib/signature/ctypes.ts: the TypeScript types of the structs, unions, enums, typedefs
 * and callbacks a `types().declare('...')` string declares, so that
 *
 *   const t = types().declare('struct point { int32_t x, y; }');
 *   const lib = open(path, { types: t });
 *   lib.func('struct point add(struct point a, struct point b)')   // (a: Point, b: Point) => Point
 *
 * is typed from the strings alone. As in lib/signature/prototype_types.ts, the runtime parser is the authority:
 * what these types cannot read becomes `unknown` (a member) or is left out (a declaration), so they
 * may be more lenient than the runtime, never stricter. Long texts are read a token at a time (not a
 * character at a time): a declaration of a few hundred tokens stays precise.
 *
 * What the names denote (Defs, and the JS types of parameters and results): lib/signature/ctypes_defs_types.ts.
 */
import type {
  AnyCallback,
  ArrDef,
  BigDef,
  BoolDef,
  CallbackArgJs,
  CallbackReturnJs,
  CharDef,
  Def,
  EnumDef,
  FnDef,
  NumDef,
  PtrDef,
  RecordDef,
  TypeDefs,
  UnknownDef,
  VoidDef,
} from './ctypes_defs_types';
import type { Groups, Invalid, IsName, Qualifier, SplitClose, TagWord } from './prototype_lex_types';
import type { CategoryOf, DefOf, LexOf, ShapeOf, WithoutQualifiers } from './prototype_types';

// What a name denotes lives in ctypes_defs_types.ts; these three are re-exported for the modules that
// take registries and callbacks, so that the declaration types stay one import for them.
export type { AnyCallback, CallbackRef, TypeDefs } from './ctypes_defs_types';

// ---------------------------------------------------------------------------------------------------
// From tokens to Defs

type BaseOfCategory<C, Specs extends string[], D extends TypeDefs> = C extends 'number'
  ? NumDef
  : C extends 'char'
    ? CharDef
    : C extends 'bigint'
      ? BigDef
      : C extends 'bool'
        ? BoolDef
        : C extends 'void'
          ? VoidDef
          : C extends 'def'
            ? DefOf<Specs, D>
            : UnknownDef;

/** The Def the specifiers (qualifiers allowed) name. */
type BaseDef<Specs extends string[], D extends TypeDefs> =
  WithoutQualifiers<Specs> extends infer W extends string[] ? BaseOfCategory<CategoryOf<W, D>, W, D> : UnknownDef;

/** `*` levels (qualifiers between them ignored) applied to `T`; the first pointee's constness is `C`. */
type Pointers<T extends Def, Stars extends string[], C extends boolean> = Stars extends [infer H extends string, ...infer R extends string[]]
  ? H extends '*'
    ? Pointers<PtrDef<T, C>, R, R extends [infer Q, ...string[]] ? (Q extends 'const' ? true : false) : false>
    : H extends Qualifier
      ? Pointers<T, R, C>
      : UnknownDef
  : T;

/** `[N]` suffixes: tokens '[', N, ']' repeated. C's `a[2][3]` is an array of 2 arrays of 3. */
type Arrays<T extends Def, Dims extends string[]> = Dims extends ['[', string, ']', ...infer R extends string[]]
  ? ArrDef<Arrays<T, R>>
  : Dims extends []
    ? T
    : UnknownDef;

/** Splits tokens at the first token that is not a specifier (a qualifier, type word or the type name). */
type SplitSpecs<T extends string[], D extends TypeDefs, Acc extends string[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? H extends Qualifier | 'signed' | 'unsigned' | 'short' | 'long' | 'int' | 'char'
    ? SplitSpecs<R, D, [...Acc, H]>
    : H extends TagWord
      ? R extends [infer Tag extends string, ...infer R2 extends string[]]
        ? SplitSpecs<R2, D, [...Acc, H, Tag]>
        : [Acc, R]
      : WithoutQualifiers<Acc> extends []
        ? H extends '*' | '(' | '[' | ')'
          ? [Acc, T]
          : SplitSpecs<R, D, [...Acc, H]>
        : [Acc, T]
  : [Acc, []];

/** One declarator after the specifiers of `Base`: [name, Def], or Invalid. */
type Declarator<T extends string[], Base extends Def, C extends boolean> = '(' extends T[number]
  ? SplitAtToken<T, '('> extends [infer Stars extends string[], ['*', infer Name extends string, ...infer After extends string[]]]
    ? IsName<Name> extends true
      ? SplitAtToken<After, ')'> extends [infer Dims extends string[], ['(', ...infer Inner extends string[]]]
        ? [Name, Arrays<FunctionPointer<Pointers<Base, Stars, C>, Inner>, Dims>]
        : Invalid
      : Invalid
    : Invalid
  : SplitName<T> extends [infer Stars extends string[], infer Name extends string, infer Dims extends string[]]
    ? [Name, Arrays<Pointers<Base, Stars, C>, Dims>]
    : Invalid;

/** [before, after] the first `Tok`, or Invalid. */
type SplitAtToken<T extends string[], Tok extends string, Before extends string[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? H extends Tok
    ? [Before, R]
    : SplitAtToken<R, Tok, [...Before, H]>
  : Invalid;

/** [stars and qualifiers, name, array suffixes]. */
type SplitName<T extends string[], Stars extends string[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? H extends '*' | Qualifier
    ? SplitName<R, [...Stars, H]>
    : IsName<H> extends true
      ? [Stars, H, R]
      : Invalid
  : Invalid;

/** `(params)` after `(*name)`: a pointer to a function returning `Ret`. */
type FunctionPointer<Ret extends Def, Inner extends string[]> =
  SplitClose<Inner> extends [infer Params extends string[], []] ? PtrDef<FnDef<CallbackFromDefs<Ret, Params>>, false> : UnknownDef;

/** The JS function type of a callback returning `Ret` with these parameter tokens (no registry names inside). */
type CallbackFromDefs<Ret extends Def, Params extends string[]> =
  CallbackParams<Params extends [] | ['void'] ? [] : Groups<Params>, {}> extends infer A
    ? A extends unknown[]
      ? (...args: A) => CallbackReturnJs<Ret>
      : AnyCallback
    : AnyCallback;

/** A callback's parameters (C -> JS). */
type CallbackParams<G extends string[][], D extends TypeDefs, Acc extends unknown[] = []> = G extends [infer P extends string[], ...infer R extends string[][]]
  ? CallbackParams<R, D, [...Acc, ParamDefOf<P, D> extends infer T extends Def ? CallbackArgJs<T> : unknown]>
  : Acc;

/** The Def of one parameter declaration (name optional). */
type ParamDefOf<P extends string[], D extends TypeDefs> = '(' extends P[number]
  ? PtrDef<FnDef<AnyCallback>, false>
  : SplitSpecs<P, D> extends [infer Specs extends string[], infer Rest extends string[]]
    ? Rest extends []
      ? BaseDef<Specs, D>
      : NameOptional<Rest> extends infer Stars extends string[]
        ? Pointers<BaseDef<Specs, D>, Stars, 'const' extends Specs[number] ? true : false>
        : UnknownDef
    : UnknownDef;

/** The stars of an optionally named abstract declarator. */
type NameOptional<T extends string[], Stars extends string[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? H extends '*' | Qualifier
    ? NameOptional<R, [...Stars, H]>
    : R extends []
      ? Stars
      : Invalid
  : Stars;

/** A callback type (from a prototype's function pointer parameter): JS function type. */
export type CallbackFunction<Ret extends string[], Params extends string[], D extends TypeDefs> =
  ShapeOf<Ret, D> extends infer S
    ? [S] extends [Invalid]
      ? Invalid
      : CallbackParams<Params extends [] | ['void'] ? [] : Groups<Params>, D> extends infer A extends unknown[]
        ? (...args: A) => CallbackReturnJs<ParamDefOf<Ret, D> extends infer R extends Def ? R : UnknownDef>
        : Invalid
    : Invalid;

// ---- the declaration lexer: a token at a time ------------------------------------------------

type ReplaceAll<S extends string, From extends string, To extends string, Acc extends string = ''> = S extends `${infer A}${From}${infer B}`
  ? ReplaceAll<B, From, To, `${Acc}${A}${To}`>
  : `${Acc}${S}`;

type Spaced<S extends string> = ReplaceAll<
  ReplaceAll<
    ReplaceAll<
      ReplaceAll<
        ReplaceAll<
          ReplaceAll<
            ReplaceAll<
              ReplaceAll<ReplaceAll<ReplaceAll<ReplaceAll<ReplaceAll<ReplaceAll<S, '\n', ' '>, '\t', ' '>, '\r', ' '>, '{', ' { '>, '}', ' } '>, '[', ' [ '>,
              ']',
              ' ] '
            >,
            '(',
            ' ( '
          >,
          ')',
          ' ) '
        >,
        ';',
        ' ; '
      >,
      ',',
      ' , '
    >,
    '*',
    ' * '
  >,
  '=',
  ' = '
>;

type Words<S extends string, Acc extends string[] = []> = S extends `${infer W} ${infer R}`
  ? Words<R, W extends '' ? Acc : [...Acc, W]>
  : S extends ''
    ? Acc
    : [...Acc, S];

/** Tokens of a declaration text; Invalid when it is not fully known. */
export type DeclTokens<S extends string> = string extends S ? Invalid : Words<Spaced<S>>;

/** Tokens up to the first `Sep` outside braces, brackets and parentheses: [before, after]. */
type TakeUntil<T extends string[], Sep extends string, Acc extends string[] = [], Depth extends 0[] = []> = T extends [
  infer H extends string,
  ...infer R extends string[],
]
  ? Depth extends []
    ? H extends Sep
      ? [Acc, R]
      : H extends '{' | '(' | '['
        ? TakeUntil<R, Sep, [...Acc, H], [0]>
        : H extends '}' | ')' | ']'
          ? [Acc, T] // closes something opened before T: stop here
          : TakeUntil<R, Sep, [...Acc, H], Depth>
    : H extends '{' | '(' | '['
      ? TakeUntil<R, Sep, [...Acc, H], [...Depth, 0]>
      : H extends '}' | ')' | ']'
        ? TakeUntil<R, Sep, [...Acc, H], Depth extends [0, ...infer Less extends 0[]] ? Less : []>
        : TakeUntil<R, Sep, [...Acc, H], Depth>
  : [Acc, []];

/** Split at every top-level `Sep`, dropping empty parts (and stopping at a stray closing bracket). */
type SplitAll<T extends string[], Sep extends string, Acc extends string[][] = []> = T extends []
  ? Acc
  : TakeUntil<T, Sep> extends [infer Part extends string[], infer Rest extends string[]]
    ? Part extends []
      ? Rest extends T
        ? Acc
        : SplitAll<Rest, Sep, Acc>
      : SplitAll<Rest, Sep, [...Acc, Part]>
    : Acc;

/** After a '{': [body, the tokens after the matching '}']. */
type Body<T extends string[]> = TakeUntil<T, '}'>;

/** Drops `__attribute__((...))`. */
type StripAttributes<T extends string[], Acc extends string[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? H extends '__attribute__' | '__attribute'
    ? R extends ['(', ...infer R2 extends string[]]
      ? SplitClose<R2> extends [string[], infer After extends string[]]
        ? StripAttributes<After, Acc>
        : Acc
      : Acc
    : StripAttributes<R, [...Acc, H]>
  : Acc;

// ---- records and enums ----------------------------------------------------------------------------

type Entry = [string, Def];

/** The members of a struct or union body, as [name, Def] entries (anonymous members flattened). */
type Members<Decls extends string[][], D extends TypeDefs, Acc extends Entry[] = []> = Decls extends [infer M extends string[], ...infer R extends string[][]]
  ? Members<R, D, [...Acc, ...MemberEntries<M, D>]>
  : Acc;

/** One member declaration: `int32_t x, y`, `struct point p`, `union { ... }`, `int (*cb)(int)`. */
type MemberEntries<M extends string[], D extends TypeDefs> = M extends [infer W extends 'struct' | 'union', '{', ...infer R extends string[]]
  ? NestedEntries<W, R, D>
  : M extends [infer W extends 'struct' | 'union', string, '{', ...infer R extends string[]]
    ? NestedEntries<W, R, D>
    : M extends ['enum', ...infer R extends string[]]
      ? '{' extends R[number]
        ? EnumMember<M>
        : DeclaratorEntries<SplitAll<SplitSpecs<M, D>[1], ','>, BaseDef<SplitSpecs<M, D>[0], D>, false>
      : SplitSpecs<M, D> extends [infer Specs extends string[], infer Rest extends string[]]
        ? DeclaratorEntries<SplitAll<Rest, ','>, BaseDef<Specs, D>, 'const' extends Specs[number] ? true : false>
        : [];

/** A member whose type is a struct or union body: `struct { ... } name;`, or anonymous `union { ... };`. */
type NestedEntries<W extends 'struct' | 'union', R extends string[], D extends TypeDefs> =
  Body<R> extends [infer B extends string[], infer After extends string[]]
    ? RecordFromBody<W, B, D> extends infer Rec extends Def
      ? After extends []
        ? Flatten<Rec, W>
        : DeclaratorEntries<SplitAll<After, ','>, Rec, false>
      : []
    : [];

type EnumMember<M extends string[]> =
  SplitAtToken<M, '{'> extends [string[], infer R extends string[]]
    ? Body<R> extends [infer B extends string[], infer After extends string[]]
      ? DeclaratorEntries<SplitAll<After, ','>, EnumFromBody<B>, false>
      : []
    : [];

/** The members an anonymous struct or union member contributes to the enclosing record. */
type Flatten<R extends Def, W> = W extends 'union'
  ? [['\u0000anon', RecordDef<Partial<UnionAll<R['in']>>, R['out'], R['raw']>]]
  : [['\u0000anon', RecordDef<R['in'], R['out'], R['raw']>]];

type UnionAll<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void ? I : never;

type DeclaratorEntries<Ds extends string[][], Base extends Def, C extends boolean, Acc extends Entry[] = []> = Ds extends [
  infer T extends string[],
  ...infer R extends string[][],
]
  ? Declarator<T, Base, C> extends infer E extends Entry
    ? DeclaratorEntries<R, Base, C, [...Acc, E]>
    : DeclaratorEntries<R, Base, C, Acc>
  : Acc;

/** Object type of entries: named members keyed by name, anonymous members' objects merged in. */
type ObjectOf<E extends Entry[], F extends 'in' | 'out' | 'raw'> = Merge<
  { [P in E[number] as P[0] extends '\u0000anon' ? never : P[0]]: P[1][F] } & UnionAll<AnonOf<E, F>>
>;
type AnonOf<E extends Entry[], F extends 'in' | 'out' | 'raw'> = E[number] extends infer P
  ? P extends ['\u0000anon', infer R extends Def]
    ? R[F]
    : never
  : never;
type Merge<T> = { [K in keyof T]: T[K] };

/** Exactly one member: the JS value a union is encoded from. */
type OneOf<E extends Entry[]> = E[number] extends infer P ? (P extends [infer K extends string, infer T extends Def] ? { [Q in K]: T['in'] } : never) : never;

/**
 * A struct or union body. An interface, so that its members are worked out when they are used and
 * not while the enclosing declaration is read: nested bodies then do not add up to TypeScript's
 * instantiation depth limit.
 */
interface RecordFromBody<W extends 'struct' | 'union', B extends string[], D extends TypeDefs> extends Def {
  k: W extends 'union' ? 'union' : 'record';
  in: W extends 'union' ? OneOf<BodyMembers<B, D>> : ObjectOf<BodyMembers<B, D>, 'in'>;
  out: ObjectOf<BodyMembers<B, D>, W extends 'union' ? 'raw' : 'out'>;
  raw: ObjectOf<BodyMembers<B, D>, 'raw'>;
}

/** A tagged body: its own members may point to it (`struct node { struct node *next; }`). */
interface TaggedRecord<W extends 'struct' | 'union', Tag extends string, B extends string[], D extends TypeDefs> extends Def {
  k: W extends 'union' ? 'union' : 'record';
  in: W extends 'union' ? OneOf<BodyMembers<B, SelfDefs<W, Tag, B, D>>> : ObjectOf<BodyMembers<B, SelfDefs<W, Tag, B, D>>, 'in'>;
  out: ObjectOf<BodyMembers<B, SelfDefs<W, Tag, B, D>>, W extends 'union' ? 'raw' : 'out'>;
  raw: ObjectOf<BodyMembers<B, SelfDefs<W, Tag, B, D>>, 'raw'>;
}
type SelfDefs<W extends 'struct' | 'union', Tag extends string, B extends string[], D extends TypeDefs> = D & {
  [K in `${W} ${Tag}`]: TaggedRecord<W, Tag, B, D>;
};

type BodyMembers<B extends string[], D extends TypeDefs> = Members<SplitAll<B, ';'>, D> extends infer E extends Entry[] ? E : [];

type EnumNames<G extends string[][], Acc extends string = never> = G extends [infer P extends string[], ...infer R extends string[][]]
  ? EnumNames<R, P extends [infer N extends string, ...string[]] ? Acc | N : Acc>
  : Acc;

type EnumFromBody<B extends string[]> = EnumDef<EnumNames<SplitAll<B, ','>>>;

// ---- top-level declarations ---------------------------------------------------------------------

/** The Defs one declaration adds. */
type DeclDefs<T extends string[], D extends TypeDefs> = T extends ['typedef', ...infer R extends string[]]
  ? TypedefDefs<R, D>
  : T extends [infer W extends 'struct' | 'union', infer Tag extends string, '{', ...infer R extends string[]]
    ? Body<R> extends [infer B extends string[], string[]]
      ? { [K in `${W} ${Tag}`]: TaggedRecord<W, Tag, B, D> }
      : {}
    : T extends ['enum', infer Tag extends string, '{', ...infer R extends string[]]
      ? Body<R> extends [infer B extends string[], string[]]
        ? { [K in `enum ${Tag}`]: EnumFromBody<B> }
        : {}
      : {};

type TypedefDefs<T extends string[], D extends TypeDefs> = T extends [
  infer W extends 'struct' | 'union',
  infer Tag extends string,
  '{',
  ...infer R extends string[],
]
  ? Body<R> extends [infer B extends string[], infer After extends string[]]
    ? TaggedRecord<W, Tag, B, D> extends infer Rec extends Def
      ? { [K in `${W} ${Tag}`]: Rec } & NamesOf<DeclaratorEntries<SplitAll<After, ','>, Rec, false>>
      : {}
    : {}
  : MemberEntries<T, D> extends infer E extends Entry[]
    ? NamesOf<E>
    : {};

type NamesOf<E extends Entry[]> = { [P in E[number] as P[0] extends '\u0000anon' ? never : P[0]]: P[1] };

/** Declarations separated by ';', each seeing the ones before it. */
type FoldDecls<Ds extends string[][], D extends TypeDefs> = Ds extends [infer T extends string[], ...infer R extends string[][]]
  ? FoldDecls<R, D & DeclDefs<T, D>>
  : D;

/** The Defs a declaration text adds to `D` (nothing, when the text cannot be read). */
export type Declared<S extends string, D extends TypeDefs> =
  DeclTokens<S> extends infer T ? ([T] extends [Invalid] ? D : T extends string[] ? FoldDecls<SplitAll<StripAttributes<T>, ';'>, D> : D) : D;

// ---- type names: decode, encode, callbacks ------------------------------------------------------

/** The Def of a type name: 'struct point', 'uint8_t[16]', 'const char *', 'frame_t'. */
export type TypeNameDef<S extends string, D extends TypeDefs> =
  DeclTokens<S> extends infer T
    ? [T] extends [Invalid]
      ? UnknownDef
      : T extends string[]
        ? SplitSpecs<T, D> extends [infer Specs extends string[], infer Rest extends string[]]
          ? NameOptionalArrays<Rest> extends [infer Stars extends string[], infer Dims extends string[]]
            ? Arrays<Pointers<BaseDef<Specs, D>, Stars, 'const' extends Specs[number] ? true : false>, Dims>
            : UnknownDef
          : UnknownDef
        : UnknownDef
    : UnknownDef;

type NameOptionalArrays<T extends string[], Stars extends string[] = []> = T extends [infer H extends string, ...infer R extends string[]]
  ? H extends '*' | Qualifier
    ? NameOptionalArrays<R, [...Stars, H]>
    : H extends '['
      ? [Stars, T]
      : Invalid
  : [Stars, []];

/** What `decode(source, type)` returns. */
export type Decoded<S extends string, D extends TypeDefs> = string extends S ? unknown : TypeNameDef<S, D>['out'];
/** What `encode(target, type, value)` takes. */
export type Encodable<S extends string, D extends TypeDefs> = string extends S ? unknown : TypeNameDef<S, D>['in'];

/**
 * The JS function type of a callback type: a typedef name of a function pointer, a function pointer
 * type 'int (*)(int)', a function type 'int (int)', or a prototype 'int cmp(const void *, const void *)'.
 */
export type CallbackOf<S extends string, D extends TypeDefs> = string extends S
  ? AnyCallback
  : S extends keyof D
    ? D[S] extends PtrDef<FnDef<infer F>, boolean>
      ? F
      : D[S] extends FnDef<infer F>
        ? F
        : AnyCallback
    : LexOf<S> extends infer T extends string[]
      ? CallbackFromTokens<T, D>
      : AnyCallback;

type CallbackFromTokens<T extends string[], D extends TypeDefs> =
  SplitAtToken<T, '('> extends [infer Ret extends string[], infer After extends string[]]
    ? After extends ['*', ')', '(', ...infer Inner extends string[]]
      ? Close<Ret, Inner, D>
      : After extends [...infer Inner extends string[]]
        ? Ret extends [...infer R2 extends string[], infer Name extends string]
          ? IsName<Name> extends true
            ? R2 extends []
              ? Close<Ret, Inner, D>
              : Close<R2, Inner, D>
            : Close<Ret, Inner, D>
          : Close<Ret, Inner, D>
        : AnyCallback
    : AnyCallback;

type Close<Ret extends string[], Inner extends string[], D extends TypeDefs> =
  SplitClose<Inner> extends [infer Params extends string[], []]
    ? CallbackFunction<Ret, Params, D> extends infer F
      ? [F] extends [Invalid]
        ? AnyCallback
        : F
      : AnyCallback
    : AnyCallback;
