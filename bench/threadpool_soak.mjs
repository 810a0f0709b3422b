#!/usr/bin/env node
// What a reload of a library with a worker pool costs the process, over many reloads: OpenBLAS by
// default (its pool is stopped only by its destructor or by blas_thread_shutdown_), or any library
// and shutdown function given. Each configuration runs in a child process of its own and prints
// RSS, mappings and threads before the first reload and every --every reloads, and the growth per
// reload from the first sample to the last.
//
//   node bench/threadpool_soak.mjs                     200 reloads, every mode, with and without teardown
//   node bench/threadpool_soak.mjs --reloads N         N reloads
//   node bench/threadpool_soak.mjs --mode namespace    one mode (repeatable)
//   node bench/threadpool_soak.mjs --hook on|off       with the teardown hook only, or without it only
//   node bench/threadpool_soak.mjs --lib PATH --call 'PROTOTYPE' --shutdown 'PROTOTYPE'
//                                                      another library: a call that starts its pool, and its cleanup
//   node bench/threadpool_soak.mjs --json              one JSON object per configuration instead of the table
//
// Before the teardown hook and the early destructors (issue 22, H3), OpenBLAS grew by 3.9 MiB,
// 11 mappings and 1 thread per reload in the namespace modes: each generation stayed mapped.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { args, json, loadDlswap, log, option } from './common.mjs';

const value = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const LIB = value('--lib', '/usr/lib/x86_64-linux-gnu/libopenblas.so.0');
const CALL = value('--call', 'double cblas_ddot(int n, const double *x, int incx, const double *y, int incy)');
const SHUTDOWN = value('--shutdown', 'void blas_thread_shutdown_(void)');
const RELOADS = option('--reloads', 200);
const EVERY = option('--every', 50);
const modes = args.flatMap((a, i) => (a === '--mode' && args[i + 1] ? [args[i + 1]] : []));
const hook = value('--hook', 'both');

function sample() {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return {
    rssMiB: kb('VmRSS') / 1024,
    mappings: fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).length,
    threads: fs.readdirSync('/proc/self/task').length,
  };
}

/** One configuration, in this process (the child). */
async function soak(mode, withHook) {
  const { HotLibrary } = loadDlswap();
  const name = CALL.match(/(\w+)\s*\(/)[1];
  const hot = await HotLibrary.open(LIB, {
    isolation: mode,
    functions: { call: CALL },
    teardown: withHook ? (gen) => void gen.lib.func(SHUTDOWN)() : undefined,
  });
  // A call that makes the library start (or wake) its pool: a dot product long enough to be split.
  const n = 100_000;
  const x = Buffer.from(new Float64Array(n).fill(1).buffer);
  const call = () => (name === 'cblas_ddot' ? hot.fn.call(n, x, 1, x, 1) : hot.fn.call());
  let pinned = 0;
  let lastReason = '';
  hot.on('pinned', (e) => {
    pinned++;
    lastReason = e.reason;
  });
  call();
  const samples = [{ reloads: 0, ...sample() }];
  const t0 = performance.now();
  let done = 0;
  let stopped = null;
  for (let i = 1; i <= RELOADS; i++) {
    try {
      await hot.reload();
    } catch (e) {
      // fresh-namespace: glibc's namespace and static-TLS budget ends the run (docs/isolation.md).
      stopped = `${e.causeCode ?? e.code} at reload ${i}`;
      break;
    }
    done = i;
    call();
    if (i % EVERY === 0 || i === RELOADS) samples.push({ reloads: i, ...sample() });
  }
  if (samples[samples.length - 1].reloads !== done) samples.push({ reloads: done, ...sample() });
  const ms = performance.now() - t0;
  await hot.close();
  const first = samples[0];
  const last = samples[samples.length - 1];
  const per = (k) => (done ? (last[k] - first[k]) / done : 0);
  return {
    mode,
    hook: withHook,
    reloads: done,
    stopped,
    samples,
    perReload: { rssMiB: per('rssMiB'), mappings: per('mappings'), threads: per('threads') },
    pinned,
    lastReason,
    msPerReload: done ? ms / done : 0,
  };
}

if (args[0] === '--child') {
  const r = await soak(args[1], args[2] === 'on');
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}

loadDlswap(); // builds what is missing once, before the children
const plan = [];
for (const mode of modes.length ? modes : ['namespace', 'fresh-namespace', 'local', 'deepbind']) {
  for (const h of hook === 'both' ? ['on', 'off'] : [hook]) plan.push([mode, h]);
}
const self = fileURLToPath(import.meta.url);
const passOn = ['--reloads', String(RELOADS), '--every', String(EVERY), '--lib', LIB, '--call', CALL, '--shutdown', SHUTDOWN];
log(`${LIB}: ${RELOADS} reloads per configuration, each in a child of its own`);
log('mode             hook  RSS MiB (first -> last)   mappings      threads   per reload: MiB   maps  threads  pinned  ms/reload');
for (const [mode, h] of plan) {
  const child = spawn(process.execPath, [self, '--child', mode, h, ...passOn], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  const code = await new Promise((resolve) => child.on('close', (c, s) => resolve(c ?? s)));
  const line = out.trim().split('\n').pop();
  if (code !== 0 || !line?.startsWith('{')) {
    console.error(`threadpool_soak: ${mode} hook=${h} ended with ${code}`);
    process.exitCode = 1;
    continue;
  }
  const r = JSON.parse(line);
  if (json) {
    console.log(JSON.stringify(r));
    continue;
  }
  const f = r.samples[0];
  const l = r.samples[r.samples.length - 1];
  log(
    `${mode.padEnd(16)} ${h.padEnd(4)}  ${f.rssMiB.toFixed(1).padStart(7)} -> ${l.rssMiB.toFixed(1).padEnd(8)}  ` +
      `${String(f.mappings).padStart(4)} -> ${String(l.mappings).padEnd(5)} ${String(f.threads).padStart(3)} -> ${String(l.threads).padEnd(4)}` +
      `  ${r.perReload.rssMiB.toFixed(3).padStart(8)}  ${r.perReload.mappings.toFixed(2).padStart(6)}  ${r.perReload.threads.toFixed(2).padStart(6)}` +
      `  ${String(r.pinned).padStart(6)}  ${r.msPerReload.toFixed(1).padStart(8)}`,
  );
  if (r.stopped) log(`  stopped after ${r.reloads} reloads: ${r.stopped}`);
  if (r.pinned) log(`  last pinned reason: ${r.lastReason.slice(0, 160)}...`);
}
