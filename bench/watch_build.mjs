#!/usr/bin/env node
// Edit-to-new-code latency: from a source file saved to the new code serving, for three ways of
// rebuilding a plugin, measured side by side in one run (rounds interleaved), medians:
//   - own loop + reload(): the user's own watcher (fs.watch on the source, the same debounce) runs
//     the compiler and calls hot.reload(path, { wait: 'swap' }) as soon as it exits: the floor;
//   - own loop + watch: true: the same loop without the reload() call, the library's watch picks the
//     output up (its debounce and its wait for the file to hold still come on top);
//   - watch: { build, sources }: dlswap's build step runs the same compiler and reloads at once.
// "Serving" is the moment the reload resolved at its swap (or 'watch-reload' fired), checked by a
// call that returns the edit's number. The compiler's own time varies most on a busy machine, so the
// part after it is printed too: from the compiler's exit (the own loop's execFile settling, or
// 'watch-build') to serving. Issue 25 measured p50 330 ms (own build + watch: true)
// against 241 ms (own build + reload()).
//
//   node bench/watch_build.mjs [--rounds N] [--debounce MS] [--json]
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { json, loadDlswap, log, median, option, percentile, root } from './common.mjs';

const { HotLibrary } = loadDlswap();
const run = promisify(execFile);
const ROUNDS = option('--rounds', 15);
const DEBOUNCE = option('--debounce', 100);
const CC = process.env.CC ?? 'cc';
const GUARD_MS = 60_000;

const source = (n) => `int version(void) { return ${n}; }\n`;
const argv = ['-shared', '-fPIC', `-I${path.join(root, 'include')}`, '-o', 'libv.so', 'v.c'];

/** Saves the source as editors do (a new file renamed over it); returns when that happened. */
function save(dir, n) {
  fs.writeFileSync(path.join(dir, '.v.c.swp'), source(n));
  const t0 = performance.now();
  fs.renameSync(path.join(dir, '.v.c.swp'), path.join(dir, 'v.c'));
  return t0;
}

/** The user's own loop: a debounced fs.watch of the source that runs the compiler, then `after`. */
function ownLoop(dir, built, after) {
  let timer = null;
  const w = fs.watch(dir, (_e, name) => {
    if (name !== 'v.c') return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      await run(CC, argv, { cwd: dir });
      built();
      await after();
    }, DEBOUNCE);
  });
  return () => {
    clearTimeout(timer);
    w.close();
  };
}

async function setup(kind) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dlswap-bench-watch-${kind}-`));
  fs.writeFileSync(path.join(dir, 'v.c'), source(0));
  await run(CC, argv, { cwd: dir });
  const lib = path.join(dir, 'libv.so');
  const functions = { version: 'int version(void)' };
  let served = null; // resolves the round in progress
  const serve = () => served?.();
  let builtAt = 0;
  const built = () => (builtAt = performance.now());
  let hot;
  let stop = () => {};
  if (kind === 'reload') {
    hot = await HotLibrary.open(lib, { functions });
    stop = ownLoop(dir, built, async () => {
      await hot.reload(lib, { wait: 'swap' });
      serve();
    });
  } else if (kind === 'watch') {
    hot = await HotLibrary.open(lib, { functions, watch: { debounceMs: DEBOUNCE } });
    stop = ownLoop(dir, built, async () => {});
    hot.on('watch-reload', serve);
  } else {
    hot = await HotLibrary.open(lib, { functions, watch: { debounceMs: DEBOUNCE, build: [CC, ...argv], sources: ['v.c'], cwd: dir } });
    hot.on('watch-build', built);
    hot.on('watch-reload', serve);
  }
  hot.on('watch-skip', (s) => console.error(`${kind}: skipped (${s.reason}): ${s.message}`));
  return {
    kind,
    samples: [],
    afterBuild: [],
    async round(n) {
      const done = new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${kind}: edit ${n} not serving after ${GUARD_MS} ms`)), GUARD_MS);
        served = () => {
          if (hot.fn.version() !== n) return; // a late reload of an earlier edit
          clearTimeout(t);
          resolve(performance.now());
        };
      });
      const t0 = save(dir, n);
      const t1 = await done;
      this.samples.push(t1 - t0);
      this.afterBuild.push(t1 - builtAt);
      served = null;
      // Let the old generation retire before the next edit.
      await new Promise((r) => setTimeout(r, 50));
    },
    async close() {
      stop();
      await hot.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const variants = [await setup('reload'), await setup('watch'), await setup('build')];
// Each round starts with another variant, so that none always follows the same one.
for (let i = 1; i <= ROUNDS; i++) for (let k = 0; k < variants.length; k++) await variants[(i + k) % variants.length].round(i);
for (const v of variants) await v.close();

const [own, watch, build] = variants.map((v) => ({ p50: median(v.samples), p90: percentile(v.samples, 90), afterBuildP50: median(v.afterBuild) }));
const result = {
  rounds: ROUNDS,
  debounceMs: DEBOUNCE,
  ownBuildReload: own,
  ownBuildWatchTrue: watch,
  watchBuild: build,
  ratioWatchBuildToOwnReload: build.p50 / own.p50,
  ratioWatchTrueToOwnReload: watch.p50 / own.p50,
};
if (json) console.log(JSON.stringify(result, null, 2));
log(`edit -> new code serving, ms (${ROUNDS} edits each, interleaved; debounce ${DEBOUNCE} ms; compiler: ${CC})`);
log('  variant                          p50       p90    p50 / own loop + reload()   compiler exit -> serving, p50');
const row = (name, r) =>
  log(
    `  ${name.padEnd(31)} ${r.p50.toFixed(1).padStart(6)}  ${r.p90.toFixed(1).padStart(8)}    ${(r.p50 / own.p50).toFixed(2).padEnd(27)} ${r.afterBuildP50.toFixed(1).padStart(6)}`,
  );
row('own loop + reload()', own);
row('own loop + watch: true', watch);
row('watch: { build, sources }', build);
