// Libraries whose worker threads only their own destructor (or their own cleanup function) stops:
// lib.close({ teardown }) and, in the namespace modes, the destructors dlswap runs before dlclose
// (native/image/early_destructors.h). docs/isolation.md, "Threads and unloading". Each case runs in
// a child: a library kept mapped keeps its threads, and the child's exit is part of what is checked
// (the destructor must run exactly once in the life of the process, and exit must be clean).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { fixture, runChild, underAsan } from '../helpers';

const POOL = fixture('libthreadpool.so');
const STUBBORN = fixture('libthreadpool_stubborn.so');
const NAMESPACE_MODES: Isolation[] = ['namespace', 'fresh-namespace'];
const BASE_MODES: Isolation[] = (['local', 'deepbind'] as Isolation[]).filter((m) => !(underAsan && m === 'deepbind'));
const modes = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));

interface Outcome {
  status: number | null;
  signal: string | null;
  stderr: string;
  result: Record<string, unknown>;
  destructorRuns: number;
}

/**
 * Opens `file` in `mode` in a child, has its pool do one job, lets the workers go to sleep, and runs
 * `close` (an expression of `lib` that resolves to a CloseResult). Reports the result and the calls
 * after it; then the child exits, and its stderr says how often the destructor ran in all.
 */
function closeInChild(file: string, mode: Isolation, close: string): Outcome {
  const r = runChild(
    `const lib = dlswap.open(${JSON.stringify(file)}, { isolation: ${JSON.stringify(mode)} });
     const dbl = lib.func('int pool_double(int x)');
     (async () => {
       const first = dbl(21);
       await new Promise((r) => setTimeout(r, 100)); // the workers wait in the library's code
       let result, error = null;
       try { result = await ${close}; } catch (e) { error = { code: e.code, message: e.message }; result = e.result; }
       let after = null;
       try { dbl(1); } catch (e) { after = e.code; }
       console.log(JSON.stringify({ first, unloaded: result.unloaded, reason: result.reason ?? null, threads: (result.threads ?? []).length, error, after }));
     })().catch((e) => { console.error(e); process.exit(3); });`,
    { timeout: 30_000 },
  );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return {
    status: r.status,
    signal: r.signal,
    stderr: r.stderr,
    result: line.startsWith('{') ? JSON.parse(line) : {},
    destructorRuns: (r.stderr.match(/threadpool: destructor/g) ?? []).length,
  };
}

const shutdownHook = `lib.close({ teardown: (l) => { if (l.func('int pool_shutdown(void)')() !== 2) throw new Error('pool_shutdown'); } })`;

describe.each(NAMESPACE_MODES)('%s: threads only the destructor stops', (mode) => {
  it('close() without a hook runs its destructors first, waits for its threads, and unloads it; the destructor runs once', () => {
    const r = closeInChild(POOL, mode, 'lib.close()');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.result).toMatchObject({ first: 42, unloaded: true, reason: null, error: null, after: 'ERR_DLSWAP_CLOSED' });
    // Once: by dlswap before dlclose; neither dlclose nor exit ran it again.
    expect(r.destructorRuns).toBe(1);
  });

  it('a destructor that leaves its threads running: pinned, the reason says the destructors ran and names the hook; exit is clean', () => {
    const r = closeInChild(STUBBORN, mode, 'lib.close()');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.result).toMatchObject({ first: 42, unloaded: false, threads: 2, after: 'ERR_DLSWAP_CLOSED' });
    expect(r.result.reason).toMatch(/2 threads are still running or waiting in its code: .*started by libthreadpool_stubborn\.so/);
    expect(r.result.reason).toMatch(/Its destructors were run first, to stop the threads it started, and these did not exit/);
    expect(r.result.reason).toMatch(/teardown hook \(HotLibrary's 'teardown' option, or lib\.close\(\{ teardown \}\)\)/);
    // Not again at exit, though the image stayed mapped.
    expect(r.destructorRuns).toBe(1);
  });
});

describe.each(BASE_MODES)('%s: threads only the destructor stops', (mode) => {
  it('close() without a hook keeps it mapped, naming the threads and the teardown hook; the destructor runs at exit', () => {
    const r = closeInChild(POOL, mode, 'lib.close()');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.result).toMatchObject({ first: 42, unloaded: false, after: 'ERR_DLSWAP_CLOSED' });
    expect(r.result.reason).toMatch(/running its code/);
    expect(r.result.reason).toMatch(/call that cleanup in a teardown hook/);
    expect(r.result.reason).not.toMatch(/destructors were run/);
    expect(r.destructorRuns).toBe(1);
  });
});

describe.each(modes)('%s: lib.close({ teardown })', (mode) => {
  it("the hook calls the library's own shutdown while it still takes calls, and the image unloads", () => {
    const r = closeInChild(POOL, mode, shutdownHook);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.result).toMatchObject({ first: 42, unloaded: true, reason: null, error: null, after: 'ERR_DLSWAP_CLOSED' });
    expect(r.destructorRuns).toBe(1);
  });
});

describe('lib.close({ teardown }) failures', () => {
  it('a hook that throws: close() rejects with ERR_DLSWAP_TEARDOWN_FAILED, the library is closed to calls and kept mapped', () => {
    // The stubborn pool: its destructor, run at exit for the image kept mapped, joins nothing.
    const r = closeInChild(STUBBORN, 'namespace', `lib.close({ teardown: () => { throw new Error('cleanup broke'); } })`);
    expect(r.status).toBe(0);
    expect(r.result.error).toMatchObject({ code: 'ERR_DLSWAP_TEARDOWN_FAILED' });
    expect((r.result.error as { message: string }).message).toMatch(/the teardown hook of .*libthreadpool_stubborn\.so threw: cleanup broke/);
    expect(r.result).toMatchObject({ unloaded: false, after: 'ERR_DLSWAP_CLOSED' });
    expect(r.result.reason).toMatch(/kept mapped on purpose: its teardown hook failed/);
    // Kept mapped: its destructor never ran early; exit runs it.
    expect(r.destructorRuns).toBe(1);
  });

  it('a hook that never settles is bounded by teardownTimeoutMs', () => {
    const r = closeInChild(STUBBORN, 'namespace', `lib.close({ teardown: () => new Promise(() => {}), teardownTimeoutMs: 50 })`);
    expect(r.status).toBe(0);
    expect(r.result.error).toMatchObject({ code: 'ERR_DLSWAP_TEARDOWN_FAILED' });
    expect((r.result.error as { message: string }).message).toMatch(/did not settle within 50 ms/);
    expect(r.result).toMatchObject({ unloaded: false, after: 'ERR_DLSWAP_CLOSED' });
  });

  it('options are checked before anything closes: a bad one rejects, and the library still serves', () => {
    const r = runChild(
      `const lib = dlswap.open(${JSON.stringify(POOL)});
       (async () => {
         const codes = [];
         for (const o of [{ teardown: 1 }, { teardownTimeoutMs: -1 }, { tearDown: () => {} }]) {
           try { await lib.close(o); codes.push('resolved'); } catch (e) { codes.push(e.code + ': ' + e.message); }
         }
         const still = lib.func('int pool_double(int x)')(2);
         const r = await lib.close({ teardown: (l) => { l.func('int pool_shutdown(void)')(); } });
         console.log(JSON.stringify({ codes, still, unloaded: r.unloaded }));
       })();`,
    );
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.still).toBe(4);
    expect(out.unloaded).toBe(true);
    expect(out.codes[0]).toMatch(/^ERR_DLSWAP_ARG: lib.close\(options\): option 'teardown' must be a function/);
    expect(out.codes[1]).toMatch(/^ERR_DLSWAP_ARG: .*'teardownTimeoutMs'/);
    expect(out.codes[2]).toMatch(/^ERR_DLSWAP_ARG: .*unknown option 'tearDown' \(did you mean 'teardown'\?\)/);
  });
});

// OpenBLAS (Debian: libopenblas0-pthread): a pool of worker threads that its constructor starts and
// only its destructor, or blas_thread_shutdown_(), stops. OPENBLAS_THREAD_TIMEOUT=4 makes its idle
// workers sleep at once (in the kernel, where dlswap sees them) instead of spinning first.
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/libopenblas.so.0';
const haveOpenblas = fs.existsSync(OPENBLAS);
const blasEnv = { OPENBLAS_NUM_THREADS: '2', OPENBLAS_THREAD_TIMEOUT: '4' };
const DDOT = 'double cblas_ddot(int n, const double *x, int incx, const double *y, int incy)';
const blasPrelude = `
  const n = 100000, x = Buffer.from(new Float64Array(n).fill(1).buffer);
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));
  const shutdown = (lib) => { lib.func('void blas_thread_shutdown_(void)')(); };`;

function blasChild(body: string) {
  const r = runChild(`${blasPrelude}\n(async () => { ${body} })().catch((e) => { console.error(e); process.exit(3); });`, { env: blasEnv, timeout: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  // biome-ignore lint/suspicious/noExplicitAny: the child's JSON report, read field by field
  return { status: r.status, signal: r.signal, stderr: r.stderr, out: (line.startsWith('{') ? JSON.parse(line) : {}) as Record<string, any> };
}

describe.skipIf(!haveOpenblas).each(modes)('%s: OpenBLAS', (mode) => {
  it('plain: close({ teardown }) calling blas_thread_shutdown_ unloads it; without the hook it unloads in the namespace modes, and is pinned naming the hook in the others', () => {
    const r = blasChild(`
      const results = [];
      for (const hook of [true, false]) {
        const lib = dlswap.open(${JSON.stringify(OPENBLAS)}, { isolation: ${JSON.stringify(mode)} });
        const dot = lib.func(${JSON.stringify(DDOT)})(n, x, 1, x, 1);
        await pause(100);
        const r = await lib.close(hook ? { teardown: shutdown } : undefined);
        results.push({ hook, dot, unloaded: r.unloaded, reason: r.reason ?? null });
      }
      console.log(JSON.stringify({ results }));
      process.exit(0);`);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const [withHook, without] = r.out.results;
    expect(withHook).toEqual({ hook: true, dot: 100000, unloaded: true, reason: null });
    expect(without.dot).toBe(100000);
    if (NAMESPACE_MODES.includes(mode)) {
      expect(without).toMatchObject({ unloaded: true, reason: null });
    } else {
      expect(without.unloaded).toBe(false);
      expect(without.reason).toMatch(/still running or waiting in its code/);
      expect(without.reason).toMatch(
        /blas_thread_shutdown_\), call that cleanup in a teardown hook \(HotLibrary's 'teardown' option, or lib\.close\(\{ teardown \}\)\)/,
      );
    }
  });

  it('hot: every generation unloads over several reloads with the teardown hook; the process keeps no thread per reload', () => {
    const r = blasChild(`
      const threads = () => require('node:fs').readdirSync('/proc/self/task').length;
      const hot = await dlswap.HotLibrary.open(${JSON.stringify(OPENBLAS)}, {
        isolation: ${JSON.stringify(mode)},
        functions: { dot: ${JSON.stringify(DDOT)} },
        teardown: (g) => shutdown(g.lib),
      });
      const reports = [];
      hot.fn.dot(n, x, 1, x, 1);
      const before = threads();
      for (let i = 0; i < 4; i++) {
        const rep = await hot.reload();
        reports.push({ unloaded: rep.unloaded, dot: hot.fn.dot(n, x, 1, x, 1) });
      }
      const after = threads();
      await hot.close();
      console.log(JSON.stringify({ reports, before, after, final: hot.generations().map((g) => g.unloaded) }));`);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.out.reports).toEqual(Array(4).fill({ unloaded: true, dot: 100000 }));
    expect(r.out.final).toEqual([true, true, true, true, true]);
    expect(r.out.after).toBeLessThanOrEqual(r.out.before);
  });
});
