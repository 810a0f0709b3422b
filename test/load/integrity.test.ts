// Security and integrity: the private temp area (who may own it, what it may be), the sha256 pin
// on open and reload, and a source file that changes while it is being copied.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HotLibrary } from '../../lib/hot/hot_library';
import { open } from '../../lib/load/library';
import { addon } from '../../lib/native';
import { ensurePrivateArea, privateDir, userRoot } from '../../lib/load/temp_area';
import { fixture, NOBODY_READING, runChild, strayPrivateFiles } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const uid = process.getuid!();
const asRoot = uid === 0;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-integrity-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => expect(strayPrivateFiles()).toEqual([]));

/** Runs `open(P1)` in a fresh process whose temp base is `base`; returns the code or 'opened'. */
function openIn(base: string): { out: string; stderr: string } {
  const r = runChild(`try { dlswap.open(${JSON.stringify(P1)}); console.log('opened'); } catch (e) { console.log(e.code + ' ' + e.message); }`, {
    env: { DLSWAP_TMPDIR: base },
  });
  return { out: r.stdout.trim(), stderr: r.stderr };
}

describe('the temp area', () => {
  it('is private: the per-user root and the process directory are 0700 and ours; a copy is read-only while mapped and goes with it', async () => {
    const lib = open(P1);
    for (const dir of [userRoot(), privateDir()]) {
      const st = fs.lstatSync(dir);
      expect(st.isDirectory(), dir).toBe(true);
      expect(st.mode & 0o777, dir).toBe(0o700);
      expect(st.uid, dir).toBe(uid);
    }
    expect(path.dirname(privateDir())).toBe(userRoot());
    expect(lib.info.mappedPath.startsWith(privateDir() + path.sep)).toBe(true);
    // Named in the link map and the mappings: debuggers and profilers open it. Nothing writes into
    // a mapped file (that crashes the process): it is read-only.
    expect(fs.statSync(lib.info.mappedPath).mode & 0o777).toBe(0o500);
    expect((await lib.close()).unloaded).toBe(true);
    expect(fs.existsSync(lib.info.mappedPath)).toBe(false);
  });

  it('refuses a per-user root that is a symlink, even to a directory of ours', () => {
    const base = fs.mkdtempSync(path.join(tmp, 'symlink-'));
    const target = fs.mkdtempSync(path.join(tmp, 'target-'));
    fs.chmodSync(target, 0o700);
    fs.symlinkSync(target, path.join(base, `dlswap-${uid}`));
    const r = openIn(base);
    expect(r.out).toMatch(/^ERR_DLSWAP_TEMP_AREA .*symbolic link/);
    expect(fs.readdirSync(target)).toEqual([]); // nothing was written through the link
  });

  it('refuses a per-user root that is not a directory', () => {
    const base = fs.mkdtempSync(path.join(tmp, 'file-'));
    fs.writeFileSync(path.join(base, `dlswap-${uid}`), '');
    expect(openIn(base).out).toMatch(/^ERR_DLSWAP_TEMP_AREA .*not a directory/);
  });

  it.skipIf(!asRoot)('refuses a per-user root that another user owns (checked as root: chown to nobody)', () => {
    const base = fs.mkdtempSync(path.join(tmp, 'owner-'));
    const root = path.join(base, `dlswap-${uid}`);
    fs.mkdirSync(root, { mode: 0o700 });
    fs.chownSync(root, 65534, 65534);
    expect(openIn(base).out).toMatch(/^ERR_DLSWAP_TEMP_AREA .*owned by uid 65534/);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it.skipIf(!asRoot)("refuses another user's root as that user sees it (run as nobody against a root-owned one)", () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-nobody-'));
    try {
      // Sticky, as /tmp is: a safe base, so the check that fires is the one on the root.
      fs.chmodSync(base, 0o1777);
      fs.mkdirSync(path.join(base, 'dlswap-65534'), { mode: 0o777 });
      const r = runChild(`try { dlswap.open(${JSON.stringify(P1)}); console.log('opened'); } catch (e) { console.log(e.code + ' ' + e.message); }`, {
        as: NOBODY_READING,
        env: { DLSWAP_TMPDIR: base },
      });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toMatch(/^ERR_DLSWAP_TEMP_AREA .*owned by uid 0/);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('refuses a base that other users can write without the sticky bit, before making anything in it', () => {
    // Another user could rename dlswap's directory out of such a base and put theirs in its place.
    const base = path.join(tmp, 'open-base');
    fs.mkdirSync(base);
    fs.chmodSync(base, 0o777);
    expect(openIn(base).out).toMatch(/^ERR_DLSWAP_TEMP_AREA .*writable by other users and not sticky.*DLSWAP_TMPDIR/);
    expect(fs.readdirSync(base)).toEqual([]);
    fs.chmodSync(base, 0o1777);
    expect(openIn(base).out).toBe('opened');
  });

  it('refuses a base that belongs to another user (who could replace what dlswap puts there)', () => {
    const base = path.join(tmp, 'theirs');
    fs.mkdirSync(base);
    fs.chownSync(base, 65534, 65534);
    fs.chmodSync(base, 0o755);
    const r = openIn(base);
    if (asRoot) expect(r.out).toMatch(/^ERR_DLSWAP_TEMP_AREA .*belongs to uid 65534/);
    expect(fs.readdirSync(base)).toEqual([]);
  });

  it('tightens a root of ours that is too open, then uses it', () => {
    const base = fs.mkdtempSync(path.join(tmp, 'open-'));
    const root = path.join(base, `dlswap-${uid}`);
    fs.mkdirSync(root);
    fs.chmodSync(root, 0o777);
    expect(openIn(base).out).toBe('opened');
    expect(fs.statSync(root).mode & 0o777).toBe(0o700);
  });
});

describe('the sha256 pin', () => {
  it.each(['namespace', 'local'] as const)('open in %s: loads a matching file (any case), refuses another with ERR_DLSWAP_INTEGRITY', async (isolation) => {
    const good = sha256(P1);
    const lib = open(P1, { isolation, sha256: good.toUpperCase() });
    expect(lib.info.sha256).toBe(good);
    expect(lib.func('int plugin_version(void)')()).toBe(1);
    // Awaited: the copy is removed after its image is unmapped, and the check below (and the one
    // after each test) would otherwise race the close on a loaded machine.
    await lib.close();
    let err: (Error & { code?: string }) | undefined;
    try {
      open(P1, { isolation, sha256: sha256(P2) });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.code).toBe('ERR_DLSWAP_INTEGRITY');
    expect(err?.message).toContain(good);
    expect(err?.message).toContain(sha256(P2));
    expect(err?.message).not.toContain(privateDir());
    expect(strayPrivateFiles()).toEqual([]);
  });

  it('HotLibrary.open refuses a mismatch; reload(path, { sha256 }) rolls back on one and swaps on a match', async () => {
    const bad = await HotLibrary.open(P1, { sha256: sha256(P2) }).catch((e) => e);
    expect(bad).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_INTEGRITY' });

    const hot = await HotLibrary.open(P1, { sha256: sha256(P1), functions: { v: 'int plugin_version(void)' } });
    try {
      const err = await hot.reload(P2, { sha256: sha256(P1) }).catch((e) => e);
      expect(err).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_INTEGRITY' });
      expect(err.report.failedPhase).toBe('loading');
      expect(hot.fn.v()).toBe(1);
      const r = await hot.reload(P2, { sha256: sha256(P2) });
      expect(r.unloaded).toBe(true);
      expect(hot.fn.v()).toBe(2);
    } finally {
      await hot.close();
    }
  });

  it('is checked against the bytes that are loaded, not a path read again later', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'pin-'));
    const file = path.join(dir, 'libcore.so');
    fs.copyFileSync(P1, file);
    const pinned = sha256(file);
    const hot = await HotLibrary.open(file, { sha256: pinned, functions: { v: 'int plugin_version(void)' } });
    try {
      // Someone replaces the file after it was vetted: the reload with the old pin must refuse it.
      fs.copyFileSync(P2, path.join(dir, 'next.so'));
      fs.renameSync(path.join(dir, 'next.so'), file);
      const err = await hot.reload(file, { sha256: pinned }).catch((e) => e);
      expect(err.causeCode).toBe('ERR_DLSWAP_INTEGRITY');
      expect(hot.fn.v()).toBe(1);
    } finally {
      await hot.close();
    }
  });
});

describe('a source that changes while it is being copied', () => {
  // A padded copy of the plugin (trailing bytes past the ELF's tables are never mapped) with two
  // counters: one in the first chunk the copy reads, one in the last. The writer stores k in the
  // first, then k in the second, so every state the file really passes through has
  // first === second or first === second + 1. A copy that read the first counter before a write
  // and the second after it (second > first) is a mix of two versions: it must never be returned.
  const SIZE = 4 << 20;
  let file: string;
  let first: number;
  const LAST = SIZE - 4;

  beforeAll(() => {
    file = path.join(tmp, 'libchanging.so');
    const elf = fs.readFileSync(P1);
    first = elf.length + 64;
    const buf = Buffer.alloc(SIZE);
    elf.copy(buf);
    fs.writeFileSync(file, buf);
  });

  function startWriter() {
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(
      `const fs = require('fs');
       const { workerData: { file, first, last, stop } } = require('worker_threads');
       const fd = fs.openSync(file, 'r+');
       const b = Buffer.alloc(4);
       for (let k = 1; Atomics.load(stop, 0) === 0; k++) {
         b.writeUInt32LE(k); fs.writeSync(fd, b, 0, 4, first); fs.writeSync(fd, b, 0, 4, last);
       }
       fs.closeSync(fd);`,
      { eval: true, workerData: { file, first, last: LAST, stop } },
    );
    return async () => {
      Atomics.store(stop, 0, 1);
      await new Promise((r) => worker.once('exit', r));
    };
  }

  it('is refused with ERR_DLSWAP_INTEGRITY, and no copy ever mixes two versions', async () => {
    const stopWriter = startWriter();
    let refused = 0;
    let accepted = 0;
    try {
      await new Promise((r) => setTimeout(r, 20)); // the writer is running
      // Until both outcomes have been seen enough (a count, not a time: a loaded machine only takes
      // longer); the bound on tries is the hang guard.
      for (let i = 0; i < 5_000 && (refused === 0 || refused + accepted <= 10); i++) {
        ensurePrivateArea();
        try {
          const copy = addon.copyForTest(file);
          accepted++;
          const data = fs.readFileSync(copy.path);
          addon.removePrivateFile(copy.name);
          const a = data.readUInt32LE(first);
          const b = data.readUInt32LE(LAST);
          expect(a === b || a === b + 1, `copy holds counters ${a} and ${b}`).toBe(true);
          expect(copy.sha256).toBe(crypto.createHash('sha256').update(data).digest('hex'));
        } catch (e) {
          expect((e as { code?: string }).code).toBe('ERR_DLSWAP_INTEGRITY');
          refused++;
        }
      }
      // And through open(): refused the same way, nothing left behind.
      let err: (Error & { code?: string }) | undefined;
      for (let i = 0; i < 1_000 && !err; i++) {
        try {
          void open(file).close();
        } catch (e) {
          err = e as typeof err;
        }
      }
      expect(err?.code).toBe('ERR_DLSWAP_INTEGRITY');
      expect(err?.message).toContain(`${file} changed while it was being copied`);
    } finally {
      await stopWriter();
    }
    const tally = `${refused} copies refused, ${accepted} accepted`;
    expect(refused, tally).toBeGreaterThan(0);
    expect(refused + accepted, tally).toBeGreaterThan(10);
    expect(strayPrivateFiles()).toEqual([]);
    // Once the writes have stopped, the same file loads.
    const lib = open(file);
    expect(lib.func('int plugin_version(void)')()).toBe(1);
    await lib.close();
  });
});

// The source is opened O_NONBLOCK and must be a regular file on that descriptor; the copy is bounded
// by the size fstat gave. Before that, a symlink flipped to /dev/zero copied without end (313 MB in
// 2.4 s, the JS thread blocked) and one flipped to a FIFO blocked open() for good. Each case runs in
// a child with a deadline, so a regression is a failed test, not a hung suite.
describe('a source path that is not a regular file, or is swapped for one that is not', () => {
  it('/dev/zero, a FIFO, and symlinks to them are refused at once with ERR_DLSWAP_NOT_A_FILE', () => {
    const r = runChild(
      `const fs = require('fs'), os = require('os'), path = require('path'), { execFileSync } = require('child_process');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-src-'));
      const fifo = path.join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const out = {};
      // Bytes this process read (/proc/self/io rchar), not time: "refused at once" means it read
      // (almost) nothing of an endless source; the child's timeout is the hang guard.
      const rchar = () => Number(/^rchar: (\\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))[1]);
      const attempt = (label, file) => {
        const before = rchar();
        try { dlswap.open(file); out[label] = 'opened'; } catch (e) { out[label] = e.code; }
        out[label + ' read'] = rchar() - before;
      };
      attempt('warm-up', '/dev/null'); // dlswap's own modules and addon load on first use: not counted
      attempt('zero', '/dev/zero');
      attempt('fifo', fifo);
      fs.symlinkSync('/dev/zero', path.join(dir, 'to-zero.so'));
      attempt('link to zero', path.join(dir, 'to-zero.so'));
      fs.symlinkSync(fifo, path.join(dir, 'to-fifo.so'));
      attempt('link to fifo', path.join(dir, 'to-fifo.so'));
      fs.rmSync(dir, { recursive: true });
      console.log(JSON.stringify(out));`,
      { timeout: 20_000 },
    );
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string | number>;
    for (const label of ['zero', 'fifo', 'link to zero', 'link to fifo']) {
      expect(out[label], label).toBe('ERR_DLSWAP_NOT_A_FILE');
      expect(out[`${label} read`] as number, label).toBeLessThan(64 * 1024);
    }
  });

  it('a symlink flipped between a library and /dev/zero or a FIFO during opens: each open loads the library or is refused, none hangs', () => {
    const lib = fixture('libbasic_v1.so');
    const r = runChild(
      `const fs = require('fs'), os = require('os'), path = require('path'), crypto = require('crypto'), { execFileSync, spawn } = require('child_process');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-flip-'));
      const fifo = path.join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const link = path.join(dir, 'lib.so');
      fs.symlinkSync(${JSON.stringify(lib)}, link);
      const want = crypto.createHash('sha256').update(fs.readFileSync(${JSON.stringify(lib)})).digest('hex');
      // Another process flips the link as fast as it can (rename over it: the link always exists).
      const flipper = spawn('sh', ['-c', 'while :; do for t in /dev/zero "$1" "$2"; do ln -s "$t" "$3.tmp" && mv -f "$3.tmp" "$3"; done; done', 'sh', fifo, ${JSON.stringify(lib)}, link], { stdio: 'ignore', detached: true });
      const counts = {};
      let wrong = 0;
      const t0 = performance.now();
      (async () => {
        for (let i = 0; i < 300; i++) {
          let l = null;
          try {
            l = dlswap.open(link);
            if (l.info.sha256 !== want) wrong++;
            counts.opened = (counts.opened || 0) + 1;
          } catch (e) { counts[e.code] = (counts[e.code] || 0) + 1; }
          if (l) await l.close();
        }
        // The flipper and its ln/mv may still be making a link: kill its whole process group, and
        // remove the directory once the shell is gone (retrying if a last link still lands).
        await new Promise((resolve) => { flipper.once('exit', resolve); process.kill(-flipper.pid, 'SIGKILL'); });
        fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
        console.log(JSON.stringify({ counts, wrong, ms: performance.now() - t0 }));
      })();`,
      { timeout: 60_000 },
    );
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const { counts, wrong } = JSON.parse(r.stdout) as { counts: Record<string, number>; wrong: number; ms: number };
    expect(wrong).toBe(0);
    // Anything but a load of the real library or a coded refusal of the file it found is a bug.
    for (const code of Object.keys(counts))
      expect(['opened', 'ERR_DLSWAP_NOT_A_FILE', 'ERR_DLSWAP_NOT_FOUND', 'ERR_DLSWAP_EMPTY_FILE', 'ERR_DLSWAP_NOT_ELF']).toContain(code);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(300);
  });
});
