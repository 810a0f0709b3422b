// The conventions of a Node.js package (issue 14): bare sonames searched as dlopen does,
// NODE_DEBUG=dlswap, AbortSignal on the long operations, one error class, the CLI's --version,
// --help and usage errors, colour rules, and the errors of a missing or refused binary.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DlswapError, isDlswapError } from '../../lib/errors';
import { readElf } from '../../lib/elf/elf';
import { HotLibrary } from '../../lib/hot/hot_library';
import { open } from '../../lib/load/library';
import { findLibrary, ldCache } from '../../lib/load/search';
import { addonLoadError, BUILD_COMMAND } from '../../lib/platform';
import { colorEnabled, colors } from '../../lib/cli/format';
import { fixture, fixturesDir, root, runChild, strayPrivateFiles } from '../helpers';

const V1 = fixture('libplugin_v1.so');
const V2 = fixture('libplugin_v2.so');
const FUNCTIONS = { version: 'int plugin_version(void)', slow: 'int plugin_slow(int ms)' } as const;

async function rejection(p: Promise<unknown>): Promise<DlswapError & { report?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as DlswapError;
  }
  throw new Error('expected a rejection');
}

describe('bare sonames', () => {
  it("open('libz.so.1') finds it where the dynamic loader would, and realPath says where", async () => {
    const lib = open('libz.so.1');
    expect(lib.info.path).toBe('libz.so.1');
    expect(path.basename(lib.info.realPath)).toMatch(/^libz\.so\.1/);
    expect(lib.func('const char *zlibVersion(void)')()).toMatch(/^1\./);
    expect(await lib.close()).toMatchObject({ unloaded: true });
  });

  it('HotLibrary.open of a soname, watched: the file that was found is watched', async () => {
    const hot = await HotLibrary.open('libz.so.1', { watch: true, functions: { version: 'const char *zlibVersion(void)' } });
    const skips: unknown[] = [];
    hot.on('watch-skip', (s) => skips.push(s));
    await new Promise((r) => setTimeout(r, 300));
    expect(skips).toEqual([]); // a watch of ./libz.so.1 would report it 'vanished'
    expect(hot.fn.version()).toMatch(/^1\./);
    await hot.close();
  });

  it('a name that is nowhere is ERR_DLSWAP_NOT_FOUND, saying where it looked', () => {
    let e: unknown;
    try {
      open('libdlswap-no-such-library.so.7');
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(DlswapError);
    expect((e as DlswapError).code).toBe('ERR_DLSWAP_NOT_FOUND');
    expect((e as Error).message).toMatch(/LD_LIBRARY_PATH.*ld\.so\.cache/);
  });

  it('never the current directory: a file there gets a hint to write ./name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-cwd-'));
    fs.copyFileSync(fixture('libbasic_v1.so'), path.join(dir, 'libcwd_only.so'));
    const r = runChild(`try { dlswap.open('libcwd_only.so') } catch (e) { console.log(e.code + ' ' + e.message) }`, {});
    const inDir = spawnSync(
      process.execPath,
      [
        '-e',
        `try { require(${JSON.stringify(path.join(root, 'dist', 'index.js'))}).open('libcwd_only.so') } catch (e) { console.log(e.code + ' ' + e.message) }`,
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.stdout).toMatch(/^ERR_DLSWAP_NOT_FOUND/);
    expect(inDir.stdout).toMatch(/open '\.\/libcwd_only\.so' to load it/);
  });

  it('LD_LIBRARY_PATH comes first, as for dlopen', () => {
    const saved = process.env.LD_LIBRARY_PATH;
    process.env.LD_LIBRARY_PATH = `/nonexistent:${fixturesDir}`;
    try {
      expect(findLibrary('libbasic_v1.so').path).toBe(path.join(fixturesDir, 'libbasic_v1.so'));
    } finally {
      if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
      else process.env.LD_LIBRARY_PATH = saved;
    }
  });

  it('ld.so.cache is read as ldconfig -p lists it', () => {
    const ldconfig = ['/sbin/ldconfig', '/usr/sbin/ldconfig'].find((p) => fs.existsSync(p));
    const listed = ldconfig ? spawnSync(ldconfig, ['-p'], { encoding: 'utf8' }).stdout : '';
    const m = /^\s+(libz\.so\.1) \(([^)]*)\) => (\S+)$/m.exec(listed);
    if (!m) return; // no ldconfig, or no libz in the cache
    expect(ldCache().get('libz.so.1')).toContain(m[3]);
  });
});

describe('NODE_DEBUG=dlswap', () => {
  it('traces each phase of an open and a reload on stderr', () => {
    const r = runChild(
      `(async () => {
        const hot = await dlswap.HotLibrary.open(${JSON.stringify(V1)}, { functions: { v: 'int plugin_version(void)' } });
        await hot.reload(${JSON.stringify(V2)});
        await hot.close();
        dlswap.open('libz.so.1').closeNow?.();
      })()`,
      { env: { NODE_DEBUG: 'dlswap' } },
    );
    expect(r.status).toBe(0);
    for (const line of [
      /DLSWAP \d+: open .*libplugin_v1\.so \(namespace\) on the loader thread/,
      /DLSWAP \d+: open .*libplugin_v1\.so: copied \d+ bytes in [\d.]+ ms, opened in [\d.]+ ms, verified in [\d.]+ ms/,
      /DLSWAP \d+: reload .*libplugin_v2\.so: generation 2 loading \(generation 1 serves\)/,
      /DLSWAP \d+: reload .*: generation 2 verified/,
      /DLSWAP \d+: reload .*: swapped, generation 2 serves/,
      /DLSWAP \d+: generation 1 drained/,
      /DLSWAP \d+: generation 1 finalized and closed: unloaded/,
      /DLSWAP \d+: resolve libz\.so\.1: \/\S+libz\.so\.1/,
    ]) {
      expect(r.stderr).toMatch(line);
    }
    expect(runChild(`dlswap.open('libz.so.1')`).stderr).not.toMatch(/DLSWAP/);
  });
});

describe('AbortSignal', () => {
  afterEach(() => {
    expect(strayPrivateFiles()).toEqual([]);
  });

  it('HotLibrary.open with an aborted signal loads nothing', async () => {
    const e = await rejection(HotLibrary.open(V1, { functions: FUNCTIONS, signal: AbortSignal.abort('stop') }));
    expect(e.code).toBe('ERR_DLSWAP_ABORTED');
    expect(e.cause).toBe('stop');
  });

  it('HotLibrary.open aborted while it loads rejects at once, and the generation is undone', async () => {
    const ac = new AbortController();
    const opening = HotLibrary.open(V1, { functions: FUNCTIONS, signal: ac.signal });
    ac.abort();
    const e = await rejection(opening);
    expect(e.code).toBe('ERR_DLSWAP_ABORTED');
    expect(e).toBeInstanceOf(DlswapError);
    // The undo runs once the load returns.
    await new Promise((r) => setTimeout(r, 200));
  });

  it('reload aborted before it started loads nothing', async () => {
    const hot = await HotLibrary.open(V1, { functions: FUNCTIONS });
    const ac = new AbortController();
    const reloading = hot.reload(V2, { signal: ac.signal });
    ac.abort();
    expect((await rejection(reloading)).code).toBe('ERR_DLSWAP_ABORTED');
    expect((await hot.reload(V2)).to).toBe(2);
    await hot.close();
  });

  it('reload aborted before its swap rolls back: the current generation keeps serving', async () => {
    const ac = new AbortController();
    // Aborted while generation 2 is being verified (its setup hook runs), before the swap.
    const hot = await HotLibrary.open(V1, { functions: FUNCTIONS, setup: (g) => void (g.id === 2 && ac.abort(new Error('deploy cancelled'))) });
    const rollbacks: unknown[] = [];
    hot.on('rollback', (r) => rollbacks.push(r));
    const e = await rejection(hot.reload(V2, { signal: ac.signal }));
    expect(e.code).toBe('ERR_DLSWAP_ABORTED');
    expect(e.message).toMatch(/before its swap: it is rolled back and generation 1 keeps serving/);
    expect((e.cause as Error).message).toBe('deploy cancelled');
    // The rollback completes behind the rejection; the next reload queues after it.
    const next = await hot.reload(V2);
    expect(next.to).toBe(3);
    expect(rollbacks).toHaveLength(1);
    expect(hot.generations().find((g) => g.id === 2)).toMatchObject({ state: 'rejected', unloaded: true });
    expect(hot.fn.version()).toBe(2);
    await hot.close();
  });

  it('reload aborted after its swap only stops waiting for the old generation', async () => {
    const hot = await HotLibrary.open(V1, { functions: FUNCTIONS });
    const lease = hot.pin(); // holds generation 1: its drain waits for the release
    const ac = new AbortController();
    hot.once('reload', () => setImmediate(() => ac.abort()));
    const e = await rejection(hot.reload(V2, { signal: ac.signal })); // wait: 'closed' by default
    expect(e.code).toBe('ERR_DLSWAP_ABORTED');
    expect(e.message).toMatch(/after its swap: generation 2 serves, and generation 1 goes on draining/);
    expect(hot.fn.version()).toBe(2);
    expect(lease.fn.version()).toBe(1);
    const unloaded = new Promise((r) => hot.once('unloaded', r));
    lease.release();
    expect(await unloaded).toMatchObject({ generation: 1 });
    await hot.close();
  });

  it('close() aborted stops waiting; the closing goes on and a later close() returns it', async () => {
    const hot = await HotLibrary.open(V1, { functions: FUNCTIONS });
    const lease = hot.pin();
    const ac = new AbortController();
    const closing = hot.close({ signal: ac.signal });
    ac.abort();
    expect((await rejection(closing)).code).toBe('ERR_DLSWAP_ABORTED');
    lease.release();
    await hot.close();
    expect(hot.generations().every((g) => g.unloaded)).toBe(true);
  });

  it('a signal that is not an AbortSignal is refused as an argument', async () => {
    const hot = await HotLibrary.open(V1, { functions: FUNCTIONS });
    expect((await rejection(hot.reload(V2, { signal: 'soon' as never }))).code).toBe('ERR_DLSWAP_ARG');
    expect((await rejection(hot.close({ signal: 5 as never }))).code).toBe('ERR_DLSWAP_ARG');
    await hot.close();
  });
});

describe('one error class', () => {
  it('errors made by the addon are DlswapErrors', () => {
    let e: unknown;
    try {
      readElf('/etc/passwd');
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(DlswapError);
    expect((e as DlswapError).code).toBe('ERR_DLSWAP_NOT_ELF');
    expect(isDlswapError(e)).toBe(true);
  });

  it("argument errors are DlswapErrors and stay TypeErrors, as Node's own are", () => {
    const lib = open(fixture('libtypes.so'));
    let e: unknown;
    try {
      lib.func('int32_t id_i32(int32_t v)')('1' as never);
    } catch (err) {
      e = err;
    }
    lib.closeNow();
    expect(e).toBeInstanceOf(DlswapError);
    expect(e).toBeInstanceOf(TypeError);
    expect((e as DlswapError).code).toBe('ERR_DLSWAP_ARG');
  });

  it('other errors are not, and subclasses keep the prototype check', () => {
    expect(new Error('x')).not.toBeInstanceOf(DlswapError);
    expect(Object.assign(new Error('x'), { code: 'ERR_OTHER' })).not.toBeInstanceOf(DlswapError);
    class Sub extends DlswapError {}
    expect(new DlswapError('ERR_DLSWAP_ARG', 'x')).not.toBeInstanceOf(Sub);
    expect(new Sub('ERR_DLSWAP_ARG', 'x')).toBeInstanceOf(Sub);
  });

  it('64-bit parameters take numbers', () => {
    const lib = open(fixture('libtypes.so'));
    expect(lib.func('int64_t mul64(int64_t a, int64_t b)')(3, 4)).toBe(12n);
    lib.closeNow();
  });
});

describe('the dlswap command', () => {
  const bin = path.join(root, 'bin', 'dlswap.js');
  const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

  it('--version prints the package version', () => {
    const r = cli('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
    expect(cli('-v').stdout).toBe(r.stdout);
  });

  it('without a command: the usage on stderr, exit 2', () => {
    const r = cli();
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^dlswap: missing the command\n\nusage: dlswap <command>/);
  });

  it.each(['inspect', 'doctor', 'demo', 'watch'])('%s --help, -h and `help %s` print its usage, exit 0', (cmd) => {
    for (const args of [
      [cmd, '--help'],
      [cmd, '-h'],
      ['help', cmd],
    ]) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: dlswap ${cmd}`));
    }
  });

  it.each([
    [['inspect', '--bogus', 'x.so'], "dlswap inspect: unknown option '--bogus'"],
    [['doctor', '--jsn'], "dlswap doctor: unknown option '--jsn'"],
    [['demo', '--quik'], "dlswap demo: unknown option '--quik'"],
    [['watch', 'x.so', '--isolation'], "dlswap watch: option '--isolation' needs a value"],
    [['doctor', 'extra'], "dlswap doctor: unexpected argument 'extra'"],
    [['frobnicate'], "dlswap: unknown command 'frobnicate'"],
    [['--bogus'], "dlswap: unknown option '--bogus'"],
  ])('%j is a usage error on stderr, worded one way', (args, message) => {
    const r = cli(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(message);
    expect(r.stderr).toMatch(/usage: dlswap/);
  });
});

function without(env: NodeJS.ProcessEnv, ...names: string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !names.includes(k)));
}

describe('colour', () => {
  it("a TTY's hasColors() decides; elsewhere FORCE_COLOR, NO_COLOR and TERM do", () => {
    const tty = (on: boolean) => ({ hasColors: (env?: object) => on && !(env as NodeJS.ProcessEnv | undefined)?.NO_COLOR });
    expect(colorEnabled(true, {}, tty(true))).toBe(true);
    expect(colorEnabled(true, { NO_COLOR: '1' }, tty(true))).toBe(false);
    expect(colorEnabled(true, {}, tty(false))).toBe(false);
    expect(colorEnabled(false, { FORCE_COLOR: '1' }, tty(true))).toBe(true);
    expect(colorEnabled(false, {}, tty(true))).toBe(false);
    expect(colors(true).red('x')).toBe('\x1b[31mx\x1b[39m');
    expect(colors(false).red('x')).toBe('x');
  });

  it('FORCE_COLOR colours a pipe, NO_COLOR does not', () => {
    const doctor = (env: Record<string, string>) =>
      spawnSync(process.execPath, [path.join(root, 'bin', 'dlswap.js'), 'doctor', '--no-probe'], {
        encoding: 'utf8',
        env: { ...without(process.env, 'FORCE_COLOR', 'NO_COLOR'), ...env },
      }).stdout;
    expect(doctor({ FORCE_COLOR: '1' })).toContain('\x1b[');
    expect(doctor({ NO_COLOR: '1' })).not.toContain('\x1b[');
  });
});

describe('a binary that is missing or refused', () => {
  it('no binary: ERR_DLSWAP_NO_BINARY, with the toolchain per distribution and how to retry', () => {
    const e = addonLoadError(new Error('No native build was found for platform=linux'), undefined);
    expect(e.code).toBe('ERR_DLSWAP_NO_BINARY');
    expect(e.message).toMatch(/apt-get install cmake g\+\+ make libffi-dev/);
    expect(e.message).toMatch(/dnf install cmake gcc-c\+\+ make libffi-devel/);
    // In a checkout, the build script; in an installed package, `npx dlswap build` (package.test.ts).
    expect(BUILD_COMMAND).toBe('npm run build:native');
    expect(e.message).toContain(`Build it: ${BUILD_COMMAND}`);
  });

  it('a glibc too old for the prebuild: ERR_DLSWAP_UNSUPPORTED_PLATFORM naming both versions', () => {
    const e = addonLoadError(
      new Error("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.99' not found (required by x.node)"),
      '/pkg/prebuilds/linux-x64/node.napi.glibc.node',
    );
    expect(e.code).toBe('ERR_DLSWAP_UNSUPPORTED_PLATFORM');
    expect(e.message).toMatch(/needs glibc >= 2\.99 and this system has glibc \d+\.\d+/);
  });

  it('a binary for another machine: ERR_DLSWAP_NO_BINARY, not a bare dlopen message', () => {
    const e = addonLoadError(new Error('x.node: wrong ELF class: ELFCLASS32'), '/pkg/build/Release/dlswap.node');
    expect(e.code).toBe('ERR_DLSWAP_NO_BINARY');
    expect(e.message).toContain('wrong ELF class');
    expect(e.message).toContain(`rebuild it with ${BUILD_COMMAND}`);
  });

  it('the module itself refuses with a coded error when no binary fits', () => {
    const r = runChild(`0`, { env: { DLSWAP_ADDON_DIR: '/nonexistent' } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_DLSWAP_NO_BINARY|code: 'ERR_DLSWAP_NO_BINARY'/);
  });
});
