#!/usr/bin/env node
'use strict';
/**
 * The seed-001 scenario under load (test/load/private_deps.test.ts runs it in a child process per mode):
 *
 *   node test/private_deps/reloads.cjs <mode> <reloads>
 *
 * A HotLibrary serves fixtures-c/seed001's libmyservice.so, whose two versions each ship a
 * libhelper.so.1 and a libinner.so.1 of the same SONAMEs beside them (RUNPATH $ORIGIN), and is
 * reloaded v1 -> v2 -> v1 ... <reloads> times while sync calls (every turn of the event loop) and
 * async calls (several always in flight) run. Every answer names the three files that served it
 * (service.cc) and is checked against the generation that was current when the call was issued: a
 * v2 answer served by v1's helper is wrong, and so is any answer from a generation other than the
 * one the call went to.
 *
 * Every 50 reloads, once the retired generations are closed, it samples /proc/self/maps (all lines,
 * and those of dlswap's private copies) and the open descriptors; the slopes (per 1,000 reloads)
 * say whether anything leaks per generation. V8's heap and malloc's arenas grow in steps of their
 * own under millions of calls, so the whole map is only expected to stay far below one mapping per
 * reload; the private copies' mappings and the descriptors must be exactly flat.
 * Prints one JSON line and exits 0 when there was no wrong answer and every generation and each of
 * its private dependencies was unmapped.
 */
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const dlswap = require(path.join(root, 'dist', 'index.js'));

const mode = process.argv[2] ?? 'namespace';
const RELOADS = Number(process.argv[3] ?? 1000);
const ASYNC_IN_FLIGHT = 4;
const SAMPLE_EVERY = 50;
const V = {
  1: path.join(root, 'build', 'fixtures', 'seed001', 'v1', 'libmyservice.so'),
  2: path.join(root, 'build', 'fixtures', 'seed001', 'v2', 'libmyservice.so'),
};
const RIGHT = { 1: 1232323, 2: 1242424 };

const result = { mode, reloads: 0, sync: 0, async: 0, wrong: 0, wrongSamples: [], answers: {}, notUnloaded: [], depsNotUnloaded: [], samples: [] };

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const mapsLines = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean);
// Mappings of dlswap's private copies: the serving generation's three files, whatever the count of
// reloads, if every retired generation and its dependencies were unmapped.
const privateMappings = (lines) => lines.filter((l) => l.includes('/dlswap-')).length;
const fds = () => fs.readdirSync('/proc/self/fd').length;

async function main() {
  const t0 = performance.now();
  const versionOf = new Map([[1, 1]]); // generation id -> fixture version
  const hot = await dlswap.HotLibrary.open(V[1], {
    isolation: mode,
    functions: { service_answer: 'int service_answer(void)' },
  });
  const check = (gen, answer, kind) => {
    result[kind]++;
    result.answers[answer] = (result.answers[answer] ?? 0) + 1;
    const want = RIGHT[versionOf.get(gen)];
    if (answer !== want) {
      result.wrong++;
      if (result.wrongSamples.length < 10) result.wrongSamples.push({ gen, kind, answer, want });
    }
  };

  let running = true;
  // Sync: a burst on every turn of the event loop, each call checked against the generation that
  // was current when it was made (a sync call cannot straddle a swap).
  const syncLoop = (async () => {
    while (running) {
      for (let i = 0; i < 20; i++) check(hot.current, hot.fn.service_answer(), 'sync');
      await new Promise((r) => setImmediate(r));
    }
  })();
  // Async: several in flight at every moment, so that swaps happen under them and drains wait.
  const asyncLoops = Array.from({ length: ASYNC_IN_FLIGHT }, async () => {
    while (running) {
      const gen = hot.current;
      check(gen, await hot.fn.service_answer.async(), 'async');
    }
  });

  const retired = [];
  let settledUpTo = 0;
  const onClosed = (r) => {
    if (r.unloaded !== true) result.notUnloaded.push({ gen: r.from, reason: r.pinnedReason });
    for (const d of r.dependencies ?? []) {
      if (!d.unloaded) result.depsNotUnloaded.push({ gen: r.from, name: d.name, reason: d.reason });
    }
  };
  for (let i = 1; i <= RELOADS; i++) {
    const v = i % 2 === 1 ? 2 : 1;
    const report = await hot.reload(V[v], { wait: 'swap' });
    versionOf.set(report.to, v);
    result.reloads++;
    retired.push(report.retired.then(() => onClosed(report)));
    if (i % SAMPLE_EVERY === 0) {
      await Promise.all(retired.slice(settledUpTo));
      settledUpTo = retired.length;
      const lines = mapsLines();
      result.samples.push([i, lines.length, fds(), privateMappings(lines)]);
    }
  }
  running = false;
  await Promise.all([syncLoop, ...asyncLoops, ...retired]);
  const closing = hot.generations().filter((g) => g.state !== 'serving' && g.unloaded !== true);
  await hot.close();
  result.stillMappedAtEnd = closing.length;
  result.mapsSlopePer1000 = slope(result.samples.map(([x, m]) => [x, m])) * 1000;
  result.fdsSlopePer1000 = slope(result.samples.map(([x, , f]) => [x, f])) * 1000;
  result.privateMapsSlopePer1000 = slope(result.samples.map(([x, , , p]) => [x, p])) * 1000;
  result.ms = Math.round(performance.now() - t0);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  const ok = result.wrong === 0 && result.notUnloaded.length === 0 && result.depsNotUnloaded.length === 0;
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  result.error = { code: e.code, message: e.message };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(1);
});
