#!/usr/bin/env node
// Memory per reload, after warm-up, beside the floor: what thousands of HotLibrary reloads add to a
// process's anonymous memory, next to a C program that copies, loads, calls and closes the same
// files without dlswap (build/fixtures/load_floor, fixtures-c/load_cycle/load_floor.c), in one run,
// per mode. Each side runs in a process of its own.
//
//   node bench/memory.mjs                    namespace, local and deepbind
//   node bench/memory.mjs --mode namespace   one mode (repeatable)
//   --reloads N   measured reloads per mode (default 6000)
//   --warmup N    unmeasured reloads first (default 4000)
//   --samples N   samples over the measured reloads (default 20)
//   --semi-space N  run the dlswap side with node --max-semi-space-size=N (MiB): V8's young
//                 generation capped, to tell its growth from anything else's
//   --json        one JSON object on stdout instead of the table
//
// The figure is the least-squares slope of RssAnon (after a full GC, in the dlswap process) per
// 1,000 reloads. The warm-up is long because V8 grows its young generation to its maximum size
// over the first ~3,000 reloads (heapTotal 7 -> ~40 MiB, with heapUsed flat): bounded, and not a
// leak (with --max-semi-space-size=1 the same run is flat from reload 1,000 on), but it would
// dominate a fit that started earlier. fresh-namespace is not measured: a process can create only
// 15 namespaces (docs/isolation.md). Exit code 1 if dlswap grows by more than GOAL_MIB_PER_1K.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { args, fixture, json, loadDlswap, log, option } from './common.mjs';

export const GOAL_MIB_PER_1K = 1;
const RELOADS = option('--reloads', 6000);
const WARMUP = option('--warmup', 4000);
const SAMPLES = option('--samples', 20);
const SEMI_SPACE = option('--semi-space', NaN);
const modesGiven = args.flatMap((a, i) => (a === '--mode' && args[i + 1] ? [args[i + 1]] : []));
const MODES = modesGiven.length ? modesGiven : ['namespace', 'local', 'deepbind'];
const every = Math.max(1, Math.floor(RELOADS / SAMPLES));

const rssAnonKiB = () => Number(/^RssAnon:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);

/** Least-squares slope of y over x. */
function slope(xs, ys) {
  const n = xs.length;
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

/** The dlswap side, in this process: prints one JSON line of samples. */
async function child(mode, work) {
  const { HotLibrary } = loadDlswap();
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const P1 = join(work, 'libplugin_v1.so');
  const P2 = join(work, 'libplugin_v2.so');
  const hot = await HotLibrary.open(P1, { isolation: mode, functions: { version: 'int plugin_version(void)' } });
  const samples = [];
  for (let i = 1 - WARMUP; i <= RELOADS; i++) {
    await hot.reload(i % 2 ? P2 : P1);
    if (hot.fn.version() !== (i % 2 ? 2 : 1)) throw new Error(`reload ${i} serves the wrong version`);
    if (i >= 0 && i % every === 0) {
      gc();
      samples.push({ reloads: i, rssAnonKiB: rssAnonKiB(), heapTotalKiB: process.memoryUsage().heapTotal / 1024 });
    }
  }
  await hot.close();
  process.stdout.write(`${JSON.stringify(samples)}\n`);
}

function runDlswap(mode, work) {
  const v8Flags = Number.isFinite(SEMI_SPACE) ? [`--max-semi-space-size=${SEMI_SPACE}`] : [];
  const r = spawnSync(
    process.execPath,
    [
      ...v8Flags,
      new URL(import.meta.url).pathname,
      '--child',
      mode,
      work,
      '--reloads',
      String(RELOADS),
      '--warmup',
      String(WARMUP),
      '--samples',
      String(SAMPLES),
    ],
    {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  if (r.status !== 0) throw new Error(`the dlswap side failed in ${mode}: ${r.stderr || r.signal}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function runFloor(mode, work) {
  const r = spawnSync(
    fixture('load_floor'),
    [mode, join(work, 'libplugin_v1.so'), join(work, 'libplugin_v2.so'), work, String(WARMUP), String(RELOADS), String(every)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`the floor failed in ${mode}: ${r.stderr || r.signal}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ').map(Number))
    .map(([reloads, rssAnonKiB]) => ({ reloads, rssAnonKiB }));
}

const perThousandMiB = (samples) =>
  (slope(
    samples.map((s) => s.reloads),
    samples.map((s) => s.rssAnonKiB),
  ) *
    1000) /
  1024;

if (args[0] === '--child') {
  await child(args[1], args[2]);
} else {
  loadDlswap();
  if (!fs.existsSync(fixture('load_floor'))) throw new Error('build/fixtures/load_floor is missing: node scripts/build-fixtures.mjs');
  // Private copies: a rebuild of the fixtures during the run must not pull files from under it.
  const work = fs.mkdtempSync(join(os.tmpdir(), 'dlswap-memory-'));
  process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
  for (const f of ['libplugin_v1.so', 'libplugin_v2.so']) fs.copyFileSync(fixture(f), join(work, f));
  const results = [];
  log(
    `memory: ${WARMUP} reloads of warm-up, then ${RELOADS} measured, per mode; RssAnon slope per 1,000 reloads${Number.isFinite(SEMI_SPACE) ? ` (dlswap side: --max-semi-space-size=${SEMI_SPACE})` : ''}`,
  );
  log('mode          dlswap MiB/1k   floor MiB/1k   dlswap RssAnon MiB   floor RssAnon MiB   V8 heapTotal MiB');
  for (const mode of MODES) {
    const dlswap = runDlswap(mode, work);
    const floor = runFloor(mode, work);
    const r = {
      mode,
      dlswapMiBPer1k: perThousandMiB(dlswap),
      floorMiBPer1k: perThousandMiB(floor),
      dlswap: { first: dlswap[0], last: dlswap.at(-1) },
      floor: { first: floor[0], last: floor.at(-1) },
    };
    results.push(r);
    const mib = (kib) => (kib / 1024).toFixed(1);
    log(
      `${mode.padEnd(14)}${r.dlswapMiBPer1k.toFixed(3).padStart(14)}${r.floorMiBPer1k.toFixed(3).padStart(15)}` +
        `   ${`${mib(r.dlswap.first.rssAnonKiB)} -> ${mib(r.dlswap.last.rssAnonKiB)}`.padEnd(21)}${`${mib(r.floor.first.rssAnonKiB)} -> ${mib(r.floor.last.rssAnonKiB)}`.padEnd(20)}` +
        `${mib(r.dlswap.first.heapTotalKiB)} -> ${mib(r.dlswap.last.heapTotalKiB)}`,
    );
  }
  const pass = results.every((r) => r.dlswapMiBPer1k <= GOAL_MIB_PER_1K);
  if (json) process.stdout.write(`${JSON.stringify({ pass, goalMiBPer1k: GOAL_MIB_PER_1K, warmup: WARMUP, reloads: RELOADS, results }, null, 2)}\n`);
  else log(`memory: ${pass ? 'PASS' : 'FAIL'} (goal: at most ${GOAL_MIB_PER_1K} MiB per 1,000 reloads after warm-up)`);
  process.exitCode = pass ? 0 : 1;
}
