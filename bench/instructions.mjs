#!/usr/bin/env node
// Instructions per sync call, counted by valgrind's callgrind: unlike time, the count does not
// depend on what else the machine runs, so a change's cost on the call path shows exactly.
//
//   node bench/instructions.mjs                    this checkout
//   node bench/instructions.mjs --baseline DIR     and another built checkout (its dist/ and build/)
//   --calls N                                      calls per measured run (default 1,000,000)
//
// Each checkout runs twice under callgrind, with 100,000 calls of `int add(int, int)` and with
// 100,000 + N; the difference divided by N is what one call costs, JS loop and V8's call machinery
// included (the same in both checkouts), start-up and JIT warm-up excluded.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { args, fixture, log, option, root } from './common.mjs';

const CALLS = option('--calls', 1_000_000);
const BASE = 100_000;

// The child: N calls through the dlswap of `dir`.
if (process.argv[2] === '--child') {
  const [, , , dir, n] = process.argv;
  const { createRequire } = await import('node:module');
  const dlswap = createRequire(import.meta.url)(join(dir, 'dist', 'index.js'));
  const lib = dlswap.open(fixture('libtypes.so'), { isolation: 'namespace' });
  const add = lib.func('int add(int a, int b)');
  let acc = 0;
  for (let i = 0; i < Number(n); i++) acc += add(i & 65535, 3);
  if (acc === 0) process.exit(2);
  process.exit(0);
}

function instructions(dir, n) {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, new URL(import.meta.url).pathname, '--child', dir, String(n)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const m = /Collected : (\d+)/.exec(r.stderr ?? '');
  if (r.error || r.status !== 0 || !m) {
    console.error(`bench/instructions: callgrind failed for ${dir} (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
    process.exit(1);
  }
  return Number(m[1]);
}

function perCall(dir) {
  if (!existsSync(join(dir, 'dist', 'index.js'))) {
    console.error(`bench/instructions: ${dir} has no dist/index.js: build it first`);
    process.exit(1);
  }
  return (instructions(dir, BASE + CALLS) - instructions(dir, BASE)) / CALLS;
}

const baseline = args.includes('--baseline') ? resolve(args[args.indexOf('--baseline') + 1]) : null;
const mine = perCall(root);
log(`instructions per call of add(int, int), ${CALLS.toLocaleString('en-US')} calls under callgrind`);
log(`  this checkout  ${mine.toFixed(1)}`);
if (baseline) {
  const base = perCall(baseline);
  log(`  baseline       ${base.toFixed(1)}   (${baseline})`);
  log(`  difference     ${(mine - base >= 0 ? '+' : '') + (mine - base).toFixed(1)} (${(((mine - base) / base) * 100).toFixed(1)}%)`);
}
