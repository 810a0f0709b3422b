#!/usr/bin/env node
// Instructions per sync call of `int add(int, int)`, counted by valgrind's callgrind: unlike time,
// the count does not depend on what else the machine runs, so a change's cost on the call path
// shows exactly, instruction by instruction.
//
//   node bench/instructions.mjs                    this checkout against the raw Node-API binding
//   node bench/instructions.mjs --baseline DIR     and another built checkout (its dist/ and build/)
//   --calls N                                      calls per measured run (default 200,000)
//
// What is counted: everything inside Node-API's entry into a native callback (node's
// FunctionCallbackWrapper::Invoke, callgrind's --toggle-collect), i.e. the callback itself, the
// napi_* calls it makes, the guard and the C function. That is the whole of what differs between
// dlswap and the hand-written raw binding of bench/raw (the floor bench/calls.mjs times dlswap
// against); the JS loop and V8's call machinery around the callback are the same for both and
// left out, which makes the count exact to a fraction of an instruction. Each contender runs twice,
// with 100,000 calls and with 100,000 + N, in a single-threaded node (no background compiler);
// the difference divided by N is one call, start-up and warm-up excluded.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { args, buildRawBinding, fixture, log, option, root } from './common.mjs';

const CALLS = option('--calls', 200_000);
const BASE = 100_000;
// Node-API's one way into every native callback (node's src/js_native_api_v8.cc).
const ENTRY = '*FunctionCallbackWrapper::Invoke*';

// The child: N calls through the dlswap of `dir`, or (dir 'raw') through the raw binding.
if (process.argv[2] === '--child') {
  const [, , , dir, n] = process.argv;
  const { createRequire } = await import('node:module');
  const req = createRequire(import.meta.url);
  let add;
  if (dir === 'raw') {
    const raw = req(join(root, 'build', 'bench-raw', 'raw_binding.node'));
    raw.load(fixture('libtypes.so'));
    add = raw.add;
  } else {
    const dlswap = req(join(dir, 'dist', 'index.js'));
    add = dlswap.open(fixture('libtypes.so'), { isolation: 'namespace' }).func('int add(int a, int b)');
  }
  let acc = 0;
  for (let i = 0; i < Number(n); i++) acc += add(i & 65535, 3);
  if (acc === 0) process.exit(2);
  process.exit(0);
}

buildRawBinding();

function instructions(dir, n) {
  const r = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      `--toggle-collect=${ENTRY}`,
      process.execPath,
      '--single-threaded',
      new URL(import.meta.url).pathname,
      '--child',
      dir,
      String(n),
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const m = /Collected : (\d+)/.exec(r.stderr ?? '');
  if (r.error || r.status !== 0 || !m) {
    console.error(`bench/instructions: callgrind failed for ${dir} (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
    process.exit(1);
  }
  if (Number(m[1]) === 0) {
    console.error(`bench/instructions: nothing ran inside ${ENTRY}: this node names its Node-API entry differently`);
    process.exit(1);
  }
  return Number(m[1]);
}

function perCall(dir) {
  if (dir !== 'raw' && !existsSync(join(dir, 'dist', 'index.js'))) {
    console.error(`bench/instructions: ${dir} has no dist/index.js: build it first`);
    process.exit(1);
  }
  return (instructions(dir, BASE + CALLS) - instructions(dir, BASE)) / CALLS;
}

const baseline = args.includes('--baseline') ? resolve(args[args.indexOf('--baseline') + 1]) : null;
const raw = perCall('raw');
const mine = perCall(root);
const row = (name, n) => `  ${name.padEnd(16)}${n.toFixed(1).padStart(8)}   x${(n / raw).toFixed(3)} of raw, ${n - raw >= 0 ? '+' : ''}${(n - raw).toFixed(1)}`;
log(`instructions per call of add(int, int) inside the Node-API callback, ${CALLS.toLocaleString('en-US')} calls under callgrind`);
log(`  ${'raw N-API'.padEnd(16)}${raw.toFixed(1).padStart(8)}`);
log(row('dlswap', mine));
if (baseline) {
  const base = perCall(baseline);
  log(`${row('baseline', base)}   (${baseline})`);
  log(`  dlswap - baseline: ${(mine - base >= 0 ? '+' : '') + (mine - base).toFixed(1)} (${(((mine - base) / base) * 100).toFixed(1)}%)`);
}
