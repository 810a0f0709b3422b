/**
 * What a library needs, found as the dynamic loader would find it (native/loader/dependency_plan.cc),
 * at its edges: DT_NEEDED cycles (plain dlopen loads them, so dlswap must), closures larger than one
 * plan holds, a file in a search path the loader would stop at (a FIFO would block it for ever
 * while it holds its lock), and files other users could replace. docs/isolation.md, "Private
 * dependencies per generation" and "Files other users can replace".
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { open, type OpenOptions } from '../../lib/load/library';
import { MAX_DEPENDENCIES } from '../../lib/wire';
import { privateFiles } from '../../lib/load/temp_area';
import { fixture, runChild, underAsan } from '../helpers';

const MODES = ['local', 'deepbind', 'namespace', 'fresh-namespace'].filter((m) => !(underAsan && m === 'deepbind')) as OpenOptions['isolation'][];

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-plan-'));
afterAll(() => {
  fs.chmodSync(scratch, 0o700);
  fs.rmSync(scratch, { recursive: true, force: true });
});

// Minimal shared libraries, made with the system's compiler and linker (one object, linked as many
// times as needed: a link takes milliseconds).
const object = path.join(scratch, 'empty.o');
fs.writeFileSync(path.join(scratch, 'empty.c'), 'int dlswap_plan_fixture(void) { return 1; }\n');
execFileSync('cc', ['-c', '-fPIC', '-O2', '-o', object, path.join(scratch, 'empty.c')]);

/** A shared library with a SONAME, what it needs (found in `from`), and where it looks. */
function synth(file: string, o: { soname?: string; needed?: string[]; from?: string; runpath?: string }): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const args = ['-shared', '-o', file, object, '--enable-new-dtags', '--no-as-needed'];
  if (o.soname) args.push('-soname', o.soname);
  if (o.runpath) args.push('-rpath', o.runpath);
  if (o.needed?.length) args.push(`-L${o.from ?? path.dirname(file)}`, ...o.needed.map((n) => `-l:${n}`));
  execFileSync('ld', args);
  return file;
}

describe('DT_NEEDED cycles, which plain dlopen loads', () => {
  const cases = [
    ['among private dependencies (libcyc_a.so.1 <-> libcyc_b.so.1)', 'cycle/libcyc_user.so', 'int cyc_user(void)', 1221],
    ['through the library itself (libcyc_root.so <-> libcyc_c.so.1)', 'cycle/libcyc_root.so', 'int cyc_root(void)', 43],
  ] as const;
  for (const [what, file, proto, answer] of cases) {
    it.each(MODES)(`${what}: %s loads it, each generation with its own copies, and unloads it`, async (mode) => {
      const libs = [open(fixture(file), { isolation: mode }), open(fixture(file), { isolation: mode })];
      for (const lib of libs) expect(lib.func(proto)()).toBe(answer);
      // Each generation's copies are its own: different private names.
      const names = libs.map((l) => l.info.dependencies.filter((d) => d.kind === 'private').map((d) => d.privateName));
      expect(names[0].length).toBeGreaterThan(0);
      for (const n of names[0]) expect(names[1]).not.toContain(n);
      for (const lib of libs) {
        const r = await lib.close();
        expect(r.unloaded).toBe(true);
        for (const d of r.dependencies ?? []) expect(d.unloaded).toBe(true);
      }
      expect(privateFiles()).toEqual([]);
    });
  }
});

describe('how many dependencies one load plans', () => {
  const dir = path.join(scratch, 'many');
  // libd0000.so, libd0001.so...: one library linked once, its SONAME rewritten in place in each
  // copy (same length), since a link per library would take seconds.
  const hub = (count: number, name: string) => {
    const template = synth(path.join(scratch, 'template', 'libdXXXX.so'), { soname: 'libdXXXX.so' });
    const bytes = fs.readFileSync(template);
    const at = bytes.indexOf('libdXXXX.so');
    fs.mkdirSync(dir, { recursive: true });
    const names = Array.from({ length: count }, (_, i) => `libd${String(i).padStart(4, '0')}.so`);
    for (const n of names) {
      const f = path.join(dir, n);
      if (fs.existsSync(f)) continue;
      const copy = Buffer.from(bytes);
      copy.write(n, at, 'latin1');
      fs.writeFileSync(f, copy);
    }
    return synth(path.join(dir, name), { needed: names, runpath: '$ORIGIN' });
  };

  it('300 private dependencies load, each copied, and unload', async () => {
    const lib = open(hub(300, 'libhub300.so'), { isolation: 'namespace' });
    expect(lib.info.dependencies.filter((d) => d.kind === 'private')).toHaveLength(300);
    const r = await lib.close();
    expect(r.unloaded).toBe(true);
    expect(r.dependencies?.every((d) => d.unloaded)).toBe(true);
  });

  it(`more than ${MAX_DEPENDENCIES} is refused before anything is loaded, with the limit and what to do`, () => {
    const file = hub(MAX_DEPENDENCIES + 5, 'libhubmax.so');
    expect(() => open(file, { isolation: 'namespace' })).toThrow(
      expect.objectContaining({
        code: 'ERR_DLSWAP_DEPENDENCY',
        message: expect.stringMatching(
          new RegExp(`more than ${MAX_DEPENDENCIES} libraries .*libd${MAX_DEPENDENCIES}\\.so was the first beyond the limit.*shareDependencies`),
        ),
      }),
    );
    expect(privateFiles()).toEqual([]);
  });
});

describe('a file in a search path that the dynamic loader would stop at', () => {
  // libneedsz.so needs libz.so.1 and has a RUNPATH: the loader looks there first, and opens what it
  // finds there with a blocking open before it ever reaches the system's libz.
  const dir = path.join(scratch, 'stops');
  const search = path.join(dir, 'search');
  const libz = execFileSync('sh', ['-c', 'ldconfig -p | grep -m1 "libz.so.1 (" | sed "s/.*=> //"'], { encoding: 'utf8' }).trim();
  const lib = synth(path.join(dir, 'libneedsz.so'), { needed: ['libz.so.1'], from: path.dirname(libz), runpath: search });
  fs.mkdirSync(search, { recursive: true });
  const planted = path.join(search, 'libz.so.1');
  const put = (kind: string) => {
    fs.rmSync(planted, { recursive: true, force: true });
    if (kind === 'FIFO') execFileSync('mkfifo', [planted]);
    if (kind === '/dev/zero') fs.symlinkSync('/dev/zero', planted);
    if (kind === 'a directory') fs.mkdirSync(planted);
    if (kind === 'not ELF') fs.writeFileSync(planted, 'this is not a library, but it is long enough to be read as a header\n');
  };
  const expectWords: Record<string, RegExp> = {
    FIFO: /a FIFO: opening it waits for a writer, for ever/,
    '/dev/zero': /a character device/,
    'a directory': /a directory/,
    'not ELF': /not an ELF file/,
  };

  it.each(Object.keys(expectWords))('%s: refused in every mode with ERR_DLSWAP_NOT_A_FILE naming it, never a hang (in a child)', (kind) => {
    put(kind);
    const r = runChild(
      `const out = [];
       for (const mode of ${JSON.stringify(MODES)}) {
         try { dlswap.open(${JSON.stringify(lib)}, { isolation: mode }); out.push({ mode, loaded: true }); }
         catch (e) { out.push({ mode, code: e.code, message: e.message }); }
       }
       console.log(JSON.stringify(out));`,
      { timeout: 30_000 },
    );
    expect(r.signal).toBeNull();
    const out = JSON.parse(r.stdout) as { mode: string; code?: string; message?: string }[];
    expect(out).toHaveLength(MODES.length);
    for (const o of out) {
      expect(o.code, o.mode).toBe('ERR_DLSWAP_NOT_A_FILE');
      expect(o.message).toContain(planted);
      expect(o.message).toContain(`RUNPATH entry '${search}'`);
      expect(o.message).toMatch(expectWords[kind]);
    }
  });

  it('the real library there instead loads, as without dlswap', async () => {
    put('none');
    fs.copyFileSync(fs.realpathSync(libz), planted);
    const l = open(lib, { isolation: 'namespace' });
    expect(l.info.dependencies.find((d) => d.name === 'libz.so.1')?.file).toBe(fs.realpathSync(planted));
    expect((await l.close()).unloaded).toBe(true);
  });
});

describe('files other users could replace', () => {
  const dir = path.join(scratch, 'shared');

  it('a dependency in a directory others can write without the sticky bit is refused; force loads it', async () => {
    fs.mkdirSync(path.join(dir, 'privdep_v1'), { recursive: true });
    fs.copyFileSync(fixture('libpriv_v1.so'), path.join(dir, 'libpriv_v1.so'));
    fs.copyFileSync(fixture('privdep_v1/libprivdep.so'), path.join(dir, 'privdep_v1', 'libprivdep.so'));
    fs.chmodSync(path.join(dir, 'privdep_v1'), 0o777);
    try {
      for (const mode of MODES) {
        expect(() => open(path.join(dir, 'libpriv_v1.so'), { isolation: mode }), mode).toThrow(
          expect.objectContaining({
            code: 'ERR_DLSWAP_UNSAFE_DIRECTORY',
            message: expect.stringMatching(/dependency libprivdep\.so .*privdep_v1 is writable by other users and not sticky.*force: true/),
          }),
        );
      }
      const forced = open(path.join(dir, 'libpriv_v1.so'), { isolation: 'namespace', force: true });
      expect(forced.func('int priv_value(void)')()).toBe(1);
      expect((await forced.close()).unloaded).toBe(true);
    } finally {
      fs.chmodSync(path.join(dir, 'privdep_v1'), 0o755);
    }
    expect(privateFiles()).toEqual([]);
  });

  it('the library itself in such a directory is refused the same way', () => {
    const ww = path.join(dir, 'ww');
    fs.mkdirSync(ww, { recursive: true });
    fs.copyFileSync(fixture('libbasic_v1.so'), path.join(ww, 'libbasic_v1.so'));
    fs.chmodSync(ww, 0o777);
    try {
      expect(() => open(path.join(ww, 'libbasic_v1.so'))).toThrow(
        expect.objectContaining({ code: 'ERR_DLSWAP_UNSAFE_DIRECTORY', message: expect.stringContaining(`${ww} is writable by other users and not sticky`) }),
      );
      // A sticky one (like /tmp) is fine for a file of this user's.
      fs.chmodSync(ww, 0o1777);
      const lib = open(path.join(ww, 'libbasic_v1.so'));
      expect(lib.func('int version(void)')()).toBe(1);
      lib.closeNow();
    } finally {
      fs.chmodSync(ww, 0o755);
    }
  });

  it.skipIf(process.getuid?.() !== 0)('in a sticky directory, a file another user owns is theirs to replace: refused', () => {
    const sticky = path.join(dir, 'sticky');
    fs.mkdirSync(sticky, { recursive: true });
    const file = path.join(sticky, 'libbasic_v1.so');
    fs.copyFileSync(fixture('libbasic_v1.so'), file);
    fs.chmodSync(sticky, 0o1777);
    fs.chownSync(file, 65534, 65534);
    try {
      expect(() => open(file)).toThrow(
        expect.objectContaining({ code: 'ERR_DLSWAP_UNSAFE_DIRECTORY', message: expect.stringContaining(`${file} belongs to uid 65534`) }),
      );
    } finally {
      fs.chmodSync(sticky, 0o755);
    }
  });
});
