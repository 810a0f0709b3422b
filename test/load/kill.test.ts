// SIGKILL in the middle of reloads, at each phase: a process that dies that way runs no cleanup at
// all. What it leaves in the temp area must be exactly its own directory, and the next process that
// uses dlswap must remove it. Nothing else may be left behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RELOAD_FAULT_POINTS } from '../../lib/faults';
import { fixture, root, runChild } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const dist = path.join(root, 'dist', 'index.js');
const uid = process.getuid!();

// Reloads under async load until the armed fault kills the process. '@3': the third time the point
// is reached, so the process dies with generations behind it (for after-copy, the third copy is
// the second reload's).
const victim = `
const { HotLibrary } = require(${JSON.stringify(dist)});
require(${JSON.stringify(path.join(root, 'dist', 'testing', 'index.js'))}).armFaults(process.env.DLSWAP_FAULTS);
(async () => {
  const hot = await HotLibrary.open(${JSON.stringify(P1)}, {
    functions: { slow: 'int plugin_slow(int ms)', thread: 'int plugin_log_from_thread(int count)' },
  });
  hot.fn.thread(100);
  let stop = false;
  const load = Array.from({ length: 4 }, async () => { while (!stop) await hot.fn.slow.async(1); });
  for (let i = 0; i < 30; i++) {
    await hot.reload(i % 2 ? ${JSON.stringify(P1)} : ${JSON.stringify(P2)}, { wait: 'swap' });
    await new Promise((r) => setImmediate(r));
  }
  stop = true;
  await Promise.all(load);
  console.log('survived');
})();`;

function runVictim(env: NodeJS.ProcessEnv): Promise<{ signal: NodeJS.Signals | null; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', victim], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('SIGKILL during reloads', () => {
  // The phases run in parallel: each has its own temp root.
  it.concurrent.each(RELOAD_FAULT_POINTS)('at %s: the next process cleans the temp area; nothing else is left', async (point) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `dlswap-kill-${point}-`));
    try {
      const killed = await runVictim({ DLSWAP_TMPDIR: tmp, DLSWAP_FAULTS: `${point}:kill@3` });
      expect(killed.stdout).not.toContain('survived');
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.stderr).toBe('');

      // What the killed process left: its own directory, and nothing outside dlswap's root.
      const userRoot = path.join(tmp, `dlswap-${uid}`);
      expect(fs.readdirSync(tmp)).toEqual([`dlswap-${uid}`]);
      const left = fs.readdirSync(userRoot);
      expect(left).toHaveLength(1);
      expect(left[0]).toMatch(/^\d+-\d+-[0-9a-f]+$/);
      // Its copies: those of the generations still mapped when it died (a copy stays as long as its
      // image, for core files and debuggers), and killed between the copy and the load, that copy.
      // Nothing else: the sweep must handle them all.
      const files = fs.readdirSync(path.join(userRoot, left[0]));
      expect(files.length).toBeGreaterThan(0);
      expect(files.length).toBeLessThan(6);
      for (const f of files) expect(f).toMatch(/^\d+-[0-9a-f]{6}-libplugin_v[12]\.so$/);

      const next = runChild(
        `const lib = dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))});
         const seen = { v: lib.func('int version(void)')(), entries: require('fs').readdirSync(${JSON.stringify(userRoot)}) };
         lib.close().then(() => console.log(JSON.stringify(seen)));`,
        { env: { DLSWAP_TMPDIR: tmp } },
      );
      expect(next.stderr).toBe('');
      const seen = JSON.parse(next.stdout);
      expect(seen.v).toBe(1);
      // While it ran, only its own directory was there: the dead process's was swept.
      expect(seen.entries).toHaveLength(1);
      expect(seen.entries[0]).not.toBe(left[0]);
      // And, having closed its library, it removed its own at exit.
      expect(fs.readdirSync(tmp)).toEqual([`dlswap-${uid}`]);
      expect(fs.readdirSync(userRoot)).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a live process directory is never swept by another process', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-live-'));
    try {
      const userRoot = path.join(tmp, `dlswap-${uid}`);
      // The second process starts while the first still holds its directory (and a mapped copy).
      const inner = `require(${JSON.stringify(dist)}).open(${JSON.stringify(fixture('libbasic_v2.so'))}).close();`;
      const r = runChild(
        `const { spawnSync } = require('child_process');
         const lib = dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))});
         const mine = require('fs').readdirSync(${JSON.stringify(userRoot)});
         const other = spawnSync(process.execPath, ['-e', ${JSON.stringify(inner)}], { env: process.env, encoding: 'utf8' });
         const still = require('fs').readdirSync(${JSON.stringify(userRoot)});
         const v = lib.func('int version(void)')();
         lib.close().then(() => console.log(JSON.stringify({ mine, other: other.status, stderr: other.stderr, still, v })));`,
        { env: { DLSWAP_TMPDIR: tmp } },
      );
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out.other).toBe(0);
      expect(out.stderr).toBe('');
      expect(out.still).toEqual(out.mine);
      expect(out.v).toBe(1);
      expect(fs.readdirSync(userRoot)).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
