// HotLibrary's `teardown` option: the user's hook on every drained generation, before dlswap_fini
// and the threads check (lib/hot/hot_phases.ts teardownGeneration). The library is the worker pool
// that only its destructor or its own pool_shutdown() stops (fixtures-c/threadpool). In children: a
// generation kept mapped keeps its threads, and the exit is part of what is checked.
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { fixture, runChild, underAsan } from '../helpers';

const POOL = fixture('libthreadpool.so');
const STUBBORN = fixture('libthreadpool_stubborn.so');
const modes = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));

/**
 * Runs `body` (async; `hot` is `file` opened in `mode` with `options`, `seen` an array the options
 * may fill) in a child; returns what it printed last, and how often a destructor ran.
 */
function hotChild(file: string, mode: Isolation, options: string, body: string) {
  const r = runChild(
    `(async () => {
       const events = [], seen = [];
       const hot = await dlswap.HotLibrary.open(${JSON.stringify(file)}, { isolation: ${JSON.stringify(mode)}, functions: { dbl: 'int pool_double(int x)' }, ${options} });
       hot.on('pinned', (e) => events.push({ pinned: e.generation, reason: e.reason }));
       hot.on('unloaded', (e) => events.push({ unloaded: e.generation }));
       hot.on('error', (e) => events.push({ error: e.code, message: e.message }));
       const out = (v) => console.log(JSON.stringify({ ...v, events }));
       ${body}
     })().catch((e) => { console.error(e); process.exit(3); });`,
    { timeout: 30_000 },
  );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return {
    status: r.status,
    signal: r.signal,
    stderr: r.stderr,
    out: (line.startsWith('{') ? JSON.parse(line) : {}) as Record<string, unknown> & { events: Record<string, unknown>[] },
    destructorRuns: (r.stderr.match(/threadpool: destructor/g) ?? []).length,
  };
}

const shutdown = `teardown: async (g) => { seen.push({ id: g.id, before: g.fn.dbl(5), async: await g.fn.dbl.async(6), stopped: g.lib.func('int pool_shutdown(void)')() }); }`;

describe.each(modes)('%s', (mode) => {
  it('the hook runs on each drained generation with its library and functions, stops its pool, and every generation unloads', () => {
    const r = hotChild(
      POOL,
      mode,
      shutdown,
      `const reports = [];
       for (let i = 0; i < 3; i++) {
         hot.fn.dbl(1);
         await new Promise((r) => setTimeout(r, 50));
         const rep = await hot.reload();
         reports.push({ unloaded: rep.unloaded, teardownTimed: typeof rep.durations.teardown === 'number' });
       }
       const served = hot.fn.dbl(21);
       await hot.close();
       out({ reports, served, seen, final: hot.generations().map((g) => g.unloaded) });`,
    );
    expect(r.stderr.replace(/threadpool: destructor\n/g, '')).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.out.reports).toEqual(Array(3).fill({ unloaded: true, teardownTimed: true }));
    expect(r.out.served).toBe(42);
    // Generations 1-3 at their reload, 4 at close(): calls (sync and async) still worked in the hook.
    expect(r.out.seen).toEqual([1, 2, 3, 4].map((id) => ({ id, before: 10, async: 12, stopped: 2 })));
    expect(r.out.final).toEqual([true, true, true, true]);
    expect(r.out.events.filter((e) => 'error' in e || 'pinned' in e)).toEqual([]);
    expect(r.destructorRuns).toBe(4);
  });
});

describe('teardown failures', () => {
  it("a hook that throws: 'error' with ERR_DLSWAP_TEARDOWN_FAILED, the generation pinned with the reason, the new one serves", () => {
    const r = hotChild(
      STUBBORN,
      'namespace',
      `teardown: (g) => { throw new Error('cleanup of ' + g.id + ' broke'); }`,
      `const rep = await hot.reload();
       out({ unloaded: rep.unloaded, pinnedReason: rep.pinnedReason, serves: hot.fn.dbl(4), current: hot.current, info: hot.generations()[0].pinnedReason });`,
    );
    expect(r.status).toBe(0);
    expect(r.out).toMatchObject({ unloaded: false, serves: 8, current: 2 });
    expect(r.out.pinnedReason).toMatch(/^kept mapped on purpose: its teardown hook failed \(the teardown hook of generation 1 threw: cleanup of 1 broke\)/);
    expect(r.out.info).toBe(r.out.pinnedReason);
    expect(r.out.events).toContainEqual({ error: 'ERR_DLSWAP_TEARDOWN_FAILED', message: 'the teardown hook of generation 1 threw: cleanup of 1 broke' });
    expect(r.out.events).toContainEqual({ pinned: 1, reason: r.out.pinnedReason });
  });

  it('a hook that never settles is bounded by finiTimeoutMs', () => {
    const r = hotChild(
      STUBBORN,
      'namespace',
      `finiTimeoutMs: 50, teardown: () => new Promise(() => {})`,
      `const rep = await hot.reload();
       out({ unloaded: rep.unloaded, pinnedReason: rep.pinnedReason, serves: hot.fn.dbl(4) });`,
    );
    expect(r.status).toBe(0);
    expect(r.out).toMatchObject({ unloaded: false, serves: 8 });
    expect(r.out.pinnedReason).toMatch(/its teardown hook failed \(the teardown hook of generation 1 did not settle within 50 ms\)/);
    expect(r.out.events).toContainEqual(expect.objectContaining({ error: 'ERR_DLSWAP_TEARDOWN_FAILED' }));
  });

  it('a teardown option that is not a function is refused before anything is loaded', () => {
    const r = runChild(
      `dlswap.HotLibrary.open(${JSON.stringify(POOL)}, { teardown: 'pool_shutdown' }).then(
         () => console.log('opened'),
         (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`,
    );
    expect(JSON.parse(r.stdout.trim())).toEqual({
      code: 'ERR_DLSWAP_ARG',
      message: 'HotLibrary.open(path, options): option \'teardown\' must be a function, not "pool_shutdown"',
    });
    expect(r.stderr).not.toMatch(/threadpool: destructor/); // never loaded
  });
});

describe('without a hook', () => {
  it('namespace: each generation is unloaded once its destructors stopped its pool', () => {
    const r = hotChild(
      POOL,
      'namespace',
      '',
      `const reports = [];
       for (let i = 0; i < 3; i++) { hot.fn.dbl(1); await new Promise((r) => setTimeout(r, 50)); reports.push((await hot.reload()).unloaded); }
       await hot.close();
       out({ reports, final: hot.generations().map((g) => g.unloaded) });`,
    );
    expect(r.status).toBe(0);
    expect(r.out.reports).toEqual([true, true, true]);
    expect(r.out.final).toEqual([true, true, true, true]);
    expect(r.destructorRuns).toBe(4); // each once, by dlswap before its dlclose
  });
});
