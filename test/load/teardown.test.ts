// Libraries whose worker threads only their own destructor (or their own cleanup function) stops:
// lib.close({ teardown }) and, in the namespace modes, the destructors dlswap runs before dlclose
// (native/image/early_destructors.h). docs/isolation.md, "Threads and unloading". Each case runs in
// a child: a library kept mapped keeps its threads, and the child's exit is part of what is checked
// (the destructor must run exactly once in the life of the process, and exit must be clean).
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
