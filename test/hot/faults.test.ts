// A fault at every point of the reload path, injected while async calls are running, and the
// promises of docs/reliability.md checked after each: no call failed, no call ran on a generation
// that was closed, the right generation serves, and no copy, mapping or fd was left behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HotLibrary, type ReloadReport } from '../../lib/hot/hot_library';
import { open } from '../../lib/load/library';
import {
  FAULT_POINTS,
  HANDOVER_FAULT_POINTS,
  RELOAD_FAULT_POINTS,
  WATCH_FAULT_POINTS,
  armFaults,
  armedFaults,
  clearFaults,
  faultPoint,
  injectFault,
  type FaultPoint,
} from '../../lib/faults';
import { privateDir } from '../../lib/load/temp_area';
import { fixture, root, runChild, underAsan, strayPrivateFiles } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const plugin = {
  plugin_version: 'int plugin_version(void)',
  plugin_slow: 'int plugin_slow(int ms)',
  plugin_log_from_thread: 'int plugin_log_from_thread(int count)',
} as const;
type Hot = HotLibrary<typeof plugin>;

const tick = () => new Promise<void>((r) => setImmediate(r));
const fdCount = () => fs.readdirSync('/proc/self/fd').length;
/** Images that a test left mapped on purpose (a generation reported as pinned). */
const pinnedOnPurpose = new Set<string>();
/** Distinct files of the private directory that are mapped in this process. */
function mappedCopies(): string[] {
  const dir = privateDir();
  const lines = fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
  return [...new Set(lines.map((l) => l.slice(l.indexOf('/'))))].filter((p) => !pinnedOnPurpose.has(p));
}

const hots: Hot[] = [];
afterEach(async () => {
  clearFaults();
  for (const h of hots.splice(0)) await h.close();
});

/**
 * Async callers that keep calls in flight across every swap. Each call remembers the generation
 * that was current when it was issued; its result must be that generation's version, which also
 * proves it did not run on a generation that had been closed (that would reject with
 * ERR_DLSWAP_CLOSED, or crash).
 */
function startLoad(hot: Hot, workers = 6) {
  const versionOfGen = new Map<number, number>([[hot.current, hot.fn.plugin_version()]]);
  // 'reload' fires in the synchronous step of the swap: no call can be issued in between.
  hot.on('reload', (r: ReloadReport) => versionOfGen.set(r.to, r.path === P1 ? 1 : 2));
  return runCallers(hot, workers, () => {
    const gen = hot.current;
    return {
      wrong: (v) => (v !== versionOfGen.get(gen) ? `call issued on generation ${gen} returned version ${v}` : null),
      failed: (message) => `call issued on generation ${gen} failed: ${message}`,
    };
  });
}

/** Async callers of plugin_slow, `workers` of them, each answer judged by what `issue` returned when the call was issued. */
function runCallers(hot: Hot, workers: number, issue: () => { wrong(v: number): string | null; failed(message: string): string }) {
  const failures: string[] = [];
  let calls = 0;
  let stop = false;
  const running = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const judge = issue();
      try {
        const wrong = judge.wrong(await hot.fn.plugin_slow.async((w + i) % 3));
        if (wrong) failures.push(wrong);
      } catch (e) {
        failures.push(judge.failed((e as Error).message));
      }
      calls++;
    }
  });
  return {
    failures,
    get calls() {
      return calls;
    },
    async stop() {
      stop = true;
      await Promise.all(running);
    },
  };
}

async function openHot(isolation: 'namespace' | 'local') {
  const hot = (await HotLibrary.open(P1, { isolation, functions: plugin })) as Hot;
  hots.push(hot);
  return hot;
}

/** Some clean reloads with calls in flight, so the fault hits a generation that has served. */
async function reloads(hot: Hot, n: number, expectOk = true) {
  for (let i = 0; i < n; i++) {
    const target = hot.fn.plugin_version() === 1 ? P2 : P1;
    const r = await hot.reload(target, { wait: 'swap' });
    if (expectOk) expect(hot.fn.plugin_version()).toBe(target === P1 ? 1 : 2);
    await tick();
    await r.retired;
  }
}

const BEFORE_SWAP: Record<string, string> = { 'after-copy': 'loading', 'after-open': 'loading', 'in-verify': 'verifying', 'before-swap': 'swap' };

describe('fault points', () => {
  it('are the eight points of the reload path, two of the handover, four of the watcher, inert until armed', () => {
    expect(RELOAD_FAULT_POINTS).toEqual(['after-copy', 'after-open', 'in-verify', 'before-swap', 'during-drain', 'in-fini', 'before-dlclose', 'after-dlclose']);
    expect(HANDOVER_FAULT_POINTS).toEqual(['in-state-export', 'in-state-import']);
    expect(WATCH_FAULT_POINTS).toEqual(['watch-examine', 'watch-read', 'watch-judge', 'watch-reload']);
    expect(FAULT_POINTS).toEqual([...RELOAD_FAULT_POINTS, ...HANDOVER_FAULT_POINTS, ...WATCH_FAULT_POINTS]);
    expect(armedFaults()).toEqual([]);
    for (const p of FAULT_POINTS) expect(() => faultPoint(p)).not.toThrow();
  });

  it('injectFault fires the given number of times, then disarms', () => {
    injectFault('before-swap', 'throw', 2);
    expect(() => faultPoint('after-open')).not.toThrow();
    expect(() => faultPoint('before-swap')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_INTERNAL', message: "injected fault at 'before-swap'" }));
    expect(() => faultPoint('before-swap')).toThrow();
    expect(() => faultPoint('before-swap')).not.toThrow();
    expect(armedFaults()).toEqual([]);
    expect(() => injectFault('nowhere' as FaultPoint)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(() => injectFault('before-swap', 'explode' as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(() => injectFault('before-swap', 'throw', 0)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
  });

  it('armFaults(spec): point[:action][@n], armed for every pass from the n-th; a typo arms nothing and throws', () => {
    armFaults('in-fini:throw@3, after-copy');
    expect(armedFaults().sort()).toEqual(['after-copy', 'in-fini']);
    faultPoint('in-fini');
    faultPoint('in-fini');
    for (let i = 0; i < 3; i++) expect(() => faultPoint('in-fini')).toThrow();
    expect(() => faultPoint('after-copy')).toThrow();
    clearFaults();
    for (const bad of ['before-swop:throw', 'in-fini:explode', 'during-drain@0', 'after-copy,before-swop']) {
      expect(() => armFaults(bad)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringContaining('armFaults(spec)') }));
      expect(armedFaults()).toEqual([]);
    }
    expect(() => armFaults(42 as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    armFaults(undefined);
    armFaults('');
    expect(armedFaults()).toEqual([]);
  });

  it('DLSWAP_FAULTS in the environment arms nothing: a plain open() and reload work, and nothing is killed', () => {
    const r = runChild(
      `(async () => {
        const lib = dlswap.open(${JSON.stringify(P1)});
        const v = lib.func('int plugin_version(void)')();
        await lib.close();
        const hot = await dlswap.HotLibrary.open(${JSON.stringify(P1)}, { functions: { v: 'int plugin_version(void)' } });
        await hot.reload(${JSON.stringify(P2)});
        console.log(JSON.stringify({ v, hot: hot.fn.v(), armed: require(${JSON.stringify(path.join(root, 'dist', 'testing', 'index.js'))}).armedFaults() }));
        await hot.close();
      })();`,
      { env: { DLSWAP_FAULTS: 'after-copy:throw,after-open:kill,before-swap:throw' } },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ v: 1, hot: 2, armed: [] });
  });

  it('DLSWAP_FAULTS passed to armFaults (dlswap/testing): every reload fails, the first generation serves on', () => {
    const r = runChild(
      `(async () => {
        require(${JSON.stringify(path.join(root, 'dist', 'testing', 'index.js'))}).armFaults(process.env.DLSWAP_FAULTS);
        const hot = await dlswap.HotLibrary.open(${JSON.stringify(P1)}, { functions: { v: 'int plugin_version(void)' } });
        const phases = [];
        for (let i = 0; i < 3; i++) await hot.reload(${JSON.stringify(P2)}).catch((e) => phases.push(e.report.failedPhase + ':' + e.causeCode));
        console.log(JSON.stringify({ phases, v: hot.fn.v(), states: hot.generations().map((g) => g.state) }));
        await hot.close();
      })();`,
      { env: { DLSWAP_FAULTS: 'before-swap:throw' } },
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      phases: Array(3).fill('swap:ERR_DLSWAP_INTERNAL'),
      v: 1,
      states: ['active', 'rejected', 'rejected', 'rejected'],
    });
  });

  it('after-copy in a plain open(): the copy is removed', () => {
    injectFault('after-copy');
    expect(() => open(P1)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_INTERNAL' }));
    expect(strayPrivateFiles()).toEqual([]);
  });
});

describe.each(['namespace', 'local'] as const)('a fault under load in %s', (isolation) => {
  it.each(RELOAD_FAULT_POINTS)('at %s', async (point) => {
    const fds = fdCount();
    const hot = await openHot(isolation);
    const load = startLoad(hot);
    const events: Record<string, unknown[]> = { error: [], rollback: [], pinned: [] };
    for (const name of Object.keys(events)) hot.on(name, (e: unknown) => events[name].push(e));
    await reloads(hot, 3);
    const before = hot.current;
    const beforeVersion = hot.fn.plugin_version();
    const target = beforeVersion === 1 ? P2 : P1;
    const targetVersion = beforeVersion === 1 ? 2 : 1;
    const callsBefore = load.calls;

    injectFault(point);
    const outcome = await hot.reload(target).then(
      (report) => ({ report, err: undefined }),
      (err) => ({ report: undefined, err }),
    );
    expect(armedFaults()).toEqual([]); // the fault was really hit

    const gens = hot.generations();
    const attempt = gens.at(-1)!;
    const previous = gens.find((g) => g.id === before)!;
    if (point in BEFORE_SWAP) {
      // Rejected before the swap: the old generation serves on, untouched; the new one is closed.
      expect(outcome.err).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_INTERNAL' });
      expect(outcome.err.report.failedPhase).toBe(BEFORE_SWAP[point]);
      expect(events.rollback).toHaveLength(1);
      expect(hot.current).toBe(before);
      expect(hot.fn.plugin_version()).toBe(beforeVersion);
      expect(attempt).toMatchObject({ id: before + 1, state: 'rejected' });
      if (point !== 'after-copy') expect(attempt.unloaded).toBe(true); // it was opened, then closed
      expect(previous.state).toBe('active');
    } else {
      // Past the swap there is no going back: the new generation serves, and the old one still
      // ends closed and unloaded, after its calls drained and its fini ran.
      expect(outcome.err).toBeUndefined();
      expect(outcome.report).toMatchObject({ from: before, to: before + 1, unloaded: true });
      expect(events.error).toEqual([expect.objectContaining({ message: `injected fault at '${point}'` })]);
      expect(events.pinned).toEqual([]);
      expect(hot.current).toBe(before + 1);
      expect(hot.fn.plugin_version()).toBe(targetVersion);
      expect(previous).toMatchObject({ state: 'closed', unloaded: true, inFlight: 0 });
    }
    // Healthy afterwards: more reloads under the same load.
    await reloads(hot, 2);
    // The load kept running through the fault.
    expect(load.calls).toBeGreaterThan(callsBefore);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(hot.generations().every((g) => g.errors === 0)).toBe(true);

    expect(mappedCopies()).toHaveLength(1); // the generation that serves, nothing else
    await hot.close();
    expect(hot.generations().every((g) => g.state === 'closed' || g.state === 'rejected')).toBe(true);
    expect(strayPrivateFiles()).toEqual([]);
    expect(mappedCopies()).toEqual([]);
    expect(fdCount()).toBe(fds);
  });
});

describe('after the swap, a fault never unmaps what is still in use', () => {
  it('during-drain: a lease on the old generation keeps it open and callable', async () => {
    const hot = await openHot('namespace');
    const errors: Error[] = [];
    hot.on('error', (e: Error) => errors.push(e));
    const lease = hot.pin();
    const slow = lease.fn.plugin_slow.async(60);
    injectFault('during-drain');
    const r = await hot.reload(P2, { wait: 'swap' });
    expect(hot.fn.plugin_version()).toBe(2);
    await tick();
    await new Promise((res) => setTimeout(res, 20));
    // The fault is reported, but the drain still waits for the lease and the call.
    expect(errors.map((e) => e.message)).toEqual(["injected fault at 'during-drain'"]);
    expect(hot.generations()[0].state).toBe('draining');
    expect(lease.fn.plugin_version()).toBe(1);
    expect(await slow).toBe(1);
    expect(lease.fn.plugin_slow(0)).toBe(1);
    lease.release();
    await r.retired;
    expect(r.unloaded).toBe(true);
    expect(hot.generations()[0]).toMatchObject({ state: 'closed', unloaded: true });
  });

  it("in-fini: dlswap_fini still runs (it joins the plugin's thread) before the image is unmapped", async () => {
    const hot = await openHot('namespace');
    const logs: { generation: number; message: string }[] = [];
    hot.on('log', (e) => logs.push(e));
    hot.on('error', () => undefined);
    expect(hot.fn.plugin_log_from_thread(2000)).toBe(0);
    injectFault('in-fini');
    const r = await hot.reload(P2);
    expect(r.unloaded).toBe(true);
    // The channel delivers at most ~1,000 lines per turn of the event loop: wait for fini's line
    // (the last one of generation 1) rather than a fixed time, which a busy machine outlasts.
    for (let i = 0; i < 200 && !logs.some((l) => l.generation === 1 && l.message === 'fini'); i++) {
      await new Promise((res) => setTimeout(res, 10));
    }
    const g1 = logs.filter((l) => l.generation === 1).map((l) => l.message);
    // fini joined the thread: all of its lines came before fini's own.
    expect(g1.filter((m) => m.startsWith('thread log'))).toHaveLength(2000);
    expect(g1.at(-1)).toBe('fini');
  });

  it('in-fini twice (a persistent failure): the image stays mapped, reported as pinned, and nothing crashes', async () => {
    const hot = await openHot('namespace');
    const errors: Error[] = [];
    const pinned: { generation: number; reason: string }[] = [];
    hot.on('error', (e: Error) => errors.push(e));
    hot.on('pinned', (e) => pinned.push(e));
    expect(hot.fn.plugin_log_from_thread(2000)).toBe(0);
    const g1Image = mappedCopies();
    injectFault('in-fini', 'throw', 2);
    const r = await hot.reload(P2);
    expect(r.unloaded).toBe(false);
    expect(r.pinnedReason).toContain('dlswap_fini did not run');
    expect(pinned).toEqual([{ generation: 1, reason: r.pinnedReason }]);
    expect(errors).toHaveLength(1);
    expect(hot.generations()[0]).toMatchObject({ state: 'closed', unloaded: false });
    // Generation 1's image stays (on purpose), next to generation 2's.
    expect(mappedCopies()).toHaveLength(2);
    expect(mappedCopies()).toContain(g1Image[0]);
    for (const p of g1Image) pinnedOnPurpose.add(p);
    expect(hot.fn.plugin_version()).toBe(2);
  });

  it('during-drain twice: never closed without its drain; pinned instead', async () => {
    const hot = await openHot('namespace');
    hot.on('error', () => undefined);
    const lease = hot.pin();
    for (const p of mappedCopies()) pinnedOnPurpose.add(p);
    injectFault('during-drain', 'throw', 2);
    const r = await hot.reload(P2);
    expect(r).toMatchObject({ unloaded: false, pinnedReason: expect.stringContaining('calls or leases may still be using it') });
    expect(lease.fn.plugin_version()).toBe(1);
    lease.release();
  });

  it('a fault while close() retires every generation still closes them all', async () => {
    const hot = await openHot('namespace');
    const load = startLoad(hot);
    await reloads(hot, 1);
    await load.stop();
    hot.on('error', () => undefined);
    injectFault('before-dlclose');
    await hot.close();
    expect(hot.generations().map((g) => [g.state, g.unloaded])).toEqual([
      ['closed', true],
      ['closed', true],
    ]);
    expect(mappedCopies()).toEqual([]);
    expect(load.failures).toEqual([]);
  });
});

describe.skipIf(underAsan)('deepbind', () => {
  it.each(['during-drain', 'in-fini'] as const)('%s under load', async (point) => {
    const hot = (await HotLibrary.open(P1, { isolation: 'deepbind', functions: plugin })) as Hot;
    hots.push(hot);
    hot.on('error', () => undefined);
    const load = startLoad(hot);
    await reloads(hot, 2);
    injectFault(point);
    const r = await hot.reload(hot.fn.plugin_version() === 1 ? P2 : P1);
    expect(r.unloaded).toBe(true);
    await reloads(hot, 1);
    await load.stop();
    expect(load.failures).toEqual([]);
    await hot.close();
    expect(mappedCopies()).toEqual([]);
  });
});

/**
 * Async callers for the handover policy: calls issued while a handover runs wait at its gate and
 * then run on whichever generation serves, so each answer must be a version, never a failure.
 */
function startAnyLoad(hot: Hot, workers = 6) {
  return runCallers(hot, workers, () => ({
    wrong: (v) => (v !== 1 && v !== 2 ? `a call returned ${v}` : null),
    failed: (message) => `a call failed: ${message}`,
  }));
}

describe.each(['namespace', 'local'] as const)('a handover fault under load in %s', (isolation) => {
  it.each(HANDOVER_FAULT_POINTS)('at %s: rolled back, the calls that waited run on, nothing leaks', async (point) => {
    const fds = fdCount();
    const hot = (await HotLibrary.open(P1, { isolation, functions: plugin, policy: 'handover' })) as Hot;
    hots.push(hot);
    const load = startAnyLoad(hot);
    const rollbacks: ReloadReport[] = [];
    hot.on('rollback', (r: ReloadReport) => rollbacks.push(r));
    await reloads(hot, 3);
    const before = hot.current;
    const beforeVersion = hot.fn.plugin_version();
    const callsBefore = load.calls;
    injectFault(point);
    const err = await hot.reload(beforeVersion === 1 ? P2 : P1).catch((e) => e);
    expect(armedFaults()).toEqual([]);
    expect(err).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_INTERNAL' });
    expect(err.report.failedPhase).toBe('swap');
    expect(rollbacks).toHaveLength(1);
    expect(hot.current).toBe(before);
    expect(hot.fn.plugin_version()).toBe(beforeVersion);
    expect(hot.generations().at(-1)).toMatchObject({ id: before + 1, state: 'rejected', unloaded: true });
    await reloads(hot, 2);
    expect(load.calls).toBeGreaterThan(callsBefore);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(hot.generations().every((g) => g.errors === 0)).toBe(true);
    expect(mappedCopies()).toHaveLength(1);
    await hot.close();
    expect(strayPrivateFiles()).toEqual([]);
    expect(mappedCopies()).toEqual([]);
    expect(fdCount()).toBe(fds);
  });
});

describe('a watcher fault under load', () => {
  const V1 = fs.readFileSync(P1);
  const V2 = fs.readFileSync(P2);

  it.each(WATCH_FAULT_POINTS)('at %s: the build is reported and skipped, the old generation serves, the same build published again loads', async (point) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-watch-fault-'));
    const lib = path.join(dir, 'libwatched.so');
    const publish = (bytes: Buffer) => {
      fs.writeFileSync(path.join(dir, 'next'), bytes);
      fs.renameSync(path.join(dir, 'next'), lib);
    };
    try {
      fs.writeFileSync(lib, V1);
      fs.watch(dir).close(); // libuv opens its inotify fd on the first watch and keeps it: not a leak
      const fds = fdCount();
      const hot = (await HotLibrary.open(lib, { functions: plugin, watch: { debounceMs: 30, stableMs: 40 } })) as Hot;
      hots.push(hot);
      const next = <T>(event: string) =>
        new Promise<T>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no ${event} within 5 s`)), 5_000);
          hot.once(event, (e: T) => {
            clearTimeout(t);
            resolve(e);
          });
        });
      // Overlap: a call runs on the generation it was issued on, whose version the swap records.
      const versionOfGen = new Map<number, number>([[1, 1]]);
      hot.on('reload', (r: ReloadReport) => versionOfGen.set(r.to, hot.fn.plugin_version()));
      const failures: string[] = [];
      let stop = false;
      const callers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const gen = hot.current;
          const v = await hot.fn.plugin_slow.async((w + i) % 3).catch((e: Error) => e.message);
          if (v !== versionOfGen.get(gen)) failures.push(`call on generation ${gen} returned ${v}`);
        }
      });
      await new Promise((r) => setTimeout(r, 150)); // past the watcher's first look
      injectFault(point);
      const skipped = next<{ reason: string; code?: string; message?: string; error?: { code: string; message: string } }>('watch-skip');
      publish(V2);
      const skip = await skipped;
      expect(armedFaults()).toEqual([]);
      if (point === 'watch-reload') {
        expect(skip).toMatchObject({ reason: 'reload-failed', error: { code: 'ERR_DLSWAP_INTERNAL', message: "injected fault at 'watch-reload'" } });
      } else {
        expect(skip).toMatchObject({ reason: 'unreadable', code: 'ERR_DLSWAP_INTERNAL' });
        expect(skip.message).toContain(`injected fault at '${point}'`);
      }
      expect(hot.current).toBe(1);
      expect(hot.fn.plugin_version()).toBe(1);
      // The same bytes again: not 'unchanged', since they were never loaded.
      const reloaded = next<ReloadReport>('watch-reload');
      publish(V2);
      const report = await reloaded;
      expect(report.to).toBe(2);
      expect(hot.fn.plugin_version()).toBe(2);
      stop = true;
      await Promise.all(callers);
      await report.retired;
      expect(failures).toEqual([]);
      await hot.close();
      expect(strayPrivateFiles()).toEqual([]);
      expect(mappedCopies()).toEqual([]);
      expect(fdCount()).toBe(fds);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
