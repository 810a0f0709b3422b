// A library that keeps what it needs beside itself (fixtures-c/beside): a module it loads at run
// time ($ORIGIN, or the directory dladdr gives), a data file, its own libz.so.1 (by path and by
// soname through its RUNPATH), and what dlinfo(RTLD_DI_ORIGIN) and dl_iterate_phdr say. It must find
// each as it does with plain dlopen, in every mode, opened and hot-reloaded: the bundled zlib never
// swapped for the system's. Each cell runs in a process of its own (beside_app.cjs).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { runNode } from '../child';
import { fixture, underAsan } from '../helpers';

const APP = path.join(__dirname, 'beside_app.cjs');
const DIR = fs.realpathSync(fixture('beside'));
const BUNDLED = '9.9.9-dlswap-bundled';
const MODES = ISOLATION_MODES.filter((m) => m !== 'deepbind' || !underAsan);

async function cell(mode: string, how: 'open' | 'hot', dir = DIR, force = false): Promise<{ answers: Record<string, unknown>[]; stderr: string }> {
  const r = await runNode(APP, [mode, how, dir, ...(force ? ['force'] : [])], { timeoutMs: 120_000 });
  expect(r.code, `${r.stderr}`).toBe(0);
  return {
    answers: r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    stderr: r.stderr,
  };
}

/** What the library of generation `version` finds when it looks beside itself in `dir`. */
function found(version: number, dir = DIR) {
  return {
    version,
    moduleOrigin: 42,
    moduleDladdr: 42,
    data: 'beside data: found next to the library',
    zlibOrigin: BUNDLED,
    zlibOriginError: null,
    zlibSoname: BUNDLED,
    zlibSonameError: null,
    dlinfo: dir,
    iterate: path.join(dir, `libbeside_v${version}.so`),
  };
}

describe('files and modules beside the library', () => {
  // Not under ASan: its dlopen interceptor calls dlopen from libasan, so glibc takes libasan for
  // the caller and expands $ORIGIN and searches RUNPATH as libasan's: plain dlopen finds nothing.
  it.skipIf(underAsan)('the control: plain dlopen (koffi) finds all of them, and the system has a zlib of another version', async () => {
    const { answers } = await cell('plain-dlopen', 'open');
    expect(answers).toEqual([found(1)]);
    // Without the RUNPATH's directory, "libz.so.1" is the system's: what a silent swap returns.
    const koffi = await import('koffi');
    const system = koffi.load('libz.so.1').func('const char *zlibVersion(void)')();
    expect(system).not.toBe(BUNDLED);
  });

  it.concurrent.each(MODES)('%s: open() finds them as plain dlopen does', async (mode) => {
    const { answers, stderr } = await cell(mode, 'open');
    expect(answers).toEqual([found(1)]);
    expect(stderr).not.toMatch(/DLSWAP_ORIGIN_NOT_REDIRECTED/);
  });

  it.concurrent.each(MODES)('%s: HotLibrary finds them in each generation, and the old one still does while leased', async (mode) => {
    const { answers } = await cell(mode, 'hot');
    expect(answers).toEqual([found(1), found(2), found(1)]);
  });
});

describe('beside a library in a directory other users can change', () => {
  // The same files, in a directory anyone can write (not sticky): someone else could put code
  // there between two lookups. dlswap points nothing at it, says so when it opens the library, and
  // refuses the library's lookups there rather than let them fall through to the system's zlib.
  it.concurrent.each(['local', 'namespace'])('%s: a warning at open; lookups there are refused, with the reason in dlerror', async (mode) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-beside-'));
    try {
      for (const f of fs.readdirSync(DIR)) fs.copyFileSync(path.join(DIR, f), path.join(dir, f));
      fs.chmodSync(dir, 0o777);
      // Refused without force (ERR_DLSWAP_UNSAFE_DIRECTORY, test/load/dependency_plan.test.ts).
      const { answers, stderr } = await cell(mode, 'open', dir, true);
      expect(stderr).toMatch(/DLSWAP_ORIGIN_NOT_REDIRECTED.*libbeside_v1\.so: its directory can be changed by other users \(.* is writable by other users\)/);
      const [a] = answers;
      expect(a.moduleOrigin).toBe(-1);
      expect(a.zlibOrigin).toBeNull();
      expect(a.zlibOriginError).toMatch(/dlswap\/ refused: .*, the directory of the library, can be changed by other users/);
      expect(a.zlibSoname).toBeNull();
      expect(a.zlibSonameError).toMatch(/dlswap\/ refused: .*libz\.so\.1 is in .*, a directory other users can change/);
      // dladdr and the others keep the dynamic loader's answers: the private copy.
      expect(a.data).toBe(-1);
      expect(String(a.iterate)).toMatch(/dlswap-\d+\/\d+-\d+-[0-9a-f]+\/\d+-[0-9a-f]{6}-libbeside_v1\.so$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
