// Typed calls: every scalar type round-trips through the id_* functions of libtypes, in every
// isolation mode, including the boundaries of each type; register-spilling and variadic calls go
// through libffi; errno comes from the library's own libc.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { ErrnoResult } from '../../lib/call/func';
import { open, type Library } from '../../lib/load/library';
import { ISOLATION_MODES } from '../../lib/load/isolation';

const libtypes = path.join(__dirname, '..', '..', 'build', 'fixtures', 'libtypes.so');

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;
const FLT_MAX = 3.4028234663852886e38;
const FLT_DENORM_MIN = Math.fround(1.4e-45); // 2^-149

describe.each(ISOLATION_MODES)('round trips with isolation %s', (isolation) => {
  let lib: Library;
  beforeAll(() => {
    lib = open(libtypes, { isolation });
  });
  afterAll(async () => {
    // fresh-namespace: each open takes one of the ~11 namespaces a process can have; give it back.
    // And every mode's close really unmaps it (the open/call/close of `npm run test:fast`).
    expect(await lib?.close()).toMatchObject({ unloaded: true });
  });

  it('bool', () => {
    const id = lib.func('bool id_bool(bool v)');
    expect(id(true)).toBe(true);
    expect(id(false)).toBe(false);
    expect(id(1 as unknown as boolean)).toBe(true);
    expect(id(0 as unknown as boolean)).toBe(false);
  });

  it.each([
    ['int8_t id_i8(int8_t v)', [-128, -1, 0, 1, 127]],
    ['uint8_t id_u8(uint8_t v)', [0, 1, 128, 255]],
    ['int16_t id_i16(int16_t v)', [-32768, -1, 0, 32767]],
    ['uint16_t id_u16(uint16_t v)', [0, 32768, 65535]],
    ['int32_t id_i32(int32_t v)', [-2147483648, -1, 0, 2147483647]],
    ['uint32_t id_u32(uint32_t v)', [0, 2147483648, 4294967295]],
    ['signed char id_schar(signed char v)', [-128, 127]],
    ['unsigned char id_uchar(unsigned char v)', [0, 255]],
    ['short id_short(short v)', [-32768, 32767]],
    ['unsigned short id_ushort(unsigned short v)', [0, 65535]],
    ['int id_int(int v)', [-2147483648, 2147483647]],
    ['unsigned int id_uint(unsigned int v)', [0, 4294967295]],
  ])('%s keeps its boundaries', (proto, values) => {
    const id = lib.func(proto) as (v: number) => number;
    for (const v of values) expect(id(v)).toBe(v);
    // -0 is an integer zero: accepted, and comes back as +0 from C.
    expect(Object.is(id(-0), 0)).toBe(true);
  });

  it('plain char follows the platform (signed on x86-64, unsigned on aarch64)', () => {
    const id = lib.func('char id_char(char v)');
    if (process.arch === 'x64') {
      expect(id(-128)).toBe(-128);
      expect(id(127)).toBe(127);
    } else {
      expect(id(255)).toBe(255);
    }
  });

  it.each([
    ['int64_t id_i64(int64_t v)', [I64_MIN, -1n, 0n, I64_MAX]],
    ['long id_long(long v)', [I64_MIN, I64_MAX]],
    ['long long id_llong(long long v)', [I64_MIN, I64_MAX]],
    ['ssize_t id_ssize(ssize_t v)', [I64_MIN, I64_MAX]],
    ['intptr_t id_intptr(intptr_t v)', [I64_MIN, I64_MAX]],
    ['uint64_t id_u64(uint64_t v)', [0n, 1n, 2n ** 63n, U64_MAX]],
    ['unsigned long id_ulong(unsigned long v)', [0n, U64_MAX]],
    ['unsigned long long id_ullong(unsigned long long v)', [0n, U64_MAX]],
    ['size_t id_size(size_t v)', [0n, U64_MAX]],
    ['uintptr_t id_uintptr(uintptr_t v)', [0n, U64_MAX]],
  ])('%s is a bigint and keeps its boundaries', (proto, values) => {
    const id = lib.func(proto) as (v: bigint | number) => bigint;
    for (const v of values) expect(id(v)).toBe(v);
    // Safe-integer numbers are accepted for 64-bit parameters; results are always bigint.
    expect(id(42)).toBe(42n);
    expect(id(Number.MAX_SAFE_INTEGER)).toBe(BigInt(Number.MAX_SAFE_INTEGER));
  });

  it('negative safe integers for signed 64-bit parameters', () => {
    const id = lib.func('int64_t id_i64(int64_t v)');
    expect(id(-Number.MAX_SAFE_INTEGER as unknown as bigint)).toBe(-BigInt(Number.MAX_SAFE_INTEGER));
  });

  it('double: special values, denormals and extremes', () => {
    const id = lib.func('double id_double(double v)');
    for (const v of [0, 1.5, 0.1, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, Infinity, -Infinity, 2 ** 53 + 2]) {
      expect(id(v)).toBe(v);
    }
    expect(Object.is(id(-0), -0)).toBe(true);
    expect(Number.isNaN(id(NaN))).toBe(true);
  });

  it('float: rounding, denormals, overflow and special values', () => {
    const id = lib.func('float id_float(float v)');
    expect(id(0.1)).toBe(Math.fround(0.1));
    expect(id(1.5)).toBe(1.5);
    expect(id(1.4e-45)).toBe(FLT_DENORM_MIN);
    expect(FLT_DENORM_MIN).toBeGreaterThan(0);
    expect(id(FLT_MAX)).toBe(FLT_MAX);
    expect(id(1e39)).toBe(Infinity); // beyond float's range: IEEE rounding, like Math.fround
    expect(id(-1e39)).toBe(-Infinity);
    expect(id(Infinity)).toBe(Infinity);
    expect(id(-Infinity)).toBe(-Infinity);
    expect(Object.is(id(-0), -0)).toBe(true);
    expect(Number.isNaN(id(NaN))).toBe(true);
    expect(lib.func('float scale_f(float x, float k)')(0.1, 3)).toBe(Math.fround(Math.fround(0.1) * 3));
  });

  it('pointers round-trip as bigint addresses', () => {
    const id = lib.func('void *id_ptr(void *p)');
    expect(id(null)).toBe(0n);
    expect(id(0n)).toBe(0n);
    expect(id(0xdeadbeefn)).toBe(0xdeadbeefn);
    expect(id(U64_MAX)).toBe(U64_MAX);
  });

  it('arithmetic through registers', () => {
    expect(lib.func('int add(int a, int b)')(2, 40)).toBe(42);
    expect(lib.func('double hypot_d(double x, double y)')(3, 4)).toBe(5);
    expect(lib.func('int sum6(int a, int b, int c, int d, int e, int f)')(1, 2, 3, 4, 5, 6)).toBe(21);
    expect(lib.func('int64_t mul64(int64_t a, int64_t b)')(3037000499n, 3037000499n)).toBe(3037000499n * 3037000499n);
  });

  it('libffi: integer arguments spilling to the stack', () => {
    const sum8 = lib.func('long sum8(long a, long b, long c, long d, long e, long f, long g, long h)');
    expect(sum8(1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n)).toBe(36n);
    // Safe-integer numbers are accepted at run time (the inferred type asks for bigint).
    expect((sum8 as (...a: unknown[]) => bigint)(1, 2, 3, 4, 5, 6, 7, -(2n ** 62n))).toBe(28n - 2n ** 62n);
  });

  it('libffi: more doubles than vector registers', () => {
    const sum10d = lib.func('double sum10d(double a, double b, double c, double d, double e, double f, double g, double h, double i, double j)');
    expect(sum10d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)).toBe(55);
    expect(sum10d(0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.25)).toBe(0.75);
  });

  it('mixed integer and floating arguments fill their own registers', () => {
    const mix = lib.func('double mix(int a, double b, float c, int64_t d, uint8_t e, double f)');
    expect(mix(1, 2.5, 0.5, 10n, 255, 0.25)).toBe(269.25);
    expect(mix(-1, 0, 0.1, -(2n ** 40n), 0, 0)).toBe(-1 + Math.fround(0.1) - 2 ** 40);
  });

  it('variadic: ints, doubles, promotions and strings', () => {
    const sumVar = lib.func('int sum_var(int n, ...)');
    expect(sumVar(0)).toBe(0);
    expect(sumVar(3, 'int', 1, 'int', 2, 'int', 3)).toBe(6);
    // Small types are promoted to int (checked against their own range first).
    expect(sumVar(3, 'signed char', -5, 'unsigned short', 65535, 'bool', true)).toBe(-5 + 65535 + 1);
    const many = [12, ...Array.from({ length: 12 }, (_, i) => ['int', i + 1]).flat()];
    expect(sumVar(...(many as [number]))).toBe(78);

    const sumVarD = lib.func('double sum_var_d(int n, ...)');
    expect(sumVarD(2, 'double', 1.5, 'double', 2.25)).toBe(3.75);
    // float is promoted to double: the value is rounded to float first, as C would.
    expect(sumVarD(1, 'float', 0.1)).toBe(Math.fround(0.1));
    // More than eight doubles: the rest go on the stack.
    const ten = [10, ...Array.from({ length: 10 }, (_, i) => ['double', i + 0.5]).flat()];
    expect(sumVarD(...(ten as [number]))).toBe(50);

    const fmt = lib.func('int fmt(char *out, size_t cap, const char *format, ...)');
    const out = Buffer.alloc(64);
    const n = fmt(out, 64n, '%s|%d|%.3f|%lld|%c', 'const char *', 'héllo', 'int', -42, 'double', Math.PI, 'long long', 2n ** 40n, 'int', 65);
    const text = out.toString('utf8', 0, out.indexOf(0));
    expect(text).toBe(`héllo|-42|3.142|${2 ** 40}|A`);
    expect(n).toBe(Buffer.byteLength(text));
  });

  it('variadic call shapes are cached per type list and independent', () => {
    const sumVar = lib.func('int sum_var(int n, ...)');
    for (let i = 0; i < 3; i++) {
      expect(sumVar(1, 'int', 5)).toBe(5);
      expect(sumVar(2, 'int', 5, 'int', 6)).toBe(11);
      expect(sumVar(1, 'unsigned int', 7)).toBe(7);
    }
  });

  it("errno comes from the library's own libc, read right after the call", () => {
    const setErrno = lib.func('int set_errno(int e)');
    expect(setErrno(42)).toBe(-1);
    expect(lib.errno()).toBe(42);
    expect(setErrno(7)).toBe(-1);
    expect(lib.errno()).toBe(7);
    const withErrno = lib.func('int set_errno(int e)', { errno: true });
    expect(withErrno(13)).toEqual({ value: -1, errno: 13 });
    expect(lib.errno()).toBe(13);
  });

  it('the object form of a prototype', () => {
    const add = lib.func({ name: 'add', returns: 'int', args: ['int a', 'int'] });
    expect(add(20, 22)).toBe(42);
    expect(add.signature.text).toBe('int add(int a, int)');
    const sumVar = lib.func({ name: 'sum_var', returns: 'int', args: ['int n'], variadic: true });
    expect(sumVar(2, 'int', 1, 'int', 2)).toBe(3);
  });
});

describe('function objects', () => {
  let lib: Library;
  beforeAll(() => {
    lib = open(libtypes, { isolation: 'namespace' });
  });
  afterAll(async () => {
    await lib?.close();
  });

  it('are typed from the prototype', () => {
    const add = lib.func('int add(int a, int b)');
    expectTypeOf(add).parameters.toEqualTypeOf<[number, number]>();
    expectTypeOf(add).returns.toEqualTypeOf<number>();
    expectTypeOf(add.async).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf(add.address).toEqualTypeOf<bigint>();
    const big = lib.func('uint64_t id_u64(uint64_t v)');
    expectTypeOf(big).returns.toEqualTypeOf<bigint>();
    const str = lib.func('const char *echo_str(const char *s)');
    expectTypeOf(str).returns.toEqualTypeOf<string | null>();
    const withErrno = lib.func('int set_errno(int e)', { errno: true });
    expectTypeOf(withErrno).returns.toEqualTypeOf<ErrnoResult<number>>();
    expectTypeOf(withErrno.async).returns.toEqualTypeOf<Promise<ErrnoResult<number>>>();
    const obj = lib.func({ name: 'add', returns: 'int', args: ['int a', 'int b'] });
    expectTypeOf(obj).parameters.toEqualTypeOf<[number, number]>();
    expect(add(1, 2) + obj(1, 2) + withErrno(0).value).toBe(5);
  });

  it('carry name, length, signature and address', () => {
    const add = lib.func('int add(int a, int b)');
    expect(add.name).toBe('add');
    expect(add.length).toBe(2);
    expect(add.signature.name).toBe('add');
    expect(add.signature.params.map((p) => p.name)).toEqual(['a', 'b']);
    expect(add.address).toBe(lib.symbol('add'));
    expect(typeof add.async).toBe('function');
  });

  it('options.symbol binds a prototype to another symbol', () => {
    const plus = lib.func('int plus(int a, int b)', { symbol: 'add' });
    expect(plus(1, 2)).toBe(3);
    expect(plus.name).toBe('plus');
    expect(plus.address).toBe(lib.symbol('add'));
  });

  it('a missing symbol is ERR_DLSWAP_SYMBOL_NOT_FOUND', () => {
    expect(() => lib.func('int no_such_function(int a)')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_SYMBOL_NOT_FOUND' }));
    expect(() => lib.func('int add(int a, int b)', { symbol: 'nope' })).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_SYMBOL_NOT_FOUND' }));
  });

  it('a bad prototype is ERR_DLSWAP_SIGNATURE; bad options are ERR_DLSWAP_ARG', () => {
    expect(() => lib.func('int add(int a, int b')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_SIGNATURE' }));
    expect(() => lib.func(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_SIGNATURE' }));
    expect(() => lib.func('int add(int a, int b)', { sym: 'x' } as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(() => lib.func('int add(int a, int b)', { symbol: '' })).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(() => lib.func('int add(int a, int b)', { errno: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
  });

  it('void functions return undefined; calls are counted', () => {
    const before = lib.native.stats().calls;
    expect(lib.func('void noop(void)')()).toBeUndefined();
    expect(lib.func('int counter(void)')()).toBeGreaterThan(0);
    expect(lib.native.stats().calls).toBe(before + 2);
  });

  it('functions made from one library share its state', () => {
    const a = lib.func('int counter(void)');
    const b = lib.func('int counter(void)');
    const first = a();
    expect(b()).toBe(first + 1);
    expect(a()).toBe(first + 2);
  });
});
