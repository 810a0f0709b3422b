// worker.terminate() at any moment of a worker_thread's hot reloads: calls, reloads, leases and
// plugin threads in flight. Node tears the worker's environment down in an order nobody controls;
// nothing of that may abort the process, leak an image, a thread or a namespace, or disturb the
// libraries other threads use. Each case runs in a child process, whose exit is the verdict.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HANDOVER_FAULT_POINTS, RELOAD_FAULT_POINTS } from '../../lib/faults';
import { fixture, root, runChild, underAsan } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const dist = path.join(root, 'dist');
const modes = underAsan ? ['namespace', 'local', 'fresh-namespace'] : ['namespace', 'local', 'fresh-namespace', 'deepbind'];

// The main thread of the child: its own HotLibrary under load and reloads the whole time, checked
// call by call; at the end, what the process holds compared with before the workers ran.
const harness = `
const { Worker } = require('node:worker_threads');
const fs = require('node:fs');
const { userRoot, privateDir } = require(${JSON.stringify(path.join(dist, 'load', 'temp_area.js'))});
const P1 = ${JSON.stringify(P1)}, P2 = ${JSON.stringify(P2)}, dist = ${JSON.stringify(path.join(dist, 'index.js'))};
const threads = () => Number(/Threads:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const fds = () => fs.readdirSync('/proc/self/fd').length;
// The fewest fds seen over half a second: a leak stays, while a loader job still finishing for a
// terminated worker (it reads /proc to check threads, then closes what it opened) holds one for a
// moment, and so can a job of the main thread's own reloads. Both ends are measured this way.
async function settledFds() {
  let n = fds();
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 50));
    n = Math.min(n, fds());
  }
  return n;
}
// Images of dlswap's private copies mapped in this process, other than the main thread's.
function strayImages() {
  const lines = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes(userRoot()));
  return [...new Set(lines.map((l) => l.slice(l.indexOf('/'))))].filter((p) => !p.startsWith(privateDir() + '/'));
}
async function withMainLoad(body) {
  const hot = await dlswap.HotLibrary.open(P1, { functions: { v: 'int plugin_version(void)', slow: 'int plugin_slow(int ms)' } });
  const failures = [];
  let calls = 0, reloads = 0, stop = false;
  const load = Array.from({ length: 3 }, async () => {
    while (!stop) {
      const gen = hot.current, want = hot.fn.v();
      const got = await hot.fn.slow.async(1).catch((e) => e.message);
      if (hot.current === gen && got !== want) failures.push(String(got));
      calls++;
    }
  });
  const reloader = (async () => {
    while (!stop) {
      await hot.reload(reloads % 2 ? P1 : P2, { wait: 'swap' }).catch((e) => failures.push(e.message));
      reloads++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const report = await body();
  stop = true;
  await Promise.all(load);
  await reloader;
  const v = hot.fn.v();
  await hot.close();
  console.log(JSON.stringify({ ...report, calls, reloads, failures: failures.slice(0, 5), v, after: { stray: strayImages(), fresh: dlswap.namespaceBudget().freshNamespaces } }));
}
`;

// A worker that reloads in a loop with 4 async callers, leases (some held at any time) and the
// plugin's own logging thread running in each generation.
const busyWorker = `
const { parentPort, workerData: d } = require('node:worker_threads');
const { HotLibrary } = require(d.dist);
const fns = { slow: 'int plugin_slow(int ms)', thread: 'int plugin_log_from_thread(int count)', counter: 'int plugin_counter(void)' };
(async () => {
  const hot = await HotLibrary.open(d.p1, { isolation: d.mode, functions: fns, policy: d.policy, drainTimeoutMs: 30 });
  hot.on('error', () => {});
  hot.fn.thread(100);
  const leases = [];
  for (let c = 0; c < 4; c++) (async () => { for (let i = 0; ; i++) await hot.fn.slow.async(i % 3).catch(() => {}); })();
  parentPort.postMessage('ready');
  for (let i = 0; ; i++) {
    if (i % 3 === 0) leases.push(hot.pin());
    if (leases.length > 2 || (d.policy === 'handover' && leases.length > 0)) leases.shift().release();
    hot.fn.thread(20);
    hot.fn.counter();
    await hot.reload(i % 2 ? d.p1 : d.p2, { wait: 'swap' }).catch(() => {});
    await new Promise((r) => setImmediate(r));
  }
})();`;

function expectClean(r: ReturnType<typeof runChild>) {
  expect(r.signal).toBeNull();
  expect(r.stderr).not.toMatch(/terminate called|Aborted|FATAL ERROR|Segmentation/);
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  // The main thread's library served throughout, every call on the generation it started on.
  expect(out.failures).toEqual([]);
  expect(out.calls).toBeGreaterThan(100);
  expect(out.reloads).toBeGreaterThan(10);
  expect([1, 2]).toContain(out.v);
  // Nothing of the workers' libraries is left: no image, no namespace, no thread, no fd.
  expect(out.after).toEqual({ stray: [], fresh: 0 });
  expect(out.end.threads).toBe(out.base.threads);
  expect(out.end.fds).toBe(out.base.fds);
  return out;
}

describe('worker.terminate() during hot reloads', () => {
  it('at varied moments, 30 workers in every mode: the process survives, the main thread serves on, nothing leaks', () => {
    const r = runChild(
      `${harness}
      const modes = ${JSON.stringify(modes)};
      const busyWorker = ${JSON.stringify(busyWorker)};
      function runWorker(k) {
        return new Promise((resolve) => {
          const w = new Worker(busyWorker, { eval: true, workerData: { dist, p1: P1, p2: P2, mode: modes[k % modes.length], policy: k % 3 === 2 ? 'handover' : 'overlap' } });
          let timer;
          // Every fifth before it has even opened its library; the others 0-44 ms into their reloads.
          if (k % 5 === 0) timer = setTimeout(() => w.terminate(), k % 4);
          else w.once('message', () => (timer = setTimeout(() => w.terminate(), (k * 7) % 45)));
          w.on('error', (e) => console.error('worker error', k, e.message));
          w.once('exit', () => { clearTimeout(timer); resolve(); });
        });
      }
      withMainLoad(async () => {
        await runWorker(1); // node's own per-process threads exist from here on
        await new Promise((r) => setTimeout(r, 50));
        const base = { threads: threads(), fds: await settledFds() };
        for (let k = 0; k < 30; k += 2) await Promise.all([runWorker(k), runWorker(k + 1)]);
        await new Promise((r) => setTimeout(r, 100));
        return { base, end: { threads: threads(), fds: await settledFds() } };
      });`,
      { timeout: 120_000 },
    );
    expectClean(r);
  }, 130_000);

  it('at each phase of a reload and of a handover (fault action terminate), in namespace and local', () => {
    // The worker stops itself the third time it reaches the point ('terminate': process.exit()
    // inside a worker ends that thread at once, as worker.terminate() does), with 4 async callers,
    // a lease (overlap) and the plugin's thread running.
    const phased = `
      const { parentPort, workerData: d } = require('node:worker_threads');
      const { HotLibrary } = require(d.dist + '/index.js');
      require(d.dist + '/testing/index.js').armFaults(d.point + ':terminate@3');
      const fns = { slow: 'int plugin_slow(int ms)', thread: 'int plugin_log_from_thread(int count)' };
      (async () => {
        const hot = await HotLibrary.open(d.p1, { isolation: d.mode, functions: fns, policy: d.policy });
        hot.on('error', () => {});
        hot.fn.thread(100);
        for (let c = 0; c < 4; c++) (async () => { for (let i = 0; ; i++) await hot.fn.slow.async(i % 3).catch(() => {}); })();
        if (d.policy === 'overlap') hot.pin(); // held until the end: generation 1 drains forever
        for (let i = 0; i < 30; i++) {
          hot.fn.thread(20);
          await hot.reload(i % 2 ? d.p1 : d.p2, { wait: 'swap' }).catch(() => {});
          await new Promise((r) => setImmediate(r));
        }
        parentPort.postMessage('survived');
      })();`;
    const cases = [
      ...RELOAD_FAULT_POINTS.map((point) => ({ point, policy: 'overlap' })),
      ...HANDOVER_FAULT_POINTS.map((point) => ({ point, policy: 'handover' })),
    ].flatMap((c) => ['namespace', 'local'].map((mode) => ({ ...c, mode })));
    const r = runChild(
      `${harness}
      const cases = ${JSON.stringify(cases)};
      const phased = ${JSON.stringify(phased)};
      const run = (c) => new Promise((resolve) => {
        const w = new Worker(phased, { eval: true, workerData: { ...c, dist: ${JSON.stringify(dist)}, p1: P1, p2: P2 } });
        let survived = false;
        w.on('message', () => (survived = true));
        w.on('error', (e) => console.error('worker error', c.point, e.message));
        w.once('exit', (code) => resolve({ point: c.point, mode: c.mode, code, survived }));
      });
      withMainLoad(async () => {
        await run(cases[0]);
        await new Promise((r) => setTimeout(r, 50));
        const base = { threads: threads(), fds: await settledFds() };
        const ends = [];
        for (const c of cases) ends.push(await run(c));
        await new Promise((r) => setTimeout(r, 100));
        return { ends, base, end: { threads: threads(), fds: await settledFds() } };
      });`,
      { timeout: 120_000 },
    );
    const out = expectClean(r);
    // Each worker was stopped at its point (exit code 1, from the fault), before the end of its loop.
    expect(out.ends).toEqual(cases.map((c) => ({ point: c.point, mode: c.mode, code: 1, survived: false })));
  }, 130_000);

  it('a thread closing an image while another opens one does not deadlock the loader', () => {
    // Found by the test above: closing checks which threads hold the image, and that check used to
    // look up the addon's own link map (dladdr1, which takes the loader's lock) while holding the
    // link-map lock, the reverse of the order a dlopen takes them in. Two workers close images in
    // 'local' (where that lookup happens) while the main thread opens and closes in 'namespace'.
    // Each of the three goes on until all three have done ROUNDS (counted in shared memory), so
    // they overlap however slow the machine; a deadlock shows as the child's timeout (the hang guard).
    const ROUNDS = 30;
    const r = runChild(
      `const { Worker } = require('node:worker_threads');
      const P1 = ${JSON.stringify(P1)}, dist = ${JSON.stringify(path.join(dist, 'index.js'))};
      const rounds = new Int32Array(new SharedArrayBuffer(12));
      const src = \`const { workerData: d, parentPort } = require('node:worker_threads');
        const dl = require(d.dist);
        const done = () => d.rounds.every((_, i) => Atomics.load(d.rounds, i) >= ${ROUNDS});
        (async () => {
          while (!done()) { await dl.open(d.p1, { isolation: 'local' }).close(); Atomics.add(d.rounds, d.me, 1); }
          parentPort.postMessage(Atomics.load(d.rounds, d.me));
        })();\`;
      const done = () => rounds.every((_, i) => Atomics.load(rounds, i) >= ${ROUNDS});
      (async () => {
        const workers = [1, 2].map((me) => new Promise((resolve) => new Worker(src, { eval: true, workerData: { dist, p1: P1, rounds, me } }).once('message', resolve)));
        while (!done()) { await dlswap.open(P1).close(); Atomics.add(rounds, 0, 1); }
        console.log(JSON.stringify([Atomics.load(rounds, 0), ...(await Promise.all(workers))]));
      })();`,
      { timeout: 120_000 },
    );
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).every((n: number) => n >= ROUNDS)).toBe(true);
  }, 130_000);
});
