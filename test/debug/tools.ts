// What the debugging tests share (test/debug/*.test.ts): each runs one tool of docs/debugging.md on
// debuggee_app.cjs, in every isolation mode, for the current generation and for an old one a lease
// keeps mapped. A tool that is not installed (or cannot run here) skips its tests and says why in
// their names. One file per tool, so that the slow ones run side by side.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { Isolation } from '../../lib/load/isolation';
import { root, underAsan } from '../helpers';

export const APP = path.join(__dirname, 'debuggee_app.cjs');
export const SOURCE = path.join(root, 'fixtures-c', 'debuggee', 'debuggee.c');
const sourceLine = (marker: string): number =>
  fs
    .readFileSync(SOURCE, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(marker)) + 1;
export const FAULT_LINE = sourceLine('DEBUGGEE_FAULT_LINE');
export const THREAD_LINE = sourceLine('DEBUGGEE_THREAD_LINE');
export const PARK_LINE = sourceLine('DEBUGGEE_PARK_LINE');
// Under a loaded machine node starts slowly under gdb, and very slowly under valgrind.
export const TOOL_MS = 240_000;

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...opts.env }, cwd: opts.cwd, timeout: opts.timeout ?? TOOL_MS, maxBuffer: 64 << 20 });
}

/**
 * Why `tool` cannot be used here ('' when it can): not installed, or it fails its probe. Under
 * `npm run test:asan` none is: these tests run the tools on a plain node, and the suite's node and
 * addon there are ASan's (asan.test.ts sets up its own).
 */
export function unavailable(tool: string, probe: string[]): string {
  if (underAsan) return 'the suite runs under ASan (npm run test:asan); npm test runs these';
  const r = run(tool, probe, { timeout: 60_000 });
  if (r.error) return `${tool} is not installed`;
  return r.status === 0 ? '' : `${tool} does not work here (${`${r.stderr}${r.stdout}`.trim().split('\n')[0]})`;
}

export const title = (what: string, missing: string) => (missing ? `${what} (skipped: ${missing})` : what);

/** A private area of the run's own: no other process's sweep removes the copies the tool reads. */
export function withTempBase<T>(fn: (dir: string, env: NodeJS.ProcessEnv) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-debug-'));
  try {
    return fn(dir, { DLSWAP_TMPDIR: dir });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function withTempBaseAsync<T>(fn: (dir: string, env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-debug-'));
  try {
    return await fn(dir, { DLSWAP_TMPDIR: dir });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const GDB = ['-q', '-batch', '-nx', '-ex', 'set debuginfod enabled off', '-ex', 'set pagination off'];
export const gdbOutput = (r: SpawnSyncReturns<string>) => `${r.stdout}${r.stderr}`;

/** What gdb must say of a fault in the old generation: the function, its file:line, the copy of v1. */
export function expectFaultNamed(out: string): void {
  expect(out).toMatch(new RegExp(`ring_len \\(r=.*\\) at \\S*debuggee\\.c:${FAULT_LINE}`));
  expect(out).toMatch(/in debuggee_fault \(\) at \S*debuggee\.c:\d+/);
  expect(out).toMatch(/ring_len in section \.text of \S+libdebuggee_v1\.so/);
  expect(out).not.toMatch(/Could not load shared library symbols/);
}

/** The app, started in the background, once it waits in debuggee_park of the old generation. */
export async function parked(mode: Isolation, env: NodeJS.ProcessEnv): Promise<{ pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [APP, mode, 'park', 'old'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  let out = '';
  const pid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not park within ${TOOL_MS} ms: ${out}`)), TOOL_MS);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /parked (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code, signal) => reject(new Error(`the app exited (${code ?? signal}) before it parked: ${out}`)));
  }).catch(async (e) => {
    await stop();
    throw e;
  });
  return { pid, stop };
}

/** gdb attached to `pid` until its main thread is in debuggee_park (it prints before the call). */
export function attachUntilParked(pid: number): string {
  let out = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    out = gdbOutput(run('gdb', [...GDB, '-p', String(pid), '-ex', 'thread 1', '-ex', 'bt', '-ex', 'info sharedlibrary debuggee']));
    if (/debuggee_park/.test(out) || /ptrace: Operation not permitted/.test(out)) break;
    spawnSync('sleep', ['0.5']);
  }
  return out;
}
