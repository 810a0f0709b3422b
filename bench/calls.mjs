#!/usr/bin/env node
// Call-cost benchmark: dlswap against a hand-written raw Node-API binding (the floor for any addon)
// and koffi, on the same fixture functions, in one process.
//
//   node bench/calls.mjs            table of medians and ratios
//   node bench/calls.mjs --json     the same as JSON (samples included)
//   --rounds N                      rounds per contender (default 9)
//   --ms N                          target duration of one sync sample in ms (default 100)
//   --thread-calls N                callbacks per sample from a library thread (default 2000)
//   --baseline DIR                  also time the sync calls through another dlswap checkout (its
//                                   dist/ and build/ built), side by side in the same rounds: the
//                                   cost of a change is (this dlswap/raw) against (baseline/raw)
//
// Contenders are interleaved and their order rotates every round, so that drift of the machine
// (frequency, other load) spreads over all of them; the median of the rounds is reported. Each
// contender runs in a loop of its own generated source, so that no call site becomes polymorphic.
import { join } from 'node:path';
import { args, buildRawBinding, json, loadDlswap, log, median, option, require, root } from './common.mjs';

const ROUNDS = option('--rounds', 9);
const SAMPLE_MS = option('--ms', 100);
const ASYNC_CALLS = option('--async-calls', 10_000);
const ASYNC_IN_FLIGHT = option('--in-flight', 64);

// --- prerequisites, built on demand and offline ------------------------------------------------
const dlswap = loadDlswap();
const fixture = join(root, 'build', 'fixtures', 'libtypes.so');
const rawAddon = buildRawBinding();

const raw = require(rawAddon);
const koffi = require('koffi');
raw.load(fixture);

const lib = dlswap.open(fixture, { isolation: 'namespace' });
const klib = koffi.load(fixture);
const baselineDir = args.includes('--baseline') ? args[args.indexOf('--baseline') + 1] : null;
const blib = baselineDir ? require(join(baselineDir, 'dist', 'index.js')).open(fixture, { isolation: 'namespace' }) : null;

const STR = 'hello, world';
const cases = [
  {
    name: 'add',
    title: 'int add(int, int)',
    call: 'f(i & 65535, 3)',
    dlswap: lib.func('int add(int a, int b)'),
    baseline: blib?.func('int add(int a, int b)'),
    raw: raw.add,
    koffi: klib.func('int add(int a, int b)'),
  },
  {
    name: 'hypot',
    title: 'double hypot_d(double, double)',
    call: 'f(i & 255, 4.5)',
    dlswap: lib.func('double hypot_d(double x, double y)'),
    baseline: blib?.func('double hypot_d(double x, double y)'),
    raw: raw.hypot,
    koffi: klib.func('double hypot_d(double x, double y)'),
  },
  {
    name: 'sum6',
    title: 'int sum6(int x6)',
    call: 'f(i & 255, 1, 2, 3, 4, 5)',
    dlswap: lib.func('int sum6(int a, int b, int c, int d, int e, int f)'),
    baseline: blib?.func('int sum6(int a, int b, int c, int d, int e, int f)'),
    raw: raw.sum6,
    koffi: klib.func('int sum6(int a, int b, int c, int d, int e, int f)'),
  },
  {
    name: 'str_len',
    title: 'int str_len(const char *)',
    call: 'f(s)',
    dlswap: lib.func('int str_len(const char *s)'),
    baseline: blib?.func('int str_len(const char *s)'),
    raw: raw.str_len,
    koffi: klib.func('int str_len(const char *s)'),
  },
];
const CONTENDERS = ['raw', 'dlswap', 'koffi', ...(blib ? ['baseline'] : [])];

// Sanity: every contender computes the same thing.
for (const c of cases) {
  const f = (who) => new Function('f', 's', 'i', `return ${c.call};`)(c[who], STR, 12345);
  const want = f('raw');
  for (const who of CONTENDERS) {
    if (f(who) !== want) throw new Error(`bench: ${who} ${c.name} returned ${f(who)}, raw returned ${want}`);
  }
}

function makeLoop(c, who) {
  // A distinct function per (case, contender): its own feedback, a monomorphic call site.
  return new Function(
    'f',
    's',
    'n',
    `// ${c.name} via ${who}
    let acc = 0;
    for (let i = 0; i < n; i++) acc += ${c.call};
    return acc;`,
  );
}

/** The median over rounds of a[r] / b[r]. */
function pairedMedian(a, b) {
  return median(a.map((x, r) => x / b[r]));
}

function nsPerCall(loop, fn, n) {
  const t0 = process.hrtime.bigint();
  loop(fn, STR, n);
  return Number(process.hrtime.bigint() - t0) / n;
}

// --- sync ---------------------------------------------------------------------------------------
const sync = {};
const started = Date.now();
for (const c of cases) {
  const loops = Object.fromEntries(CONTENDERS.map((who) => [who, makeLoop(c, who)]));
  // Warm-up (optimizes each loop) and calibration: n such that a sample takes about SAMPLE_MS.
  const n = {};
  for (const who of CONTENDERS) {
    nsPerCall(loops[who], c[who], 200_000);
    const ns = nsPerCall(loops[who], c[who], 500_000);
    n[who] = Math.max(100_000, Math.round((SAMPLE_MS * 1e6) / ns));
  }
  const samples = Object.fromEntries(CONTENDERS.map((who) => [who, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < CONTENDERS.length; k++) {
      const who = CONTENDERS[(r + k) % CONTENDERS.length];
      samples[who].push(nsPerCall(loops[who], c[who], n[who]));
    }
  }
  const med = Object.fromEntries(CONTENDERS.map((who) => [who, median(samples[who])]));
  sync[c.name] = {
    title: c.title,
    ns: med,
    // The fastest round: least disturbed by other load on the machine.
    best: Object.fromEntries(CONTENDERS.map((who) => [who, Math.min(...samples[who])])),
    samples,
    ratios: { 'dlswap/raw': med.dlswap / med.raw, 'dlswap/koffi': med.dlswap / med.koffi, ...(blib ? { 'baseline/raw': med.baseline / med.raw } : {}) },
    // The same ratios taken within each round (its samples ran back to back) and then the median:
    // load that drifts between rounds cancels out of these.
    roundRatios: {
      'dlswap/raw': pairedMedian(samples.dlswap, samples.raw),
      ...(blib ? { 'baseline/raw': pairedMedian(samples.baseline, samples.raw) } : {}),
    },
  };
}

// --- beyond scalars: structs and callbacks (dlswap and koffi; a raw binding has no equivalent) -----
// Each row is per call (structs) or per callback invocation (callbacks: C calls the JS function N
// times in one call, from the JS thread or from a thread the library starts).
const ffiFixture = join(root, 'build', 'fixtures', 'libffi_v1.so');
const FFI_CONTENDERS = ['dlswap', 'koffi'];
const ffiTypes = dlswap.types(`
  struct rect { int32_t x, y, w, h; };
  struct point { int32_t x, y; };
  typedef int (*int_fn)(int);
`);
const flib = dlswap.open(ffiFixture, { isolation: 'namespace', types: ffiTypes });
const kflib = koffi.load(ffiFixture);
koffi.struct('rect', { x: 'int32_t', y: 'int32_t', w: 'int32_t', h: 'int32_t' });
koffi.struct('point', { x: 'int32_t', y: 'int32_t' });
const KIntFn = koffi.proto('int IntFn(int)');
const CB_BATCH = 10_000;
const THREAD_BATCH = option('--thread-calls', 2_000);
const bump = (x) => x + 1;
const dThreadCb = flib.callback('int_fn', bump);
const kThreadCb = koffi.register(bump, koffi.pointer(KIntFn));
const kThreadCall = kflib.func('int thread_call_n(IntFn *cb, int n)');
const dThreadCall = flib.func('int thread_call_n(int_fn cb, int n)');
const RECT = { x: 1, y: 2, w: 3, h: 4 };
const PA = { x: 1, y: 2 };
const PB = { x: 10, y: 20 };
const ffiCases = [
  {
    name: 'struct_ptr',
    title: 'int rect_area(const struct rect *)',
    call: 'f(r)',
    per: 1,
    dlswap: flib.func('int rect_area(const struct rect *r)'),
    koffi: kflib.func('int rect_area(const rect *r)'),
  },
  {
    name: 'struct_value',
    title: 'struct point point_add(point, point)',
    call: 'f(a, b).x',
    per: 1,
    dlswap: flib.func('struct point point_add(struct point a, struct point b)'),
    koffi: kflib.func('point point_add(point a, point b)'),
  },
  {
    name: 'callback_sync',
    title: `callback int(int), JS thread (x${CB_BATCH})`,
    call: `f(cb, ${CB_BATCH})`,
    per: CB_BATCH,
    dlswap: flib.func('int fp_call_n(int (*cb)(int), int n)'),
    koffi: kflib.func('int fp_call_n(IntFn *cb, int n)'),
  },
];
for (const c of ffiCases) {
  const f = (who) => new Function('f', 'r', 'a', 'b', 'cb', `return ${c.call};`)(c[who], RECT, PA, PB, bump);
  if (f('dlswap') !== f('koffi')) throw new Error(`bench: ${c.name}: dlswap ${f('dlswap')}, koffi ${f('koffi')}`);
}

function makeFfiLoop(c, who) {
  return new Function(
    'f',
    'r',
    'a',
    'b',
    'cb',
    'n',
    `// ${c.name} via ${who}
    let acc = 0;
    for (let i = 0; i < n; i++) acc += ${c.call};
    return acc;`,
  );
}

function ffiNs(loop, fn, n, per) {
  const t0 = process.hrtime.bigint();
  loop(fn, RECT, PA, PB, bump, n);
  return Number(process.hrtime.bigint() - t0) / (n * per);
}

const ffi = {};
for (const c of ffiCases) {
  const loops = Object.fromEntries(FFI_CONTENDERS.map((who) => [who, makeFfiLoop(c, who)]));
  const n = {};
  for (const who of FFI_CONTENDERS) {
    ffiNs(loops[who], c[who], Math.max(1, 200_000 / c.per), c.per);
    const ns = ffiNs(loops[who], c[who], Math.max(1, 500_000 / c.per), c.per);
    n[who] = Math.max(Math.max(1, 100_000 / c.per), Math.round((SAMPLE_MS * 1e6) / (ns * c.per)));
  }
  const samples = Object.fromEntries(FFI_CONTENDERS.map((who) => [who, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < FFI_CONTENDERS.length; k++) {
      const who = FFI_CONTENDERS[(r + k) % FFI_CONTENDERS.length];
      samples[who].push(ffiNs(loops[who], c[who], n[who], c.per));
    }
  }
  const med = Object.fromEntries(FFI_CONTENDERS.map((who) => [who, median(samples[who])]));
  ffi[c.name] = {
    title: c.title,
    ns: med,
    best: Object.fromEntries(FFI_CONTENDERS.map((who) => [who, Math.min(...samples[who])])),
    samples,
    ratio: med.dlswap / med.koffi,
  };
}

// A callback from a thread the library starts: the C caller waits for the JS thread each time. The
// outer call is async on both sides (the JS thread must be free to run the callbacks).
{
  const run = {
    dlswap: () => dThreadCall.async(dThreadCb, THREAD_BATCH),
    koffi: () => new Promise((resolve, reject) => kThreadCall.async(kThreadCb, THREAD_BATCH, (e, v) => (e ? reject(e) : resolve(v)))),
  };
  const want = (THREAD_BATCH * (THREAD_BATCH + 1)) / 2;
  for (const who of FFI_CONTENDERS) {
    const v = await run[who]();
    if (v !== want) throw new Error(`bench: callback_thread via ${who} returned ${v}, expected ${want}`);
  }
  const samples = Object.fromEntries(FFI_CONTENDERS.map((who) => [who, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < FFI_CONTENDERS.length; k++) {
      const who = FFI_CONTENDERS[(r + k) % FFI_CONTENDERS.length];
      const t0 = process.hrtime.bigint();
      await run[who]();
      samples[who].push(Number(process.hrtime.bigint() - t0) / THREAD_BATCH);
    }
  }
  const med = Object.fromEntries(FFI_CONTENDERS.map((who) => [who, median(samples[who])]));
  ffi.callback_thread = {
    title: `callback int(int), library thread (x${THREAD_BATCH})`,
    ns: med,
    best: Object.fromEntries(FFI_CONTENDERS.map((who) => [who, Math.min(...samples[who])])),
    samples,
    ratio: med.dlswap / med.koffi,
  };
}
koffi.unregister(kThreadCb);
await dThreadCb.release();
await flib.close();

// --- async throughput ---------------------------------------------------------------------------
// `total` calls of add, `inFlight` outstanding at any time; returns calls per second.
function pumpPromise(start, total, inFlight) {
  return new Promise((resolve, reject) => {
    let issued = 0;
    let done = 0;
    const t0 = process.hrtime.bigint();
    const next = () => {
      const i = issued++;
      start(i & 1023, 3).then((v) => {
        if (v !== (i & 1023) + 3) return reject(new Error(`async result ${v}`));
        if (++done === total) resolve(total / (Number(process.hrtime.bigint() - t0) / 1e9));
        else if (issued < total) next();
      }, reject);
    };
    for (let k = 0; k < Math.min(inFlight, total); k++) next();
  });
}

function pumpCallback(start, total, inFlight) {
  return new Promise((resolve, reject) => {
    let issued = 0;
    let done = 0;
    const t0 = process.hrtime.bigint();
    const next = () => {
      const i = issued++;
      start(i & 1023, 3, (err, v) => {
        if (err) return reject(err);
        if (v !== (i & 1023) + 3) return reject(new Error(`async result ${v}`));
        if (++done === total) resolve(total / (Number(process.hrtime.bigint() - t0) / 1e9));
        else if (issued < total) next();
      });
    };
    for (let k = 0; k < Math.min(inFlight, total); k++) next();
  });
}

const dAdd = cases[0].dlswap;
const kAdd = cases[0].koffi;
const kAsyncPromise = (a, b) => new Promise((resolve, reject) => kAdd.async(a, b, (e, v) => (e ? reject(e) : resolve(v))));
const asyncContenders = {
  dlswap: () => pumpPromise(dAdd.async, ASYNC_CALLS, ASYNC_IN_FLIGHT),
  'koffi (callback)': () => pumpCallback(kAdd.async, ASYNC_CALLS, ASYNC_IN_FLIGHT),
  'koffi (promise)': () => pumpPromise(kAsyncPromise, ASYNC_CALLS, ASYNC_IN_FLIGHT),
};
const asyncNames = Object.keys(asyncContenders);
for (const who of asyncNames) await asyncContenders[who](); // warm-up
const asyncSamples = Object.fromEntries(asyncNames.map((who) => [who, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < asyncNames.length; k++) {
    const who = asyncNames[(r + k) % asyncNames.length];
    asyncSamples[who].push(await asyncContenders[who]());
  }
}
const asyncMed = Object.fromEntries(asyncNames.map((who) => [who, median(asyncSamples[who])]));
const asyncResult = {
  calls: ASYNC_CALLS,
  inFlight: ASYNC_IN_FLIGHT,
  callsPerSecond: asyncMed,
  samples: asyncSamples,
  ratios: {
    'dlswap/koffi (callback)': asyncMed.dlswap / asyncMed['koffi (callback)'],
    'dlswap/koffi (promise)': asyncMed.dlswap / asyncMed['koffi (promise)'],
  },
};
await lib.close();

const report = {
  node: process.version,
  koffi: koffi.version,
  platform: `${process.platform}-${process.arch}`,
  rounds: ROUNDS,
  seconds: (Date.now() - started) / 1000,
  sync,
  ffi,
  async: asyncResult,
};

if (json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const pad = (s, n) => String(s).padEnd(n);
  const lpad = (s, n) => String(s).padStart(n);
  log(`dlswap call benchmark: node ${process.version}, koffi ${koffi.version}, median of ${ROUNDS} rounds`);
  log('');
  const base = (s) => (blib ? `${lpad(s.ns.baseline.toFixed(1), 10)}${lpad(s.ratios['baseline/raw'].toFixed(3), 14)}` : '');
  log(
    `${pad('sync, ns per call', 34)}${lpad('raw N-API', 10)}${lpad('dlswap', 10)}${lpad('koffi', 10)}${lpad('dlswap/raw', 12)}${lpad('dlswap/koffi', 14)}${blib ? `${lpad('baseline', 10)}${lpad('baseline/raw', 14)}` : ''}`,
  );
  for (const c of cases) {
    const s = sync[c.name];
    log(
      `${pad(s.title, 34)}${lpad(s.ns.raw.toFixed(1), 10)}${lpad(s.ns.dlswap.toFixed(1), 10)}${lpad(s.ns.koffi.toFixed(1), 10)}` +
        `${lpad(s.ratios['dlswap/raw'].toFixed(3), 12)}${lpad(s.ratios['dlswap/koffi'].toFixed(3), 14)}${base(s)}`,
    );
  }
  if (blib) log(`baseline: ${baselineDir}`);
  // The figure the call path is held to (docs/calls.md): the sync add against the raw binding.
  const a = sync.add;
  log(
    `add: dlswap/raw ${a.ratios['dlswap/raw'].toFixed(3)} (goal <= 1.10; median of ${ROUNDS} rounds), within each round ${a.roundRatios['dlswap/raw'].toFixed(3)}` +
      (blib ? `; baseline/raw ${a.ratios['baseline/raw'].toFixed(3)}, within each round ${a.roundRatios['baseline/raw'].toFixed(3)}` : ''),
  );
  log("  instructions per call, exact and independent of the machine's load: npm run bench:instructions");
  log('');
  log(`${pad('structs and callbacks, ns per call', 44)}${lpad('dlswap', 10)}${lpad('koffi', 10)}${lpad('dlswap/koffi', 14)}`);
  for (const s of Object.values(ffi)) {
    log(`${pad(s.title, 44)}${lpad(s.ns.dlswap.toFixed(1), 10)}${lpad(s.ns.koffi.toFixed(1), 10)}${lpad(s.ratio.toFixed(3), 14)}`);
  }
  log('');
  log(`async add: ${ASYNC_CALLS} calls, ${ASYNC_IN_FLIGHT} in flight, calls per second`);
  for (const who of asyncNames) log(`  ${pad(who, 20)}${lpad(Math.round(asyncMed[who]).toLocaleString('en-US'), 12)}`);
  log(
    `  dlswap/koffi (callback) ${asyncResult.ratios['dlswap/koffi (callback)'].toFixed(3)}, dlswap/koffi (promise) ${asyncResult.ratios['dlswap/koffi (promise)'].toFixed(3)}`,
  );
  log('');
  log(`(${report.seconds.toFixed(1)} s)`);
}
