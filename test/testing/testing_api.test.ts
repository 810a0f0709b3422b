// dlswap/testing's pieces (lib/testing/, docs/testing.md): the build step and what it hands the
// workers, a fresh instance per test, and source lines in fault reports.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildNative, nativeBuild, testLibrary, withSourceLines } from '../../lib/testing';
import { fixture } from '../helpers';

const VARIABLE = 'DLSWAP_TEST_LIBRARY_API';
const scratch: string[] = [];
afterEach(() => {
  delete process.env[VARIABLE];
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-testing-'));
  scratch.push(dir);
  return dir;
}

const COUNTER = 'static int n; int next(void) { return ++n; }\n';

describe('the build', () => {
  it('compiles sources with the C compiler; a failed compile reports the compiler output and leaves no library', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'counter.c'), COUNTER);
    const good = buildNative({ library: 'out/libcounter.so', sources: ['counter.c'] }, dir);
    expect(good).toMatchObject({ ok: true, library: path.join(dir, 'out', 'libcounter.so'), status: 'exit 0' });
    expect(fs.existsSync(good.library)).toBe(true);
    fs.writeFileSync(path.join(dir, 'counter.c'), 'int next(void) { return n; }\n');
    const bad = buildNative({ library: 'out/libcounter.so', sources: ['counter.c'] }, dir);
    expect(bad.ok).toBe(false);
    expect(bad.output).toMatch(/counter\.c:1:\d+: error: .n. undeclared/);
    expect(fs.existsSync(bad.library)).toBe(false);
  });

  it('a command that exits 0 without making the library is a failed build', () => {
    const r = buildNative({ library: 'nothing.so', command: ['true'] }, tmp());
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/did not make .*nothing\.so/);
  });

  it('bad options are ERR_DLSWAP_ARG', () => {
    expect(() => buildNative({ library: '' }, tmp())).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(() => buildNative({ library: 'x.so' }, tmp())).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(() => buildNative({ library: 'x.so', command: [] }, tmp())).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
  });

  it('as a globalSetup: a failed build fails the run; in watch mode it does not, and every rerun builds again', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'counter.c'), 'syntax error');
    const setup = nativeBuild({ library: 'libcounter.so', sources: ['counter.c'], name: VARIABLE });
    expect(() => setup({ config: { root: dir } })).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_BUILD_FAILED' }));
    let rerun: (() => void | Promise<void>) | undefined;
    setup({ config: { root: dir }, vitest: { config: { watch: true } }, onTestsRerun: (cb) => (rerun = cb) });
    expect(JSON.parse(process.env[VARIABLE]!)).toMatchObject({ ok: false });
    expect(() => testLibrary({ name: VARIABLE }).path).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_BUILD_FAILED', message: expect.stringMatching(/error:/) }),
    );
    fs.writeFileSync(path.join(dir, 'counter.c'), COUNTER);
    void rerun!();
    expect(JSON.parse(process.env[VARIABLE]!)).toMatchObject({ ok: true });
    expect(testLibrary({ name: VARIABLE }).path).toBe(path.join(dir, 'libcounter.so'));
  });

  it('testLibrary() without a setup says what to add', () => {
    expect(() => testLibrary({ name: VARIABLE }).path).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringMatching(/globalSetup/) }),
    );
  });
});

describe('fresh instances', () => {
  it('each has its own globals, and is closed when the test ends', async (context) => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'counter.c'), COUNTER);
    nativeBuild({ library: 'libcounter.so', sources: ['counter.c'], name: VARIABLE })({ config: { root: dir } });
    const counter = testLibrary({ name: VARIABLE });
    const finished: (() => unknown)[] = [];
    const ctx = { onTestFinished: (fn: () => unknown) => finished.push(fn) };
    const a = counter.fresh(ctx);
    const b = counter.fresh(ctx);
    const nextA = a.func('int next(void)');
    const nextB = b.func('int next(void)');
    expect([nextA(), nextA(), nextB()]).toEqual([1, 2, 1]);
    expect(finished).toHaveLength(2);
    const results = (await Promise.all(finished.map((f) => f()))) as { unloaded: boolean }[];
    expect(results.map((r) => r.unloaded)).toEqual([true, true]);
    expect(a.closed && b.closed).toBe(true);
    void context;
  });
});

describe('source lines', () => {
  const hasAddr2line = spawnSync('addr2line', ['--version']).status === 0;

  it.skipIf(!hasAddr2line)('a fault in a library built with -g names the file and line', () => {
    const file = fixture('libfaults_v1.so');
    const lib = testLibrary({ library: file }).fresh();
    const faults = lib.func('int faults(int kind, int x)');
    let err: Error & { fault?: { frames: { file?: string; line?: number }[] } } = new Error('none');
    try {
      faults(1, 0);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.message).toMatch(/C stack \(innermost first\):\n {4}write_null \(.*fixtures-c\/faults\/faults\.c:\d+\)/);
    expect(err.fault!.frames[0]).toMatchObject({ file: expect.stringMatching(/faults\.c$/), line: expect.any(Number) });
    // Once only, whatever rethrows it.
    expect(withSourceLines(err, file).message.match(/C stack/g)).toHaveLength(1);
  });

  it('other errors pass through untouched', () => {
    const e = new Error('x');
    expect(withSourceLines(e, '/nowhere')).toBe(e);
    expect(e.message).toBe('x');
  });
});
