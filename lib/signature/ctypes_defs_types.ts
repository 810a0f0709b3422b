/**
 * What a declared name denotes at compile time: a Def records the JS type a value of it is given as
 * (`in`), read back as (`out`) and seen as inside a union (`raw`), and DefParam/DefReturn turn a Def
 * into the parameter and result types of lib.func. lib/signature/ctypes_types.ts builds Defs from declaration
 * text; lib/signature/prototype_types.ts looks them up.
 */
import type { Invalid } from './prototype_lex_types';
import type { AnyFunction, PointerArg, StringArg } from './prototype_types';
import type { Handle } from './handle';

/** The type of a callback whose C type could not be read at compile time: any function. */
// biome-ignore lint/suspicious/noExplicitAny: any function must be assignable to it, whatever its parameters (unknown[] would refuse them)
export type AnyCallback = (...args: any[]) => any;

/** The types a registry declares, by name: 'struct point', 'enum color', 'frame_t'. */
export type TypeDefs = { readonly [name: string]: Def };

/**
 * A C type at compile time: its kind, what JS gives for it (`in`: members, arguments), what JS gets
 * back (`out`: members, results) and (`raw`) what it reads as inside a union, where pointers are
 * never followed.
 */
export interface Def {
  k: 'num' | 'big' | 'bool' | 'char' | 'void' | 'enum' | 'record' | 'union' | 'ptr' | 'arr' | 'fn' | 'handle' | 'unknown';
  in: unknown;
  out: unknown;
  raw: unknown;
}

export interface NumDef extends Def {
  k: 'num';
  in: number;
  out: number;
  raw: number;
}
/** 64-bit integers: a safe-integer number is accepted where one is given, a bigint always comes back. */
export interface BigDef extends Def {
  k: 'big';
  in: bigint | number;
  out: bigint;
  raw: bigint;
}
export interface BoolDef extends Def {
  k: 'bool';
  in: boolean;
  out: boolean;
  raw: boolean;
}
/** Plain char: a number, except that arrays of it are strings and pointers to it are strings. */
export interface CharDef extends Def {
  k: 'char';
  in: number;
  out: number;
  raw: number;
}
export interface VoidDef extends Def {
  k: 'void';
  in: never;
  // biome-ignore lint/suspicious/noConfusingVoidType: a C function returning void returns JS's void
  out: void;
  raw: never;
}
export interface UnknownDef extends Def {
  k: 'unknown';
  in: unknown;
  out: unknown;
  raw: unknown;
}
export interface EnumDef<N extends string> extends Def {
  k: 'enum';
  names: N;
  in: number | N;
  out: number;
  raw: number;
}
export interface RecordDef<In, Out, Raw> extends Def {
  k: 'record';
  in: In;
  out: Out;
  raw: Raw;
}
export interface UnionDef<In, Out> extends Def {
  k: 'union';
  in: In;
  out: Out;
  raw: Out;
}
export interface FnDef<F> extends Def {
  k: 'fn';
  fn: F;
  in: never;
  out: never;
  raw: never;
}
/**
 * A handle type of a HotLibrary (its `handles` option, lib/hot/hot_types.ts WithHandles): a pointer
 * to it is a Handle<N>, a pointer to that pointer an out-parameter a Handle<N> comes back in.
 */
export interface HandleDef<N extends string> extends Def {
  k: 'handle';
  name: N;
  in: never;
  out: never;
  raw: never;
}
/** What a `T **` parameter of a handle type T takes: an array whose element 0 gets the handle (or null). */
export type HandleOut<N extends string> = (Handle<N> | null)[] | null;
export interface PtrDef<To extends Def, C extends boolean> extends Def {
  k: 'ptr';
  to: To;
  c: C;
  in: PtrIn<To>;
  out: To['k'] extends 'char' ? string | null : bigint;
  raw: bigint;
}
export interface ArrDef<E extends Def> extends Def {
  k: 'arr';
  of: E;
  in: E['k'] extends 'char' ? string : ArrayLike<E['in']>;
  out: E['k'] extends 'char' ? string : E['out'][];
  raw: E['k'] extends 'char' ? string : E['raw'][];
}

/**
 * A registered callback of JS function type F: what `lib.callback()` returns (the Callback class of
 * lib/call/callbacks.ts has this shape; declared here so that the type level needs no runtime module).
 */
export interface CallbackRef<F> {
  readonly type: string;
  readonly address: bigint;
  release(): Promise<void>;
  /** Compile time only: the JS function type. */
  readonly __fn?: F;
}

/** A callback: the JS function, a registered callback of it, an address or NULL. */
export type CallbackArg<F> = F | CallbackRef<F> | bigint | null;

/** What a pointer member accepts when encoded in memory dlswap owns (a call argument, a Buffer). */
type PtrIn<To extends Def> = To['k'] extends 'char'
  ? string | null | bigint | ArrayBufferView
  : To['k'] extends 'record' | 'union'
    ? To['in'] | readonly To['in'][] | PointerArg
    : To extends FnDef<infer F>
      ? CallbackArg<F>
      : PointerArg;

/** A function parameter of this type. */
export type DefParam<T extends Def> =
  T extends PtrDef<infer To, infer C>
    ? To extends HandleDef<infer N>
      ? Handle<N> | null
      : To extends PtrDef<HandleDef<infer N>, boolean>
        ? HandleOut<N>
        : To['k'] extends 'char'
          ? C extends true
            ? StringArg
            : PointerArg
          : To['k'] extends 'record' | 'union'
            ? To['in'] | readonly To['in'][] | PointerArg
            : To extends FnDef<infer F>
              ? CallbackArg<F>
              : PointerArg
    : T extends FnDef<infer F>
      ? CallbackArg<F>
      : T['k'] extends 'void' | 'union'
        ? Invalid
        : T['k'] extends 'big'
          ? bigint
          : T['in'];

/** A function result of this type. */
export type DefReturn<T extends Def> =
  T extends PtrDef<infer To, boolean>
    ? To extends HandleDef<infer N>
      ? Handle<N> | null
      : To['k'] extends 'char'
        ? string | null
        : bigint
    : T['k'] extends 'fn' | 'union'
      ? Invalid
      : T['out'];

/** A value C passes to a callback, as the JS function receives it. */
export type CallbackArgJs<T extends Def> =
  T extends PtrDef<infer To, infer C> ? (To['k'] extends 'char' ? (C extends true ? string | null : bigint) : bigint) : T['k'] extends 'fn' ? bigint : T['out'];

/** What a callback's JS function may return for this C type. */
export type CallbackReturnJs<T extends Def> =
  T extends PtrDef<Def, boolean>
    ? bigint | null | CallbackRef<AnyFunction>
    : T['k'] extends 'void'
      ? // biome-ignore lint/suspicious/noConfusingVoidType: a C function returning void returns JS's void
        void
      : T['k'] extends 'big'
        ? bigint | number
        : T['in'];
