/**
 * Threads running in user space when an image is closed (docs/isolation.md, "Threads and
 * unloading"). The kernel publishes the registers of a blocked thread only; a running one is asked
 * for them with dlswap's sampling signal (native/signals/thread_sample.cc). close() must never say
 * `unloaded: true` while a thread can be in the image: either it keeps the image mapped and names
 * the thread, or the image really was safe to unmap and the process goes on unharmed. Each case runs
 * in a child process, whose exit is the verdict (a wrong unmap is a SIGSEGV).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open } from '../../lib/load/library';
import { addon } from '../../lib/native';
import { fixture, root, runChild, underAsan } from '../helpers';

const MODES = ['local', 'deepbind', 'namespace', 'fresh-namespace'].filter((m) => !(underAsan && m === 'deepbind'));
const native = JSON.stringify(path.join(root, 'dist', 'native.js'));

function lastJson(r: ReturnType<typeof runChild>): Record<string, unknown> {
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`child printed no result (exit ${r.status} ${r.signal ?? ''}):\n${r.stdout}\n${r.stderr}`);
  }
}

describe('libgomp: a team that spins in its code after a parallel region and an async call', () => {
  // OMP_WAIT_POLICY=active and a team no larger than the CPUs: libgomp's threads spin in user space
  // for as long as the process lives, where /proc/<tid>/syscall shows nothing but "running".
  it.each(MODES)('%s: close() keeps libgomp mapped and names the spinning thread, and nothing crashes', (mode) => {
    const r = runChild(
      `const cb = dlswap.open(${JSON.stringify(fixture('libomp_callback.so'))}, { isolation: ${JSON.stringify(mode)} });
       const record = cb.symbol('omp_probe_record');
       const lib = dlswap.open('libgomp.so.1', { isolation: ${JSON.stringify(mode)} });
       const parallel = lib.func('void GOMP_parallel(void *fn, void *data, unsigned num_threads, unsigned flags)');
       const max = lib.func('int omp_get_max_threads(void)');
       (async () => {
         const probe = Buffer.alloc(8 + 64 * 8);
         parallel(record, probe, 2, 0);
         await max.async();
         const closed = await lib.close();
         // Were the image unmapped under the team, this is where the process would die.
         await new Promise((res) => setTimeout(res, 500));
         console.log(JSON.stringify({ team: probe.readInt32LE(0), unloaded: closed.unloaded, reason: closed.reason,
           threads: closed.threads ?? [], sampled: require(${native}).addon.threadScanStats().sampled }));
       })();`,
      { env: { OMP_NUM_THREADS: '2', OMP_WAIT_POLICY: 'active' }, timeout: 60_000 },
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = lastJson(r) as { team: number; unloaded: boolean; reason?: string; threads: { tid: number; why: string }[] };
    expect(out.team).toBe(2);
    // The team's other thread is alive and in libgomp: unmapping it would crash, so it must stay.
    expect(out.unloaded).toBe(false);
    expect(out.threads.length).toBeGreaterThan(0);
    for (const t of out.threads) expect(out.reason).toContain(`tid ${t.tid}`);
    if (mode === 'local' || mode === 'deepbind') {
      // Only the sample can see it there: the runtime that tracks thread creation is in namespaces.
      expect(out.threads.map((t) => t.why)).toContain('running its code');
      expect(out.sampled as number).toBeGreaterThan(0);
    }
  });
});

describe('a thread of the image running in user space in another library (a callback out of it)', () => {
  // libspin_caller.so's thread calls libspin_callee.so's spin_while_set, which spins: its program
  // counter is never in the caller, whose code is only a return address on the thread's stack.
  it.each(MODES)('%s: close() keeps it mapped while the thread spins, and unmaps it once the thread returned and exited', (mode) => {
    const r = runChild(
      `const callee = dlswap.open(${JSON.stringify(fixture('libspin_callee.so'))}, { isolation: 'local' });
       const set = callee.func('void spin_set(int on)');
       const lib = dlswap.open(${JSON.stringify(fixture('libspin_caller.so'))}, { isolation: ${JSON.stringify(mode)} });
       (async () => {
         set(1);
         const started = lib.func('int spin_start(void *fn)')(callee.symbol('spin_while_set'));
         await new Promise((res) => setTimeout(res, 100));
         const first = await lib.close();
         set(0);
         const keepAlive = setInterval(() => {}, 1000);
         const final = first.unmapped ? await first.unmapped : first;
         clearInterval(keepAlive);
         await new Promise((res) => setTimeout(res, 200));
         console.log(JSON.stringify({ started, first: { unloaded: first.unloaded, threads: (first.threads ?? []).map((t) => t.why) }, final: final.unloaded }));
       })();`,
      { timeout: 60_000 },
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = lastJson(r) as { started: number; first: { unloaded: boolean; threads: string[] }; final: boolean };
    expect(out.started).toBe(0);
    expect(out.first.unloaded).toBe(false);
    expect(out.first.threads).toHaveLength(1);
    expect(out.first.threads[0]).toMatch(/^(running its code|started by libspin_caller\.so)$/);
    expect(out.final).toBe(true);
  });
});

describe('a thread older than the image that enters its code later', () => {
  // The holders check skips threads that have not run since the image was loaded (their CPU time is
  // unchanged: image/thread_scan.h TakeThreadClocks). libparked.so's thread is older than libnap.so
  // and then sleeps in its code: it ran since, so it must be looked at, found, and hold the image.
  it.each(MODES)(
    '%s: close() keeps it mapped while the thread sleeps in it, the idle threads are not looked at, and it is unmapped once the thread left',
    (mode) => {
      const r = runChild(
        `const parked = dlswap.open(${JSON.stringify(fixture('libparked.so'))}, { isolation: 'local' });
       (async () => {
         const started = parked.func('int parked_start(void)')();
         await new Promise((res) => setTimeout(res, 50));
         const nap = dlswap.open(${JSON.stringify(fixture('libnap.so'))}, { isolation: ${JSON.stringify(mode)} });
         parked.func('void parked_run(void *fn)')(nap.symbol('nap_while_set'));
         await new Promise((res) => setTimeout(res, 100));
         const { addon } = require(${native});
         const before = addon.threadScanStats();
         const first = await nap.close();
         const after = addon.threadScanStats();
         const released = parked.func('int parked_release(void)')();
         const keepAlive = setInterval(() => {}, 1000);
         const final = first.unmapped ? await first.unmapped : first;
         clearInterval(keepAlive);
         await new Promise((res) => setTimeout(res, 200));
         console.log(JSON.stringify({ started, released, first: { unloaded: first.unloaded, threads: (first.threads ?? []).map((t) => t.why) },
           final: final.unloaded, quiet: after.quiet - before.quiet, looked: after.threads - before.threads }));
       })();`,
        { timeout: 60_000 },
      );
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
      const out = lastJson(r) as {
        started: number;
        released: number;
        first: { unloaded: boolean; threads: string[] };
        final: boolean;
        quiet: number;
        looked: number;
      };
      expect(out.started).toBe(0);
      expect(out.first.unloaded).toBe(false);
      expect(out.first.threads).toEqual(['running its code']);
      expect(out.released).toBe(0);
      expect(out.final).toBe(true);
      // node's own threads were idle since the load: not looked at. The parked one was.
      expect(out.looked).toBeGreaterThanOrEqual(1);
      expect(out.quiet).toBeGreaterThan(0);
    },
  );
});

describe('in this process (where test:valgrind and test:asan look at the sampling itself)', () => {
  it('local: a thread spinning in another library, with the image on its stack, holds it until it returns', async () => {
    const callee = open(fixture('libspin_callee.so'), { isolation: 'local' });
    const set = callee.func('void spin_set(int on)');
    const lib = open(fixture('libspin_caller.so'), { isolation: 'local' });
    const before = addon.threadScanStats().sampled;
    set(1);
    try {
      expect(lib.func('int spin_start(void *fn)')(callee.symbol('spin_while_set'))).toBe(0);
      await new Promise((res) => setTimeout(res, 50));
      const first = await lib.close();
      expect(first.unloaded).toBe(false);
      expect(first.threads?.map((t) => t.why)).toEqual(['running its code']);
      expect(addon.threadScanStats().sampled).toBeGreaterThan(before);
      set(0);
      expect((await first.unmapped!).unloaded).toBe(true);
    } finally {
      set(0);
      await callee.close();
    }
  });
});

describe("dlswap's sampling signal", () => {
  it('a real-time signal dlswap did not send still gets the action it had before (here the default: the process ends by it)', () => {
    // A scan that asks a running thread installs the handler (on the highest free real-time signal,
    // 64 in a fresh process); a signal of that number from elsewhere must not be eaten.
    const script = `
      const dlswap = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
      const callee = dlswap.open(${JSON.stringify(fixture('libspin_callee.so'))}, { isolation: 'local' });
      const set = callee.func('void spin_set(int on)');
      const lib = dlswap.open(${JSON.stringify(fixture('libspin_caller.so'))}, { isolation: 'local' });
      set(1);
      lib.func('int spin_start(void *fn)')(callee.symbol('spin_while_set'));
      setTimeout(async () => {
        await lib.close();
        const sampled = require(${native}).addon.threadScanStats().sampled;
        console.log('sampled ' + sampled);
        process.kill(process.pid, 64);
        setTimeout(() => console.log('survived'), 1000);
      }, 100);`;
    const r = spawnSync('sh', ['-c', `"${process.execPath}" -e "$SCRIPT"; echo "exit $?"`], {
      encoding: 'utf8',
      env: { ...process.env, SCRIPT: script },
      timeout: 60_000,
    });
    expect(r.stdout).toMatch(/sampled [1-9]/);
    expect(r.stdout).not.toContain('survived');
    expect(r.stdout).toContain(`exit ${128 + 64}`);
  });
});
