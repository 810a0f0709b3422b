#!/usr/bin/env node
// Hot-reload benchmark, all measured side by side in one process:
//   1. hot.fn call cost against a plain lib.func of the same symbol (target ratio <= 1.05);
//   2. reload latency p50/p99 per isolation mode for a small plugin (whole reload, and up to the swap);
//   3. async call throughput during continuous reloads against the same load without reloads, with
//      controls that load the same library without dlswap;
//   4. reload latency of a library with a two-library private closure (fixtures-c/seed001: each
//      generation copies and renames libhelper.so.1 and libinner.so.1) against the dependency-free
//      plugin, interleaved (target ratio <= 2);
//   5. what a private dependency linked -z nodelete costs per reload: every generation's copy of it
//      stays mapped (fixtures-c/closure/nd_*.c);
//   6. (first) a namespace-mode reload against the C floor, the same physical work in C
//      (bench/floor/reload_floor.c, compiled now with the system's cc), interleaved, with the
//      breakdown of a dlswap reload per step (the loader jobs' own timings).
//
//   node bench/reload.mjs [--json] [--reloads N] [--rounds N] [--cycles N] [--call-ms MS]
//                         [--floor-reloads N] [--only floor,calls,latency,throughput,closure,nodelete]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, fixture, json, loadDlswap, log, median, option, percentile as pct, require, root } from './common.mjs';

const RELOADS = option('--reloads', 300);
// Many short interleaved rounds: the two contenders are the same native function, so what the
// ratio measures beyond 1.0 is drift of the machine, which short alternating samples cancel best.
const ROUNDS = option('--rounds', 21);
const INTERVAL_MS = option('--interval', 10);
const IN_FLIGHT = option('--in-flight', 64);

const { open, HotLibrary } = loadDlswap();
const { addon } = require(join(root, 'dist', 'native.js'));
const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;
const wanted = (section) => !ONLY || ONLY.includes(section);
const scratch = mkdtempSync(join(tmpdir(), 'dlswap-bench-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// ---- the C floor (bench/floor/reload_floor.c), built now with the system's compiler ------------
function buildFloor() {
  const source = join(root, 'bench', 'floor', 'reload_floor.c');
  const cc = (argv) => {
    const r = spawnSync(process.env.CC || 'cc', argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench: cannot compile the C floor (${process.env.CC || 'cc'} ${argv.join(' ')}): ${r.stderr || r.error}`);
  };
  const program = join(scratch, 'reload_floor');
  const library = join(scratch, 'libreload_floor.so');
  cc(['-O2', '-DRELOAD_FLOOR_MAIN', '-o', program, source, '-ldl']);
  cc(['-O2', '-shared', '-fPIC', '-o', library, source, '-ldl']);
  return { program, library };
}
const FLOOR = buildFloor();

/** The floor program, kept running: `reloads(n)` does n reloads there and gives their times (ms). */
function startFloor() {
  const dir = mkdtempSync(join(scratch, 'floor-'));
  const child = spawn(FLOOR.program, [P1, P2, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  let buffered = '';
  let waiting = null;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buffered += d;
    const nl = buffered.indexOf('\n');
    if (nl < 0 || !waiting) return;
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    const w = waiting;
    waiting = null;
    const v = line.trim().split(' ').map(Number);
    const out = { toSwap: [], whole: [] };
    for (let i = 0; i + 1 < v.length; i += 2) {
      out.toSwap.push(v[i] / 1000);
      out.whole.push(v[i + 1] / 1000);
    }
    w.resolve(out);
  });
  child.once('exit', (code) => waiting?.reject(new Error(`the C floor exited (${code})`)));
  return {
    reloads: (n) =>
      new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        child.stdin.write(`${n}\n`);
      }),
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.stdin.end();
      }),
  };
}

// ---- 6. a reload against the C floor, and its breakdown --------------------------------------
// One dlswap reload, timed from reload() to the swap and to report.retired, and split into what the
// JS thread did, the trips to the loader thread and back, and each native step of the two jobs.
async function dlswapReload(hot, i, into) {
  const t0 = nowMs();
  const r = await hot.reload(i % 2 ? P1 : P2, { wait: 'swap' });
  const tSwap = nowMs();
  await r.retired;
  const tEnd = nowMs();
  into.toSwap.push(tSwap - t0);
  into.whole.push(tEnd - t0);
  if (hot.fn.v() !== (i % 2 ? 1 : 2)) throw new Error(`floor: wrong generation serving after reload ${i}`);
  const jobs = addon.jobTimings();
  const load = jobs.findLast((j) => j.kind === 'loading');
  const retire = jobs.findLast((j) => j.kind === 'fini');
  if (!load || !retire) return;
  const parts = [
    ['JS: reload() to the load job queued', load.queuedAt - t0],
    ['trip to the loader thread (load)', load.startedAt - load.queuedAt],
    ...load.steps.map(([name, ms]) => [`  load: ${name}`, ms]),
    ['JS: load job answered to swapped (trip back, adopt, table, swap)', tSwap - load.endedAt],
    ['JS: swapped to the retire job queued (drain)', retire.queuedAt - tSwap],
    ['trip to the loader thread (retire)', retire.startedAt - retire.queuedAt],
    ...retire.steps.map(([name, ms]) => [`  retire: ${name}`, ms]),
    ['JS: retire job answered to report.retired (trip back, close result)', tEnd - retire.endedAt],
  ];
  for (const [name, ms] of parts) {
    into.parts[name] ??= [];
    into.parts[name].push(ms);
  }
}

async function againstFloor(rounds, perRound) {
  const floor = startFloor();
  const hot = await HotLibrary.open(P1, { isolation: 'namespace', functions: { v: 'int plugin_version(void)' } });
  addon.jobTimings(true);
  const d = { toSwap: [], whole: [], parts: {} };
  const c = { toSwap: [], whole: [] };
  try {
    for (let i = 0; i < 20; i++) await dlswapReload(hot, i, { toSwap: [], whole: [], parts: {} }); // warm up
    await floor.reloads(20);
    let n = 0;
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first: drift of the machine falls on both.
      for (const which of round % 2 ? ['floor', 'dlswap'] : ['dlswap', 'floor']) {
        if (which === 'floor') {
          const f = await floor.reloads(perRound);
          c.toSwap.push(...f.toSwap);
          c.whole.push(...f.whole);
          continue;
        }
        for (let i = 0; i < perRound; i++, n++) {
          await dlswapReload(hot, n, d);
          await tick();
        }
      }
    }
  } finally {
    addon.jobTimings(false);
    await hot.close();
    await floor.stop();
  }
  const p50 = (xs) => pct(xs, 50);
  return {
    reloads: d.whole.length,
    floorP50Ms: p50(c.whole),
    floorSwapP50Ms: p50(c.toSwap),
    dlswapP50Ms: p50(d.whole),
    dlswapSwapP50Ms: p50(d.toSwap),
    wholeRatio: p50(d.whole) / p50(c.whole),
    swapRatio: p50(d.toSwap) / p50(c.toSwap),
    targets: { whole: 3, swap: 2 },
    breakdown: Object.entries(d.parts).map(([step, xs]) => ({ step, p50Ms: p50(xs), meanMs: xs.reduce((a, b) => a + b, 0) / xs.length, n: xs.length })),
    dlswapMeanMs: d.whole.reduce((a, b) => a + b, 0) / d.whole.length,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

// ---- 1. hot.fn against lib.func -------------------------------------------------------------
// Each contender gets a loop of its own source text: V8 shares one compiled function among identical
// `new Function` sources, and its optimized code then favours whichever target it saw first.
function makeLoop(name) {
  return new Function('f', 'n', `// ${name}\nlet s = 0; for (let i = 0; i < n; i++) s += f(); return s;`);
}
async function callCost() {
  const hot = await HotLibrary.open(P1, { isolation: 'namespace', functions: { v: 'int plugin_version(void)' } });
  const lib = open(P1, { isolation: 'namespace' });
  const plain = lib.func('int plugin_version(void)');
  const contenders = { 'lib.func': [plain, makeLoop('lib.func')], 'hot.fn': [hot.fn.v, makeLoop('hot.fn')] };
  const N = 1_000_000;
  for (const [f, loop] of Object.values(contenders)) loop(f, N / 4); // warm up
  const samples = { 'lib.func': [], 'hot.fn': [] };
  for (let r = 0; r < ROUNDS; r++) {
    const names = r % 2 ? ['hot.fn', 'lib.func'] : ['lib.func', 'hot.fn'];
    for (const name of names) {
      const [f, loop] = contenders[name];
      const t = process.hrtime.bigint();
      loop(f, N);
      samples[name].push(Number(process.hrtime.bigint() - t) / N);
    }
  }
  await hot.close();
  await lib.close();
  const a = median(samples['lib.func']);
  const b = median(samples['hot.fn']);
  return { libFuncNs: a, hotFnNs: b, ratio: b / a, target: 1.05 };
}

// ---- 2. reload latency per mode -------------------------------------------------------------
async function reloadLatency(mode, reloads) {
  const hot = await HotLibrary.open(P1, { isolation: mode, functions: { v: 'int plugin_version(void)' } });
  const whole = [];
  const toSwap = [];
  const handoff = [];
  for (let i = 0; i < reloads; i++) {
    // Wall time from reload() to the new generation serving, then to the old one closed. What the
    // phases themselves took (report.durations) leaves out the two trips between the JS thread and
    // the loader thread (the load job and the retire job) and the JS steps between phases: `handoff`
    // is the difference.
    const t = performance.now();
    const r = await hot.reload(i % 2 ? P1 : P2, { wait: 'swap' });
    const swapped = performance.now() - t;
    await r.retired;
    whole.push(performance.now() - t);
    toSwap.push(swapped);
    const phases = Object.values(r.durations).reduce((a, b) => a + b, 0);
    handoff.push(performance.now() - t - phases);
    if (hot.fn.v() !== (i % 2 ? 1 : 2)) throw new Error(`${mode}: wrong generation serving after reload ${i}`);
    await tick();
  }
  const unloaded = hot
    .generations()
    .slice(0, -1)
    .every((g) => g.unloaded === true);
  await hot.close();
  return {
    mode,
    reloads,
    p50Ms: pct(whole, 50),
    p99Ms: pct(whole, 99),
    swapP50Ms: pct(toSwap, 50),
    swapP99Ms: pct(toSwap, 99),
    handoffP50Ms: pct(handoff, 50),
    allUnloaded: unloaded,
  };
}

// ---- 3. throughput during reloads ------------------------------------------------------------
// One async load runs throughout: IN_FLIGHT calls of plugin_slow(0) in flight on a namespace
// HotLibrary. Time is cut into windows; every other window is quiet (the load alone), and between
// the quiet ones run, in turn:
//   reload     hot.reload() every INTERVAL_MS (what the target is about);
//   C floor    a control without dlswap, on a thread of its own at the same cadence: one reload of
//              the C floor (bench/floor/reload_floor.c: a fresh copy with sendfile, dlmopen into one
//              anchor namespace, dlsym, a call, unlink, dlclose of the previous copy), the same
//              physical work as a reload;
//   load       the same control without the copy: dlopen and dlclose of the one file;
//   nothing    a window like the quiet ones: what the method reads when nothing happens.
// Each window's rate is divided by the mean of the two quiet windows around it, and the median of
// those ratios is printed per kind: the machine's throughput drifts by tens of percent from one
// second to the next, and a window shares most of that drift with its neighbours.
const WINDOW_MS = option('--window', 250);
const CYCLES = option('--cycles', 10);
const KINDS = ['reload', 'C floor', 'load', 'nothing'];
// How long each call sleeps in the library (plugin_slow(ms)): 0 measures the call machinery alone.
const CALL_MS = option('--call-ms', 0);

async function throughput() {
  const { Worker } = await import('node:worker_threads');
  const dir = mkdtempSync(join(scratch, 'control-'));
  // The controls' thread: the kind to run (index into KINDS, -1 for none) in a shared cell.
  const cell = new Int32Array(new SharedArrayBuffer(4));
  cell[0] = -1;
  const control = new Worker(
    `const { workerData: { cell, dist, lib, floorLib, plugin, plugin2, dir, interval } } = require('node:worker_threads');
     const { open } = require(dist);
     const l = open(lib, { isolation: 'local' });
     const f = open(floorLib, { isolation: 'local' });
     const load = l.func('int load_cycle(const char *path)');
     const floorCycle = f.func('int floor_cycle(const char *lib1, const char *lib2, const char *dir)');
     const tick = () => {
       const k = Atomics.load(cell, 0);
       if (k === -2) return Promise.all([l.close(), f.close()]);
       const rc = k === 1 ? floorCycle(plugin, plugin2, dir) : k === 2 ? load(plugin) : 0;
       if (rc !== 0) throw new Error('load_cycle control failed: ' + rc);
       setTimeout(tick, interval);
     };
     tick();`,
    {
      eval: true,
      workerData: {
        cell,
        dist: join(root, 'dist', 'index.js'),
        lib: fixture('libload_cycle.so'),
        floorLib: FLOOR.library,
        plugin: P1,
        plugin2: P2,
        dir,
        interval: INTERVAL_MS,
      },
    },
  );
  const controlFailed = new Promise((_, reject) => control.once('error', reject));
  const hot = await HotLibrary.open(P1, { isolation: 'namespace', functions: { slow: 'int plugin_slow(int ms)' } });
  let stop = false;
  let calls = 0;
  let failures = 0;
  let reloads = 0;
  const caller = async () => {
    while (!stop) {
      try {
        const v = await hot.fn.slow.async(CALL_MS);
        if (v !== 1 && v !== 2) failures++;
        calls++;
      } catch {
        failures++;
      }
    }
  };
  const callers = Array.from({ length: IN_FLIGHT }, caller);
  const window = async (kind) => {
    cell[0] = kind === 'C floor' ? 1 : kind === 'load' ? 2 : -1;
    const c0 = calls;
    const t0 = performance.now();
    while (performance.now() - t0 < WINDOW_MS) {
      if (kind === 'reload') {
        await hot.reload(reloads % 2 ? P1 : P2, { wait: 'swap' });
        reloads++;
      }
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
    }
    return ((calls - c0) / (performance.now() - t0)) * 1000;
  };
  try {
    await Promise.race([window('quiet'), controlFailed]); // warm up
    const ratios = Object.fromEntries(KINDS.map((k) => [k, []]));
    const quiet = [];
    let before = await window('quiet');
    quiet.push(before);
    for (let c = 0; c < CYCLES; c++) {
      // Each cycle in another order, so that no kind always follows the same one.
      const order = KINDS.map((_, i) => KINDS[(i + c) % KINDS.length]);
      for (const kind of order) {
        const rate = await Promise.race([window(kind), controlFailed]);
        const after = await window('quiet');
        quiet.push(after);
        ratios[kind].push(rate / ((before + after) / 2));
        before = after;
      }
    }
    return { ratios: Object.fromEntries(KINDS.map((k) => [k, median(ratios[k])])), quietCallsPerSec: median(quiet), reloads, failures };
  } finally {
    stop = true;
    await Promise.all(callers);
    cell[0] = -2;
    await new Promise((r) => control.once('exit', r));
    await hot.close();
  }
}

// ---- 4. reload latency with a private closure ------------------------------------------------
const S1 = fixture('seed001/v1/libmyservice.so');
const S2 = fixture('seed001/v2/libmyservice.so');
async function closureLatency(rounds, perRound) {
  const plugin = await HotLibrary.open(P1, { isolation: 'namespace', functions: { v: 'int plugin_version(void)' } });
  const service = await HotLibrary.open(S1, { isolation: 'namespace', functions: { v: 'int service_answer(void)' } });
  const samples = { plugin: { whole: [], toSwap: [] }, closure: { whole: [], toSwap: [] } };
  const one = async (hot, a, b, i, into) => {
    const t = performance.now();
    const r = await hot.reload(i % 2 ? a : b);
    into.whole.push(performance.now() - t);
    into.toSwap.push((r.durations.loading ?? 0) + (r.durations.verifying ?? 0) + (r.durations.swap ?? 0));
    await tick();
  };
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first: drift of the machine falls on both.
    const order = round % 2 ? ['closure', 'plugin'] : ['plugin', 'closure'];
    for (const which of order) {
      for (let i = 0; i < perRound; i++, n++) {
        if (which === 'plugin') await one(plugin, P1, P2, n, samples.plugin);
        else await one(service, S1, S2, n, samples.closure);
      }
    }
  }
  const answer = service.fn.v();
  if (answer !== 1232323 && answer !== 1242424) throw new Error(`closure: wrong answer ${answer}`);
  const unloaded = [plugin, service].every((h) =>
    h
      .generations()
      .slice(0, -1)
      .every((g) => g.unloaded === true),
  );
  await plugin.close();
  await service.close();
  const p50 = (k, what) => pct(samples[k][what], 50);
  return {
    reloads: samples.plugin.whole.length,
    pluginP50Ms: p50('plugin', 'whole'),
    closureP50Ms: p50('closure', 'whole'),
    ratio: p50('closure', 'whole') / p50('plugin', 'whole'),
    pluginSwapP50Ms: p50('plugin', 'toSwap'),
    closureSwapP50Ms: p50('closure', 'toSwap'),
    swapRatio: p50('closure', 'toSwap') / p50('plugin', 'toSwap'),
    target: 2,
    allUnloaded: unloaded,
  };
}

// ---- 5. a NODELETE private dependency --------------------------------------------------------
async function nodeleteCost(reloads) {
  const { readFileSync, statSync } = await import('node:fs');
  const rss = () => Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
  const maps = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).length;
  const A = fixture('closure_v1/libnd_user.so');
  const B = fixture('closure_v2/libnd_user.so');
  const hot = await HotLibrary.open(A, { isolation: 'namespace', functions: { v: 'int nd_value(void)' } });
  for (let i = 0; i < 20; i++) await hot.reload(i % 2 ? A : B); // warm: heaps and tables at their size
  const m0 = maps();
  const r0 = rss();
  let kept = 0;
  for (let i = 0; i < reloads; i++) {
    const r = await hot.reload(i % 2 ? A : B);
    kept += (r.dependencies ?? []).filter((d) => !d.unloaded).length;
  }
  const out = {
    reloads,
    depKept: kept,
    mappingsPerReload: (maps() - m0) / reloads,
    rssKiBPerReload: (rss() - r0) / reloads / 1024,
    depFileKiB: statSync(fixture('closure_v1/libnd.so.1')).size / 1024,
  };
  await hot.close();
  return out;
}

const FLOOR_RELOADS = option('--floor-reloads', 400);
const result = { floor: null, callCost: null, latency: [], throughput: null, closure: null, nodelete: null };
let ok = true;

if (wanted('floor')) {
  const per = 40;
  result.floor = await againstFloor(Math.max(2, Math.round(FLOOR_RELOADS / per)), per);
  const f = result.floor;
  log(`namespace-mode reload of the tiny plugin against the C floor (bench/floor/reload_floor.c: copy with sendfile,`);
  log(`dlmopen into one anchor namespace, dlsym, a call, unlink, dlclose of the previous copy), ${f.reloads} reloads each, interleaved`);
  log(`  whole reload p50:   C floor ${f.floorP50Ms.toFixed(3)} ms   dlswap ${f.dlswapP50Ms.toFixed(3)} ms   ratio ${f.wholeRatio.toFixed(2)} (target <= 3)`);
  log(
    `  up to the swap p50: C floor ${f.floorSwapP50Ms.toFixed(3)} ms   dlswap ${f.dlswapSwapP50Ms.toFixed(3)} ms   ratio ${f.swapRatio.toFixed(2)} (target <= 2)`,
  );
  log(`  a dlswap reload, step by step (ms; the loader jobs' own timings; the means add up to the mean reload):`);
  log(`    ${'step'.padEnd(68)} ${'p50'.padStart(7)} ${'mean'.padStart(7)}`);
  for (const b of f.breakdown) log(`    ${b.step.padEnd(68)} ${b.p50Ms.toFixed(3).padStart(7)} ${b.meanMs.toFixed(3).padStart(7)}`);
  log(
    `    ${'sum'.padEnd(68)} ${f.breakdown
      .reduce((a, b) => a + b.p50Ms, 0)
      .toFixed(3)
      .padStart(7)} ${f.breakdown
      .reduce((a, b) => a + b.meanMs, 0)
      .toFixed(3)
      .padStart(7)}   (whole reload mean ${f.dlswapMeanMs.toFixed(3)})`,
  );
}

if (wanted('calls')) {
  result.callCost = await callCost();
  log('\nhot.fn vs lib.func (int plugin_version(void), namespace mode, median of', ROUNDS, 'rounds)');
  log(
    `  lib.func ${result.callCost.libFuncNs.toFixed(1)} ns   hot.fn ${result.callCost.hotFnNs.toFixed(1)} ns   ratio ${result.callCost.ratio.toFixed(3)} (target <= 1.05)`,
  );
}

if (wanted('latency')) {
  for (const mode of ['local', 'deepbind', 'namespace', 'fresh-namespace']) {
    // fresh-namespace: one new namespace per generation, and glibc does not reclaim static TLS in
    // FIFO order, so the open-new/close-old pattern only lasts ~11 generations with default tunables.
    result.latency.push(await reloadLatency(mode, mode === 'fresh-namespace' ? Math.min(RELOADS, 8) : RELOADS));
  }
  log('\nreload latency, wall time (whole reload: load, verify, swap, drain, fini, dlclose; and up to the swap);');
  log('between phases: the whole reload minus the sum of its phases (the trips to the loader thread and back, and the JS steps between phases)');
  log('  mode              reloads   p50 ms   p99 ms   swap p50   swap p99   between p50   all unloaded');
  for (const l of result.latency) {
    log(
      `  ${l.mode.padEnd(16)}  ${String(l.reloads).padStart(7)}  ${l.p50Ms.toFixed(3).padStart(7)}  ${l.p99Ms.toFixed(3).padStart(7)}  ${l.swapP50Ms.toFixed(3).padStart(9)}  ${l.swapP99Ms.toFixed(3).padStart(9)}  ${l.handoffP50Ms.toFixed(3).padStart(12)}   ${l.allUnloaded}`,
    );
  }
  ok = ok && result.latency.every((l) => l.allUnloaded);
}

if (wanted('throughput')) {
  const tp = await throughput();
  result.throughput = {
    inFlight: IN_FLIGHT,
    intervalMs: INTERVAL_MS,
    windowMs: WINDOW_MS,
    cycles: CYCLES,
    ...tp,
    againstFloor: tp.ratios.reload / tp.ratios['C floor'],
    target: 0.95,
  };
  log(`\nasync throughput, ${IN_FLIGHT} in flight (plugin_slow(${CALL_MS})), namespace mode, against the quiet windows around each ${WINDOW_MS} ms window`);
  log(`(median of ${CYCLES} windows each; quiet: ${Math.round(tp.quietCallsPerSec)} calls/s)`);
  log(`  a reload every ${INTERVAL_MS} ms                        ${tp.ratios.reload.toFixed(3)}  (${tp.reloads} reloads, failed calls ${tp.failures})`);
  log(`  control, no dlswap: the C floor's reload       ${tp.ratios['C floor'].toFixed(3)}  (a thread of its own, every ${INTERVAL_MS} ms)`);
  log(`  control, no dlswap: load and close one file     ${tp.ratios.load.toFixed(3)}`);
  log(`  nothing (the method's noise)                    ${tp.ratios.nothing.toFixed(3)}`);
  log(`  reloads against the C floor                     ${result.throughput.againstFloor.toFixed(3)}  (target >= 0.95)`);
  ok = ok && tp.failures === 0;
}

if (wanted('closure')) {
  result.closure = await closureLatency(10, Math.max(10, Math.round(RELOADS / 10)));
  const c = result.closure;
  log(`\nreload latency with a private closure (seed001: libhelper.so.1 + libinner.so.1 copied and renamed per generation)`);
  log(`against the dependency-free plugin, namespace mode, ${c.reloads} reloads each, interleaved`);
  log(`  whole reload p50: plugin ${c.pluginP50Ms.toFixed(3)} ms   closure ${c.closureP50Ms.toFixed(3)} ms   ratio ${c.ratio.toFixed(2)} (target <= 2)`);
  log(
    `  up to the swap p50: plugin ${c.pluginSwapP50Ms.toFixed(3)} ms   closure ${c.closureSwapP50Ms.toFixed(3)} ms   ratio ${c.swapRatio.toFixed(2)}   all unloaded ${c.allUnloaded}`,
  );
  ok = ok && c.allUnloaded;
}

if (wanted('nodelete')) {
  result.nodelete = await nodeleteCost(200);
  const nd = result.nodelete;
  log(
    `\na private dependency linked -z nodelete (libnd.so.1, ${nd.depFileKiB.toFixed(0)} KiB), ${nd.reloads} reloads: its copy stays mapped each time (${nd.depKept} kept)`,
  );
  log(
    `  per reload: ${nd.mappingsPerReload.toFixed(1)} mappings, ${nd.rssKiBPerReload.toFixed(0)} KiB RSS, and the copy's blocks in the private area while mapped`,
  );
}
if (json) console.log(JSON.stringify(result, null, 2));
process.exitCode = ok ? 0 : 1;
