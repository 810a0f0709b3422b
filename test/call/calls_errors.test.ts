// Every argument is checked before anything is called: a wrong type, a value out of range, a
// missing or extra argument is an ERR_DLSWAP_ARG naming the parameter and what it expects, never a
// silently converted value and never a crash. And a closed library's functions refuse to run.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, type Library } from '../../lib/load/library';

const libtypes = path.join(__dirname, '..', '..', 'build', 'fixtures', 'libtypes.so');

type Fn = (...args: unknown[]) => unknown;

function argError(fn: () => unknown, message?: RegExp, kind?: 'TypeError' | 'RangeError'): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected the call to throw').toBeInstanceOf(Error);
  const e = caught as Error & { code?: string };
  expect(e.code).toBe('ERR_DLSWAP_ARG');
  if (message) expect(e.message).toMatch(message);
  if (kind) expect(e.name).toBe(kind);
}

describe('argument checking', () => {
  let lib: Library;
  beforeAll(() => {
    lib = open(libtypes, { isolation: 'namespace' });
  });
  afterAll(async () => {
    await lib?.close();
  });

  const wrongForNumbers = ['1', true, null, undefined, {}, [], 1n, Symbol('s'), () => 1];

  it.each([
    ['int8_t id_i8(int8_t v)', [-129, 128, 1.5, NaN, Infinity], /\[-128, 127\]/],
    ['uint8_t id_u8(uint8_t v)', [-1, 256, 0.5], /\[0, 255\]/],
    ['int16_t id_i16(int16_t v)', [-32769, 32768], /\[-32768, 32767\]/],
    ['uint16_t id_u16(uint16_t v)', [-1, 65536], /\[0, 65535\]/],
    ['int32_t id_i32(int32_t v)', [-2147483649, 2147483648, 2 ** 53, -Infinity, 1e-300], /\[-2147483648, 2147483647\]/],
    ['uint32_t id_u32(uint32_t v)', [-1, 4294967296, 1.0000001], /\[0, 4294967295\]/],
  ])('%s rejects out-of-range and non-integer numbers, and non-numbers', (proto, bad, range) => {
    const id = lib.func(proto) as Fn;
    for (const v of bad) argError(() => id(v), range, 'RangeError');
    for (const v of wrongForNumbers) argError(() => id(v), /argument 'v' \(#1, \w+\) expects an integer/, 'TypeError');
  });

  it('int-only functions check every argument in its own place, and report the first bad one', () => {
    // `int f(int...)` has a path of its own that checks two arguments at a time (call/sync_fast.cc).
    const add = lib.func('int add(int a, int b)') as Fn;
    const sum6 = lib.func('int sum6(int a, int b, int c, int d, int e, int f)') as Fn;
    const addVoid = lib.func('void add(int a, int b)') as Fn;
    expect(add(-2147483648, 2147483647)).toBe(-1);
    expect(add(-0, 2147483647)).toBe(2147483647);
    expect(sum6(-2147483648, 1, 2, 3, 4, 2147483647)).toBe(9);
    expect(addVoid(1, 2)).toBeUndefined();
    const before = lib.native.stats().calls;
    for (const bad of [2147483648, -2147483649, 0.5, -1e-300, NaN, Infinity, -Infinity, 2 ** 53]) {
      argError(() => add(bad, 1), /argument 'a' \(#1, int\) expects an integer in \[-2147483648, 2147483647\]/, 'RangeError');
      argError(() => add(1, bad), /argument 'b' \(#2, int\)/, 'RangeError');
      argError(() => addVoid(1, bad), /argument 'b' \(#2, int\)/, 'RangeError');
      for (let i = 0; i < 6; i++) {
        const args = [1, 2, 3, 4, 5, 6];
        args[i] = bad;
        argError(() => sum6(...args), new RegExp(`argument '${'abcdef'[i]}' \\(#${i + 1}, int\\)`), 'RangeError');
      }
    }
    for (const v of wrongForNumbers) argError(() => sum6(1, 2, 3, 4, 5, v), /argument 'f' \(#6, int\) expects an integer/, 'TypeError');
    argError(() => sum6(1, 0.5, 3, 'x', 5, 6), /argument 'b' \(#2, int\)/, 'RangeError');
    argError(() => sum6(1, 2, 3, 'x', 5, 0.5), /argument 'd' \(#4, int\)/, 'TypeError');
    expect(lib.native.stats().calls).toBe(before);
  });

  it('a bigint for a 32-bit parameter is refused with a hint', () => {
    argError(() => (lib.func('int add(int a, int b)') as Fn)(1n, 2), /argument 'a'.*got 1n \(pass a number, not a bigint\)/);
  });

  it('64-bit parameters take bigints in range, or safe-integer numbers', () => {
    const i64 = lib.func('int64_t id_i64(int64_t v)') as Fn;
    const u64 = lib.func('uint64_t id_u64(uint64_t v)') as Fn;
    for (const v of [2n ** 63n, -(2n ** 63n) - 1n]) argError(() => i64(v), /int64/, 'RangeError');
    for (const v of [-1n, 2n ** 64n]) argError(() => u64(v), /uint64/, 'RangeError');
    for (const v of [2 ** 53, -(2 ** 53), 1.5, NaN]) argError(() => i64(v), /lose precision|safe-integer/);
    argError(() => u64(-1), /non-negative/);
    for (const v of ['1', true, null, undefined, {}]) argError(() => i64(v), /int64/, 'TypeError');
  });

  it('floating parameters take any number, and only numbers', () => {
    const d = lib.func('double id_double(double v)') as Fn;
    const f = lib.func('float id_float(float v)') as Fn;
    for (const v of ['1.5', 1n, null, undefined, true, {}]) {
      argError(() => d(v), /argument 'v' \(#1, double\) expects a number/, 'TypeError');
      argError(() => f(v), /expects a number/, 'TypeError');
    }
  });

  it('bool takes booleans and the numbers 0 and 1', () => {
    const b = lib.func('bool id_bool(bool v)') as Fn;
    for (const v of [2, -1, 0.5, 'true', null, undefined, 1n]) argError(() => b(v), /boolean/);
  });

  it('pointer parameters take addresses, null and binary views only', () => {
    const isNull = lib.func('int is_null(const void *p)') as Fn;
    for (const v of [0, 1234, 'str', undefined, {}, [], true]) argError(() => isNull(v), /argument 'p'.*bigint address, null, or a Buffer/, 'TypeError');
    argError(() => isNull(-1n), /address/, 'RangeError');
    argError(() => isNull(2n ** 64n), /address/, 'RangeError');
  });

  it('a detached ArrayBuffer, TypedArray, DataView or Buffer is refused, sync and async (it used to reach C as NULL)', async () => {
    const isNull = lib.func('int is_null(const void *p)') as Fn;
    const len = lib.func('int str_len(const char *s)') as Fn;
    const detach = (ab: ArrayBufferLike) => structuredClone(ab, { transfer: [ab as ArrayBuffer] });
    const detached = () => {
      const ab = new ArrayBuffer(16);
      const views = [ab, new Uint8Array(ab), new Float64Array(ab, 8, 1), new DataView(ab), Buffer.from(ab)];
      detach(ab);
      return views;
    };
    for (const v of detached()) {
      argError(() => isNull(v), /argument 'p' \(#1, const void \*\) is a detached ArrayBuffer \(or a view of one\).*C would get NULL/, 'TypeError');
      argError(() => len(v), /argument 's'.*is a detached ArrayBuffer/);
      await expect((isNull.async as Fn)(v) as Promise<number>).rejects.toMatchObject({ code: 'ERR_DLSWAP_ARG', message: expect.stringMatching(/detached/) });
    }
    // Attached buffers, empty ones included, and null still pass.
    expect(isNull(new Uint8Array(8))).toBe(0);
    expect(isNull(null)).toBe(1);
    expect(await (isNull.async as Fn)(new ArrayBuffer(4))).toBe(0);
    expect(len(new Uint8Array([104, 105, 0]))).toBe(2);
  });

  it('string parameters take strings, null, bytes and addresses only', () => {
    const len = lib.func('int str_len(const char *s)') as Fn;
    for (const v of [1, undefined, {}, true, []]) argError(() => len(v), /argument 's' \(#1, const char \*\) expects a string/, 'TypeError');
    argError(() => len(-5n), /address/);
  });

  it('unnamed parameters are named by position', () => {
    const add = lib.func('int add(int, int)') as Fn;
    argError(() => add(1, 'x'), /add\(\): argument #2 \(int\) expects an integer.*got the string "x"/);
  });

  it('missing and extra arguments', () => {
    const add = lib.func('int add(int a, int b)') as Fn;
    argError(() => add(1), /add\(\) takes 2 arguments, got 1/);
    argError(() => add(1, 2, 3), /takes 2 arguments, got 3/);
    argError(() => add(), /got 0/);
    argError(() => (lib.func('void noop(void)') as Fn)(1), /takes 0 arguments, got 1/);
    argError(() => (lib.func('long sum8(long a, long b, long c, long d, long e, long f, long g, long h)') as Fn)(1, 2), /takes 8 arguments, got 2/);
  });

  it('libffi calls check their arguments the same way', () => {
    const sum8 = lib.func('long sum8(long a, long b, long c, long d, long e, long f, long g, long h)') as Fn;
    argError(() => sum8(1, 2, 3, 4, 5, 6, 7, 'x'), /argument 'h' \(#8, long\)/);
    const sum10d = lib.func('double sum10d(double a, double b, double c, double d, double e, double f, double g, double h, double i, double j)') as Fn;
    argError(() => sum10d(1, 2, 3, 4, 5, 6, 7, 8, 9, null), /argument 'j' \(#10, double\)/);
  });

  it('variadic calls: pairs of (C type, value)', () => {
    const sumVar = lib.func('int sum_var(int n, ...)') as Fn;
    argError(() => sumVar(), /at least 1 argument/);
    argError(() => sumVar(1, 'int'), /pairs/);
    argError(() => sumVar(1, 5, 5), /needs a C type string/);
    argError(() => sumVar(1, 'widget', 5), /variadic value #1/);
    argError(() => sumVar(1, 'void', 5), /variadic value #1/);
    argError(() => sumVar(2, 'int', 1, 'int', 'x'), /variadic value #2 \(int32\) expects an integer/);
    argError(() => sumVar(1, 'signed char', 300), /variadic value #1 \(int8\).*\[-128, 127\]/);
    argError(() => sumVar('x', 'int', 1), /argument 'n' \(#1, int\)/);
  });

  it('nothing is called when an argument is bad', () => {
    const counter = lib.func('int counter(void)');
    const start = counter();
    const sumVar = lib.func('int sum_var(int n, ...)') as Fn;
    argError(() => sumVar(1, 'int', 1.5));
    expect(counter()).toBe(start + 1);
    const before = lib.native.stats().calls;
    argError(() => (lib.func('int add(int a, int b)') as Fn)(1, 'x'));
    expect(lib.native.stats().calls).toBe(before);
  });

  it('a throwing valueOf is never invoked: values are checked, not coerced', () => {
    const add = lib.func('int add(int a, int b)') as Fn;
    let touched = false;
    const evil = {
      valueOf() {
        touched = true;
        return 1;
      },
    };
    argError(() => add(evil, 1), /got an object/);
    expect(touched).toBe(false);
  });

  it('async calls reject (they do not throw) on bad arguments', async () => {
    const add = lib.func('int add(int a, int b)');
    const p = (add.async as Fn)(1, 'x') as Promise<number>;
    expect(p).toBeInstanceOf(Promise);
    await expect(p).rejects.toMatchObject({ code: 'ERR_DLSWAP_ARG' });
    await expect((add.async as Fn)(1) as Promise<number>).rejects.toMatchObject({ code: 'ERR_DLSWAP_ARG' });
    const sumVar = lib.func('int sum_var(int n, ...)');
    await expect((sumVar.async as Fn)(1, 'int') as Promise<number>).rejects.toMatchObject({ code: 'ERR_DLSWAP_ARG' });
    await expect((lib.func('int str_len(const char *s)').async as Fn)('a\0b') as Promise<number>).rejects.toMatchObject({ code: 'ERR_DLSWAP_ARG' });
  });
});

describe('closed libraries', () => {
  it('refuse sync and async calls, and new functions', async () => {
    const lib = open(libtypes, { isolation: 'namespace' });
    const add = lib.func('int add(int a, int b)');
    const sum8 = lib.func('long sum8(long a, long b, long c, long d, long e, long f, long g, long h)');
    const sumVar = lib.func('int sum_var(int n, ...)');
    expect(add(1, 2)).toBe(3);
    await lib.close();
    const closed = expect.objectContaining({ code: 'ERR_DLSWAP_CLOSED' });
    expect(() => add(1, 2)).toThrow(closed);
    expect(() => sum8(1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n)).toThrow(closed);
    expect(() => sumVar(1, 'int', 1)).toThrow(closed);
    await expect(add.async(1, 2)).rejects.toMatchObject({ code: 'ERR_DLSWAP_CLOSED' });
    await expect(sumVar.async(1, 'int', 1)).rejects.toMatchObject({ code: 'ERR_DLSWAP_CLOSED' });
    expect(() => lib.func('int add(int a, int b)')).toThrow(closed);
  });

  it('argument errors still win over a closed library only after the count check', async () => {
    const lib = open(libtypes, { isolation: 'local' });
    const add = lib.func('int add(int a, int b)') as Fn;
    await lib.close();
    expect(() => add(1)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(() => add(1, 2)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_CLOSED' }));
  });
});
