// The watch build step (`watch: { build, sources }`, docs/watch.md#a-build-step): a source change
// runs the build, a good build reloads at once, a failed or hung one is reported with its output and
// never loaded, one build runs at a time, and no build outlives its HotLibrary.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HotLibrary } from '../../lib/hot/hot_library';
import type { HotLibraryEvents } from '../../lib/hot/events';
import { LibraryWatcher } from '../../lib/watch/watch';
import { Rebuilder, resolveBuildStep, type BuildFailure, type BuildStart, type BuildSuccess } from '../../lib/watch/rebuilder';
import { globRegex } from '../../lib/watch/source_patterns';
import { runWatch } from '../../lib/cli/watch';
import { privateFiles } from '../../lib/load/temp_area';
import { root } from '../helpers';

const cc = process.env.CC ?? 'cc';
const include = path.join(root, 'include');
// A hang guard: a build of a few lines takes well under a second on a quiet machine.
const GUARD_MS = 30_000;
const FAST = { debounceMs: 30, stableMs: 40 };
const functions = { version: 'int version(void)' } as const;

let dir: string;
const cleanup: (() => unknown)[] = [];

/** A plugin whose version() returns `n`; `init` is what its dlswap_init returns (absent: no init). */
function source(n: number | string, init?: number): string {
  const initFn =
    init === undefined
      ? ''
      : `#include "dlswap.h"\nuint32_t dlswap_abi_version(void) { return DLSWAP_ABI_VERSION; }\nint dlswap_init(const dlswap_host *h) { (void)h; return ${init}; }\n`;
  return `${initFn}int version(void) { return ${n}; }\n`;
}

/** Replaces a file the way editors save: a new file renamed over it. */
function save(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.swp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

const BUILD = `${cc} -shared -fPIC -I${include} -o libv.so v.c`;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-build-'));
  fs.writeFileSync(path.join(dir, 'v.c'), source(1));
  execFileSync('/bin/sh', ['-c', BUILD], { cwd: dir });
});

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  fs.rmSync(dir, { recursive: true, force: true });
  expect(privateFiles()).toEqual([]);
});

type Recorded = { event: keyof HotLibraryEvents; payload: unknown };

/** Every watch event of `hot`, in order, and a wait for the next one of a kind. */
function record(hot: HotLibrary<typeof functions>) {
  const events: Recorded[] = [];
  const waiters: { event: string; resolve: (v: unknown) => void }[] = [];
  for (const event of ['watch-build-start', 'watch-build', 'watch-reload', 'watch-skip', 'rollback'] as const) {
    hot.on(event, (payload: unknown) => {
      events.push({ event, payload });
      const i = waiters.findIndex((w) => w.event === event);
      if (i >= 0) waiters.splice(i, 1)[0].resolve(payload);
    });
  }
  const next = <K extends keyof HotLibraryEvents>(event: K): Promise<HotLibraryEvents[K][0]> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${event} within ${GUARD_MS} ms; events so far: ${events.map((e) => e.event).join(', ')}`)), GUARD_MS);
      waiters.push({
        event,
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as HotLibraryEvents[K][0]);
        },
      });
    });
  return { events, next };
}

async function openBuilt(watch: Record<string, unknown> = {}): Promise<HotLibrary<typeof functions>> {
  const hot = await HotLibrary.open(path.join(dir, 'libv.so'), {
    functions,
    watch: { ...FAST, persistent: false, build: BUILD, sources: ['*.c'], cwd: dir, ...watch },
  });
  cleanup.push(() => hot.close());
  return hot;
}

/** Whether a process is gone (or a zombie nobody has reaped yet: it runs nothing). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitFor(what: string, test: () => boolean): Promise<void> {
  const deadline = Date.now() + GUARD_MS;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('watch build step', () => {
  it('a source change builds, and the build is loaded at once: build-start, build, reload, in that order', async () => {
    const hot = await openBuilt();
    const rec = record(hot);
    const reloaded = rec.next('watch-reload');
    save(path.join(dir, 'v.c'), source(2));
    const report = await reloaded;
    expect(hot.fn.version()).toBe(2);
    expect(report.to).toBe(2);
    expect(rec.events.map((e) => e.event)).toEqual(['watch-build-start', 'watch-build', 'watch-reload']);
    const start = rec.events[0].payload as BuildStart;
    expect(start.changed).toEqual([path.join(dir, 'v.c')]);
    expect(start.command).toBe(BUILD);
    expect(start.path).toBe(path.join(dir, 'libv.so'));
    const built = rec.events[1].payload as BuildSuccess;
    expect(built.exitCode).toBe(0);
    expect(built.durationMs).toBeGreaterThan(0);
  });

  it("a successful build is loaded without the library watcher's debounce and settling", async () => {
    // Settling for ten minutes: only an examination that skips it can reload within the guard.
    const hot = await openBuilt({ stableMs: 600_000 });
    const rec = record(hot);
    const reloaded = rec.next('watch-reload');
    save(path.join(dir, 'v.c'), source(3));
    await reloaded;
    expect(hot.fn.version()).toBe(3);
  });

  it('a compiler error is a watch-skip with the output and exit code; nothing loads; the fix loads', async () => {
    const hot = await openBuilt();
    const rec = record(hot);
    const skipped = rec.next('watch-skip');
    save(path.join(dir, 'v.c'), 'int version(void) { return 3 }\n');
    const skip = (await skipped) as BuildFailure;
    expect(skip.reason).toBe('build-failed');
    expect(skip.exitCode).not.toBe(0);
    expect(skip.exitCode).not.toBeNull();
    expect(skip.output).toMatch(/v\.c:1:\d+: error/);
    expect(skip.message).toMatch(/exited with code \d+; nothing was loaded/);
    expect(skip.path).toBe(path.join(dir, 'libv.so'));
    expect(hot.current).toBe(1);
    expect(hot.fn.version()).toBe(1);

    const reloaded = rec.next('watch-reload');
    save(path.join(dir, 'v.c'), source(4));
    await reloaded;
    expect(hot.fn.version()).toBe(4);
    expect(rec.events.map((e) => e.event)).toEqual(['watch-build-start', 'watch-skip', 'watch-build-start', 'watch-build', 'watch-reload']);
  });

  it('a build whose dlswap_init fails: rollback, then watch-skip reload-failed with the cause; the previous generation serves', async () => {
    const hot = await openBuilt();
    const rec = record(hot);
    const skipped = rec.next('watch-skip');
    save(path.join(dir, 'v.c'), source(5, 7));
    const skip = await skipped;
    expect(skip.reason).toBe('reload-failed');
    if (skip.reason !== 'reload-failed') return;
    expect(skip.error.code).toBe('ERR_DLSWAP_RELOAD');
    expect(skip.error.causeCode).toBe('ERR_DLSWAP_INIT_FAILED');
    expect(skip.error.report?.failedPhase).toBe('verifying');
    expect(skip.message).toBe(skip.error.message);
    expect(rec.events.map((e) => e.event)).toEqual(['watch-build-start', 'watch-build', 'rollback', 'watch-skip']);
    expect(hot.fn.version()).toBe(1);
  });

  it('a build that runs past buildTimeoutMs is killed with its process group and reported', async () => {
    // The build starts a child of its own and waits: both must be killed at the deadline.
    const build = 'sleep 60 & echo $! > child.pid; echo $$ > build.pid; wait';
    const hot = await openBuilt({ build, buildTimeoutMs: 3_000 });
    const rec = record(hot);
    const skipped = rec.next('watch-skip');
    save(path.join(dir, 'v.c'), source(6));
    const skip = (await skipped) as BuildFailure;
    expect(skip.reason).toBe('build-timeout');
    expect(skip.signal).toBe('SIGKILL');
    expect(skip.exitCode).toBeNull();
    expect(skip.message).toMatch(/killed after 3000 ms \(buildTimeoutMs\)/);
    for (const f of ['build.pid', 'child.pid']) {
      const pid = Number(fs.readFileSync(path.join(dir, f), 'utf8'));
      await waitFor(`${f} (${pid}) to end`, () => gone(pid));
    }
    expect(hot.fn.version()).toBe(1);
  });

  it('close() during a build stops the build and everything it started; nothing is left running', async () => {
    const build = 'sleep 60 & echo $! > child.pid; echo $$ > build.pid; wait';
    const hot = await HotLibrary.open(path.join(dir, 'libv.so'), { functions, watch: { ...FAST, persistent: false, build, sources: ['v.c'], cwd: dir } });
    const rec = record(hot);
    const started = rec.next('watch-build-start');
    save(path.join(dir, 'v.c'), source(7));
    await started;
    await waitFor('the build to write its pids', () => fs.existsSync(path.join(dir, 'child.pid')) && fs.existsSync(path.join(dir, 'build.pid')));
    const pids = ['build.pid', 'child.pid'].map((f) => Number(fs.readFileSync(path.join(dir, f), 'utf8')));
    expect(pids.every((p) => !gone(p))).toBe(true);
    await hot.close();
    for (const pid of pids) await waitFor(`pid ${pid} to end`, () => gone(pid));
    // Nothing was reported after close: the stopped build is neither a failure nor a success.
    expect(rec.events.map((e) => e.event)).toEqual(['watch-build-start']);
  });

  it('a command that cannot start is a build-failed skip that says why', async () => {
    const hot = await openBuilt({ build: ['./no-such-compiler', '-o', 'libv.so'] });
    const rec = record(hot);
    const skipped = rec.next('watch-skip');
    save(path.join(dir, 'v.c'), source(8));
    const skip = (await skipped) as BuildFailure;
    expect(skip.reason).toBe('build-failed');
    expect(skip.exitCode).toBeNull();
    expect(skip.message).toMatch(/cannot run \.\/no-such-compiler -o libv\.so in .*ENOENT/);
    expect(hot.fn.version()).toBe(1);
  });

  it('only sources trigger a build: the library itself and files that match no pattern do not', async () => {
    fs.mkdirSync(path.join(dir, 'src'));
    const hot = await openBuilt({ sources: ['src/**/*.c'] });
    const rec = record(hot);
    fs.writeFileSync(path.join(dir, 'src', 'notes.txt'), 'x');
    fs.writeFileSync(path.join(dir, 'v.c'), source(9)); // not under src/
    // A subdirectory created after the watch started is watched too, once its creation was seen:
    // the source in it is written until a build starts.
    fs.mkdirSync(path.join(dir, 'src', 'deep'));
    const started = rec.next('watch-build-start');
    let seen = false;
    void started.then(() => (seen = true));
    for (let i = 0; !seen && i < 100; i++) {
      fs.writeFileSync(path.join(dir, 'src', 'deep', 'a.c'), `/* ${i} */`);
      await Promise.race([started, new Promise((r) => setTimeout(r, 200))]);
    }
    const start = await started;
    expect(start.changed).toEqual([path.join(dir, 'src', 'deep', 'a.c')]);
    await rec.next('watch-reload');
    expect(hot.fn.version()).toBe(9);
  });

  it('bad options are refused before anything is loaded', async () => {
    const file = path.join(dir, 'libv.so');
    const refused = async (watch: unknown) => {
      try {
        await HotLibrary.open(file, { functions, watch: watch as never });
      } catch (e) {
        return e as Error & { code?: string };
      }
      throw new Error(`accepted ${JSON.stringify(watch)}`);
    };
    expect((await refused({ build: 'make' })).message).toMatch(/'watch.build' needs 'watch.sources'/);
    expect((await refused({ sources: ['*.c'] })).message).toMatch(/'watch.sources' needs 'watch.build'/);
    expect((await refused({ build: '', sources: ['*.c'] })).code).toBe('ERR_DLSWAP_ARG');
    expect((await refused({ build: 'make', sources: [] })).code).toBe('ERR_DLSWAP_ARG');
    expect((await refused({ build: ['cc', 3], sources: ['*.c'] })).message).toMatch(/watch\.build'\[1\]/);
    expect((await refused({ build: 'make', sources: ['*.c'], buildTimeoutMs: -1 })).code).toBe('ERR_DLSWAP_ARG');
    expect((await refused({ cwd: dir })).message).toMatch(/belong to a build step/);
    const missing = await refused({ build: 'make', sources: ['nowhere/*.c'], cwd: dir });
    expect(missing.code).toBe('ERR_DLSWAP_NOT_FOUND');
    expect(missing.message).toMatch(/nowhere/);
  });
});

describe('the build queue (Rebuilder)', () => {
  it('runs one build at a time; changes during a build queue exactly one more, with all their files', async () => {
    for (const f of ['a.c', 'b.c', 'c.c']) fs.writeFileSync(path.join(dir, f), '');
    // Each build waits for its gate file, and fails if another build is running (a lock directory).
    const build =
      'mkdir lock || { echo concurrent; exit 9; }; n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; while [ ! -e go$n ]; do sleep 0.02; done; rmdir lock';
    const file = path.join(dir, 'libv.so');
    const watcher = new LibraryWatcher(file, { ...FAST, persistent: false });
    const starts: BuildStart[] = [];
    const outcomes: (BuildSuccess | BuildFailure)[] = [];
    const rebuilder = new Rebuilder(
      file,
      resolveBuildStep({ build, sources: ['*.c'], cwd: dir })!,
      watcher,
      { debounceMs: 30, persistent: false },
      {
        start: (e) => starts.push(e),
        success: (e) => outcomes.push(e),
        failure: (e) => outcomes.push(e),
        watchError: (m) => outcomes.push({ reason: 'build-failed', message: m } as BuildFailure),
        settled: async () => {},
      },
    );
    cleanup.push(
      () => watcher.close(),
      () => rebuilder.close(),
    );

    fs.writeFileSync(path.join(dir, 'a.c'), '1');
    await waitFor('build 1 to start', () => fs.existsSync(path.join(dir, 'n')));
    for (const f of ['a.c', 'b.c', 'c.c']) {
      fs.writeFileSync(path.join(dir, f), '2');
      // Each change its own burst: queued on its own, merged with the others.
      await waitFor(`${f} to be queued`, () => rebuilder.queued.includes(path.join(dir, f)));
    }
    expect(starts).toHaveLength(1);
    fs.writeFileSync(path.join(dir, 'go1'), '');
    await waitFor('build 2 to start', () => starts.length === 2);
    expect(starts.map((s) => s.changed.map((f) => path.basename(f)))).toEqual([['a.c'], ['a.c', 'b.c', 'c.c']]);
    expect(rebuilder.queued).toEqual([]);
    fs.writeFileSync(path.join(dir, 'go2'), '');
    await waitFor('build 2 to end', () => outcomes.length === 2);
    expect(outcomes.map((o) => ('reason' in o ? o.reason : o.exitCode))).toEqual([0, 0]);
    // Nothing was left queued: the next change is a build of its own.
    fs.writeFileSync(path.join(dir, 'go3'), '');
    fs.writeFileSync(path.join(dir, 'b.c'), '3');
    await waitFor('build 3', () => outcomes.length === 3);
    expect(starts[2].changed).toEqual([path.join(dir, 'b.c')]);
    expect(fs.readFileSync(path.join(dir, 'n'), 'utf8').trim()).toBe('3');
  });

  it('globs: * and ? stay in one segment, ** spans directories, {a,b} is either', () => {
    expect(globRegex('*.c').test('a.c')).toBe(true);
    expect(globRegex('*.c').test('d/a.c')).toBe(false);
    expect(globRegex('**/*.c').test('a.c')).toBe(true);
    expect(globRegex('**/*.c').test('d/e/a.c')).toBe(true);
    expect(globRegex('*.{c,h}').test('a.h')).toBe(true);
    expect(globRegex('*.{c,h}').test('a.o')).toBe(false);
    expect(globRegex('v?.c').test('v1.c')).toBe(true);
    expect(globRegex('a+b.c').test('a+b.c')).toBe(true);
    expect(() => globRegex('{a,b')).toThrow(/without its '}'/);
  });
});

describe('dlswap watch --build', () => {
  it('prints each build, its failure with the compiler output, and each reload', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    const ac = new AbortController();
    const cwd = process.cwd();
    process.chdir(dir);
    cleanup.push(() => process.chdir(cwd));
    const done = runWatch(['./libv.so', '--call', 'int version(void)', '--interval', '30', '--build', BUILD, '--source', '*.c'], out, false, {
      signal: ac.signal,
    });
    await waitFor('the watch to start', () => /version\(\) = 1/.test(text));
    save(path.join(dir, 'v.c'), 'int version(void) { return }\n');
    await waitFor('the failed build', () => /build failed \(exit \d+\)/.test(text));
    save(path.join(dir, 'v.c'), source(2));
    await waitFor('the reload', () => /version\(\) = 2/.test(text));
    ac.abort();
    expect(await done).toBe(0);
    expect(text).toMatch(/building \(v\.c changed\): cc|building \(v\.c changed\): /);
    expect(text).toMatch(/v\.c:1:\d+: error/);
    expect(text).toMatch(/generation 2 serving/);
    expect(text).toMatch(/stopped: 1 reload, 1 skipped build/);
  });

  it('--build without --source is a usage error', async () => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (d) => (text += d));
    expect(await runWatch(['libv.so', '--build', 'make'], new PassThrough(), false, { err })).toBe(2);
    expect(text).toMatch(/--build needs at least one --source/);
  });
});
