import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { HotLibrary, type LogEvent, type ReloadReport } from '../../lib/hot/hot_library';
import { clearFaults, injectFault } from '../../lib/faults';
import { DlswapError, asDlswapError } from '../../lib/errors';
import { types } from '../../lib/signature/ctypes';
import { fixture, root, runChild, strayPrivateFiles } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const plugin = {
  handle: 'int handle(const char *req, char *out, size_t cap)',
  plugin_version: 'int plugin_version(void)',
  plugin_slow: 'int plugin_slow(int ms)',
  plugin_counter: 'int plugin_counter(void)',
  plugin_log_from_thread: 'int plugin_log_from_thread(int count)',
} as const;

const hots: HotLibrary<Record<string, string>>[] = [];
async function hotOpen(file: string, options: Parameters<typeof HotLibrary.open>[1] = {}) {
  const h = await HotLibrary.open(file, { isolation: 'namespace', functions: plugin, ...options });
  hots.push(h as unknown as HotLibrary<Record<string, string>>);
  return h as HotLibrary<typeof plugin>;
}

afterEach(async () => {
  clearFaults();
  for (const h of hots.splice(0)) await h.close();
  expect(strayPrivateFiles()).toEqual([]);
});

describe('drain', () => {
  it('async calls in flight at the swap finish on the old generation and see its results', async () => {
    const hot = await hotOpen(P1);
    const inflight = [hot.fn.plugin_slow.async(150), hot.fn.plugin_slow.async(100)];
    const reloaded = hot.reload(P2, { wait: 'swap' });
    const r = await reloaded;
    expect(hot.fn.plugin_version()).toBe(2);
    expect(await hot.fn.plugin_slow.async(1)).toBe(2);
    expect(hot.generations()[0].state).toBe('draining');
    expect(await Promise.all(inflight)).toEqual([1, 1]);
    await r.retired;
    expect(hot.generations()[0]).toMatchObject({ state: 'closed', unloaded: true });
    expect(r.durations.draining).toBeGreaterThan(50);
  });

  it('reports a drain timeout and never closes a generation that is still leased', async () => {
    const hot = await hotOpen(P1, { drainTimeoutMs: 30 });
    const timeouts: unknown[] = [];
    hot.on('drain-timeout', (e) => timeouts.push(e));
    const lease = hot.pin();
    const r = await hot.reload(P2, { wait: 'swap' });
    while (timeouts.length === 0) await new Promise((res) => setTimeout(res, 5));
    await new Promise((res) => setTimeout(res, 60)); // two more timeouts' worth: it is reported once
    expect(timeouts).toEqual([expect.objectContaining({ generation: 1, leases: 1, timeoutMs: 30 })]);
    // Still mapped and callable through the lease.
    expect(hot.generations()[0].state).toBe('draining');
    expect(lease.fn.plugin_version()).toBe(1);
    expect(hot.fn.plugin_version()).toBe(2);
    lease.release();
    await r.retired;
    expect(r.drainTimedOut).toBe(true);
    expect(hot.generations()[0]).toMatchObject({ state: 'closed', unloaded: true });
  });

  it('a lease pins its generation across reloads (using / Symbol.dispose)', async () => {
    const hot = await hotOpen(P1);
    let retired: Promise<void>;
    {
      using lease = hot.pin();
      const report = await hot.reload(P2, { wait: 'swap' });
      retired = report.retired;
      expect(lease.generation).toBe(1);
      expect(lease.fn.plugin_version()).toBe(1);
      expect(await lease.fn.plugin_slow.async(1)).toBe(1);
      expect(hot.generations()[0].state).toBe('draining');
    }
    // The retirement runs once the lease is gone (on the loader thread: waited for, not slept on).
    await retired;
    expect(hot.generations()[0].state).toBe('closed');
  });
});

describe('rollback', () => {
  async function expectRollback(hot: HotLibrary<typeof plugin>, file: string, phase: string, causeCode: string) {
    const before = hot.current;
    const events: ReloadReport[] = [];
    hot.on('rollback', (r) => events.push(r));
    const err = await hot.reload(file).catch((e) => e);
    expect(err).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode });
    expect(err.report.failedPhase).toBe(phase);
    expect(events).toHaveLength(1);
    expect(hot.current).toBe(before);
    expect(hot.fn.plugin_version()).toBe(1);
    const rejected = hot.generations().at(-1)!;
    expect(rejected.state).toBe('rejected');
    expect(strayPrivateFiles()).toEqual([]);
  }

  it('on a missing symbol', async () => {
    await expectRollback(await hotOpen(P1), fixture('libplugin_missing.so'), 'verifying', 'ERR_DLSWAP_SYMBOL_NOT_FOUND');
  });

  it('on a bad ABI version, before dlswap_init runs', async () => {
    await expectRollback(await hotOpen(P1), fixture('libplugin_badabi.so'), 'verifying', 'ERR_DLSWAP_ABI_VERSION');
  });

  it('on an init failure', async () => {
    // The fixture reads DLSWAP_FIXTURE_INIT_FAIL with getenv; only the base namespace sees changes
    // made after startup, so this runs in 'local'.
    const hot = await hotOpen(P1, { isolation: 'local' });
    process.env.DLSWAP_FIXTURE_INIT_FAIL = '1';
    try {
      await expectRollback(hot, P2, 'verifying', 'ERR_DLSWAP_INIT_FAILED');
    } finally {
      delete process.env.DLSWAP_FIXTURE_INIT_FAIL;
    }
  });

  it('on a bad file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-hot-'));
    try {
      fs.writeFileSync(path.join(dir, 'bad.so'), 'not a library');
      await expectRollback(await hotOpen(P1), path.join(dir, 'bad.so'), 'loading', 'ERR_DLSWAP_NOT_ELF');
      await expectRollback(await hotOpen(P1), path.join(dir, 'missing.so'), 'loading', 'ERR_DLSWAP_NOT_FOUND');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the old generation keeps serving through a failed reload under load', async () => {
    const hot = await hotOpen(P1);
    let stop = false;
    let failures = 0;
    let calls = 0;
    const load = (async () => {
      while (!stop) {
        const v = await hot.fn.plugin_slow.async(0).catch(() => -1);
        if (v !== 1) failures++;
        calls++;
      }
    })();
    for (const f of ['libplugin_missing.so', 'libplugin_badabi.so']) await hot.reload(fixture(f)).catch(() => undefined);
    stop = true;
    await load;
    expect(failures).toBe(0);
    expect(calls).toBeGreaterThan(0);
  });
});

describe('handover', () => {
  it('moves state from the old generation to the new one', async () => {
    const hot = await hotOpen(P1, { policy: 'handover' });
    for (let i = 0; i < 5; i++) hot.fn.plugin_counter();
    const r = await hot.reload(P2);
    expect(r.policy).toBe('handover');
    expect(hot.fn.plugin_version()).toBe(2);
    expect(hot.fn.plugin_counter()).toBe(6);
  });

  it('makes new async calls wait, then run on the new generation', async () => {
    const hot = await hotOpen(P1, { policy: 'handover' });
    let slowDone = false;
    const slow = hot.fn.plugin_slow.async(500).finally(() => (slowDone = true));
    const reloading = hot.reload(P2, { wait: 'swap' });
    // The gate goes up in the same turn as the new generation leaves 'loading': wait for that, not
    // for a fixed time, which a slow machine (valgrind) overruns.
    const loading = () => (hot.generations().find((g) => g.id === 2)?.state ?? 'loading') === 'loading';
    while (loading()) await new Promise((res) => setTimeout(res, 1));
    expect(slowDone).toBe(false); // the old generation still drains: the handover waits for it
    const waiting = hot.fn.plugin_slow.async(1); // issued during the handover
    expect(await slow).toBe(1);
    expect(await waiting).toBe(2);
    await reloading;
  });

  it('rolls back when the handover fails; waiting calls run on the old generation', async () => {
    const hot = await hotOpen(P1, { policy: 'handover' });
    injectFault('before-swap');
    const reloading = hot.reload(P2).catch((e) => e);
    const waiting = hot.fn.plugin_slow.async(1);
    const err = await reloading;
    expect(err.report.failedPhase).toBe('swap');
    expect(await waiting).toBe(1);
    expect(hot.fn.plugin_version()).toBe(1);
  });
});

describe('declared functions', () => {
  it('each prototype is parsed once per HotLibrary: every generation binds the same signature', async () => {
    const hot = await hotOpen(P1);
    const first = hot.pin();
    await hot.reload(P2, { wait: 'swap' }); // generation 1 drains once its lease is released
    const second = hot.pin();
    expect(second.generation).toBe(2);
    for (const name of Object.keys(plugin) as (keyof typeof plugin)[]) {
      // One parse: the same Signature object, not an equal one made again per generation.
      expect(second.fn[name].signature).toBe(first.fn[name].signature);
      expect(hot.fn[name].signature).toBe(first.fn[name].signature);
    }
    expect(first.fn.plugin_version()).toBe(1);
    expect(second.fn.plugin_version()).toBe(2);
    first.release();
    second.release();
  });

  it('the type registry is read when the options are checked, never again by a generation', async () => {
    const registry = types('typedef int request_len_t');
    const scope = registry.scope;
    let reads = 0;
    Object.defineProperty(registry, 'scope', {
      get() {
        reads++;
        return scope;
      },
    });
    const hot = await hotOpen(P1, { types: registry });
    const atOpen = reads;
    expect(atOpen).toBeGreaterThan(0); // the options check parsed the prototypes in its scope
    await hot.reload(P2);
    expect(hot.fn.plugin_version()).toBe(2);
    expect(reads).toBe(atOpen);
  });
});

describe('concurrency', () => {
  it('serializes concurrent reloads and coalesces requests for the same path', async () => {
    const hot = await hotOpen(P1);
    const a = hot.reload(P2);
    const b = hot.reload(P1);
    const c = hot.reload(P1); // joins b
    expect(c).toBe(b);
    const reports = await Promise.all([a, b, c]);
    expect(reports.map((r) => r.to)).toEqual([2, 3, 3]);
    expect(hot.fn.plugin_version()).toBe(1);
    expect(hot.generations().map((g) => g.state)).toEqual(['closed', 'closed', 'active']);
  });

  it('close() during a reload is safe', async () => {
    const hot = await hotOpen(P1);
    const r = hot.reload(P2).catch((e) => e);
    await hot.close();
    await r;
    expect(hot.generations().every((g) => g.state === 'closed' || g.state === 'rejected')).toBe(true);
    expect(() => hot.fn.plugin_version()).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_CLOSED' }));
  });

  it('500 reloads under continuous async load: zero failed calls, every old generation unloaded', async () => {
    const hot = await hotOpen(P1);
    let stop = false;
    let failures = 0;
    let calls = 0;
    const worker = async () => {
      while (!stop) {
        try {
          const v = await hot.fn.plugin_slow.async(0);
          if (v !== 1 && v !== 2) failures++;
          calls++;
        } catch {
          failures++;
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 500; i++) {
      await hot.reload(i % 2 ? P1 : P2, { wait: 'swap' });
      // Reloads only await microtasks; let the event loop deliver async completions in between.
      await new Promise((res) => setImmediate(res));
    }
    stop = true;
    await Promise.all(workers);
    await hot.close();
    expect(failures).toBe(0);
    expect(calls).toBeGreaterThan(500);
    const gens = hot.generations();
    expect(gens).toHaveLength(501);
    expect(gens.every((g) => g.unloaded === true)).toBe(true);
  }, 120_000);
});

describe('plugin ABI', () => {
  it('delivers plugin logs, including from the plugin thread during a reload', async () => {
    const hot = await hotOpen(P1);
    const logs: LogEvent[] = [];
    hot.on('log', (e: LogEvent) => logs.push(e));
    expect(hot.fn.plugin_log_from_thread(50)).toBe(0);
    await hot.reload(P2);
    // Log lines arrive through the plugin's own channel, not the loader's: wait for fini's.
    const ofGen1 = () => logs.filter((l) => l.generation === 1).map((l) => l.message);
    for (let i = 0; i < 500 && ofGen1().at(-1) !== 'fini'; i++) await new Promise((res) => setTimeout(res, 10));
    const g1 = ofGen1();
    expect(g1.filter((m) => m.startsWith('thread log'))).toHaveLength(50);
    expect(g1.at(-1)).toBe('fini');
    expect(logs.some((l) => l.generation === 2 && l.message === 'init generation 2')).toBe(true);
  });

  it('has delivered what dlswap_init logged when open() and reload() resolve', async () => {
    // open(): the lines are kept for the caller and emitted on a later turn, once it listens.
    const hot = await hotOpen(P1);
    const logs: LogEvent[] = [];
    hot.on('log', (e: LogEvent) => logs.push(e));
    await new Promise((res) => setImmediate(res));
    expect(logs.map((l) => `${l.generation} ${l.message}`)).toEqual(['1 init generation 1']);
    // reload(): already emitted, none left in the queue to count against its bound.
    for (let to = 2; to <= 6; to++) {
      await hot.reload(to % 2 ? P1 : P2, { wait: 'swap' });
      expect(logs.map((l) => l.message)).toContain(`init generation ${to}`);
    }
  });

  it('reports each phase duration and the plugin version per generation', async () => {
    const hot = await hotOpen(P1);
    const r = await hot.reload(P2);
    for (const p of ['loading', 'verifying', 'swap', 'draining', 'finalizing', 'closing'] as const) {
      expect(r.durations[p], p).toBeGreaterThanOrEqual(0);
    }
    const [g1, g2] = hot.generations();
    expect(g1).toMatchObject({ id: 1, state: 'closed', version: 'plugin-1.0.0', unloaded: true, inFlight: 0, leases: 0 });
    expect(g2).toMatchObject({ id: 2, state: 'active', version: 'plugin-2.0.0', path: P2 });
    expect(g2.buildId).toMatch(/^[0-9a-f]{40}$/);
    expect(g2.loadedAt).toBeInstanceOf(Date);
  });
});

describe('worker_threads', () => {
  it('each thread has its own HotLibrary', async () => {
    const script = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { HotLibrary } = require(workerData.dist);
      (async () => {
        const hot = await HotLibrary.open(workerData.p1, { functions: { v: 'int plugin_version(void)' } });
        const seen = [hot.fn.v()];
        for (let i = 0; i < 20; i++) { await hot.reload(i % 2 ? workerData.p1 : workerData.p2); seen.push(hot.fn.v()); }
        await hot.close();
        parentPort.postMessage(seen);
      })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
    const run = () =>
      new Promise<number[]>((resolve, reject) => {
        const w = new Worker(script, { eval: true, workerData: { dist: path.join(root, 'dist', 'index.js'), p1: P1, p2: P2 } });
        w.once('message', (m) => (m?.error ? reject(new Error(m.error)) : resolve(m)));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker exited with ${code} before answering`)));
      });
    const results = await Promise.all([run(), run(), run()]);
    for (const seen of results) expect(seen).toEqual([1, ...Array.from({ length: 20 }, (_, i) => (i % 2 ? 1 : 2))]);
  });
});

describe('close() while an old generation is still draining', () => {
  it('retires it once: drained and unloaded fire once per generation, and no error event', async () => {
    const hot = await hotOpen(P1);
    const events: string[] = [];
    for (const name of ['drained', 'unloaded', 'pinned', 'error']) {
      hot.on(name, (e: { generation?: number; code?: string }) => events.push(`${name}:${e.generation ?? e.code}`));
    }
    const slow = hot.fn.plugin_slow.async(80);
    const r = await hot.reload(P2, { wait: 'swap' });
    expect(hot.generations()[0].state).toBe('draining');
    await hot.close();
    expect(await slow).toBe(1);
    await r.retired;
    expect(r.unloaded).toBe(true);
    expect(events.sort()).toEqual(['drained:1', 'drained:2', 'unloaded:1', 'unloaded:2']);
    expect(hot.generations().map((g) => [g.state, g.unloaded])).toEqual([
      ['closed', true],
      ['closed', true],
    ]);
  });
});

describe('handover with a lease that is never released', () => {
  it("rolls back after drainTimeoutMs by default (handoverTimeout: 'rollback'); calls waiting at the gate run on the old generation", async () => {
    const hot = await hotOpen(P1, { policy: 'handover', drainTimeoutMs: 50 });
    const timeouts: unknown[] = [];
    // Issued inside the handover (the drain-timeout fires there, the gate up): held at the gate.
    let waiting: Promise<number> | undefined;
    hot.on('drain-timeout', (e) => {
      timeouts.push(e);
      waiting ??= hot.fn.plugin_slow.async(1);
    });
    const lease = hot.pin();
    const err = await hot.reload(P2).catch((e) => e);
    expect(err).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_DRAIN_TIMEOUT' });
    expect(err.report.failedPhase).toBe('swap');
    expect(err.message).toMatch(/1 lease\(s\) after 50 ms.*handoverTimeout: 'proceed'/);
    expect(await waiting).toBe(1);
    expect(timeouts).toEqual([expect.objectContaining({ generation: 1, leases: 1, timeoutMs: 50 })]);
    expect(hot.current).toBe(1);
    expect(hot.generations().map((g) => g.state)).toEqual(['active', 'rejected']);
    expect(lease.fn.plugin_version()).toBe(1);
    // Not stuck: once the lease is gone, the next handover goes through.
    lease.release();
    await hot.reload(P2);
    expect(hot.fn.plugin_version()).toBe(2);
  });

  it("handoverTimeout: 'proceed' hands the state over anyway and swaps; the old generation drains afterwards", async () => {
    const hot = await hotOpen(P1, { policy: 'handover', drainTimeoutMs: 50, handoverTimeout: 'proceed' });
    for (let i = 0; i < 3; i++) hot.fn.plugin_counter();
    const lease = hot.pin();
    // The drain-timeout fires inside the handover, with the gate up and the state not yet moved: a
    // call issued right there waits at the gate, then runs on the new generation. (Issued after a
    // fixed sleep instead, it ran on the old one whenever the load outlasted the sleep.)
    let waiting: Promise<number> | undefined;
    hot.once('drain-timeout', (e) => {
      expect(e).toMatchObject({ generation: 1, leases: 1 });
      waiting = hot.fn.plugin_slow.async(1);
    });
    const r = await hot.reload(P2, { wait: 'swap' });
    expect(waiting).toBeDefined();
    expect(await waiting).toBe(2);
    expect(hot.fn.plugin_counter()).toBe(4);
    expect(hot.generations()[0].state).toBe('draining');
    expect(lease.fn.plugin_version()).toBe(1);
    lease.release();
    await r.retired;
    expect(hot.generations()[0]).toMatchObject({ state: 'closed', unloaded: true });
  });
});

describe('handover state transfer that goes wrong', () => {
  // The fixture reads these switches with getenv: only the base namespace sees later changes, so 'local'.
  async function failedHandover(env: string, value: string) {
    const hot = await hotOpen(P1, { isolation: 'local', policy: 'handover' });
    process.env[env] = value;
    try {
      return { hot, err: await hot.reload(P2).catch((e) => e) };
    } finally {
      delete process.env[env];
    }
  }

  it.each([
    ['DLSWAP_FIXTURE_STATE_EXPORT', 'max', /announced 18446744073709551615 bytes of state \(more than 1 GiB\)/],
    ['DLSWAP_FIXTURE_STATE_EXPORT', 'lie', /wrote 8 bytes after announcing 16/],
    ['DLSWAP_FIXTURE_STATE_IMPORT', 'fail', /dlswap_state_import of the new generation returned 5/],
  ])('%s=%s: ERR_DLSWAP_RELOAD caused by ERR_DLSWAP_STATE_TRANSFER, rolled back', async (env, value, message) => {
    const { hot, err } = await failedHandover(env, value);
    expect(err).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_STATE_TRANSFER' });
    expect(err.cause.message).toMatch(message);
    expect(err.report.failedPhase).toBe('swap');
    expect(hot.fn.plugin_version()).toBe(1);
    expect(hot.generations().map((g) => g.state)).toEqual(['active', 'rejected']);
  });
});

describe('listeners that throw', () => {
  it("a 'reload' listener that throws neither fails the reload nor stops the old generation's retirement", () => {
    // In a child: the rethrown error is an uncaught exception there, which vitest would not allow here.
    const r = runChild(
      `(async () => {
        const seen = [];
        process.on('uncaughtException', (e) => seen.push('uncaught ' + e.message));
        const hot = await dlswap.HotLibrary.open(${JSON.stringify(P1)}, { functions: { v: 'int plugin_version(void)' } });
        hot.on('reload', () => { throw new Error('listener bug'); });
        hot.on('unloaded', () => { throw new Error('another bug'); });
        const r = await hot.reload(${JSON.stringify(P2)});
        await new Promise((res) => setImmediate(res));
        console.log(JSON.stringify({ unloaded: r.unloaded, v: hot.fn.v(), states: hot.generations().map((g) => g.state), seen }));
        await hot.close();
      })();`,
      { timeout: 20_000 },
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ unloaded: true, v: 2, states: ['closed', 'active'], seen: ['uncaught listener bug', 'uncaught another bug'] });
  });
});

describe('asDlswapError', () => {
  it('keeps a dlswap error, wraps anything else with a dlswap code and the original as its cause', () => {
    const coded = new DlswapError('ERR_DLSWAP_CLOSED', 'closed');
    expect(asDlswapError(coded, 'ERR_DLSWAP_INTERNAL', 'x')).toBe(coded);
    const raw = Object.assign(new RangeError('The value of "size" is out of range.'), { code: 'ERR_OUT_OF_RANGE' });
    const wrapped = asDlswapError(raw, 'ERR_DLSWAP_LOAD_FAILED', 'cannot load a.so');
    expect(wrapped).toMatchObject({ code: 'ERR_DLSWAP_LOAD_FAILED', message: 'cannot load a.so: The value of "size" is out of range.', cause: raw });
    expect(asDlswapError('a string', 'ERR_DLSWAP_INTERNAL', 'ctx').message).toBe('ctx: a string');
  });
});

describe('a plugin that ends the process from dlswap_init', () => {
  // In-process code cannot be sandboxed (docs/hot-reload.md, "What a plugin can do to the process"):
  // these document the behaviour, each in a child whose end is the verdict.
  const script = (mode: string) => `
    process.on('exit', () => console.log('exit handler ran'));
    (async () => {
      const hot = await dlswap.HotLibrary.open(${JSON.stringify(P1)}, { isolation: 'local', functions: { v: 'int plugin_version(void)' } });
      console.log('serving ' + hot.fn.v());
      // The fixture reads this with getenv when its dlswap_init runs: the next build's init.
      process.env.DLSWAP_FIXTURE_INIT_EXIT = ${JSON.stringify(mode)};
      await hot.reload(${JSON.stringify(P2)}).catch((e) => console.log('caught ' + e.code));
      console.log('still alive');
    })();`;

  it.each([
    ['exit', 42, null],
    ['_exit', 43, null],
  ])('%s() in dlswap_init of a reload ends the process; no JS runs after it, not even process.on("exit")', (mode, status, signal) => {
    const r = runChild(script(mode), { timeout: 20_000 });
    expect(r.stdout).toBe('serving 1\n');
    expect(r.status).toBe(status);
    expect(r.signal).toBe(signal);
  });

  it('abort() in dlswap_init is a fault: contained, the reload fails and the process goes on (docs/faults.md)', () => {
    const r = runChild(script('abort'), { timeout: 20_000 });
    expect(r.stdout).toBe('serving 1\ncaught ERR_DLSWAP_RELOAD\nstill alive\nexit handler ran\n');
    expect(r.status).toBe(0);
  });
});
