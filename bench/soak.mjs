#!/usr/bin/env node
// Soak: thousands of hot reloads under continuous async load, watching for anything that grows.
//
//   node bench/soak.mjs                       10,000 reloads in namespace, 1,000 in local and deepbind
//   node bench/soak.mjs --reloads N           N reloads in every mode given (default per mode above)
//   node bench/soak.mjs --mode namespace      one mode (repeatable: --mode local --mode deepbind)
//   node bench/soak.mjs --json                one JSON object on stdout instead of the table
//   --workers N                               async callers kept busy during the reloads (default 8)
//   --samples N                               how many times RSS / mappings / fds are sampled (default 40)
//   --warmup N                                unmeasured reloads before each mode's run (default 2000)
//
// A call fails if it rejects, or if its result is not the version of the generation that was
// current when it was issued (a call that ran on a closed or wrong generation). Every mode must
// finish with zero failures, and the least-squares slope of each resource per 1,000 reloads must
// stay under its threshold (docs/reliability.md explains the numbers). Exit code 1 otherwise.
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { args, json, loadDlswap, log, option, require, root } from './common.mjs';

const modesGiven = args.flatMap((a, i) => (a === '--mode' && args[i + 1] ? [args[i + 1]] : []));
const RELOADS = option('--reloads', NaN);
const WORKERS = option('--workers', 8);
const SAMPLES = option('--samples', 40);
// V8 sizes its heap to the allocation rate during the first ~1,500 reloads (heapTotal 7 -> ~40 MB,
// one mapping per heap page), and malloc's arenas settle: growth that is not a leak and would
// dominate a 1,000-reload fit. The warm-up reloads run under the same load and are not measured.
const WARMUP = option('--warmup', 2000);
const DEFAULT_PLAN = { namespace: 10_000, local: 1_000, deepbind: 1_000 };

// Per 1,000 reloads, fitted over the measured reloads. A leaked image is >= 5 mappings per reload
// (5,000 per 1k), a leaked fd 1,000 per 1k, a leaked KiB per reload ~1 MiB per 1k. The margins
// above zero absorb V8's heap pages coming and going (tens of mappings, a few MiB, either way).
export const THRESHOLDS = {
  rssAnonMiBPer1k: 2,
  heapUsedMiBPer1k: 1,
  mappingsPer1k: 10,
  fdsPer1k: 0.5,
};

const { HotLibrary } = loadDlswap();
// Private copies: a rebuild of the fixtures during a long soak must not pull files from under it.
const work = fs.mkdtempSync(join(os.tmpdir(), 'dlswap-soak-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const P1 = join(work, 'libplugin_v1.so');
const P2 = join(work, 'libplugin_v2.so');
fs.copyFileSync(join(root, 'build', 'fixtures', 'libplugin_v1.so'), P1);
fs.copyFileSync(join(root, 'build', 'fixtures', 'libplugin_v2.so'), P2);
const versionOf = (p) => (p === P1 ? 1 : 2);

// A full GC before each sample keeps garbage that is merely not collected yet out of the RSS curve.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const tick = () => new Promise((r) => setImmediate(r));

function statusKiB(status, key) {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : NaN;
}

function sample(privateDir) {
  gc();
  const maps = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean);
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return {
    rssMiB: statusKiB(status, 'VmRSS') / 1024,
    // Anonymous memory only: what a leak grows. RSS also counts pages of node's 100 MB executable
    // as code paths first run, which is bounded and not a leak.
    rssAnonMiB: statusKiB(status, 'RssAnon') / 1024,
    heapUsedMiB: process.memoryUsage().heapUsed / 2 ** 20,
    mappings: maps.length,
    privateMappings: privateDir ? maps.filter((l) => l.includes(privateDir)).length : 0,
    fds: fs.readdirSync('/proc/self/fd').length,
  };
}

/** Least-squares slope of y over x. */
export function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function soak(mode, reloads) {
  const hot = await HotLibrary.open(P1, {
    isolation: mode,
    functions: { plugin_slow: 'int plugin_slow(int ms)', plugin_version: 'int plugin_version(void)' },
  });
  // Which version each generation serves, recorded synchronously at the swap (the 'reload' event
  // fires in the same synchronous step), so a call issued right after a swap is checked correctly.
  const versionOfGen = new Map([[hot.current, 1]]);
  // Calls in flight per generation they were issued on: an entry is dropped only once its
  // generation is 100 reloads old and no call issued on it is still out, so the soak's own
  // bookkeeping stays bounded (it would show up as growth) whatever the calls' latency (on a loaded
  // machine one can span more than 100 fast reloads). A missing entry still counts as a failure.
  const outstanding = new Map();
  const forget = (gen) => {
    if (gen < hot.current - 100 && !outstanding.get(gen)) versionOfGen.delete(gen);
  };
  hot.on('reload', (r) => {
    versionOfGen.set(r.to, versionOf(r.path));
    forget(r.to - 101);
  });
  const { privateDir } = require(join(root, 'dist', 'load', 'temp_area.js'));
  const dir = privateDir();

  let stop = false;
  let calls = 0;
  const failures = [];
  const fail = (what) => {
    if (failures.length < 20) failures.push(what);
    else failures.length++;
  };
  const worker = async () => {
    while (!stop) {
      const gen = hot.current;
      outstanding.set(gen, (outstanding.get(gen) ?? 0) + 1);
      try {
        const v = await hot.fn.plugin_slow.async(0);
        if (v !== versionOfGen.get(gen)) fail(`async call issued on generation ${gen} returned version ${v}`);
      } catch (e) {
        fail(`async call issued on generation ${gen} rejected: ${e.code ?? ''} ${e.message}`);
      }
      const left = outstanding.get(gen) - 1;
      if (left) outstanding.set(gen, left);
      else {
        outstanding.delete(gen);
        forget(gen);
      }
      calls++;
    }
  };
  const workers = Array.from({ length: WORKERS }, worker);

  let pinned = 0;
  let retireErrors = 0;
  hot.on('pinned', () => pinned++);
  hot.on('error', (e) => {
    retireErrors++;
    fail(`retiring a generation failed: ${e.message}`);
  });

  const every = Math.max(1, Math.floor(reloads / SAMPLES));
  const points = [];
  const pendingRetire = new Set();
  let t0 = performance.now();
  let callsAtStart = 0;
  for (let i = 1 - WARMUP; i <= reloads; i++) {
    const next = i % 2 ? P2 : P1;
    try {
      const report = await hot.reload(next, { wait: 'swap' });
      pendingRetire.add(report.retired);
      report.retired.then(() => pendingRetire.delete(report.retired));
      const v = hot.fn.plugin_version();
      if (v !== versionOf(next)) fail(`sync call after reload ${i} returned version ${v}`);
      calls++;
    } catch (e) {
      fail(`reload ${i} failed: ${e.code ?? ''} ${e.message}`);
    }
    // reload() only awaits microtasks; the event loop has to run for async completions to arrive.
    await tick();
    if (i >= 0 && (i % every === 0 || i === reloads)) {
      // Measure a quiescent state: every generation that was swapped out is closed.
      await Promise.all(pendingRetire);
      if (i === 0) {
        // After the warm-up V8 shrinks its heap some time after a full GC; a baseline taken before
        // that is an outlier that would tilt the whole fit.
        for (let k = 0; k < 3; k++) {
          gc();
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      points.push({ reloads: i, ...sample(dir) });
      if (i === 0) {
        t0 = performance.now();
        callsAtStart = calls;
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(workers);
  const errors = hot.generations().reduce((a, g) => a + g.errors, 0);
  await hot.close();
  if (pinned > 0) fail(`${pinned} closed generations stayed mapped`);
  if (errors > 0) fail(`${errors} calls failed inside the call machinery`);

  const per1k = (key) =>
    slope(
      points.map((p) => p.reloads),
      points.map((p) => p[key]),
    ) * 1000;
  const slopes = {
    rssMiBPer1k: per1k('rssMiB'),
    rssAnonMiBPer1k: per1k('rssAnonMiB'),
    heapUsedMiBPer1k: per1k('heapUsedMiB'),
    mappingsPer1k: per1k('mappings'),
    fdsPer1k: per1k('fds'),
  };
  // Shrinking is fine; only growth is a leak.
  const over = Object.entries(THRESHOLDS)
    .filter(([k, max]) => slopes[k] > max)
    .map(([k]) => k);
  const last = points.at(-1);
  // A generation's image left mapped after its close is a leak whatever the slope says.
  if (last.privateMappings > points[0].privateMappings) over.push('privateMappings');
  return {
    mode,
    reloads,
    warmup: WARMUP,
    calls: calls - callsAtStart,
    retireErrors,
    failures: failures.length,
    failureSamples: failures.filter(Boolean),
    seconds,
    reloadsPerSecond: reloads / seconds,
    first: points[0],
    last,
    slopes,
    thresholds: THRESHOLDS,
    over,
    pass: failures.length === 0 && over.length === 0,
    points,
  };
}

const plan = modesGiven.length
  ? modesGiven.map((m) => [m, Number.isFinite(RELOADS) ? RELOADS : (DEFAULT_PLAN[m] ?? 1_000)])
  : Object.entries(DEFAULT_PLAN).map(([m, n]) => [m, Number.isFinite(RELOADS) ? RELOADS : n]);

const results = [];
for (const [mode, reloads] of plan) {
  log(`soak: ${reloads} reloads in ${mode} under ${WORKERS} async callers...`);
  const r = await soak(mode, reloads);
  results.push(r);
  const f = (x, d = 2) => x.toFixed(d);
  log(
    `  ${r.pass ? 'PASS' : 'FAIL'}  ${r.reloads} reloads, ${r.calls} calls, ${r.failures} failures, ${f(r.seconds, 1)} s (${f(r.reloadsPerSecond, 0)} reloads/s)`,
  );
  log(
    `  RSS ${f(r.first.rssMiB, 1)} -> ${f(r.last.rssMiB, 1)} MiB (slope ${f(r.slopes.rssMiBPer1k, 3)} MiB/1k)` +
      `  anonymous ${f(r.first.rssAnonMiB, 1)} -> ${f(r.last.rssAnonMiB, 1)} MiB (slope ${f(r.slopes.rssAnonMiBPer1k, 3)} MiB/1k, max ${THRESHOLDS.rssAnonMiBPer1k})` +
      `  JS heap ${f(r.first.heapUsedMiB, 1)} -> ${f(r.last.heapUsedMiB, 1)} MiB (slope ${f(r.slopes.heapUsedMiBPer1k, 3)} MiB/1k, max ${THRESHOLDS.heapUsedMiBPer1k})` +
      `\n  mappings ${r.first.mappings} -> ${r.last.mappings} (slope ${f(r.slopes.mappingsPer1k, 3)}/1k, max ${THRESHOLDS.mappingsPer1k})` +
      `  fds ${r.first.fds} -> ${r.last.fds} (slope ${f(r.slopes.fdsPer1k, 3)}/1k, max ${THRESHOLDS.fdsPer1k})`,
  );
  for (const s of r.failureSamples) log(`    ${s}`);
  if (r.over.length) log(`    over threshold: ${r.over.join(', ')}`);
}
const pass = results.every((r) => r.pass);
if (json) {
  process.stdout.write(`${JSON.stringify({ pass, warmup: WARMUP, thresholds: THRESHOLDS, results }, null, 2)}\n`);
} else {
  log(pass ? 'soak: PASS' : 'soak: FAIL');
}
process.exitCode = pass ? 0 : 1;
