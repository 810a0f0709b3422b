#!/usr/bin/env node
'use strict';
/**
 * Every way a generation can fail between its load and its activation, in one isolation mode
 * (test/hot/generation_guard.test.ts runs it in a child process per mode):
 *
 *   DLSWAP_FIXTURE_RECORD=<file> node test/hot/guard_scenarios.cjs <mode> [<first>:<end>]
 *
 * (the optional range picks scenarios by index, for fresh-namespace, whose process-wide namespace
 * budget does not last through all of them).
 * Each scenario opens (or reloads) fixtures-c/record's librecord.so, which appends a line to <file>
 * for each constructor, init, fini and destructor run, and makes the step fail: a fault point
 * (lib/faults.ts), a throwing user hook (setup, a listener), an abort,
 * close() during the reload, a handover that cannot drain. After each it records what the caller got
 * and what was left: the private copies still mapped, and the init and fini runs of the failed
 * generation. Prints one JSON line: { mode, results: [...], uncaught: [...] }.
 */
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const dlswap = require(path.join(root, 'dist', 'index.js'));
const testing = require(path.join(root, 'dist', 'testing', 'index.js'));
const { privateDir } = require(path.join(root, 'dist', 'load', 'temp_area.js'));

const mode = process.argv[2] ?? 'namespace';
const RECORD = process.env.DLSWAP_FIXTURE_RECORD;
const LIB = path.join(root, 'build', 'fixtures', 'librecord.so');
const functions = { gen: 'int record_generation(void)' };

const uncaught = [];
process.on('uncaughtException', (e) => uncaught.push(String(e?.message)));

/** Distinct private copies mapped in this process. */
function mappedCopies() {
  const dir = privateDir();
  const lines = fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
  return [...new Set(lines.map((l) => l.slice(l.indexOf('/')).replace(/ \(deleted\)$/, '')))];
}

/** The record file's lines since the last call, as counts by "what generation". */
function takeRecord() {
  let text = '';
  try {
    text = fs.readFileSync(RECORD, 'utf8');
  } catch {
    // nothing recorded yet
  }
  fs.writeFileSync(RECORD, '');
  const counts = {};
  for (const line of text.split('\n').filter(Boolean)) counts[line] = (counts[line] ?? 0) + 1;
  return counts;
}

function describe(e) {
  if (!(e instanceof Error)) return { thrown: String(typeof e) };
  return {
    code: e.code,
    causeCode: e.cause?.code,
    failedPhase: e.report?.failedPhase,
    isDlswapError: e instanceof dlswap.DlswapError,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

/** A type registry whose `scope` getter throws from its `n`-th read on. */
const OPEN = {
  'fault after-copy': { fault: 'after-copy' },
  'fault after-open': { fault: 'after-open' },
  'fault in-verify': { fault: 'in-verify' },
  'setup throws': {
    options: {
      setup() {
        throw new Error('setup says no');
      },
    },
  },
  'setup rejects': {
    options: {
      async setup() {
        await tick();
        throw new RangeError('later');
      },
    },
  },
  'setup throws a value that cannot be printed': {
    options: {
      setup() {
        throw {
          toString() {
            throw new Error('no');
          },
        };
      },
    },
  },
  'aborted while the load runs': {
    options: (() => {
      const ac = new AbortController();
      return {
        signal: ac.signal,
        setup() {
          ac.abort(new Error('user gave up'));
        },
      };
    })(),
  },
};

/** The reload scenarios: `arm(hot)` sets the failure up on the open HotLibrary `hot`. */
const RELOAD = {
  'fault after-copy': { fault: 'after-copy' },
  'fault after-open': { fault: 'after-open' },
  'fault in-verify': { fault: 'in-verify' },
  'fault before-swap': { fault: 'before-swap' },
  'setup throws': {
    setup: (gen) => {
      if (gen.id > 1) throw new TypeError('generation 2 refused');
    },
  },
  'setup throws a non-Error': {
    setup: (gen) => {
      if (gen.id > 1) throw Symbol('odd');
    },
  },
  'aborted before the swap': { abortInSetup: true },
  'close() during the reload': { closeInSetup: true },
  'handover: fault in-state-export': { policy: 'handover', fault: 'in-state-export' },
  'handover: fault in-state-import': { policy: 'handover', fault: 'in-state-import' },
  'handover: a lease keeps the old generation, and the drain-timeout listener throws': { policy: 'handover', lease: true },
};

async function openScenario(name, s) {
  takeRecord();
  if (s.fault) testing.injectFault(s.fault);
  let error;
  try {
    const hot = await dlswap.HotLibrary.open(LIB, { isolation: mode, functions, ...s.options });
    await hot.close();
    error = new Error('opened');
  } catch (e) {
    error = e;
  }
  testing.clearFaults();
  // An abort rejects at once; the generation is undone once its guard sees it (bounded wait).
  for (let i = 0; i < 500 && mappedCopies().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  await tick();
  return { kind: 'open', name, ...describe(error), mapped: mappedCopies().length, record: takeRecord() };
}

async function reloadScenario(name, s) {
  takeRecord();
  let ac;
  let hot;
  const options = {
    isolation: mode,
    functions,
    policy: s.policy ?? 'overlap',
    drainTimeoutMs: s.lease ? 50 : 10_000,
    setup(gen) {
      if (s.setup) s.setup(gen);
      if (gen.id > 1 && s.abortInSetup) ac.abort(new Error('stop'));
      if (gen.id > 1 && s.closeInSetup) void hot.close();
    },
  };
  hot = await dlswap.HotLibrary.open(LIB, options);
  const lease = s.lease ? hot.pin() : null;
  if (s.lease)
    hot.on('drain-timeout', () => {
      throw new Error('listener threw');
    });
  ac = new AbortController();
  if (s.fault) testing.injectFault(s.fault);
  let error;
  try {
    await hot.reload(LIB, { signal: ac.signal });
    error = new Error('reloaded');
  } catch (e) {
    error = e;
  }
  testing.clearFaults();
  // An abort rejects at once; the generation is undone once its guard sees it, and its image closed
  // a moment later (a bounded wait: it must come).
  const undone = () => hot.generations().every((g) => g.state !== 'loading' && g.state !== 'verifying') && mappedCopies().length <= 1;
  for (let i = 0; i < 1000 && !undone(); i++) await new Promise((r) => setTimeout(r, 10));
  const serving = s.closeInSetup ? null : hot.fn.gen();
  const generations = hot.generations().map((g) => [g.id, g.state, g.unloaded ?? null]);
  const mapped = mappedCopies().length;
  lease?.release();
  await hot.close();
  await tick();
  return {
    kind: 'reload',
    name,
    ...describe(error),
    serving,
    generations,
    mapped,
    mappedAfterClose: mappedCopies().length,
    record: takeRecord(),
  };
}

const SCENARIOS = [
  ...Object.entries(OPEN).map(
    ([name, s]) =>
      () =>
        openScenario(name, s),
  ),
  ...Object.entries(RELOAD).map(
    ([name, s]) =>
      () =>
        reloadScenario(name, s),
  ),
];

(async () => {
  // dlswap's own timers (the drain deadline) do not keep node alive: this does, until the end.
  const alive = setInterval(() => {}, 1_000);
  const [first, end] = (process.argv[3] ?? `0:${SCENARIOS.length}`).split(':').map(Number);
  const results = [];
  for (const run of SCENARIOS.slice(first, end)) {
    results.push(await run());
    if (process.env.GUARD_TRACE) console.error(JSON.stringify(results[results.length - 1]));
  }
  console.log(JSON.stringify({ mode, count: SCENARIOS.length, results, uncaught }));
  clearInterval(alive);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
