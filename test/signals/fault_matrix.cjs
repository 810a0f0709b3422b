// Child process of test/signals/containment.test.ts: raises each planted fault of
// fixtures-c/faults/faults.c in one isolation mode and one context, each in a fresh library, and
// prints what every call came to as one JSON line. A fault that was not contained ends this
// process, which is the test's verdict.
//
//   node fault_matrix.cjs <dist/index.js> <libfaults.so> <mode> <context> <kind,kind,...>
//   context: sync | async | callback | worker
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const PROTO = 'int faults(int kind, int x)';

function describe(e) {
  return e?.code
    ? { code: e.code, signal: e.fault?.signal ?? null, role: e.fault?.thread?.role ?? null, where: e.fault?.where ?? null, generation: e.fault?.generation }
    : { code: 'none', message: String(e) };
}

async function one(dlswap, path, mode, context, kind) {
  const lib = dlswap.open(path, { isolation: mode, types: context === 'callback' ? dlswap.types('typedef int (*cb_t)(int);') : undefined });
  const f = lib.func(PROTO);
  let error = null;
  let value;
  try {
    if (context === 'sync') value = f(kind, 1);
    else if (context === 'async') value = await f.async(kind, 1);
    else if (context === 'callback') {
      // The faulting call is made from inside a JS callback that another library's C code called.
      const outer = dlswap.open(path, { isolation: mode, types: dlswap.types('typedef int (*cb_t)(int);') });
      const callBack = outer.func('int call_back(cb_t cb, int x)');
      let inner = null;
      try {
        callBack((x) => {
          try {
            return f(kind, x);
          } catch (e) {
            inner = e;
            return -1;
          }
        }, 1);
      } catch (e) {
        inner ??= e;
      }
      error = inner;
      await outer.close();
    }
  } catch (e) {
    error = e;
  }
  let after;
  try {
    f(0, 1);
    after = 'served';
  } catch (e) {
    after = e.code;
  }
  const closed = await lib.close();
  return { kind, value, ...describe(error), after, quarantined: closed.quarantined === true, unloaded: closed.unloaded };
}

async function run(dlswap, path, mode, context, kinds) {
  const out = [];
  for (const kind of kinds) out.push(await one(dlswap, path, mode, context, kind));
  // The process is still healthy: a fresh copy of the library serves.
  const fresh = dlswap.open(path, { isolation: mode });
  const healthy = fresh.func(PROTO)(0, 41);
  await fresh.close();
  return { results: out, healthy };
}

if (isMainThread) {
  const [dist, path, mode, context, kindList] = process.argv.slice(2);
  const kinds = kindList.split(',').map(Number);
  if (context === 'worker') {
    const w = new Worker(__filename, { workerData: { dist, path, mode, kinds } });
    w.on('message', (m) => console.log(JSON.stringify(m)));
    w.on('error', (e) => {
      console.log(JSON.stringify({ workerError: String(e) }));
      process.exitCode = 1;
    });
  } else {
    run(require(dist), path, mode, context, kinds).then((r) => console.log(JSON.stringify(r)));
  }
} else {
  const { dist, path, mode, kinds } = workerData;
  run(require(dist), path, mode, 'sync', kinds).then((r) => parentPort.postMessage(r));
}
