// Async calls run on worker threads and keep their library loaded until they return; close waits
// for them; rebinding (what hot reload does) repoints sync calls at once while calls in flight
// finish on the library they started on.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { libraryOf, rebind } from '../../lib/call/func';
import { open, type Library } from '../../lib/load/library';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';

const fixtures = path.join(__dirname, '..', '..', 'build', 'fixtures');
const libtypes = path.join(fixtures, 'libtypes.so');
const basic1 = path.join(fixtures, 'libbasic_v1.so');
const basic2 = path.join(fixtures, 'libbasic_v2.so');

const opened: Library[] = [];
function load(file: string, isolation: Isolation = 'namespace'): Library {
  const lib = open(file, { isolation });
  opened.push(lib);
  return lib;
}
afterEach(async () => {
  for (const lib of opened.splice(0)) await lib.close();
});

describe('async calls', () => {
  it('resolve with the converted result, on another thread', async () => {
    const lib = load(libtypes);
    expect(await lib.func('int add(int a, int b)').async(20, 22)).toBe(42);
    expect(await lib.func('double hypot_d(double x, double y)').async(3, 4)).toBe(5);
    expect(await lib.func('uint64_t id_u64(uint64_t v)').async(2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
    expect(await lib.func('float id_float(float v)').async(0.1)).toBe(Math.fround(0.1));
    expect(await lib.func('bool id_bool(bool v)').async(true)).toBe(true);
    expect(await lib.func('void noop(void)').async()).toBeUndefined();
    expect(await lib.func('long sum8(long a, long b, long c, long d, long e, long f, long g, long h)').async(1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n)).toBe(36n);
    expect(await lib.func('int sum_var(int n, ...)').async(2, 'int', 5, 'int', 6)).toBe(11);
    expect(await lib.func('double sum_var_d(int n, ...)').async(1, 'float', 0.5)).toBe(0.5);
    const tid = lib.func('uint64_t thread_id(void)');
    expect(await tid.async()).not.toBe(tid());
  });

  it('run in parallel: as many calls as libuv has pool threads are inside the library at once', async () => {
    const lib = load(libtypes);
    // meet(n, ms) returns once n callers are inside it together (ms is only a hang guard), and says
    // how many were at most: n for each call only if they ran side by side. Nothing is timed.
    const meet = lib.func('int meet(int n, int ms)');
    const n = Math.min(4, Number(process.env.UV_THREADPOOL_SIZE) || 4);
    expect(await Promise.all(Array.from({ length: n }, () => meet.async(n, 30_000)))).toEqual(Array(n).fill(n));
    // More calls than threads still all finish (they queue for a thread).
    const slow = lib.func('int slow_add(int a, int b, int ms)');
    expect(await Promise.all(Array.from({ length: 20 }, (_, i) => slow.async(i, 1, 5)))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('copy strings and keep buffers alive until they complete', async () => {
    const lib = load(libtypes);
    const echo = lib.func('const char *echo_str(const char *s)');
    const texts = ['', 'short', 'héllo 😀 日本', 'x'.repeat(5000)];
    expect(await Promise.all(texts.map((t) => echo.async(t)))).toEqual(texts);
    expect(await echo.async(null)).toBe(null);
    const fill = lib.func('void fill_bytes(uint8_t *buf, size_t n, uint8_t value)');
    const sum = lib.func('uint64_t sum_bytes(const uint8_t *buf, size_t n)');
    const pending: Promise<unknown>[] = [];
    const buffers: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      const b = new Uint8Array(64); // small typed arrays start on V8's heap: the call must pin them
      buffers.push(b);
      pending.push(fill.async(b, 64n, i));
    }
    await Promise.all(pending);
    for (const [i, b] of buffers.entries()) expect(b.every((x) => x === i)).toBe(true);
    // Not kept by the caller at all: the call's own reference keeps it alive.
    expect(await sum.async(Buffer.from([1, 2, 3]), 3n)).toBe(6n);
  });

  it('queue when many are in flight, and never throw for it', async () => {
    const lib = load(libtypes);
    const add = lib.func('int add(int a, int b)');
    const all = await Promise.all(Array.from({ length: 1000 }, (_, i) => add.async(i, i)));
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => 2 * i));
    expect(lib.inFlight).toBe(0);
    expect(lib.native.stats().inFlight).toBe(0);
  });

  it('count as in flight until they settle', async () => {
    const lib = load(libtypes);
    const slow = lib.func('int slow_add(int a, int b, int ms)');
    const p = slow.async(1, 2, 100);
    expect(lib.inFlight).toBe(1);
    expect(lib.native.stats().inFlight).toBe(1);
    // The native close refuses while a call runs: unmapping the code would crash it.
    expect(() => lib.native.close()).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_BUSY' }));
    expect(await p).toBe(3);
    expect(lib.native.stats().inFlight).toBe(0);
  });

  it('store errno on completion, and deliver it per call with { errno: true }', async () => {
    for (const isolation of ['local', 'namespace'] as const) {
      const lib = load(libtypes, isolation);
      expect(await lib.func('int set_errno(int e)').async(33)).toBe(-1);
      expect(lib.errno()).toBe(33);
      const withErrno = lib.func('int set_errno(int e)', { errno: true });
      const results = await Promise.all([withErrno.async(1), withErrno.async(2), withErrno.async(3)]);
      expect(results).toEqual([
        { value: -1, errno: 1 },
        { value: -1, errno: 2 },
        { value: -1, errno: 3 },
      ]);
      // errno is zeroed before each call, so a call that does not set it reports 0.
      expect(await lib.func('int add(int a, int b)', { errno: true }).async(1, 1)).toEqual({ value: 2, errno: 0 });
    }
  });

  it('close() waits for the calls in flight, and refuses new ones meanwhile', async () => {
    const lib = open(libtypes, { isolation: 'namespace' });
    const slow = lib.func('int slow_add(int a, int b, int ms)');
    const order: string[] = [];
    const call = slow.async(2, 3, 150).then((v) => {
      order.push('call');
      return v;
    });
    const closing = lib.close().then((r) => {
      order.push('close');
      return r;
    });
    await expect(slow.async(1, 1, 0)).rejects.toMatchObject({ code: 'ERR_DLSWAP_CLOSED' });
    expect(await call).toBe(5);
    expect((await closing).unloaded).toBe(true);
    expect(order).toEqual(['call', 'close']);
  });
});

describe('rebinding', () => {
  it('repoints a function at another library, from the next call on', () => {
    const v1 = load(basic1);
    const v2 = load(basic2);
    const version = v1.func('int version(void)');
    const add = v1.func('int add(int a, int b)');
    expect(version()).toBe(1);
    rebind(version, v2);
    rebind(add, v2);
    expect(version()).toBe(2);
    expect(version.address).toBe(v2.symbol('version'));
    expect(add.address).toBe(v2.symbol('add'));
    expect(add(2, 3)).toBe(5);
    expect(libraryOf(version)).toBe(v2);
    rebind(version, v1);
    expect(version()).toBe(1);
  });

  it('takes each library state with it', () => {
    const v1 = load(basic1);
    const v2 = load(basic2);
    const next = v1.func('int counter_next(void)');
    expect([next(), next()]).toEqual([1, 2]);
    rebind(next, v2);
    expect(next()).toBe(1);
    rebind(next, v1);
    expect(next()).toBe(3);
  });

  it('works across isolation modes and on a closed library only after rebinding away', async () => {
    const a = open(libtypes, { isolation: 'local' });
    const b = load(libtypes, 'namespace');
    const add = a.func('int add(int a, int b)');
    const setErrno = a.func('int set_errno(int e)');
    rebind(add, b);
    rebind(setErrno, b);
    await a.close();
    expect(add(1, 2)).toBe(3);
    setErrno(9);
    expect(b.errno()).toBe(9); // the errno of b's libc now
    await expect(add.async(2, 2)).resolves.toBe(4);
  });

  it('refuses a closed target, a function not made by lib.func, and a missing symbol', async () => {
    const a = load(libtypes);
    const b = open(libtypes, { isolation: 'local' });
    const add = a.func('int add(int a, int b)');
    await b.close();
    expect(() => rebind(add, b)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_CLOSED' }));
    expect(() => rebind((() => 1) as never, a)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    const basic = load(basic1);
    const hyp = a.func('double hypot_d(double x, double y)');
    expect(() => rebind(hyp, basic)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_SYMBOL_NOT_FOUND' }));
    expect(hyp(3, 4)).toBe(5); // unchanged by the failed rebind
  });

  it('an explicit address', () => {
    const lib = load(libtypes);
    const other = load(basic2);
    const f = lib.func('int add(int a, int b)');
    rebind(f, other, other.symbol('add'));
    expect(f.address).toBe(other.symbol('add'));
    expect(f(1, 2)).toBe(3);
    expect(libraryOf(f)).toBe(other);
  });

  it('an async call in flight finishes on the library it started on, which stays loaded until then', async () => {
    const v1 = open(basic1, { isolation: 'namespace' });
    const v2 = load(basic2);
    const slow = v1.func('int basic_slow(int ms)'); // returns its library's version()
    const inFlight = slow.async(150);
    rebind(slow, v2);
    // v1 has a call running: its close waits for it; new calls already go to v2.
    const closing = v1.close();
    expect(slow(0)).toBe(2);
    expect(await slow.async(0)).toBe(2);
    expect(await inFlight).toBe(1);
    expect((await closing).unloaded).toBe(true);
    expect(slow(0)).toBe(2);
  });
});

describe.each(ISOLATION_MODES)('async round trip with isolation %s', (isolation) => {
  it('works and leaves nothing in flight', async () => {
    const lib = load(libtypes, isolation);
    const add = lib.func('int add(int a, int b)');
    const echo = lib.func('const char *echo_str(const char *s)');
    expect(await Promise.all([add.async(1, 2), echo.async('ünïcödé')])).toEqual([3, 'ünïcödé']);
    expect(lib.native.stats().inFlight).toBe(0);
  });
});
