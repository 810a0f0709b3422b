// Compile-time tests for lib/signature/ctypes_types.ts: the TypeScript types inferred from C declarations and
// from prototypes, callbacks and type names that use them. Nothing here runs: types_inference.test.ts
// compiles this file and fails on any diagnostic.
import { expectTypeOf } from 'vitest';
import type { Callback } from '../../lib/call/callbacks';
import type { CallbackRef } from '../../lib/signature/ctypes_types';
import { types, type TypeRegistry } from '../../lib/signature/ctypes';
import type { AnyCallback, CallbackOf, Declared, Decoded, Encodable } from '../../lib/signature/ctypes_types';
import type { Library } from '../../lib/load/library';
import type { AnyFunction, FunctionOf, PointerArg, StringArg } from '../../lib/signature/prototype_types';
import { HotLibrary } from '../../lib/hot/hot_library';

type Ptr = bigint | null | ArrayBufferView | ArrayBuffer;

// ---- declarations -------------------------------------------------------------------------------
const t = types()
  .declare('struct point { int32_t x, y; }')
  .declare('struct frame { uint32_t w; uint32_t h; uint8_t pix[16]; struct point origin; char name[12]; double scale; }')
  .declare('enum color { RED, GREEN = 5, BLUE }')
  .declare('union val { int64_t i; double d; char s[12]; }')
  .declare('typedef struct frame frame_t')
  .declare('typedef int (*cmp_fn)(const void *a, const void *b)')
  .declare('struct person { const char *name; int age; struct person *friend_; bool ok; }')
  .declare('struct ops { int (*add)(int, int); void (*log)(const char *msg); const char *name; }')
  .declare('typedef struct { float re, im; } complex_t; struct big { int64_t id; complex_t z; enum color c; }');

type D = typeof t extends TypeRegistry<infer X> ? X : never;
type Point = { x: number; y: number };

expectTypeOf<D['struct point']['out']>().toEqualTypeOf<Point>();
expectTypeOf<D['struct point']['in']>().toEqualTypeOf<Point>();
expectTypeOf<D['struct frame']['out']>().toEqualTypeOf<{
  w: number;
  h: number;
  pix: number[];
  origin: Point;
  name: string;
  scale: number;
}>();
expectTypeOf<D['struct frame']['in']>().toEqualTypeOf<{
  w: number;
  h: number;
  pix: ArrayLike<number>;
  origin: Point;
  name: string;
  scale: number;
}>();
expectTypeOf<D['frame_t']['out']>().toEqualTypeOf<D['struct frame']['out']>();
expectTypeOf<D['enum color']['in']>().toEqualTypeOf<number | 'RED' | 'GREEN' | 'BLUE'>();
expectTypeOf<D['enum color']['out']>().toEqualTypeOf<number>();
// A union is given as exactly one member and read as every member (pointers never followed).
expectTypeOf<D['union val']['in']>().toEqualTypeOf<{ i: bigint | number } | { d: number } | { s: string }>();
expectTypeOf<D['union val']['out']>().toEqualTypeOf<{ i: bigint; d: number; s: string }>();
// Pointer members: strings for char pointers, objects (or arrays of them) for struct pointers.
expectTypeOf<D['struct person']['out']>().toEqualTypeOf<{ name: string | null; age: number; friend_: bigint; ok: boolean }>();
expectTypeOf<D['struct person']['in']['name']>().toEqualTypeOf<string | null | bigint | ArrayBufferView>();
// A struct that points to its own type: nested objects all the way down.
expectTypeOf<D['struct person']['in']['friend_']>().toEqualTypeOf<D['struct person']['in'] | readonly D['struct person']['in'][] | Ptr>();
// Callbacks as members: a JS function, a Callback, an address or NULL.
type Ops = D['struct ops']['in'];
expectTypeOf<Ops['add']>().toEqualTypeOf<((a: number, b: number) => number) | CallbackRef<(a: number, b: number) => number> | bigint | null>();
expectTypeOf<Ops['log']>().toEqualTypeOf<((msg: string | null) => void) | CallbackRef<(msg: string | null) => void> | bigint | null>();
expectTypeOf<D['struct big']['out']>().toEqualTypeOf<{ id: bigint; z: { re: number; im: number }; c: number }>();

// Several declarations in one string, and one that cannot be read at compile time (nothing added).
type Two = Declared<'struct a { int x; }; struct b { struct a inner; char c; }', {}>;
expectTypeOf<Two['struct b']['out']>().toEqualTypeOf<{ inner: { x: number }; c: number }>();
expectTypeOf<Declared<string, {}>>().toEqualTypeOf<{}>();

// ---- prototypes that name declared types ------------------------------------------------------
type PointIn = Point | readonly Point[] | Ptr;
expectTypeOf<FunctionOf<'struct point add(struct point a, struct point b)', D>>().toEqualTypeOf<(a: Point, b: Point) => Point>();
expectTypeOf<FunctionOf<'int area(const struct point *p)', D>>().toEqualTypeOf<(p: PointIn) => number>();
expectTypeOf<FunctionOf<'int fill(frame_t *out)', D>>().toEqualTypeOf<(out: D['struct frame']['in'] | readonly D['struct frame']['in'][] | Ptr) => number>();
expectTypeOf<FunctionOf<'struct frame *frame_new(void)', D>>().toEqualTypeOf<() => bigint>();
expectTypeOf<FunctionOf<'enum color next(enum color c)', D>>().toEqualTypeOf<(c: number | 'RED' | 'GREEN' | 'BLUE') => number>();
expectTypeOf<FunctionOf<'void sort(void *base, size_t n, size_t size, cmp_fn cmp)', D>>().toEqualTypeOf<
  (
    base: Ptr,
    n: bigint | number,
    size: bigint | number,
    cmp: ((a: bigint, b: bigint) => number) | CallbackRef<(a: bigint, b: bigint) => number> | bigint | null,
  ) => void
>();
// Undeclared tags stay opaque pointers, as without types.
expectTypeOf<FunctionOf<'int f(struct other *o)', D>>().toEqualTypeOf<(o: Ptr) => number>();

// ---- function pointer parameters, with or without a registry ---------------------------------------
type IntCb = (a: number) => number;
expectTypeOf<FunctionOf<'int fp_call(int (*cb)(int), int x)'>>().toEqualTypeOf<(cb: IntCb | CallbackRef<IntCb> | bigint | null, x: number) => number>();
expectTypeOf<FunctionOf<'void each(const char *text, void (*cb)(const char *word, int index))'>>().toEqualTypeOf<
  (text: StringArg, cb: ((word: string | null, index: number) => void) | CallbackRef<(word: string | null, index: number) => void> | bigint | null) => void
>();
expectTypeOf<FunctionOf<'double f(double (*cb)(double, float, int64_t, bool, char *), double x)'>>().toEqualTypeOf<
  (
    cb:
      | ((a: number, b: number, c: bigint, d: boolean, e: bigint) => number)
      | CallbackRef<(a: number, b: number, c: bigint, d: boolean, e: bigint) => number>
      | bigint
      | null,
    x: number,
  ) => number
>();
type PtCb = (p: Point) => number;
expectTypeOf<FunctionOf<'int g(int (*cb)(struct point), int32_t x)', D>>().toEqualTypeOf<(cb: PtCb | CallbackRef<PtCb> | bigint | null, x: number) => number>();

// ---- callbacks, decode and encode -------------------------------------------------------------
expectTypeOf<CallbackOf<'cmp_fn', D>>().toEqualTypeOf<(a: bigint, b: bigint) => number>();
expectTypeOf<CallbackOf<'int (*)(int)', D>>().toEqualTypeOf<(a: number) => number>();
expectTypeOf<CallbackOf<'void log(int level, const char *msg)', D>>().toEqualTypeOf<(a: number, b: string | null) => void>();
expectTypeOf<CallbackOf<string, D>>().toEqualTypeOf<AnyCallback>();
expectTypeOf<Decoded<'struct point', D>>().toEqualTypeOf<Point>();
expectTypeOf<Decoded<'uint32_t', D>>().toEqualTypeOf<number>();
expectTypeOf<Decoded<'const char *', D>>().toEqualTypeOf<string | null>();
expectTypeOf<Decoded<'int64_t[4]', D>>().toEqualTypeOf<bigint[]>();
expectTypeOf<Decoded<'struct point *', D>>().toEqualTypeOf<bigint>();
expectTypeOf<Encodable<'struct point', D>>().toEqualTypeOf<Point>();
expectTypeOf<Decoded<string, D>>().toEqualTypeOf<unknown>();

// ---- how it is wired: the library's type parameter comes from open(path, { types }) ----------------
declare const lib: Library<D>;
const add = lib.func('struct point point_add(struct point a, struct point b)');
expectTypeOf(add({ x: 1, y: 2 }, { x: 3, y: 4 })).toEqualTypeOf<Point>();
// @ts-expect-error: a member is missing
add({ x: 1 }, { x: 3, y: 4 });
expectTypeOf(lib.decode(0n, 'struct frame').origin).toEqualTypeOf<Point>();
expectTypeOf(lib.decode(0n, 'uint8_t', 4)).toEqualTypeOf<number[]>();
lib.encode(0n, 'enum color', 'GREEN');
// @ts-expect-error: not an enumerator
lib.encode(0n, 'enum color', 'PURPLE');
const cmp = lib.callback('cmp_fn', (a, b) => {
  expectTypeOf(a).toEqualTypeOf<bigint>();
  return Number(a - b);
});
expectTypeOf(cmp).toEqualTypeOf<Callback<(a: bigint, b: bigint) => number>>();
lib.func('void sort(void *base, size_t n, size_t size, cmp_fn cmp)')(null, 0n, 4n, cmp);
// @ts-expect-error: the callback's parameter is an int (a number), not a string
lib.callback('int (*)(int)', (_x: string) => 1);
// @ts-expect-error: cmp_fn takes two pointers (bigints)
lib.callback('cmp_fn', (a: number, b: number) => a - b);
// A prototype known only at run time (a string) takes any callback: it is checked when made.
lib.callback('int (*)(int)' as string, (x: unknown) => Number(x));
lib.func('int fp_call(int (*cb)(int), int x)')((x) => x * 2, 1);
// @ts-expect-error: the callback must return a number
lib.func('int fp_call(int (*cb)(int), int x)')((x) => String(x), 1);

declare const hot: HotLibrary<{ add: 'struct point point_add(struct point a, struct point b)' }, D>;
expectTypeOf(hot.fn.add).returns.toEqualTypeOf<Point>();

// HotLibrary.open infers both the functions and the types; setup sees the generation's functions.
export async function hotSetup(): Promise<void> {
  const h = await HotLibrary.open('./libx.so', {
    types: t,
    functions: { sort: 'void sort(void *base, size_t n, size_t size, cmp_fn cmp)', next: 'enum color next_color(enum color c)' },
    setup(gen) {
      const cmpCb = gen.callback('cmp_fn', (a, b) => {
        expectTypeOf(a).toEqualTypeOf<bigint>();
        return a < b ? -1 : 1;
      });
      gen.fn.sort(null, 0n, 4n, cmpCb);
      expectTypeOf(gen.fn.next).parameter(0).toEqualTypeOf<number | 'RED' | 'GREEN' | 'BLUE'>();
    },
  });
  expectTypeOf(h.fn.next('GREEN')).toEqualTypeOf<number>();
  h.callback('int (*)(int)', (x) => x + 1);
}

// teardown sees the retiring generation's functions and library, typed as setup's are.
export async function hotTeardown(): Promise<void> {
  await HotLibrary.open('./libx.so', {
    types: t,
    functions: { next: 'enum color next_color(enum color c)' },
    async teardown(gen) {
      expectTypeOf(gen.id).toEqualTypeOf<number>();
      expectTypeOf(gen.fn.next).parameter(0).toEqualTypeOf<number | 'RED' | 'GREEN' | 'BLUE'>();
      gen.lib.func('void shutdown(void)')();
      // @ts-expect-error: a generation being torn down makes no callbacks
      gen.callback('int (*)(int)', (x: number) => x);
    },
  });
}

export type { AnyFunction, PointerArg };

// Nested bodies, anonymous members (their members belong to the enclosing struct), arrays of
// function pointers.
type Nested = Declared<
  'struct anon { int k; union { int a; float b; }; struct { char c1, c2; }; struct { long q; } inner; void (*handlers[2])(int); }',
  {}
>['struct anon'];
expectTypeOf<Nested['out']>().toEqualTypeOf<{ k: number; inner: { q: bigint }; handlers: bigint[]; a: number; b: number; c1: number; c2: number }>();
expectTypeOf<Nested['in']['a']>().toEqualTypeOf<number | undefined>();
