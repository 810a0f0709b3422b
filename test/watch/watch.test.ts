import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HotLibrary, type ReloadReport } from '../../lib/hot/hot_library';
import { LibraryWatcher, type WatchChange, type WatchSkip } from '../../lib/watch/watch';
import { runWatch } from '../../lib/cli/watch';
import { describeLoad, loadInProgress, ProgressLine } from '../../lib/cli/progress';
import type { GenerationInfo } from '../../lib/hot/generation';
import { fixture, root, runChild, strayPrivateFiles } from '../helpers';

const V1 = fs.readFileSync(fixture('libplugin_v1.so'));
const V2 = fs.readFileSync(fixture('libplugin_v2.so'));
const plugin = {
  plugin_version: 'int plugin_version(void)',
  plugin_slow: 'int plugin_slow(int ms)',
} as const;
// Short enough for a fast test, long enough that a paused writer is seen as paused.
const FAST = { debounceMs: 30, stableMs: 40 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let dir: string;
let lib: string;
const cleanup: (() => unknown)[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-watch-'));
  lib = path.join(dir, 'libwatched.so');
  fs.writeFileSync(lib, V1);
});

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  fs.rmSync(dir, { recursive: true, force: true });
  expect(strayPrivateFiles()).toEqual([]);
});

interface Recorder {
  reloads: ReloadReport[];
  skips: WatchSkip[];
  /** Resolves on the next event whose kind matches. */
  next(kind: 'reload' | 'skip', timeoutMs?: number): Promise<ReloadReport | WatchSkip>;
}

async function openWatched(): Promise<{ hot: HotLibrary<typeof plugin>; rec: Recorder }> {
  const hot = await HotLibrary.open(lib, { functions: plugin, watch: FAST });
  cleanup.push(() => hot.close());
  const waiters: { kind: string; resolve: (v: ReloadReport | WatchSkip) => void }[] = [];
  const rec: Recorder = {
    reloads: [],
    skips: [],
    next: (kind, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no watch ${kind} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          kind,
          resolve: (v) => {
            clearTimeout(t);
            resolve(v);
          },
        });
      }),
  };
  const deliver = (kind: string, v: ReloadReport | WatchSkip) => {
    const i = waiters.findIndex((w) => w.kind === kind);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(v);
  };
  hot.on('watch-reload', (r: ReloadReport) => {
    rec.reloads.push(r);
    deliver('reload', r);
  });
  hot.on('watch-skip', (s: WatchSkip) => {
    rec.skips.push(s);
    deliver('skip', s);
  });
  return { hot, rec };
}

/** Async calls back to back until stopped; every answer must be 1 or 2 and match its generation. */
function load(hot: HotLibrary<typeof plugin>) {
  let stop = false;
  let calls = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (!stop) {
      const want = hot.current === 1 ? 1 : 2;
      try {
        const got = await hot.fn.plugin_slow.async(calls % 5 === 0 ? 15 : 1);
        if (got !== want) failures.push(`got ${got}, want ${want}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
      calls++;
    }
  };
  const running = Promise.all([worker(), worker(), worker()]);
  return {
    async stop() {
      stop = true;
      await running;
      return { calls, failures };
    },
  };
}

async function writeSlowly(file: string, bytes: Buffer, chunk: number, pauseMs: number): Promise<void> {
  const fd = fs.openSync(file, 'wx');
  try {
    for (let i = 0; i < bytes.length; i += chunk) {
      fs.writeSync(fd, bytes.subarray(i, i + chunk));
      await sleep(pauseMs);
    }
  } finally {
    fs.closeSync(fd);
  }
}

describe('HotLibrary with watch', () => {
  it('a build renamed over the file is loaded while calls run, without a failed call', async () => {
    const { hot, rec } = await openWatched();
    const traffic = load(hot);
    await sleep(50);
    // Written beside the target in pauses, then published by rename, as install(1) and editors do.
    const tmp = path.join(dir, '.libwatched.so.tmp');
    await writeSlowly(tmp, V2, 6000, 20);
    const reloaded = rec.next('reload');
    fs.renameSync(tmp, lib);
    const report = (await reloaded) as ReloadReport;
    await sleep(50);
    const { calls, failures } = await traffic.stop();
    await report.retired;
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(10);
    expect(report.to).toBe(2);
    expect(report.unloaded).toBe(true);
    expect(hot.fn.plugin_version()).toBe(2);
    expect(rec.reloads).toHaveLength(1);
  });

  it('a file written in place slowly is loaded only once complete', async () => {
    const { hot, rec } = await openWatched();
    const traffic = load(hot);
    // A new inode at the watched name, filled in pauses longer than stableMs: each pause looks
    // settled, and only the length check tells the watcher the build is not finished.
    fs.unlinkSync(lib);
    const reloaded = rec.next('reload');
    await writeSlowly(lib, V2, 5000, 90);
    // Watch reloads resolve at the swap; the old generation closes once its calls drain.
    const report = (await reloaded) as ReloadReport;
    const { failures } = await traffic.stop();
    await report.retired;
    expect(failures).toEqual([]);
    expect(rec.reloads).toHaveLength(1);
    expect(hot.fn.plugin_version()).toBe(2);
    expect(rec.skips.length).toBeGreaterThan(0);
    expect(rec.skips.every((s) => s.reason === 'incomplete' || s.reason === 'vanished')).toBe(true);
    expect(hot.generations().map((g) => g.state)).toEqual(['closed', 'active']);
  });

  it('a truncated build and a non-ELF file are skipped; the old generation serves; the next good build loads', async () => {
    const { hot, rec } = await openWatched();
    const traffic = load(hot);

    let skipped = rec.next('skip');
    fs.writeFileSync(path.join(dir, 'half'), V2.subarray(0, Math.floor(V2.length / 2)));
    fs.renameSync(path.join(dir, 'half'), lib);
    let s = (await skipped) as WatchSkip;
    expect(s.reason).toBe('incomplete');
    expect(s.message).toMatch(/has \d+ bytes but its ELF headers describe \d+/);
    expect(hot.fn.plugin_version()).toBe(1);

    skipped = rec.next('skip');
    fs.writeFileSync(path.join(dir, 'text'), 'not a library\n');
    fs.renameSync(path.join(dir, 'text'), lib);
    s = (await skipped) as WatchSkip;
    expect(s.reason).toBe('not-elf');
    expect(s.code).toBe('ERR_DLSWAP_NOT_ELF');
    expect(hot.fn.plugin_version()).toBe(1);

    const reloaded = rec.next('reload');
    fs.writeFileSync(path.join(dir, 'good'), V2);
    fs.renameSync(path.join(dir, 'good'), lib);
    await reloaded;
    const { failures } = await traffic.stop();
    expect(failures).toEqual([]);
    expect(hot.fn.plugin_version()).toBe(2);
    expect(rec.reloads).toHaveLength(1);
  });

  it('rewriting the same bytes reloads nothing', async () => {
    const { hot, rec } = await openWatched();
    // Past the watcher's first look, which takes the same bytes silently as its baseline.
    await sleep(100);
    const skipped = rec.next('skip');
    fs.writeFileSync(path.join(dir, 'same'), V1);
    fs.renameSync(path.join(dir, 'same'), lib);
    expect(((await skipped) as WatchSkip).reason).toBe('unchanged');
    await sleep(150);
    expect(rec.reloads).toEqual([]);
    expect(hot.current).toBe(1);
  });

  it('a build that fails verification is reported and the old generation keeps serving', async () => {
    const { hot, rec } = await openWatched();
    const skipped = rec.next('skip');
    // A valid ELF plugin that lacks a function the host requires: rejected in 'verifying'.
    fs.copyFileSync(fixture('libtypes.so'), path.join(dir, 'other'));
    fs.renameSync(path.join(dir, 'other'), lib);
    const s = (await skipped) as unknown as { reason: string; error: Error & { causeCode?: string } };
    expect(s.reason).toBe('reload-failed');
    expect(s.error.causeCode).toBe('ERR_DLSWAP_SYMBOL_NOT_FOUND');
    expect(hot.fn.plugin_version()).toBe(1);
    const reloaded = rec.next('reload');
    fs.writeFileSync(path.join(dir, 'good'), V2);
    fs.renameSync(path.join(dir, 'good'), lib);
    await reloaded;
    expect(hot.fn.plugin_version()).toBe(2);
  });

  it('close() while the generation a watch reload replaced is still draining retires it once, without an error event', async () => {
    const { hot, rec } = await openWatched();
    const events: string[] = [];
    for (const name of ['drained', 'unloaded', 'pinned', 'error']) {
      hot.on(name, (e: { generation?: number; code?: string }) => events.push(`${name}:${e.generation ?? e.code}`));
    }
    await sleep(100);
    const slow = hot.fn.plugin_slow.async(150);
    const reloaded = rec.next('reload');
    fs.writeFileSync(path.join(dir, 'next'), V2);
    fs.renameSync(path.join(dir, 'next'), lib);
    const report = (await reloaded) as ReloadReport;
    expect(hot.generations()[0].state).toBe('draining');
    await hot.close();
    expect(await slow).toBe(1);
    await report.retired;
    expect(events.sort()).toEqual(['drained:1', 'drained:2', 'unloaded:1', 'unloaded:2']);
  });

  it('close() stops watching', async () => {
    const { hot, rec } = await openWatched();
    await hot.close();
    fs.writeFileSync(path.join(dir, 'good'), V2);
    fs.renameSync(path.join(dir, 'good'), lib);
    await sleep(200);
    expect(rec.reloads).toEqual([]);
    expect(rec.skips).toEqual([]);
  });
});

describe('LibraryWatcher', () => {
  function watch(options = {}) {
    const w = new LibraryWatcher(lib, { ...FAST, ...options });
    cleanup.push(() => w.close());
    const events: (['change', WatchChange] | ['skip', WatchSkip])[] = [];
    w.on('change', (c: WatchChange) => events.push(['change', c]));
    w.on('skip', (s: WatchSkip) => events.push(['skip', s]));
    return { w, events };
  }

  it('takes the file as it is at start as the baseline, reports removal once, and the file coming back', async () => {
    const { w, events } = watch();
    await sleep(100);
    await w.idle();
    expect(events).toEqual([]);
    fs.unlinkSync(lib);
    await sleep(150);
    await w.idle();
    expect(events.map(([k, e]) => `${k}:${'reason' in e ? e.reason : ''}`)).toEqual(['skip:vanished']);
    fs.writeFileSync(path.join(dir, 'good'), V2);
    fs.renameSync(path.join(dir, 'good'), lib);
    await sleep(150);
    await w.idle();
    expect(events).toHaveLength(2);
    const [kind, change] = events[1] as ['change', WatchChange];
    expect(kind).toBe('change');
    expect(change.size).toBe(V2.length);
    expect(change.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a remove-then-recreate within the debounce window is one change, even while a build is being examined', async () => {
    // A long stableMs keeps the examination of the first build running while the file is removed
    // and recreated: a stat in that gap once reported the file as vanished.
    const { w, events } = watch({ debounceMs: 150, stableMs: 600 });
    await w.idle();
    fs.writeFileSync(path.join(dir, 'next'), V2);
    fs.renameSync(path.join(dir, 'next'), lib);
    await sleep(400);
    fs.unlinkSync(lib);
    await sleep(60);
    fs.writeFileSync(lib, V2, { flag: 'wx' });
    await sleep(200);
    await w.idle();
    expect(events.map(([k, e]) => `${k}:${'reason' in e ? e.reason : ''}`)).toEqual(['change:']);
  });

  it('an empty file is a build not yet written: no skip, the written build is one change', async () => {
    const { w, events } = watch();
    await w.idle();
    // A linker's create: the output exists, empty, for as long as the link runs.
    fs.unlinkSync(lib);
    const fd = fs.openSync(lib, 'wx');
    await sleep(250);
    fs.writeSync(fd, V2);
    fs.closeSync(fd);
    await sleep(150);
    await w.idle();
    expect(events.map(([k, e]) => `${k}:${'reason' in e ? e.reason : ''}`)).toEqual(['change:']);
  });

  it('a change to an identical state (a touch with the same bytes) is unchanged, other files in the directory are ignored', async () => {
    const { w, events } = watch();
    await sleep(100);
    fs.writeFileSync(path.join(dir, 'libother.so'), V2);
    await sleep(150);
    await w.idle();
    expect(events).toEqual([]);
    const t = new Date(Date.now() + 5_000);
    fs.utimesSync(lib, t, t);
    await sleep(150);
    await w.idle();
    expect(events.map(([k, e]) => `${k}:${'reason' in e ? e.reason : ''}`)).toEqual(['skip:unchanged']);
  });

  it('a listener that throws does not break the watcher', () => {
    // In a child: the rethrown error is an uncaught exception there, which vitest would not allow here.
    const r = runChild(
      `const fs = require('fs'), path = require('path');
      const lib = ${JSON.stringify(lib)}, tmp = path.join(path.dirname(lib), 'next');
      const w = new (require(${JSON.stringify(path.join(root, 'dist', 'watch', 'watch.js'))}).LibraryWatcher)(lib, { debounceMs: 30, stableMs: 40 });
      const seen = [];
      const publish = (from) => { fs.copyFileSync(from, tmp); fs.renameSync(tmp, lib); };
      // The second build is published once the first listener's error has surfaced (an event, not a
      // delay: two builds close together would be one change on a slow machine).
      process.on('uncaughtException', (e) => {
        seen.push('uncaught ' + e.message);
        publish(${JSON.stringify(fixture('libtypes.so'))});
      });
      w.on('change', (c) => {
        seen.push('change ' + c.size);
        if (seen.length === 3) { w.close(); console.log(JSON.stringify(seen)); }
      });
      w.once('change', () => { throw new Error('listener bug'); });
      setTimeout(() => publish(${JSON.stringify(fixture('libplugin_v2.so'))}), 80);`,
      { timeout: 30_000 },
    );
    expect(r.stderr).toBe('');
    const seen = JSON.parse(r.stdout) as string[];
    expect(seen).toEqual([`change ${V2.length}`, 'uncaught listener bug', `change ${fs.statSync(fixture('libtypes.so')).size}`]);
  });

  it('persistent: false does not keep the process alive', () => {
    const r = runChild(`dlswap.HotLibrary.open(${JSON.stringify(lib)}, { watch: { persistent: false } }).then(() => console.log('opened'));`, {
      timeout: 30_000,
    });
    expect(r.stdout).toContain('opened');
    expect(r.status).toBe(0);
  });

  it('validates its options', () => {
    expect(() => new LibraryWatcher(lib, { debounceMs: -1 })).toThrow(/debounceMs/);
  });
});

describe('a FIFO at the watched path', () => {
  // In child processes: before the fix a FIFO wedged a thread-pool thread in open() for good, and a
  // process in that state cannot exit (not even with process.exit()), which would take vitest down.
  const publish = `const publish = (bytes) => { const tmp = path.join(path.dirname(lib), 'next'); fs.writeFileSync(tmp, bytes); fs.renameSync(tmp, lib); };
    const fifo = () => { fs.unlinkSync(lib); execFileSync('mkfifo', [lib]); };`;

  it('is skipped as unreadable (ERR_DLSWAP_NOT_A_FILE), the next real build loads, and after close() the process exits', () => {
    const r = runChild(
      `const fs = require('fs'), path = require('path'), { execFileSync } = require('child_process');
      const lib = ${JSON.stringify(lib)};
      ${publish}
      (async () => {
        const hot = await dlswap.HotLibrary.open(lib, { functions: { v: 'int plugin_version(void)' }, watch: { debounceMs: 30, stableMs: 40 } });
        const next = (event) => new Promise((resolve) => hot.once(event, resolve));
        await new Promise((res) => setTimeout(res, 100));
        let skipped = next('watch-skip');
        fifo();
        const skip = await skipped;
        const reloaded = next('watch-reload');
        fs.unlinkSync(lib);
        publish(fs.readFileSync(${JSON.stringify(fixture('libplugin_v2.so'))}));
        const report = await reloaded;
        await report.retired;
        const v = hot.fn.v();
        await hot.close();
        console.log(JSON.stringify({ reason: skip.reason, code: skip.code, message: skip.message, to: report.to, v }));
        // No process.exit(): the process must end by itself once the watch is closed.
      })();`,
      { timeout: 30_000 },
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ reason: 'unreadable', code: 'ERR_DLSWAP_NOT_A_FILE', to: 2, v: 2 });
    expect(out.message).toMatch(
      /is a FIFO \(named pipe\), not a regular file: the watcher loads only a library file written at this path\. The current generation keeps serving/,
    );
  });

  it('dlswap watch reports it, loads the next build, and stops on its signal', () => {
    const r = runChild(
      `const fs = require('fs'), path = require('path'), { execFileSync } = require('child_process');
      const { PassThrough } = require('stream');
      const { runWatch } = require(${JSON.stringify(path.join(root, 'dist', 'cli', 'watch.js'))});
      const lib = ${JSON.stringify(lib)};
      ${publish}
      const out = new PassThrough();
      let text = '';
      out.on('data', (d) => (text += d));
      const until = async (re) => { for (let i = 0; i < 250 && !re.test(text); i++) await new Promise((res) => setTimeout(res, 20)); };
      const ac = new AbortController();
      (async () => {
        const done = runWatch([lib, '--call', 'int plugin_version(void)', '--interval', '30'], out, false, { signal: ac.signal });
        await until(/plugin_version\\(\\) = 1/);
        await new Promise((res) => setTimeout(res, 100));
        fifo();
        await until(/skipped \\(unreadable\\)/);
        fs.unlinkSync(lib);
        publish(fs.readFileSync(${JSON.stringify(fixture('libplugin_v2.so'))}));
        await until(/plugin_version\\(\\) = 2/);
        ac.abort();
        const code = await done;
        console.log(JSON.stringify({ code, text }));
      })();`,
      { timeout: 30_000 },
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const { code, text } = JSON.parse(r.stdout);
    expect(code).toBe(0);
    expect(text).toMatch(/skipped \(unreadable\): .*is a FIFO \(named pipe\), not a regular file/);
    expect(text).toMatch(/generation 2 serving/);
    expect(text).toMatch(/stopped: 1 reload, 1 skipped build/);
  });
});

describe('dlswap watch', () => {
  it('prints each reload, each skip and the --call result, and stops cleanly', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    const ac = new AbortController();
    const until = async (re: RegExp) => {
      for (let i = 0; i < 100 && !re.test(text); i++) await sleep(20);
      expect(text).toMatch(re);
    };
    const done = runWatch([lib, '--call', 'int plugin_version(void)', '--interval', '30', '--isolation', 'local'], out, false, { signal: ac.signal });
    await until(/plugin_version\(\) = 1/);
    await sleep(50);
    fs.writeFileSync(path.join(dir, 'x'), 'junk');
    fs.renameSync(path.join(dir, 'x'), lib);
    await until(/skipped \(not-elf\)/);
    fs.writeFileSync(path.join(dir, 'x'), V2);
    fs.renameSync(path.join(dir, 'x'), lib);
    await until(/plugin_version\(\) = 2/);
    ac.abort();
    expect(await done).toBe(0);
    expect(text).toMatch(/watching .*libwatched\.so \(isolation local\); generation 1 {2}build-id [0-9a-f]{16} {2}plugin-1\.0\.0/);
    expect(text).toMatch(/generation 2 serving {2}build-id [0-9a-f]{16} {2}plugin-2\.0\.0/);
    expect(text).toMatch(/loading [\d.]+ ms, verifying [\d.]+ ms, swap [\d.]+ ms.*generation 1 unloaded/);
    expect(text).toMatch(/stopped: 1 reload, 1 skipped build; 2 generations closed/);
  });

  it('usage errors exit 2, an unloadable library 1', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let e = '';
    err.on('data', (d) => (e += d));
    expect(await runWatch([], out, false, { err })).toBe(2);
    expect(await runWatch([lib, '--call', 'int f(int x)'], out, false, { err })).toBe(2);
    expect(await runWatch([lib, '--isolation', 'nope'], out, false, { err })).toBe(2);
    expect(await runWatch([path.join(dir, 'missing.so')], out, false, { err })).toBe(1);
    expect(e).toMatch(/ERR_DLSWAP_NOT_FOUND/);
  });
});

describe('progress while a load is slow', () => {
  it('ProgressLine: drawn only when enabled, cleared before other output', () => {
    const chunks: string[] = [];
    const out = { write: (s: string) => chunks.push(s) } as unknown as NodeJS.WritableStream;
    const line = new ProgressLine(out, true);
    line.show('loading x');
    line.write('done\n');
    line.clear();
    expect(chunks).toEqual(['\r\x1b[2Kloading x', '\r\x1b[2K', 'done\n']);
    const quiet: string[] = [];
    const off = new ProgressLine({ write: (s: string) => quiet.push(s) } as unknown as NodeJS.WritableStream, false);
    off.show('loading x');
    off.write('done\n');
    expect(quiet).toEqual(['done\n']);
  });

  it('loadInProgress finds the generation that is loading, with its file size and age', () => {
    const at = new Date(1_000_000);
    const gen = (id: number, state: GenerationInfo['state']): GenerationInfo =>
      ({ id, state, path: lib, buildId: null, version: null, loadedAt: at, calls: 0, inFlight: 0, leases: 0, errors: 0 }) as GenerationInfo;
    expect(loadInProgress([gen(1, 'active')], 1_000_500)).toBeUndefined();
    const load = loadInProgress([gen(1, 'active'), gen(2, 'verifying')], 1_000_500)!;
    expect(load).toEqual({ generation: 2, path: lib, bytes: V1.length, elapsedMs: 500 });
    expect(describeLoad(load)).toMatch(/^loading generation 2: libwatched\.so \(.+\), 0\.5 s$/);
  });

  // The plugin fixture sleeps DLSWAP_FIXTURE_INIT_MS in dlswap_init, on the loader thread: the event
  // loop must keep redrawing the line through the first open and through a reload.
  it('dlswap watch on a TTY shows a progress line during a slow open and a slow reload', () => {
    const r = runChild(
      `const fs = require('fs');
      const { runWatch } = require(${JSON.stringify(path.join(root, 'dist', 'cli', 'watch.js'))});
      const lib = ${JSON.stringify(lib)};
      let text = '';
      const out = { write: (d) => { text += d; return true; } };
      const until = async (re) => { for (let i = 0; i < 400 && !re.test(text); i++) await new Promise((res) => setTimeout(res, 20)); };
      const ac = new AbortController();
      (async () => {
        const done = runWatch([lib, '--interval', '30'], out, true, { signal: ac.signal });
        await until(/watching/);
        fs.writeFileSync(lib + '.tmp', fs.readFileSync(${JSON.stringify(fixture('libplugin_v2.so'))}));
        fs.renameSync(lib + '.tmp', lib);
        await until(/generation 2 serving/);
        ac.abort();
        const code = await done;
        console.log(JSON.stringify({ code, text }));
      })();`,
      { timeout: 30_000, env: { DLSWAP_FIXTURE_INIT_MS: '600', NO_COLOR: '1' } },
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const { code, text } = JSON.parse(r.stdout) as { code: number; text: string };
    expect(code).toBe(0);
    // What was written after each clear of the line (\r, then ESC [2K).
    const cleared = text.split('\r\x1b[2K').slice(1);
    expect(cleared).toContainEqual(expect.stringMatching(/^loading libwatched\.so \(.+\), 0\.\d s/));
    expect(cleared).toContainEqual(expect.stringMatching(/^loading generation 2: libwatched\.so \(.+\), 0\.\d s/));
    // Cleared before the next line: no output lands behind a progress line.
    expect(cleared).toContainEqual(expect.stringMatching(/^watching/));
    for (const segment of text.split('\r\x1b[2K').filter((x) => x.startsWith('loading'))) expect(segment).toMatch(/^loading[^\n]*\d s$/);
  });
});
