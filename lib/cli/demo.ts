/**
 * `npm run demo` / `dlswap demo [--quick] [--json]`: zero-downtime swaps under load.
 *
 * For each isolation mode, the shipped plugin (beside the addon in an installed package,
 * build/fixtures/libplugin_v1.so in a checkout; nothing is built here) is opened in a HotLibrary and kept busy with sync calls, async
 * calls (some slow enough to be caught in the middle of a swap) and leases, while it is swapped
 * v1 -> v2 -> v1 ... Every answer is checked against the version of the generation the call started
 * on. The run ends with a table per mode; the exit code is 1 if any call failed, any reload failed
 * or any generation was not unloaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { HotLibrary, type ReloadReport } from '../hot/hot_library';
import { ISOLATION_MODES, preloadedRuntime, type Isolation } from '../load/isolation';
import { describeLoad, fileSize, loadInProgress, SHOW_AFTER_MS } from './progress';
import { addonDir, packageRoot } from '../native';
import { colors, colorEnabled, commandArgs, table, type Colors } from './format';

const USAGE = `usage: dlswap demo [--quick] [--json]

Swaps the plugin fixture v1 <-> v2 in every isolation mode while sync, async and leased calls run,
and checks every answer. Exit code 1 if any call or reload failed or a generation stayed mapped.

  --quick   a short run (a few seconds)
  --json    print the results as JSON instead of the live status line and table
`;

const FUNCTIONS = {
  handle: 'int handle(const char *req, char *out, size_t cap)',
  plugin_version: 'int plugin_version(void)',
  plugin_slow: 'int plugin_slow(int ms)',
} as const;

type Plugin = HotLibrary<typeof FUNCTIONS>;

interface Plan {
  /** Reloads per mode (fresh-namespace gets fewer, see below). */
  reloads: number;
  freshReloads: number;
  /** Time between two reloads: long enough for the event loop to serve calls between them. */
  spacingMs: number;
  asyncWorkers: number;
  leaseWorkers: number;
}

// glibc does not reclaim a fresh namespace's static TLS in FIFO order: the open-new/close-old
// pattern runs out after about 11 generations with default tunables (docs/isolation.md).
const PLANS: Record<'full' | 'quick', Plan> = {
  full: { reloads: 20, freshReloads: 6, spacingMs: 150, asyncWorkers: 8, leaseWorkers: 2 },
  quick: { reloads: 6, freshReloads: 4, spacingMs: 80, asyncWorkers: 6, leaseWorkers: 1 },
};

const SYNC_BURST = 200;

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export interface ModeResult {
  mode: Isolation;
  reloads: number;
  failedReloads: number;
  calls: number;
  syncCalls: number;
  asyncCalls: number;
  leaseCalls: number;
  /** Calls that threw, rejected, or answered for the wrong generation. */
  failed: number;
  /** The first few failures, for the humans. */
  failures: string[];
  /** From reload() to the new generation serving, ms. */
  reloadMs: Percentiles;
  /** From the swap to the old generation having no call or lease left, ms. */
  drainMs: Percentiles;
  /** The most generations seen draining at the same time. */
  maxDraining: number;
  generations: number;
  unloaded: number;
  allUnloaded: boolean;
  pinned: string[];
  seconds: number;
  error?: string;
}

export interface DemoResult {
  schema: 1;
  node: string;
  quick: boolean;
  modes: ModeResult[];
  failedCalls: number;
  ok: boolean;
}

/**
 * Where the demo's plugin is: the fixtures `npm ci` built in a checkout, else the plugins that come
 * with the addon (beside a prebuild, or built with it from source by the install script).
 */
export function pluginFile(name: string): string | null {
  const candidates = [path.join(packageRoot, 'build', 'fixtures', name), path.join(addonDir(), 'plugins', name)];
  return candidates.find((p) => fs.existsSync(p)) ?? null;
}

function percentiles(xs: number[]): Percentiles {
  if (xs.length === 0) return { p50: 0, p99: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Mostly quick calls; one in five is slow enough that a swap lands while it runs. */
function callMs(): number {
  return Math.random() < 0.2 ? 20 + Math.floor(Math.random() * 31) : 1 + Math.floor(Math.random() * 4);
}

interface Live {
  mode: Isolation;
  hot: Plugin | null;
  version: (generation: number) => number | undefined;
  reloadsDone: number;
  reloadsPlanned: number;
  calls: number;
  inFlight: number;
  failed: number;
}

async function runMode(mode: Isolation, plan: Plan, v1: string, v2: string, live: Live): Promise<ModeResult> {
  const started = performance.now();
  const reloads = mode === 'fresh-namespace' ? plan.freshReloads : plan.reloads;
  const result: ModeResult = {
    mode,
    reloads: 0,
    failedReloads: 0,
    calls: 0,
    syncCalls: 0,
    asyncCalls: 0,
    leaseCalls: 0,
    failed: 0,
    failures: [],
    reloadMs: percentiles([]),
    drainMs: percentiles([]),
    maxDraining: 0,
    generations: 0,
    unloaded: 0,
    allUnloaded: false,
    pinned: [],
    seconds: 0,
  };
  const fail = (what: string) => {
    result.failed++;
    live.failed++;
    if (result.failures.length < 5) result.failures.push(what);
  };

  let hot: Plugin;
  try {
    hot = await HotLibrary.open(v1, { isolation: mode, functions: FUNCTIONS, drainTimeoutMs: 5_000 });
  } catch (e) {
    result.error = `${(e as { code?: string }).code ?? 'error'}: ${(e as Error).message}`;
    result.seconds = (performance.now() - started) / 1000;
    return result;
  }
  // Which plugin version each generation runs: the answer every call on it must give. Recorded in
  // the 'reload' event, which fires in the same synchronous step as the swap, before any call can
  // reach the new generation.
  const versions = new Map<number, number>([[hot.current, 1]]);
  hot.on('reload', (r: ReloadReport) => versions.set(r.to, r.path === v2 ? 2 : 1));
  live.hot = hot;
  live.version = (g) => versions.get(g);
  live.reloadsPlanned = reloads;

  let stop = false;
  const count = (kind: 'syncCalls' | 'asyncCalls' | 'leaseCalls', n = 1) => {
    result[kind] += n;
    result.calls += n;
    live.calls += n;
  };

  // Sync calls run on the JS thread, so a burst never straddles a swap: each burst checks against
  // the generation that was current when it started.
  const syncLoop = new Promise<void>((resolve) => {
    const out = Buffer.alloc(64);
    const cap = BigInt(out.length);
    const reqs = Array.from({ length: 16 }, (_, i) => `req-${i}`);
    const tick = () => {
      if (stop) return resolve();
      const want = versions.get(hot.current);
      for (let i = 0; i < SYNC_BURST; i++) {
        const req = reqs[i & 15];
        try {
          const n = hot.fn.handle(req, out, cap);
          const got = out.toString('latin1', 0, n);
          if (got !== `v${want}:${req}`) fail(`handle('${req}') on generation ${hot.current} returned '${got}', want 'v${want}:${req}'`);
        } catch (e) {
          fail(`handle threw: ${(e as Error).message}`);
        }
      }
      count('syncCalls', SYNC_BURST);
      setImmediate(tick);
    };
    setImmediate(tick);
  });

  const asyncWorker = async () => {
    while (!stop) {
      const gen = hot.current;
      const want = versions.get(gen);
      const ms = callMs();
      live.inFlight++;
      try {
        const got = await hot.fn.plugin_slow.async(ms);
        if (got !== want) fail(`plugin_slow.async(${ms}) started on generation ${gen} returned ${got}, want ${want}`);
      } catch (e) {
        fail(`plugin_slow.async(${ms}) rejected: ${(e as Error).message}`);
      } finally {
        live.inFlight--;
        count('asyncCalls');
      }
    }
  };

  // A lease keeps its generation serving across swaps: sync and slow async calls through it must
  // all answer with the leased generation's version, even after newer generations took over.
  const leaseWorker = async () => {
    while (!stop) {
      let lease: ReturnType<typeof hot.pin>;
      try {
        lease = hot.pin();
      } catch (e) {
        fail(`pin() threw: ${(e as Error).message}`);
        break;
      }
      const want = versions.get(lease.generation);
      live.inFlight++;
      try {
        const before = lease.fn.plugin_version();
        const slow = await lease.fn.plugin_slow.async(20 + Math.floor(Math.random() * 21));
        // Now and then a lease outlives a swap or two, so that several generations drain at once.
        await sleep(Math.random() < 0.2 ? 150 + Math.floor(Math.random() * 100) : Math.floor(Math.random() * 20));
        const after = lease.fn.plugin_version();
        if (before !== want || slow !== want || after !== want) {
          fail(`lease on generation ${lease.generation} answered ${before}/${slow}/${after}, want ${want}`);
        }
      } catch (e) {
        fail(`leased call failed: ${(e as Error).message}`);
      } finally {
        live.inFlight--;
        lease.release();
        count('leaseCalls', 3);
      }
      await sleep(5);
    }
  };

  const workers = [syncLoop, ...Array.from({ length: plan.asyncWorkers }, asyncWorker), ...Array.from({ length: plan.leaseWorkers }, leaseWorker)];

  const sampleDraining = () => {
    const n = hot.generations().filter((g) => g.state === 'draining' || g.state === 'finalizing').length;
    if (n > result.maxDraining) result.maxDraining = n;
  };
  const sampler = setInterval(sampleDraining, 10);

  const reloadMs: number[] = [];
  const drainMs: number[] = [];
  const retirements: Promise<void>[] = [];
  for (let i = 1; i <= reloads; i++) {
    // reload() runs in microtasks: back to back, it would starve the event loop and the calls
    // this demo is about. A timer between reloads lets every kind of call run in between.
    await sleep(plan.spacingMs);
    const t = performance.now();
    try {
      const report = await hot.reload(i % 2 === 1 ? v2 : v1, { wait: 'swap' });
      reloadMs.push(performance.now() - t);
      result.reloads++;
      live.reloadsDone++;
      sampleDraining();
      retirements.push(report.retired.then(() => void drainMs.push(report.durations.draining ?? 0)));
    } catch (e) {
      result.failedReloads++;
      const err = e as Error & { causeCode?: string };
      if (result.failures.length < 5) result.failures.push(`reload ${i} failed (${err.causeCode ?? 'error'}): ${err.message}`);
    }
  }
  await sleep(plan.spacingMs);
  stop = true;
  await Promise.all(workers);
  await Promise.all(retirements);
  clearInterval(sampler);
  await hot.close();
  live.hot = null;

  const gens = hot.generations();
  result.generations = gens.length;
  result.unloaded = gens.filter((g) => g.unloaded === true).length;
  result.allUnloaded = result.unloaded === gens.length;
  result.pinned = gens.filter((g) => g.unloaded !== true).map((g) => `generation ${g.id}: ${g.pinnedReason ?? g.rejectedReason ?? g.state}`);
  result.reloadMs = percentiles(reloadMs);
  result.drainMs = percentiles(drainMs);
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

function fmtMs(n: number): string {
  return n < 10 ? `${n.toFixed(2)} ms` : `${n.toFixed(1)} ms`;
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function fmtRate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

function modeLine(r: ModeResult, c: Colors): string {
  if (r.error) return `${c.bold(r.mode.padEnd(16))}${c.red('could not open the plugin')}: ${r.error}`;
  const failed = r.failed === 0 ? c.green('0 failed') : c.red(`${r.failed} failed`);
  return (
    `${c.bold(r.mode.padEnd(16))}${r.reloads} reloads, ${fmtInt(r.calls)} calls (${fmtRate(r.calls / r.seconds)}/s), ${failed}, ` +
    `${r.unloaded}/${r.generations} generations unloaded (${r.seconds.toFixed(1)} s)`
  );
}

export function formatTable(results: ModeResult[], c: Colors): string {
  const rows = results.map((r) => {
    if (r.error) return [r.mode, '-', '-', c.red('error'), '-', '-', '-', '-', '-', c.red('no')];
    return [
      r.mode,
      r.failedReloads ? c.red(`${r.reloads} (+${r.failedReloads} failed)`) : String(r.reloads),
      fmtInt(r.calls),
      r.failed === 0 ? c.green('0') : c.red(String(r.failed)),
      fmtMs(r.reloadMs.p50),
      fmtMs(r.reloadMs.p99),
      fmtMs(r.drainMs.p50),
      fmtMs(r.drainMs.max),
      String(r.maxDraining),
      r.allUnloaded ? c.green(`yes (${r.unloaded}/${r.generations})`) : c.red(`NO (${r.unloaded}/${r.generations})`),
    ];
  });
  return table(rows, {
    header: ['mode', 'reloads', 'calls', 'failed', 'reload p50', 'reload p99', 'drain p50', 'drain max', 'max draining', 'all unloaded'].map((h) => c.dim(h)),
  });
}

export async function runDemo(argv: string[], out: NodeJS.WritableStream, isTTY = false, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const args = commandArgs('demo', USAGE, argv, { quick: { type: 'boolean' }, json: { type: 'boolean' } }, 0, out, err);
  if (typeof args === 'number') return args;
  const quick = args.values.quick === true;
  const json = args.values.json === true;
  const v1 = pluginFile('libplugin_v1.so');
  const v2 = pluginFile('libplugin_v2.so');
  if (!v1 || !v2) {
    err.write(
      `dlswap demo: the demo's plugin (libplugin_v1.so, libplugin_v2.so) is neither beside the addon (${path.join(addonDir(), 'plugins')}) nor in build/fixtures. ` +
        'An installed package has it in its prebuild, or builds it with the addon (npm rebuild dlswap --build-from-source); in a checkout, `npm ci` builds it.\n',
    );
    return 1;
  }
  const plan = PLANS[quick ? 'quick' : 'full'];
  const c = colors(!json && colorEnabled(isTTY, process.env, out));
  const showStatus = isTTY && !json;

  if (!json) {
    out.write(
      `${c.bold('dlswap demo')}: the plugin fixture swapped v1 <-> v2 under load, in each isolation mode.\n` +
        c.dim(
          `Sync calls, async calls (1-4 ms, one in five 20-50 ms) and leases run non-stop; every answer is\n` +
            `checked against the generation the call started on. ${plan.reloads} reloads per mode (${plan.freshReloads} in fresh-namespace).\n\n`,
        ),
    );
  }

  const results: ModeResult[] = [];
  // deepbind cannot run under a preloaded sanitizer or allocator (open() refuses it): leave it out.
  for (const mode of ISOLATION_MODES.filter((m) => m !== 'deepbind' || !preloadedRuntime())) {
    const live: Live = { mode, hot: null, version: () => undefined, reloadsDone: 0, reloadsPlanned: 0, calls: 0, inFlight: 0, failed: 0 };
    let lastCalls = 0;
    let lastT = performance.now();
    const modeStart = lastT;
    const status = setInterval(() => {
      const now = performance.now();
      const rate = ((live.calls - lastCalls) * 1000) / Math.max(1, now - lastT);
      lastCalls = live.calls;
      lastT = now;
      const hot = live.hot;
      if (!hot) {
        // Opening the first generation: the loader thread works, the event loop redraws.
        const elapsedMs = performance.now() - modeStart;
        if (elapsedMs >= SHOW_AFTER_MS) out.write(`\r\x1b[2K${c.bold(mode.padEnd(16))}${c.dim(describeLoad({ path: v1, bytes: fileSize(v1), elapsedMs }))}`);
        return;
      }
      const gens = hot.generations();
      const load = loadInProgress(gens, Date.now());
      const loading = load && load.elapsedMs >= SHOW_AFTER_MS ? `  ${c.dim(describeLoad(load))}` : '';
      const draining = gens.filter((g) => g.state === 'draining' || g.state === 'finalizing').length;
      const gen = hot.current;
      const failed = live.failed === 0 ? c.green('0') : c.red(String(live.failed));
      out.write(
        `\r\x1b[2K${c.bold(mode.padEnd(16))}generation ${String(gen).padStart(2)} (v${live.version(gen) ?? '?'})  ` +
          `reloads ${live.reloadsDone}/${live.reloadsPlanned}  ${fmtRate(rate).padStart(6)} calls/s  ` +
          `in flight ${String(live.inFlight).padStart(2)}  draining ${draining}  failed ${failed}${loading}`,
      );
    }, 100);
    if (!showStatus) clearInterval(status);
    let r: ModeResult;
    try {
      r = await runMode(mode, plan, v1, v2, live);
    } finally {
      clearInterval(status);
    }
    results.push(r);
    if (!json) out.write(`${showStatus ? '\r\x1b[2K' : ''}${modeLine(r, c)}\n`);
  }

  const failedCalls = results.reduce((n, r) => n + r.failed, 0);
  const ok = results.every((r) => !r.error && r.failed === 0 && r.failedReloads === 0 && r.allUnloaded);
  if (json) {
    const report: DemoResult = { schema: 1, node: process.version, quick, modes: results, failedCalls, ok };
    out.write(`${JSON.stringify(report, null, 2)}\n`);
    return ok ? 0 : 1;
  }

  out.write(`\n${formatTable(results, c)}\n\n`);
  for (const r of results) {
    for (const f of r.failures) out.write(c.red(`  ${r.mode}: ${f}\n`));
    for (const p of r.pinned) out.write(c.red(`  ${r.mode}: not unloaded: ${p}\n`));
  }
  const totalCalls = results.reduce((n, r) => n + r.calls, 0);
  const totalReloads = results.reduce((n, r) => n + r.reloads, 0);
  out.write(
    ok
      ? `${c.green(c.bold('zero failed calls'))}: ${fmtInt(totalCalls)} calls across ${totalReloads} reloads; every old generation drained and was unloaded.\n`
      : `${c.red(c.bold('FAILED'))}: ${failedCalls} failed calls; see above.\n`,
  );
  return ok ? 0 : 1;
}
