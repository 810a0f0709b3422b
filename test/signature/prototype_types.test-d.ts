// Compile-time tests for lib/signature/prototype_types.ts. Nothing here does anything at run time: the
// "type-level inference" test in signature.test.ts compiles this file and fails on any diagnostic.
import { expectTypeOf } from 'vitest';
import type { AnyFunction, FunctionOf, FunctionOfObject, PointerArg, StringArg } from '../../lib/signature/prototype_types';
import type { CallbackRef } from '../../lib/signature/ctypes_types';

type Ptr = bigint | null | ArrayBufferView | ArrayBuffer;
type Str = string | null | ArrayBufferView | bigint;

// The exported aliases are what the docs promise.
expectTypeOf<PointerArg>().toEqualTypeOf<Ptr>();
expectTypeOf<StringArg>().toEqualTypeOf<Str>();
expectTypeOf<AnyFunction>().toEqualTypeOf<(...args: unknown[]) => unknown>();

// Scalars.
expectTypeOf<FunctionOf<'int add(int a, int b)'>>().toEqualTypeOf<(a: number, b: number) => number>();
expectTypeOf<FunctionOf<'double hypot(double, double)'>>().toEqualTypeOf<(x: number, y: number) => number>();
expectTypeOf<FunctionOf<'float f(float x);'>>().toEqualTypeOf<(x: number) => number>();
expectTypeOf<FunctionOf<'bool is_ok(_Bool b)'>>().toEqualTypeOf<(b: boolean) => boolean>();
expectTypeOf<FunctionOf<'void noop(void)'>>().toEqualTypeOf<() => void>();
expectTypeOf<FunctionOf<'void noop()'>>().toEqualTypeOf<() => void>();
expectTypeOf<FunctionOf<'char f(signed char a, unsigned char b, char c)'>>().toEqualTypeOf<(a: number, b: number, c: number) => number>();
expectTypeOf<FunctionOf<'short f(unsigned short a, short int b, signed short int c)'>>().toEqualTypeOf<(a: number, b: number, c: number) => number>();
expectTypeOf<FunctionOf<'unsigned f(signed a, unsigned int b, int32_t c, uint32_t d, int8_t e, uint16_t g)'>>().toEqualTypeOf<
  (a: number, b: number, c: number, d: number, e: number, g: number) => number
>();

// 64-bit integers: a parameter takes a number or a bigint, a result is a bigint, whatever the
// spelling and word order.
type I64 = number | bigint;
expectTypeOf<FunctionOf<'size_t strlen(const char *s)'>>().toEqualTypeOf<(s: Str) => bigint>();
expectTypeOf<FunctionOf<'long f(long long a, unsigned long b, long unsigned int c, int long d)'>>().toEqualTypeOf<(a: I64, b: I64, c: I64, d: I64) => bigint>();
expectTypeOf<FunctionOf<'int64_t f(uint64_t a, ssize_t b, intptr_t c, uintptr_t d, ptrdiff_t e, unsigned long long int f)'>>().toEqualTypeOf<
  (a: I64, b: I64, c: I64, d: I64, e: I64, f: I64) => bigint
>();

// Strings and pointers, with every whitespace variant around '*'.
expectTypeOf<FunctionOf<'const char *getenv(const char *name)'>>().toEqualTypeOf<(name: Str) => string | null>();
expectTypeOf<FunctionOf<'char* strdup(const char* s)'>>().toEqualTypeOf<(s: Str) => string | null>();
expectTypeOf<FunctionOf<'char *strcpy(char * dst, char const * src)'>>().toEqualTypeOf<(dst: Ptr, src: Str) => string | null>();
expectTypeOf<FunctionOf<'char*f(char*s,const char*t)'>>().toEqualTypeOf<(s: Ptr, t: Str) => string | null>();
expectTypeOf<FunctionOf<'void *memcpy(void *restrict dst, const void *restrict src, size_t n)'>>().toEqualTypeOf<(dst: Ptr, src: Ptr, n: I64) => bigint>();
expectTypeOf<FunctionOf<'int main(int argc, const char *const *argv)'>>().toEqualTypeOf<(argc: number, argv: Ptr) => number>();
expectTypeOf<FunctionOf<'unsigned char *f(const unsigned char *p, char *const q, const char *const r)'>>().toEqualTypeOf<(p: Ptr, q: Ptr, r: Str) => bigint>();
expectTypeOf<FunctionOf<'struct node *next(struct node *n, const struct node *)'>>().toEqualTypeOf<(n: Ptr, m: Ptr) => bigint>();
expectTypeOf<FunctionOf<'void **f(int **pp)'>>().toEqualTypeOf<(pp: Ptr) => bigint>();

// Whitespace and layout.
expectTypeOf<FunctionOf<'  int   add ( int  a ,int b )  ;  '>>().toEqualTypeOf<(a: number, b: number) => number>();
expectTypeOf<FunctionOf<'int\tadd(\n  int a,\n  int b\n)'>>().toEqualTypeOf<(a: number, b: number) => number>();

// Unnamed parameters and names that are also typedef names.
expectTypeOf<FunctionOf<'int f(int, double, const char *)'>>().toEqualTypeOf<(a: number, b: number, c: Str) => number>();
expectTypeOf<FunctionOf<'int f(int size_t, size_t n, size_t)'>>().toEqualTypeOf<(a: number, b: I64, c: I64) => number>();

// Variadic functions take the fixed parameters, then type/value pairs.
expectTypeOf<FunctionOf<'int printf(const char *fmt, ...)'>>().toEqualTypeOf<(fmt: Str, ...rest: unknown[]) => number>();
expectTypeOf<FunctionOf<'long sum(int n,...)'>>().toEqualTypeOf<(n: number, ...rest: unknown[]) => bigint>();

// Twelve parameters stay precise.
expectTypeOf<FunctionOf<'double f12(int a, int b, int c, int d, int e, int f, int g, int h, int i, int j, const char *k, size_t l)'>>().toEqualTypeOf<
  (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: Str, l: I64) => number
>();

// Anything not a readable literal falls back to the general signature.
expectTypeOf<FunctionOf<string>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<`int f(${string})`>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'foo_t f(int)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(foo_t x)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(int a,)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(...)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(int a, ..., int b)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(void, int)'>>().toEqualTypeOf<AnyFunction>();
// Function pointer parameters are callbacks (test/signature/ctypes_types.test-d.ts has more).
expectTypeOf<FunctionOf<'int f(int (*cb)(int))'>>().toEqualTypeOf<
  (cb: ((a: number) => number) | CallbackRef<(a: number) => number> | bigint | null) => number
>();
expectTypeOf<FunctionOf<'int (*f)(int)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(int a[3])'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'long double f(void)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'unsigned float f(void)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'struct s f(void)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(int int)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(restrict int *p)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(int) extra'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'int f(int'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<'f(int)'>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOf<''>>().toEqualTypeOf<AnyFunction>();

// A literal far beyond the budget degrades instead of failing to compile.
type Long =
  `int f(int a${'                                                                                '}${'                                                                                                    '}${'                                                                                                    '}${'                                                                                                    '}${'                                                                                                    '}${'                                                                                                    '}${'                                                                                                    '}${'                                                                                                    '}${'                                                                                                    '}${'                                                                                                    '}${'                                                                                                    '})`;
expectTypeOf<FunctionOf<Long>>().toEqualTypeOf<AnyFunction>();

// The object form.
expectTypeOf<FunctionOfObject<{ name: 'add'; returns: 'int'; args: readonly ['int', 'int'] }>>().toEqualTypeOf<(a: number, b: number) => number>();
expectTypeOf<FunctionOfObject<{ returns: 'const char *'; args: ['const char *name'] }>>().toEqualTypeOf<(name: Str) => string | null>();
expectTypeOf<FunctionOfObject<{ returns: 'void'; args: ['void'] }>>().toEqualTypeOf<() => void>();
expectTypeOf<FunctionOfObject<{ returns: 'void'; args: [] }>>().toEqualTypeOf<() => void>();
expectTypeOf<FunctionOfObject<{ returns: 'int'; args: ['const char *']; variadic: true }>>().toEqualTypeOf<(fmt: Str, ...rest: unknown[]) => number>();
expectTypeOf<FunctionOfObject<{ returns: 'int'; args: string[] }>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOfObject<{ returns: string; args: ['int'] }>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOfObject<{ returns: 'int'; args: ['foo_t'] }>>().toEqualTypeOf<AnyFunction>();
expectTypeOf<FunctionOfObject<{ returns: 'int'; args: []; variadic: true }>>().toEqualTypeOf<AnyFunction>();

// How a caller is expected to wire it up: the literal flows through a generic parameter.
declare function func<const P extends string>(prototype: P): FunctionOf<P>;
const add = func('int add(int a, int b)');
expectTypeOf(add(1, 2)).toEqualTypeOf<number>();
// @ts-expect-error: a string is not a number
add('1', 2);
// @ts-expect-error: too few arguments
add(1);
const strlen = func('size_t strlen(const char *s)');
expectTypeOf(strlen('abc')).toEqualTypeOf<bigint>();
strlen(null);
strlen(new Uint8Array([97, 0]));
const printf = func('int printf(const char *fmt, ...)');
printf('%d %s\n', 'int', 42, 'const char *', 'x');
