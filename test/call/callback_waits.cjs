#!/usr/bin/env node
'use strict';
/**
 * A thread waiting for the JS thread to run a callback, in every situation where that wait used to
 * last for ever (test/call/callback_waits.test.ts runs one scenario per child process):
 *
 *   node test/call/callback_waits.cjs <scenario>
 *
 * exit-*: the process (or a worker) exits while a call from another thread waits, or from inside
 * the callback itself: it must exit with code 7 (9 for exit() from C, also while an .async call
 * returns), at once. deadline: the JS thread is busy past the callback's timeoutMs. deadlock: a
 * synchronous call joins the very thread that calls back. Those two print one JSON line.
 */
const path = require('node:path');
const { Worker, isMainThread, workerData } = require('node:worker_threads');

const root = path.resolve(__dirname, '..', '..');
const dlswap = require(path.join(root, 'dist', 'index.js'));
const FFI = path.join(root, 'build', 'fixtures', 'libffi_v1.so');
const scenario = isMainThread ? process.argv[2] : workerData;

const busy = (ms) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

// exit() from C: node's own libc's, reached through a library that shares it.
const lib = dlswap.open(FFI, { isolation: scenario.startsWith('exit-from-c') ? 'local' : 'namespace' });
const fpCall = lib.func('int fp_call(int (*cb)(int), int x)');

const scenarios = {
  // A JS function passed straight to an .async call (a libuv pool thread calls it).
  'exit-inside-temporary': () => fpCall.async(() => process.exit(7), 1),
  'exit-while-temporary-waits': () => {
    fpCall.async((x) => x, 1);
    busy(300); // the pool thread queues its call meanwhile
    process.exit(7);
  },
  // A registered callback, from the pool thread.
  'exit-inside-registered': () =>
    fpCall.async(
      lib.callback('int (*)(int)', () => process.exit(7)),
      1,
    ),
  'exit-while-registered-waits': () => {
    fpCall.async(
      lib.callback('int (*)(int)', (x) => x),
      1,
    );
    busy(300);
    process.exit(7);
  },
  // A struct by value: the libffi closure path rather than a fixed stub.
  'exit-inside-struct-callback': () => {
    const t = dlswap.types('struct point { int32_t x, y; }');
    const l = dlswap.open(FFI, { types: t });
    l.func('int call_with_struct(int (*cb)(struct point), int32_t x, int32_t y)').async(() => process.exit(7), 1, 2);
  },
  // A thread the library started, calling a registered handler in a loop.
  'exit-while-library-thread-waits': () => {
    lib.func('void set_handler(int (*cb)(int))')(lib.callback('int (*)(int)', (x) => x));
    lib.func('int start_handler_thread(int calls)')(1_000_000);
    busy(300);
    process.exit(7);
  },
  // A pool thread joining a library thread that waits for the JS thread.
  'exit-while-joined-thread-waits': () => {
    lib.func('int run_in_thread(int (*cb)(int), int x)').async(
      lib.callback('int (*)(int)', (x) => x),
      1,
    );
    busy(300);
    process.exit(7);
  },
  // exit() from C, on the JS thread: no 'exit' event, only atexit handlers.
  'exit-from-c': () => {
    const exit = lib.symbol('exit');
    fpCall.async((x) => x, 1);
    busy(300);
    lib.func('int call_ptr(void *fp, int x)')(exit, 9);
  },
  // exit() from C while a plain .async call is about to return: its pool thread ends its work item
  // in node's code after exit() began (the first work item of the process to end, which reads node's
  // tracing controller; freed by node's static destructors unless the pool is joined before them).
  'exit-from-c-while-call-returns': () => {
    const exit = lib.symbol('exit');
    lib.func('int usleep(uint32_t us)').async(100_000);
    busy(50);
    lib.func('int call_ptr(void *fp, int x)')(exit, 9);
  },
  // A worker exits from inside a callback; the process goes on, then ends on its own.
  'exit-worker-inside-callback': () => {
    if (!isMainThread) return fpCall.async(() => process.exit(3), 1);
    const w = new Worker(__filename, { workerData: scenario });
    w.on('exit', (code) => {
      console.log(JSON.stringify({ worker: code }));
      process.exitCode = 7;
    });
  },
  deadline: async () => {
    const cb = lib.callback('int (*)(int)', (x) => x * 2, { fallback: -1, timeoutMs: 100 });
    const late = fpCall.async(cb, 21);
    // The JS thread stays busy until the deadline has passed (or a hang guard, far beyond it).
    const guard = Date.now() + 30_000;
    while (cb.timedOut === 0 && Date.now() < guard);
    const v = await late;
    const again = await fpCall.async(cb, 21); // the JS thread is free: served
    console.log(JSON.stringify({ v, again, timedOut: cb.timedOut, stats: dlswap.callbackStats() }));
  },
  // The function itself is stuck past the deadline: C gets the fallback while it still runs, and
  // its result, when it comes, is dropped.
  'deadline-while-running': async () => {
    const cell = new Int32Array(new SharedArrayBuffer(4));
    let cb;
    cb = lib.callback(
      'int (*)(int)',
      (x) => {
        const guard = Date.now() + 30_000;
        while (cb.timedOut === 0 && Date.now() < guard) Atomics.wait(cell, 0, 0, 10);
        return x * 2;
      },
      { fallback: -1, timeoutMs: 100 },
    );
    const v = await fpCall.async(cb, 21);
    console.log(JSON.stringify({ v, timedOut: cb.timedOut }));
  },
  deadlock: () => {
    // A deadline far beyond the test's: only the detection can end this wait.
    const cb = lib.callback('int (*)(int)', (x) => x * 2, { fallback: -5, timeoutMs: 600_000 });
    const v = lib.func('int run_in_thread(int (*cb)(int), int x)')(cb, 21);
    const viaAsync = lib.func('int run_in_thread(int (*cb)(int), int x)').async(cb, 21);
    viaAsync.then((a) => console.log(JSON.stringify({ v, async: a, deadlocked: cb.deadlocked, stats: dlswap.callbackStats() })));
  },
};

scenarios[scenario]();
