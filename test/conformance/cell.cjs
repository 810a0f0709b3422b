#!/usr/bin/env node
'use strict';
/**
 * Runs ONE conformance cell, in this process:
 *
 *   node test/conformance/cell.cjs <library> <mode> <scenario>
 *
 * <library> is a name from libraries.cjs, <mode> an isolation mode, <scenario> one of:
 *   basic  open(path, { isolation }), the library's sync checks, its async check, close()
 *   hot    HotLibrary.open(path, { isolation, functions }), RELOADS reload()s while sync and async
 *          checks run continuously on whatever generation is current, then close()
 * Both end by checking that every closed generation is gone from /proc/self/maps (or was reported
 * pinned, with a reason; one held for another generation's signal handlers is given 10 s to be
 * unloaded once that one is gone), that no signal handler was left pointing into an unmapped generation, and
 * that node itself still works (OpenSSL, zlib, its thread pool, a worker thread, a signal).
 *
 * Prints one JSON line on stdout: { cell, outcome, ... } where outcome is
 *   ok        every answer was right
 *   refused   open (or a reload) was refused with a typed error: `code` (ERR_DLSWAP_*)
 *   wrong     an answer was wrong (`failures` says which, with what came back and what was expected)
 *   error     something threw that is not a refusal or a wrong answer
 *   timeout   the cell's own deadline (DLSWAP_CELL_DEADLINE_MS) passed, in `phase`
 *   missing   the library file or a package it needs is not installed
 * and exits 0 for ok and refused, nonzero otherwise. A crash is a signal, seen by the parent.
 * Progress goes to stderr, one line per phase, so that the tail of stderr shows where a crash hit.
 *
 * dlswap is loaded from the repository's dist/ build (run `npm run build:ts` after changing lib/).
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { Worker } = require('node:worker_threads');
const zlib = require('node:zlib');

// libgomp's team size, which its checks expect omp_get_max_threads to report. Set before anything is
// loaded (a namespace's libc takes its environment at open), here so that a cell run by hand
// behaves as in the suite.
process.env.OMP_NUM_THREADS = process.env.OMP_NUM_THREADS || '4';

const root = path.resolve(__dirname, '..', '..');
const dlswap = require(path.join(root, 'dist', 'index.js'));
const libraries = require('./libraries.cjs');
const { resolveLibrary, missingPackages } = require('./resolve.cjs');
const { WrongAnswer, eq, check } = require('./answers.cjs');

const RELOADS = 3;
// How long each generation serves under load before the next reload.
const SERVE_MS = 40;
const ASYNC_LOOPS = 2;
const ASYNC_TIMEOUT_MS = 20_000;
const MAX_FAILURES_KEPT = 20;

const [name, mode, scenario] = process.argv.slice(2);
const started = performance.now();
const result = { cell: `${name}/${mode}/${scenario}`, library: name, mode, scenario, outcome: 'ok' };
const failures = [];
let failureCount = 0;
let phase = 'start';

function enter(p) {
  phase = p;
  process.stderr.write(`[cell ${result.cell}] ${p}\n`);
}

function record(what, e) {
  failureCount++;
  const f = { what };
  if (e instanceof WrongAnswer) {
    f.wrong = true;
    f.message = e.message;
    f.got = e.got;
    f.expected = e.expected;
  } else {
    f.message = e?.message ? e.message : String(e);
    if (e?.code) f.code = e.code;
    if (e?.causeCode) f.causeCode = e.causeCode;
  }
  if (failures.length < MAX_FAILURES_KEPT) failures.push(f);
  process.stderr.write(`[cell ${result.cell}] FAIL ${what}: ${f.message}\n`);
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  if (failureCount > 0 && result.outcome === 'ok') result.outcome = failures.every((f) => f.wrong) ? 'wrong' : 'error';
  result.phase = phase;
  result.failureCount = failureCount;
  result.failures = failures;
  result.ms = Math.round(performance.now() - started);
  process.stdout.write(`${JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}\n`);
  process.exit(result.outcome === 'ok' || result.outcome === 'refused' ? 0 : 1);
}

/** A typed refusal: the code of a DlswapError (the cause's, for a HotLibrary that wraps it). */
function refusalCode(e) {
  const code = e && (e.causeCode || e.code);
  return typeof code === 'string' && code.startsWith('ERR_DLSWAP_') ? code : null;
}

function refuse(e, at) {
  const code = refusalCode(e);
  if (!code) {
    record(at, e);
    return;
  }
  result.outcome = 'refused';
  result.code = code;
  result.refusedAt = at;
  result.message = e.message;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// How long a generation held for another's signal handlers may take to be unloaded once they are
// gone: dlswap looks again with a backoff of at most 2 s.
const LATE_UNLOAD_MS = 10_000;

/** Rejects with a WrongAnswer if `p` has not settled within `ms`. */
function within(p, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new WrongAnswer(what, `no answer within ${ms} ms`, 'an answer')), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Lines of /proc/self/maps naming `file`. */
function mapped(file) {
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(file));
}

/** A closed generation is gone from the address space, or was reported pinned with a reason. */
function checkClosed(gen, closed, mappedPath) {
  try {
    if (closed.unloaded) {
      const left = mapped(mappedPath);
      check(`generation ${gen}: reported unloaded, so nothing of it is mapped`, left.length === 0, left.slice(0, 3), 'no mapping');
    } else {
      check(`generation ${gen}: reported pinned, with a reason`, typeof closed.reason === 'string' && closed.reason.length > 0, closed.reason, 'a reason');
    }
  } catch (e) {
    record('close', e);
  }
}

// ---- node's health ---------------------------------------------------------------------------------

// SIGCHLD is libuv's: node installs its handler the first time it runs a child (dpkg-query, for the
// answers), whenever that happens.
const NODE_OWNS = new Set([17]);

/** Signal numbers with a handler installed in this process (SigCgt of /proc/self/status). */
function caughtSignals() {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  const mask = BigInt(`0x${m[1]}`);
  const out = [];
  for (let n = 1; n <= 64; n++) if ((mask >> BigInt(n - 1)) & 1n) out.push(n);
  return out;
}
const signalName = (n) => Object.entries(require('node:os').constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
let signalsBefore = [];

/**
 * A handler the library installed and left is acceptable only while its code stays mapped: every
 * generation that was reported unloaded must have left the dispositions as they were before it was
 * opened (restored), or have been kept mapped with a reason that names the signals.
 */
function checkDispositions(closed) {
  const left = caughtSignals().filter((n) => !signalsBefore.includes(n) && !NODE_OWNS.has(n));
  if (!left.length) return;
  const names = left.map(signalName).join(', ');
  const unmapped = closed.filter((c) => c.unloaded);
  const keptForSignals = closed.filter((c) => !c.unloaded && /signal|SIG[A-Z]/.test(c.reason ?? ''));
  if (unmapped.length || keptForSignals.length < closed.length) {
    record(
      'signal dispositions after close',
      new Error(
        `signal handlers left behind: ${names} now have a handler that was not there before the library was opened, and ${unmapped.length ? `generation(s) ${unmapped.map((c) => c.gen).join(', ')} were unmapped (the next such signal runs unmapped code)` : 'no generation was kept mapped for them'}`,
      ),
    );
  }
}

/** After the library is gone, node itself must still work: OpenSSL, zlib, its thread pool, a worker, a signal. */
async function nodeStillWorks(closed) {
  enter('node health');
  checkDispositions(closed);
  try {
    // FIPS 180-2 test vector.
    eq("node's sha256('abc')", crypto.createHash('sha256').update('abc').digest('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // RFC 7914 section 11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, dkLen=64 (on node's thread pool).
    const key = await within(util.promisify(crypto.pbkdf2)('passwd', 'salt', 1, 64, 'sha256'), 5000, "node's thread pool (crypto.pbkdf2)");
    eq(
      "node's pbkdf2",
      key.toString('hex'),
      '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783',
    );
    const text = await within(fs.promises.readFile(__filename, 'utf8'), 5000, "node's thread pool (fs.promises.readFile)");
    eq("node's fs.promises.readFile", text, fs.readFileSync(__filename, 'utf8'));
    // zlib: a round trip on this thread, and one on the pool.
    const data = Buffer.from(text);
    eq("node's gzip round trip", zlib.gunzipSync(zlib.gzipSync(data)), data);
    const deflated = await within(util.promisify(zlib.deflate)(data), 5000, "node's zlib on the pool (zlib.deflate)");
    eq("node's deflate (async) then inflate", zlib.inflateSync(deflated), data);
    // A worker thread: a new V8 isolate and event loop, its own OpenSSL use.
    const worker = new Worker(
      "require('node:worker_threads').parentPort.postMessage(require('node:crypto').createHash('sha256').update('abc').digest('hex'))",
      { eval: true },
    );
    try {
      const answer = await within(
        new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
        10_000,
        'a worker thread',
      );
      eq("a worker's sha256('abc')", answer, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    } finally {
      await worker.terminate();
    }
    // A signal through node's own handling.
    const delivered = new Promise((resolve) => process.once('SIGUSR2', () => resolve('SIGUSR2')));
    process.kill(process.pid, 'SIGUSR2');
    eq("node's SIGUSR2 handler ran", await within(delivered, 5000, "node's SIGUSR2 handler"), 'SIGUSR2');
  } catch (e) {
    record('node health after close', e);
  }
}

/** What every cell shares with the library's setup: its mode, fixtures, scratch space. */
const helpers = [];
const cell = {
  mode,
  shared: {},
  openFixture(file) {
    const lib = dlswap.open(path.join(root, 'build', 'fixtures', file), { isolation: mode });
    helpers.push(lib);
    return lib;
  },
};

async function afterClose(entry, generations) {
  if (!entry.afterClose) return;
  enter('after close');
  try {
    await entry.afterClose(cell, generations);
  } catch (e) {
    record('after close', e);
  }
}

// ---- basic ----------------------------------------------------------------------------------------

async function basic(entry, file) {
  enter('open');
  let lib;
  try {
    lib = dlswap.open(file, { isolation: mode });
  } catch (e) {
    refuse(e, 'open');
    return;
  }
  result.lmid = lib.info.lmid;
  const fn = {};
  try {
    for (const [fname, proto] of Object.entries(entry.functions)) fn[fname] = lib.func(proto);
  } catch (e) {
    record('bind functions', e);
    await lib.close();
    return;
  }
  const ctx = { gen: 1, free: (p) => lib.free(p), state: undefined, cell, readCString: dlswap.readCString };
  let ready = true;
  if (entry.init) {
    enter('init');
    try {
      ctx.state = entry.init(fn, ctx);
    } catch (e) {
      ready = false;
      record('init', e);
    }
  }
  result.checks = [];
  if (ready) {
    for (const [cname, run] of Object.entries(entry.checks)) {
      enter(`check: ${cname}`);
      try {
        run(fn, ctx);
        result.checks.push({ name: cname, ok: true });
      } catch (e) {
        result.checks.push({ name: cname, ok: false });
        record(cname, e);
      }
    }
    enter(`async: ${entry.async.name}`);
    try {
      await within(entry.async.run(fn, ctx), ASYNC_TIMEOUT_MS, entry.async.name);
      result.checks.push({ name: entry.async.name, ok: true });
    } catch (e) {
      result.checks.push({ name: entry.async.name, ok: false });
      record(entry.async.name, e);
    }
    if (entry.fini) {
      enter('fini');
      try {
        entry.fini(fn, ctx, ctx.state);
      } catch (e) {
        record('fini', e);
      }
    }
  }
  enter('close');
  const mappedPath = lib.info.mappedPath;
  const closed = await lib.close();
  result.close = closed;
  checkClosed(1, closed, mappedPath);
  await afterClose(entry, [{ gen: 1, ...closed }]);
  return [{ gen: 1, unloaded: closed.unloaded, reason: closed.reason }];
}

// ---- hot ------------------------------------------------------------------------------------------

async function hot(entry, file) {
  enter('HotLibrary.open');
  let h;
  try {
    h = await dlswap.HotLibrary.open(file, { isolation: mode, functions: entry.functions });
  } catch (e) {
    refuse(e, 'open');
    return;
  }
  h.on('error', (e) => record('HotLibrary error event', e));
  const names = Object.keys(entry.functions);

  // Per generation: a lease held from its activation until every check that started on it has
  // finished (and its fini ran), the Library it runs in, its init state and its call counts.
  const gens = new Map();
  const ctxOf = (g) => ({ gen: g.id, free: (p) => g.lib.free(p), state: g.state, cell, readCString: dlswap.readCString });
  const activate = (id) => {
    const lease = h.pin();
    const lib = dlswap.libraryOf(lease.fn[names[0]]);
    const g = { id, lease, lib, mappedPath: lib.info.mappedPath, state: undefined, ok: true, users: 0, retiring: false, finished: false, sync: 0, async: 0 };
    gens.set(id, g);
    if (lease.generation !== id) record(`generation ${id}`, new WrongAnswer('lease taken right after the swap', lease.generation, id));
    if (entry.init) {
      try {
        g.state = entry.init(lease.fn, ctxOf(g));
      } catch (e) {
        g.ok = false;
        record(`init of generation ${id}`, e);
      }
    }
  };
  const maybeFinish = (g) => {
    if (!g.retiring || g.users > 0 || g.finished) return;
    g.finished = true;
    if (entry.fini && g.ok) {
      try {
        entry.fini(g.lease.fn, ctxOf(g), g.state);
      } catch (e) {
        record(`fini of generation ${g.id}`, e);
      }
    }
    g.lease.release();
  };
  const retire = (id) => {
    const g = gens.get(id);
    g.retiring = true;
    maybeFinish(g);
  };
  // Emitted synchronously right after the swap: the new generation is initialised before any call
  // can reach it through hot.fn.
  h.on('reload', (r) => {
    activate(r.to);
    retire(r.from);
  });
  activate(h.current);

  const stats = { sync: 0, async: 0, failed: 0 };
  let stop = false;
  const checks = Object.entries(entry.checks);

  // Sync checks on hot.fn: all calls of one check run in one turn of the JS thread, so on one
  // generation, the one current when it started.
  const syncLoop = (async () => {
    for (let i = 0; !stop; i++) {
      const g = gens.get(h.current);
      if (g.ok) {
        const [cname, run] = checks[i % checks.length];
        g.users++;
        try {
          run(h.fn, ctxOf(g));
          stats.sync++;
          g.sync++;
        } catch (e) {
          stats.failed++;
          record(`sync '${cname}' on generation ${g.id}`, e);
        } finally {
          g.users--;
          maybeFinish(g);
        }
      }
      await new Promise((r) => setImmediate(r));
    }
  })();

  // The async check: its first call goes through hot.fn (issued on the generation current when the
  // check starts); everything after its first await goes through that generation's lease, so that
  // objects it made are used and freed by the generation that made them.
  const asyncLoop = async () => {
    while (!stop) {
      const g = gens.get(h.current);
      if (!g.ok) {
        await sleep(1);
        continue;
      }
      let direct = true;
      const view = {};
      for (const n of names) Object.defineProperty(view, n, { get: () => (direct ? h.fn[n] : g.lease.fn[n]) });
      g.users++;
      try {
        const p = entry.async.run(view, ctxOf(g));
        direct = false;
        await within(p, ASYNC_TIMEOUT_MS, entry.async.name);
        stats.async++;
        g.async++;
      } catch (e) {
        stats.failed++;
        record(`async '${entry.async.name}' on generation ${g.id}`, e);
      } finally {
        direct = false;
        g.users--;
        maybeFinish(g);
      }
    }
  };
  const asyncLoops = Array.from({ length: ASYNC_LOOPS }, asyncLoop);

  result.hot = { reloads: [] };
  enter('load on generation 1');
  await sleep(SERVE_MS);
  for (let i = 1; i <= RELOADS && result.outcome === 'ok'; i++) {
    enter(`reload ${i}`);
    try {
      const r = await h.reload();
      const ms = Object.values(r.durations).reduce((s, x) => s + x, 0);
      result.hot.reloads.push({ from: r.from, to: r.to, unloaded: r.unloaded, pinnedReason: r.pinnedReason, ms: Math.round(ms) });
      enter(`load on generation ${r.to}`);
    } catch (e) {
      if (refusalCode(e) && e.causeCode) refuse(e, `reload ${i}`);
      else record(`reload ${i}`, e);
      break;
    }
    await sleep(SERVE_MS);
  }
  stop = true;
  enter('stop load');
  await syncLoop;
  await Promise.all(asyncLoops);
  retire(h.current);
  enter('close');
  await h.close();
  // A generation kept mapped because a later one was loaded while its signal handlers were installed
  // (a later one may chain to them) is unloaded once those are gone: wait for that (bounded), so
  // that what is checked below is where it ends, not the moment between.
  enter('late unloads');
  const heldForSignals = () => h.generations().filter((g) => g.state === 'closed' && g.unloaded !== true && /signal|SIG[A-Z]/.test(g.pinnedReason ?? ''));
  for (let waited = 0; heldForSignals().length > 0 && waited < LATE_UNLOAD_MS; waited += 100) await sleep(100);

  const closed = [];
  for (const info of h.generations()) {
    const g = gens.get(info.id);
    if (!g || info.state !== 'closed') continue;
    const c = { gen: info.id, unloaded: info.unloaded === true, reason: info.pinnedReason };
    closed.push(c);
    checkClosed(info.id, c, g.mappedPath);
  }
  Object.assign(result.hot, stats, {
    generations: [...gens.values()].map((g) => ({ id: g.id, sync: g.sync, async: g.async })),
    closed,
  });
  // Load ran on every generation, sync and async, and at least one answer of each kind was checked.
  try {
    check('sync checks ran', stats.sync > 0, stats.sync, '> 0');
    check('async checks ran', stats.async > 0, stats.async, '> 0');
    if (result.outcome === 'ok') {
      for (const g of gens.values()) check(`sync checks ran on generation ${g.id}`, g.sync > 0, g.sync, '> 0');
      check(`generations served (1 + ${RELOADS} reloads)`, gens.size === RELOADS + 1, gens.size, RELOADS + 1);
    }
  } catch (e) {
    record('load', e);
  }
  await afterClose(entry, closed);
  return closed;
}

// ---- main -----------------------------------------------------------------------------------------

async function main() {
  const entry = libraries.find((l) => l.name === name);
  if (!entry || !dlswap.ISOLATION_MODES.includes(mode) || !['basic', 'hot'].includes(scenario)) {
    result.outcome = 'usage';
    result.message = `usage: node cell.cjs <library> <mode> <basic|hot>; libraries: ${libraries.map((l) => l.name).join(' ')}; modes: ${dlswap.ISOLATION_MODES.join(' ')}`;
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(2);
  }
  const file = resolveLibrary(entry.soname);
  const missing = missingPackages([entry.package, ...(entry.packages ?? [])]);
  if (!file || missing.length) {
    result.outcome = 'missing';
    result.message = !file
      ? `${entry.soname} is not installed: install the Debian package ${entry.package} (apt-get install ${[entry.package, ...missing.filter((p) => p !== entry.package)].join(' ')})`
      : `${entry.soname} needs the Debian package(s) ${missing.join(', ')}: apt-get install ${missing.join(' ')}`;
    finish();
    return;
  }
  result.path = file;
  signalsBefore = caughtSignals();
  if (entry.setup) {
    enter('setup');
    try {
      entry.setup(cell);
    } catch (e) {
      record('setup', e);
      finish();
      return;
    }
  }
  const closed = (scenario === 'basic' ? await basic(entry, file) : await hot(entry, file)) ?? [];
  for (const lib of helpers.splice(0)) await lib.close();
  await nodeStillWorks(closed);
  enter('done');
  finish();
}

const deadline = Number(process.env.DLSWAP_CELL_DEADLINE_MS || 60_000);
setTimeout(() => {
  result.outcome = 'timeout';
  record('deadline', new Error(`no result after ${deadline} ms, in phase '${phase}'`));
  finish();
}, deadline);
process.on('uncaughtException', (e) => {
  record(`uncaught exception in phase '${phase}'`, e);
  finish();
});
process.on('unhandledRejection', (e) => {
  record(`unhandled rejection in phase '${phase}'`, e);
  finish();
});

main().catch((e) => {
  record(`phase '${phase}'`, e);
  finish();
});
