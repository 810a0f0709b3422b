// JS functions as C function pointers: called synchronously (and reentrantly) on the JS thread, from
// the thread pool during .async calls and from threads the library starts; temporary and registered
// lifetimes; exceptions and bad results; a callback per HotLibrary generation, handed over by the
// setup hook, released when its generation retires, and refused (never a jump into freed memory)
// when C calls it afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackStats } from '../../lib/call/callbacks';
import { types, type DefsOf } from '../../lib/signature/ctypes';
import { HotLibrary } from '../../lib/hot/hot_library';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { open, type Library } from '../../lib/load/library';
import { fixture, runChild, underAsan } from '../helpers';

const DECLS = `
struct point { int32_t x, y; };
struct ops { int (*add)(int, int); int (*mul)(int, int); const char *name; };
typedef int (*int_fn)(int);
typedef void (*log_fn)(int generation, const char *message);
`;

const T = types(DECLS);

const modes = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));

describe.each(modes)('callbacks with isolation %s', (isolation) => {
  let lib: Library<DefsOf<typeof T>>;
  beforeAll(() => {
    lib = open(fixture('libffi_v1.so'), { isolation, types: T });
  });
  afterAll(async () => {
    lib?.func('void set_handler(int (*cb)(int))')(null);
    await lib?.close();
  });

  it('a JS function passed to a sync call runs on the JS thread, as often as C calls it', () => {
    const fp = lib.func('int fp_call(int (*cb)(int), int x)');
    expect(fp((x) => x * 2, 21)).toBe(42);
    const n = lib.func('int fp_call_n(int (*cb)(int), int n)');
    const seen: number[] = [];
    expect(
      n((i) => {
        seen.push(i);
        return i;
      }, 5),
    ).toBe(10);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('converts every argument kind and the result', () => {
    const d = lib.func('double fp_call_d(double (*cb)(double, float, int64_t, bool), double x)');
    let got: unknown[] = [];
    expect(
      d((a, b, c, e) => {
        got = [a, b, c, e];
        return a + b;
      }, 5),
    ).toBe(7.5);
    expect(got).toEqual([5, 2.5, 15n, true]);
    const words: [string, number][] = [];
    lib.func('void each_word(const char *text, void (*cb)(const char *word, int index))')('one two  three', (w, i) => {
      words.push([w as string, i]);
    });
    expect(words).toEqual([
      ['one', 0],
      ['two', 1],
      ['three', 2],
    ]);
  });

  it('structs by value in and out of callbacks; callbacks as struct members', () => {
    expect(
      lib.func('int call_with_struct(int (*cb)(struct point), int32_t x, int32_t y)')(
        (p) => (p as { x: number; y: number }).x * 100 + (p as { y: number }).y,
        3,
        4,
      ),
    ).toBe(304);
    expect(
      lib.func('struct point call_returning_struct(struct point (*cb)(int32_t, int32_t), int32_t a, int32_t b)')((a, b) => ({ x: b, y: a }), 1, 2),
    ).toEqual({ x: 2, y: 1 });
    const apply = lib.func('int apply_ops(const struct ops *ops, int a, int b)');
    expect(apply({ add: (a, b) => a + b, mul: (a, b) => a * b, name: 'js' }, 3, 4)).toBe(14);
    const add = lib.callback('int (*)(int, int)', (a: number, b: number) => a - b);
    expect(apply({ add, mul: (a, b) => a * b, name: null }, 3, 4)).toBe(-2);
  });

  it('reentrant: C -> JS -> C -> JS', () => {
    const reenter = lib.func('int reenter(int (*cb)(int), int depth)');
    const depths: number[] = [];
    const cb = (d: number): number => {
      depths.push(d);
      return reenter(cb, d);
    };
    expect(reenter(cb, 6)).toBe(6);
    expect(depths).toEqual([5, 4, 3, 2, 1, 0]);
  });

  it('an exception thrown by the callback is thrown by the call (C gets the fallback meanwhile)', () => {
    const twice = lib.func('int call_twice(int (*cb)(int))');
    const boom = new Error('boom');
    let calls = 0;
    expect(() =>
      twice((x) => {
        calls++;
        if (x === 1) throw boom;
        return x;
      }),
    ).toThrow(boom);
    // After the exception no more JS ran for that call.
    expect(calls).toBe(1);
    // A result of the wrong type is an error of its own.
    expect(() => twice(() => 'x' as unknown as number)).toThrow(
      /callback 'anonymous' \(int \(\*\)\(int\)\) passed to call_twice\(\) must return an integer in its C type's range/,
    );
    expect(() => twice(() => 2 ** 40)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_CALLBACK' }));
  });

  it('a callback C keeps: registered, usable until released, refused after', async () => {
    const set = lib.func('void set_handler(int (*cb)(int))');
    const fire = lib.func('int fire(int x)');
    const cb = lib.callback('int_fn', (x: number) => x + 100, { fallback: -7 });
    set(cb);
    expect(fire(1)).toBe(101);
    expect(cb.state).toBe('live');
    expect(typeof cb.address).toBe('bigint');
    expect(lib.func('int call_ptr(void *fp, int x)')(cb.address, 2)).toBe(102);
    const before = cb.refused;
    await cb.release();
    expect(cb.state).toBe('released');
    expect(fire(1)).toBe(-7);
    expect(cb.refused).toBe(before + 1);
    // A released callback cannot be passed on.
    expect(() => set(cb)).toThrow(/is a callback that was released/);
    set(null);
  });

  it('release() waits for a call from a library thread that started before it, and that call is served', async () => {
    const set = lib.func('void set_handler(int (*cb)(int))');
    const start = lib.func('int start_handler_thread(int calls)');
    const join = lib.func('int wait_handler_thread(void)');
    const cb = lib.callback('int_fn', (x: number) => x + 1000, { fallback: -7 });
    set(cb);
    expect(start(1)).toBe(0);
    // The JS thread stays busy here, so the library thread's call waits in the queue: it has started.
    const t0 = Date.now();
    while (cb.running === 0 && Date.now() - t0 < 30_000); // a hang guard: the call queues at once
    expect(cb.running).toBe(1);
    let released = false;
    const release = cb.release().then(() => (released = true));
    expect(cb.state).toBe('released');
    expect(released).toBe(false);
    await release;
    expect(cb.running).toBe(0);
    // Served with the JS function's value, not refused with the fallback.
    expect(join()).toBe(1000);
    set(null);
  });

  it('a JS function passed straight to a call is refused once that call returned', () => {
    const set = lib.func('void set_handler(int (*cb)(int))');
    const fire = lib.func('int fire(int x)');
    const { refused } = callbackStats();
    let ran = 0;
    set(() => ++ran);
    expect(fire(1)).toBe(0);
    expect(ran).toBe(0);
    expect(callbackStats().refused).toBe(refused + 1);
    set(null);
  });

  it('callback types: a typedef, a function pointer type, or a prototype', () => {
    const call = lib.func('int call_ptr(void *fp, int x)');
    for (const type of ['int_fn', 'int (*)(int)', 'int (int)', 'int twice(int x)']) {
      const cb = lib.callback(type, (x: number) => x * 2);
      expect(call(cb.address, 21), type).toBe(42);
      void cb.release();
    }
    expect(() => lib.callback('int', () => 0)).toThrow(/'int' is not a function pointer type/);
    expect(() => lib.callback('char *f(void)', () => 0)).toThrow(/a callback cannot return a string/);
    expect(() => lib.callback('int f(int, ...)', () => 0)).toThrow(/a callback cannot be variadic/);
    expect(() => lib.callback('int (*)(int)', () => 0, { fallback: 'x' as never })).toThrow(
      /option 'fallback' must be a number, a bigint, a boolean or null, not "x"/,
    );
    expect(() => lib.callback('int (*)(int)', () => 0, { fallback: 2 ** 40 })).toThrow(/fallback 1099511627776 does not fit/);
  });

  it('from the thread pool during an .async call', async () => {
    const fp = lib.func('int fp_call(int (*cb)(int), int x)');
    const results = await Promise.all([1, 2, 3, 4, 5].map((x) => fp.async((v) => v * 10, x)));
    expect(results).toEqual([10, 20, 30, 40, 50]);
  });

  it('from a thread the library starts, during an .async call (the C caller waits for JS)', async () => {
    const run = lib.func('int run_in_thread(int (*cb)(int), int x)');
    expect(await run.async((x) => x * 3, 14)).toBe(42);
  });

  it('from a thread the library starts after the call that registered it returned', async () => {
    const set = lib.func('void set_handler(int (*cb)(int))');
    const cb = lib.callback('int_fn', (x: number) => x * 2);
    set(cb);
    expect(lib.func('int start_handler_thread(int calls)')(10)).toBe(0);
    expect(await lib.func('int wait_handler_thread(void)').async()).toBe(90);
    set(null);
    await cb.release();
  });

  it('a JS function passed to a sync call and called from another thread is refused, not deadlocked', () => {
    const run = lib.func('int run_in_thread(int (*cb)(int), int x)');
    const { refused } = callbackStats();
    let ran = false;
    expect(
      run(() => {
        ran = true;
        return 5;
      }, 1),
    ).toBe(0);
    expect(ran).toBe(false);
    expect(callbackStats().refused).toBe(refused + 1);
  });

  it('an exception thrown on behalf of another thread: the async call rejects with it, C got the fallback', async () => {
    const run = lib.func('int run_in_thread(int (*cb)(int), int x)');
    const boom = new Error('thread boom');
    await expect(
      run.async(() => {
        throw boom;
      }, 1),
    ).rejects.toBe(boom);
    // A registered callback reports it to onError; C gets the fallback value.
    const errors: unknown[] = [];
    const cb = lib.callback(
      'int_fn',
      () => {
        throw boom;
      },
      { fallback: 99, onError: (e) => errors.push(e) },
    );
    expect(await run.async(cb, 1)).toBe(99);
    expect(errors).toEqual([boom]);
    await cb.release();
  });

  it('closing the library releases its callbacks', async () => {
    const other = open(fixture('libffi_v1.so'), { isolation });
    const cb = other.callback('int (*)(int)', (x: number) => x);
    expect(cb.state).toBe('live');
    await other.close();
    expect(cb.state).toBe('released');
    expect(lib.func('int call_ptr(void *fp, int x)')(cb.address, 3)).toBe(0);
  });
});

describe('callbacks across HotLibrary generations', () => {
  it('the setup hook hands each generation its own callback; a retired one is released and refused', async () => {
    const logs: string[] = [];
    const hot = await HotLibrary.open(fixture('libffi_v1.so'), {
      types: types(DECLS),
      functions: {
        work: 'int work(int x)',
        set_logger: 'void set_logger(log_fn log)',
        logger_ptr: 'void *logger_ptr(void)',
        call_logger_ptr: 'void call_logger_ptr(void *fp, int generation, const char *message)',
      },
      setup(gen) {
        const log = gen.callback('log_fn', (g: number, message: string | null) => {
          logs.push(`[${gen.id}] ${g}: ${message}`);
        });
        gen.fn.set_logger(log);
      },
    });
    try {
      expect(hot.fn.work(1)).toBe(11);
      const gen1Logger = hot.fn.logger_ptr() as bigint;
      const report = await hot.reload(fixture('libffi_v2.so'));
      expect(report.unloaded).toBe(true);
      expect(hot.fn.work(2)).toBe(22);
      expect(logs).toEqual(['[1] 1: work(1) in v1', '[2] 2: work(2) in v2']);
      // Generation 1 retired: its logger was released after the drain. C code that kept the pointer
      // (here: generation 2, handed it on purpose) is refused, and no JS runs.
      const { refused } = callbackStats();
      hot.fn.call_logger_ptr(gen1Logger, 1, 'late');
      expect(callbackStats().refused).toBe(refused + 1);
      expect(logs).toHaveLength(2);
      // Generation 2's logger is live.
      hot.fn.call_logger_ptr(hot.fn.logger_ptr() as bigint, 2, 'direct');
      expect(logs[2]).toBe('[2] 2: direct');
    } finally {
      await hot.close();
    }
  });

  it('the drain waits for a library thread still calling back into a retiring generation', async () => {
    let calls = 0;
    const hot = await HotLibrary.open(fixture('libffi_v1.so'), {
      types: types(DECLS),
      functions: {
        set_handler: 'void set_handler(int_fn cb)',
        start: 'int start_handler_thread(int calls)',
        wait: 'int wait_handler_thread(void)',
      },
      setup(gen) {
        gen.fn.set_handler(
          gen.callback('int_fn', (x: number) => {
            calls++;
            return x;
          }),
        );
      },
    });
    try {
      expect(hot.fn.start(200)).toBe(0);
      // The generation is busy until the thread is joined (an async call in flight).
      const joined = hot.fn.wait.async();
      const reload = hot.reload(fixture('libffi_v2.so'));
      expect(await joined).toBe((199 * 200) / 2);
      const report = await reload;
      expect(calls).toBe(200);
      expect(report.unloaded).toBe(true);
    } finally {
      await hot.close();
    }
  });

  it('a setup hook that throws rejects the generation; the previous one keeps serving', async () => {
    let fail = false;
    const hot = await HotLibrary.open(fixture('libffi_v1.so'), {
      functions: { version: 'int ffi_version(void)' },
      setup() {
        if (fail) throw new Error('setup refused');
      },
    });
    try {
      fail = true;
      await expect(hot.reload(fixture('libffi_v2.so'))).rejects.toThrow(/setup refused/);
      expect(hot.fn.version()).toBe(1);
    } finally {
      await hot.close();
    }
  });
});

describe('refusals are logged', () => {
  it('a call through a pointer whose callback was released prints one line to stderr and returns the fallback', () => {
    const r = runChild(`
      const lib = dlswap.open(${JSON.stringify(fixture('libffi_v1.so'))});
      const cb = lib.callback('int (*)(int)', (x) => x, { fallback: -7 });
      lib.func('void set_handler(int (*cb)(int))')(cb);
      cb.release().then(() => {
        const fire = lib.func('int fire(int x)');
        const out = [fire(5), fire(6)];
        console.log(JSON.stringify({ out, refused: cb.refused }));
      });
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ out: [-7, -7], refused: 2 });
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('dlswap: callback'));
    expect(lines).toEqual(
      [1, 2].map(
        (n) =>
          `dlswap: callback 'anonymous' (int (*)(int)) of libffi_v1.so was called after it was released; no JS ran and C got the fallback value (refused ${n} time${n === 1 ? '' : 's'})`,
      ),
    );
  });

  it('a JS function passed straight to a call and kept by C prints one line to stderr when C calls it later', () => {
    const r = runChild(`
      const lib = dlswap.open(${JSON.stringify(fixture('libffi_v1.so'))});
      lib.func('void set_handler(int (*cb)(int))')((x) => x);
      const out = lib.func('int fire(int x)')(5);
      console.log(JSON.stringify({ out, stats: dlswap.callbackStats() }));
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ out: 0, stats: expect.objectContaining({ refused: 1 }) });
    expect(r.stderr).toMatch(
      /dlswap: callback '.*' \(int \(\*\)\(int\)\) passed to set_handler\(\) was called after the call it was passed to had returned .*; no JS ran and C got the fallback value/,
    );
  });
});
