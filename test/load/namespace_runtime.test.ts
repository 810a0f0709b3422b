// The namespace runtime (native/runtime/): what a namespace's own copy of libc shares with node's,
// what dlswap sets up per thread, and what stays apart on purpose. One block per row of the audit
// table in docs/isolation.md. Anything that crashed before the runtime existed runs in a child.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { open, type Library } from '../../lib/load/library';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { addon } from '../../lib/native';
import { fixture, runChild, underAsan } from '../helpers';

const PROBE = fixture('libruntime_probe.so');
const NAMESPACE_MODES: Isolation[] = ['namespace', 'fresh-namespace'];
const modes = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));

const opened: Library[] = [];
afterAll(async () => {
  for (const lib of opened.splice(0)) await lib.close();
});
function probe(isolation: Isolation): Library {
  const lib = open(PROBE, { isolation });
  opened.push(lib);
  return lib;
}

/** Runs `body` in a child with `lib` = the probe opened in `mode`; returns the JSON it printed. */
function inChild(mode: Isolation, body: string, env: NodeJS.ProcessEnv = {}) {
  const r = runChild(
    `const lib = dlswap.open(${JSON.stringify(PROBE)}, { isolation: ${JSON.stringify(mode)} });
     const out = (v) => console.log(JSON.stringify(v));
     (async () => { ${body} })().catch((e) => { console.error(e); process.exit(3); });`,
    { env, timeout: 30_000 },
  );
  return { status: r.status, signal: r.signal, stderr: r.stderr, result: r.stdout.trim() ? JSON.parse(r.stdout.trim().split('\n').pop()!) : null };
}

describe.each(modes)('%s', (mode) => {
  it("pthread keys never alias node's: 64 values set by the library survive node's OpenSSL, which keeps working", () => {
    // Before the runtime, a namespace's keys got numbers node's libc had already handed out, and
    // setting them overwrote node's own per-thread values (its OpenSSL crashed later).
    const r = inChild(
      mode,
      `const fill = lib.func('int keys_fill(int n)'), intact = lib.func('int keys_intact(void)');
       const filled = fill(64);
       const crypto = require('node:crypto');
       let digest = '';
       for (let i = 0; i < 200; i++) digest = crypto.createHash('sha256').update(String(i)).digest('hex');
       crypto.randomBytes(64);
       const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
       const sig = crypto.sign('sha256', Buffer.from('x'), privateKey);
       out({ filled, intact: intact(), digest, sig: sig.length > 0, tss: lib.func('int tss_roundtrip(void)')() });`,
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.result).toEqual({
      filled: 64,
      intact: 64,
      digest: crypto.createHash('sha256').update('199').digest('hex'),
      sig: true,
      tss: 42,
    });
  });

  it("libc's per-thread state is there on every thread that runs the library's code", async () => {
    const lib = probe(mode);
    const alpha = lib.func('int ctype_alpha(int c)');
    const upper = lib.func('int ctype_upper(int c)');
    // The JS thread, a libuv pool thread, threads the library starts (pthread and C11).
    expect(alpha(65)).toBe(1);
    expect(await Promise.all([alpha.async(65), alpha.async(48), upper.async(98), upper.async(65)])).toEqual([1, 0, 66, 65]);
    expect(lib.func('int ctype_in_own_thread(void)')()).toBe(3);
    expect(lib.func('int c11_thread(int v)')(41)).toBe(42);
  });

  it("a worker_thread's JS thread gets it too", () => {
    const r = runChild(
      `const { Worker } = require('node:worker_threads');
       const w = new Worker(\`
         const dlswap = require(\${JSON.stringify(require.resolve(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist', 'index.js'))}))});
         const lib = dlswap.open(${JSON.stringify(PROBE)}, { isolation: ${JSON.stringify(mode)} });
         const alpha = lib.func('int ctype_alpha(int c)');
         require('node:worker_threads').parentPort.postMessage([alpha(65), lib.func('int ctype_upper(int c)')(122)]);
         lib.close();
       \`, { eval: true });
       w.on('message', (m) => console.log(JSON.stringify(m)));
       w.on('error', (e) => { console.error(e); process.exit(2); });`,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([1, 90]);
  });

  it('close() keeps an image mapped while threads it started live, and unmaps it once they have exited', () => {
    // Two threads wait 1.5 s inside the library. Unmapping it under them is a crash, so close()
    // resolves unloaded: false with the threads, and `unmapped` settles after they exit. (In the
    // namespace modes close() first runs the library's destructors and waits 1 s for the threads
    // it started: these outlive that.)
    const r = inChild(
      mode,
      `const started = lib.func('int linger_start(int n, int ms)')(2, 1500);
       await new Promise((r) => setTimeout(r, 100));
       const t0 = Date.now();
       const first = await lib.close();
       // dlswap's retry timer does not keep node alive by itself (a library pinned for good must not).
       const keepAlive = setInterval(() => {}, 1000);
       const final = await first.unmapped;
       clearInterval(keepAlive);
       out({ started, unloaded: first.unloaded, threads: first.threads?.length, why: first.threads?.map((t) => t.why),
             reason: first.reason, final, waited: Date.now() - t0 });`,
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const res = r.result;
    expect(res.started).toBe(2);
    expect(res.unloaded).toBe(false);
    expect(res.threads).toBe(2);
    // The runtime knows who started a thread; in the base namespace dlswap finds it by its stack.
    const why = NAMESPACE_MODES.includes(mode) ? /^started by libruntime_probe\.so$/ : /^running its code$/;
    for (const w of res.why) expect(w).toMatch(why);
    expect(res.reason).toMatch(/2 threads are still running or waiting in its code/);
    if (NAMESPACE_MODES.includes(mode)) expect(res.reason).toMatch(/Its destructors were run first/);
    expect(res.final.unloaded).toBe(true);
    expect(res.waited).toBeGreaterThan(1000);
  });

  it('the resolver, signal dispositions and at_quick_exit', async () => {
    const lib = probe(mode);
    const resolve = lib.func('int resolve_localhost(void)');
    expect(resolve()).toBeGreaterThan(0);
    expect(await resolve.async()).toBeGreaterThan(0);
    // Signal dispositions belong to the kernel: one per process, whatever libc reads them.
    const handler = () => undefined;
    process.on('SIGUSR2', handler);
    try {
      expect(lib.func('int signal_handled(int sig)')(os.constants.signals.SIGUSR2)).toBe(1);
    } finally {
      process.off('SIGUSR2', handler);
    }
  });

  it('atexit handlers of the library run when it is unloaded; at_quick_exit handlers never do', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-atexit-'));
    try {
      const atexit = path.join(dir, 'atexit');
      const quick = path.join(dir, 'quick');
      const r = inChild(
        mode,
        `lib.func('int atexit_register(const char *p)')(${JSON.stringify(atexit)});
         lib.func('int at_quick_exit_register(const char *p)')(${JSON.stringify(quick)});
         const closed = await lib.close();
         out({ closed, atexit: require('fs').existsSync(${JSON.stringify(atexit)}) });`,
      );
      expect(r.status).toBe(0);
      expect(r.result).toEqual({ closed: expect.objectContaining({ unloaded: true }), atexit: true });
      expect(fs.existsSync(quick)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(NAMESPACE_MODES)('%s only', (mode) => {
  it('a key destructor runs while its library is mapped', () => {
    const lib = probe(mode);
    expect(lib.func('int keys_fill(int n)')(4)).toBe(4);
    // A thread of the library's sets all four and exits: node's libc runs the destructors through
    // the runtime's trampolines.
    expect(lib.func('int keys_in_thread(void)')()).toBe(4);
  });

  it('thread_local destructors run when a thread node started exits', () => {
    const lib = open(fixture('libtls_dtor.so'), { isolation: mode });
    opened.push(lib);
    // std::thread in the library: created by node's libc through the runtime, so node's libc runs
    // its exit work, thread_local destructors included.
    expect(lib.func('int tls_in_thread(void)')()).toBe(1);
  });

  it('keys and threads of a closed library leave nothing behind in the runtime', async () => {
    const lib = open(PROBE, { isolation: mode });
    const lmid = BigInt(lib.info.lmid);
    expect(lib.func('int keys_fill(int n)')(8)).toBe(8);
    expect(addon.runtimeStats(lmid).keys).toBeGreaterThanOrEqual(8);
    const before = addon.runtimeStats(lmid).keys;
    expect(await lib.close()).toMatchObject({ unloaded: true });
    // The library never deleted its keys: their slots were retired with its code.
    if (mode === 'namespace') expect(addon.runtimeStats(lmid).keys).toBe(before - 8);
  });

  it("setlocale changes the namespace's locale only", () => {
    const lib = probe(mode);
    expect(lib.func('const char *locale_set(const char *name)')('C.UTF-8')).toBe('C.UTF-8');
    const base = open(PROBE, { isolation: 'local' });
    opened.push(base);
    expect(base.func('const char *locale_get(void)')()).toBe('C');
  });

  it("dl_iterate_phdr reports the namespace's objects, not node's", () => {
    const lib = probe(mode);
    expect(lib.func('int phdr_sees_program(void)')()).toBe(0);
    expect(lib.func('int phdr_objects(void)')()).toBeGreaterThanOrEqual(3);
    const base = open(PROBE, { isolation: 'local' });
    opened.push(base);
    expect(base.func('int phdr_sees_program(void)')()).toBe(1);
  });

  it("__libc_single_threaded is false in a namespace's libc", () => {
    expect(probe(mode).func('int single_threaded(void)')()).toBe(0);
  });

  it("pthread_atfork handlers stay in the namespace: node's child processes do not run them", () => {
    const r = inChild(
      mode,
      `lib.func('int atfork_register(void)')();
       require('node:child_process').spawnSync(process.execPath, ['-e', '0']);
       require('node:child_process').execFileSync('true');
       out(lib.func('int atfork_count(void)')());`,
    );
    expect(r.status).toBe(0);
    expect(r.result).toBe(0);
  });
});

describe('a key destructor after its library was unmapped', () => {
  // A worker sets values for keys whose destructor is in the library, closes the library (it is
  // unmapped), then exits: node's libc runs the destructors of the exiting thread.
  const script = (mode: Isolation) =>
    `const { Worker } = require('node:worker_threads');
     const w = new Worker(\`
       const dlswap = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist', 'index.js'))});
       const lib = dlswap.open(${JSON.stringify(PROBE)}, { isolation: ${JSON.stringify(mode)} });
       lib.func('int keys_fill(int n)')(4);
       lib.close().then((r) => require('node:worker_threads').parentPort.postMessage(r.unloaded));
     \`, { eval: true });
     let unloaded;
     w.on('message', (m) => (unloaded = m));
     w.on('exit', () => setTimeout(() => console.log(JSON.stringify({ unloaded })), 100));`;

  it.each(NAMESPACE_MODES)('%s: is never called (the runtime withheld it and retired the key)', (mode) => {
    const r = runChild(script(mode));
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ unloaded: true });
  });

  it("local: node's libc would call it in unmapped code, so the image stays mapped (in a child)", () => {
    // The hazard inspect reports (pthread-key-destructors); close() sees the key in node's libc and
    // keeps the image mapped rather than unmap its destructor (native/image/thread_keys.cc).
    const r = runChild(script('local'));
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ unloaded: false });
  });
});

describe('dependencies that keep threads (libgomp)', () => {
  it.each(NAMESPACE_MODES)('%s: the plugin is unloaded; libgomp, pinned by its pool, stays mapped; node is unharmed', (mode) => {
    const r = runChild(
      `const lib = dlswap.open(${JSON.stringify(fixture('libomp_plugin.so'))}, { isolation: ${JSON.stringify(mode)} });
       const sum = lib.func('int omp_sum(int n)');
       (async () => {
         const a = sum(1000), b = await sum.async(2000);
         const lmid = BigInt(lib.info.lmid);
         const closed = await lib.close();
         await new Promise((r) => setTimeout(r, 300));
         console.log(JSON.stringify({ a, b, closed, poolThreads: require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist', 'native.js'))}).addon.runtimeStats(lmid).threads }));
       })();`,
      { env: { OMP_NUM_THREADS: '3' } },
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ a: 500500, b: 2001000, closed: { unloaded: true } });
    expect(res.poolThreads).toBeGreaterThan(0);
  });

  it.each(['local', 'deepbind'].filter((m) => !(underAsan && m === 'deepbind')))(
    '%s: close() finds the pool waiting in libgomp, which would go with the plugin, and keeps both mapped',
    (mode) => {
      const r = runChild(
        `const lib = dlswap.open(${JSON.stringify(fixture('libomp_plugin.so'))}, { isolation: ${JSON.stringify(mode)} });
         (async () => {
           const a = lib.func('int omp_sum(int n)')(1000);
           await new Promise((r) => setTimeout(r, 100));
           const closed = await lib.close();
           await new Promise((r) => setTimeout(r, 300));
           console.log(JSON.stringify({ a, unloaded: closed.unloaded, threads: closed.threads?.length ?? 0 }));
         })();`,
        // Passive: pool threads sleep in the kernel at once instead of spinning, where they could
        // not be seen (docs/isolation.md says what local and deepbind cannot detect).
        { env: { OMP_NUM_THREADS: '3', OMP_WAIT_POLICY: 'passive' } },
      );
      expect(r.stderr).toBe('');
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
      const res = JSON.parse(r.stdout);
      expect(res.a).toBe(500500);
      expect(res.unloaded).toBe(false);
      expect(res.threads).toBeGreaterThan(0);
    },
  );
});

describe("constructors and destructors bound to node's exports", () => {
  const libuv = ['/usr/lib/x86_64-linux-gnu/libuv.so.1', '/usr/lib/aarch64-linux-gnu/libuv.so.1', '/lib/x86_64-linux-gnu/libuv.so.1'].find((p) =>
    fs.existsSync(p),
  );

  it('libuv in local is refused with the symbol named, and works in namespace', async () => {
    expect(libuv, 'libuv.so.1 (Debian package libuv1) must be installed').toBeDefined();
    expect(() => open(libuv!, { isolation: 'local' })).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_UNSAFE_MODE', message: expect.stringMatching(/uv_library_shutdown.*'namespace'/) }),
    );
    const lib = open(libuv!, { isolation: 'namespace' });
    expect(lib.func('unsigned int uv_version(void)')()).toBeGreaterThan(0x10000);
    expect(await lib.close()).toMatchObject({ unloaded: true });
  });

  it("the hazard is real: forced into local, closing libuv shuts node's thread pool down (in a child)", () => {
    // The pool must be running for the shutdown to take it down: one fs call first. After the
    // close, the next fs call never completes or aborts: the child gives it 2 s (a read takes well
    // under 1 ms) and then kills itself; the runChild timeout is only the hang guard.
    const r = runChild(
      `const fs = require('node:fs');
       fs.readFile(__filename, () => {
         console.log('pool up');
         const lib = dlswap.open(${JSON.stringify(libuv)}, { isolation: 'local', force: true });
         lib.close().then(() => {
           console.log('closed');
           setTimeout(() => process.kill(process.pid, 'SIGKILL'), 2_000);
           fs.readFile(__filename, () => console.log('pool alive'));
         });
       });`,
      { timeout: 60_000 },
    );
    expect(r.stdout).toContain('pool up');
    expect(r.stdout).not.toContain('pool alive');
    expect(r.status === 0 && r.signal === null).toBe(false);
  });
});

describe('threads started while the library is still loading', () => {
  // libctor_threads's constructor starts a thread that starts another (which makes a pthread key),
  // and joins both, while the loading thread holds the dynamic loader's lock. Starting a thread in a
  // namespace used to look its creator up with dladdr, which waits for that lock: a deadlock. The
  // guard turns a hang into a failure (quiet, the child takes well under a second).
  it.each(ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind')))('%s: the load finishes, both threads ran', (mode) => {
    const r = runChild(
      `(async () => {
         const sync = dlswap.open(${JSON.stringify(fixture('libctor_threads.so'))}, { isolation: ${JSON.stringify(mode)} });
         const a = sync.func('int ctor_threads_result(void)')();
         await sync.close();
         const async = await dlswap.openAsync(${JSON.stringify(fixture('libctor_threads.so'))}, { isolation: ${JSON.stringify(mode)} });
         const b = async.func('int ctor_threads_result(void)')();
         const closed = await async.close();
         console.log(JSON.stringify({ a, b, unloaded: closed.unloaded }));
       })();`,
      { timeout: 60_000 },
    );
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ a: 3, b: 3, unloaded: true });
  });
});
