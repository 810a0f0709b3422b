#!/usr/bin/env node
// What `require('dlswap')` costs a process, beside `require('koffi')`, measured side by side: each
// run is a fresh node that loads one package and reports how long the require took (and how many
// modules it loaded); the runs alternate dlswap, koffi, dlswap, ... so that a busy neighbour slows
// both alike. Prints the medians and their ratio (goal: dlswap/koffi at most 1.5).
//
//   node bench/startup.mjs [--runs N] [--json]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { json, log, median, option, require, root } from './common.mjs';

const runs = option('--runs', 30);
const packages = { dlswap: join(root, 'dist', 'index.js'), koffi: require.resolve('koffi') };

function once(file) {
  const probe = `const t = process.hrtime.bigint(); require(${JSON.stringify(file)});
const ms = Number(process.hrtime.bigint() - t) / 1e6;
process.stdout.write(JSON.stringify({ ms, modules: Object.keys(require.cache).length }));`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loading ${file} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const samples = { dlswap: [], koffi: [] };
const modules = {};
for (const name of Object.keys(packages)) once(packages[name]); // warm the page cache
for (let i = 0; i < runs; i++) {
  for (const [name, file] of Object.entries(packages)) {
    const s = once(file);
    samples[name].push(s.ms);
    modules[name] = s.modules;
  }
}
const result = {
  runs,
  dlswapMs: median(samples.dlswap),
  koffiMs: median(samples.koffi),
  ratio: median(samples.dlswap) / median(samples.koffi),
  modules,
};
if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
log(`require() of the package, median of ${runs} fresh processes each (alternating):`);
log(`  dlswap  ${result.dlswapMs.toFixed(1)} ms  (${modules.dlswap} modules)`);
log(`  koffi   ${result.koffiMs.toFixed(1)} ms  (${modules.koffi} modules)`);
log(`  dlswap/koffi ${result.ratio.toFixed(2)} (goal: at most 1.5)`);
