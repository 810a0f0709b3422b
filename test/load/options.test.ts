// Careless options, at every entry point: each is refused with ERR_DLSWAP_ARG naming the option,
// before anything is copied or loaded (an armed 'after-copy' fault that is still armed afterwards
// proves no copy was even attempted), and nothing is left behind.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { HotLibrary } from '../../lib/hot/hot_library';
import { open } from '../../lib/load/library';
import { func, readCString, rebind } from '../../lib/call/func';
import { runWatch } from '../../lib/cli/watch';
import { PassThrough } from 'node:stream';
import { LibraryWatcher } from '../../lib/watch/watch';
import { armedFaults, clearFaults, injectFault } from '../../lib/faults';
import { fixture, strayPrivateFiles } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const plugin = { plugin_version: 'int plugin_version(void)' } as const;
const fdCount = () => fs.readdirSync('/proc/self/fd').length;
const withTimeout = <T>(p: Promise<T>, ms = 5_000) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms))]);

const hots: HotLibrary[] = [];
afterEach(async () => {
  clearFaults();
  for (const h of hots.splice(0)) await withTimeout(h.close());
  expect(strayPrivateFiles()).toEqual([]);
});

/** Asserts `run` fails with ERR_DLSWAP_ARG (or `code`) whose message matches, and loaded nothing. */
async function refused(run: () => unknown, message: RegExp, code = 'ERR_DLSWAP_ARG') {
  injectFault('after-copy');
  const fds = fdCount();
  let error: unknown;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(Error);
  expect(error).toMatchObject({ code });
  expect((error as Error).message).toMatch(message);
  expect(armedFaults()).toEqual(['after-copy']); // nothing was copied, so nothing was loaded
  expect(strayPrivateFiles()).toEqual([]);
  expect(fdCount()).toBe(fds);
  clearFaults();
  return error as Error & { code: string; cause?: unknown };
}

describe('open(path, options)', () => {
  it('a sha256 of the wrong type is refused before the copy (it used to throw a TypeError and leak the copy)', async () => {
    for (let i = 0; i < 3; i++) {
      await refused(() => open(P1, { sha256: 1234 as unknown as string }), /option 'sha256' must be a sha256 digest: 64 hexadecimal digits, not 1234/);
    }
    await refused(() => open(P1, { sha256: 'abc' }), /option 'sha256'/);
  });

  it('unknown keys are refused, with the closest known one', async () => {
    await refused(
      () => open(P1, { isolaton: 'local' } as never),
      /unknown option 'isolaton' \(did you mean 'isolation'\?\)\. Known options: isolation, force, shareDependencies, sha256/,
    );
    await refused(() => open(P1, { Force: true } as never), /did you mean 'force'/);
  });

  it('wrong types and values anywhere', async () => {
    await refused(() => open(P1, { isolation: 'nope' as never }), /option 'isolation' must be one of 'local', 'deepbind', 'namespace', 'fresh-namespace'/);
    await refused(() => open(P1, { force: 'yes' as never }), /option 'force' must be true or false, not "yes"/);
    await refused(() => open(P1, { shareDependencies: 1 as never }), /option 'shareDependencies'/);
    await refused(() => open(P1, null as never), /options must be an object, not null/);
    await refused(() => open(P1, [] as never), /options must be an object, not an array/);
  });

  it('a getter that throws is an ERR_DLSWAP_ARG with the thrown error as its cause; each getter runs once', async () => {
    const boom = new Error('boom');
    const err = await refused(
      () =>
        open(P1, {
          get isolation(): never {
            throw boom;
          },
        }),
      /reading option 'isolation' threw: boom/,
    );
    expect(err.cause).toBe(boom);
    let reads = 0;
    const lib = open(P1, {
      get isolation() {
        reads++;
        return reads === 1 ? ('local' as const) : ('nope' as never);
      },
    });
    expect(lib.info.isolation).toBe('local');
    expect(reads).toBe(1);
    await lib.close();
  });

  it('a Proxy whose keys cannot be listed', async () => {
    const p = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('no keys');
        },
      },
    );
    await refused(() => open(P1, p), /the options object could not be read: no keys/);
  });
});

describe('lib.func(prototype, options) and lib.symbol(name)', () => {
  it('refuses unknown keys, wrong types and a NUL inside a symbol name', async () => {
    const lib = open(P1);
    try {
      expect(() => lib.func('int plugin_version(void)', { symbl: 'x' } as never)).toThrow(
        expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringMatching(/unknown option 'symbl' \(did you mean 'symbol'\?\)/) }),
      );
      expect(() => lib.func('int plugin_version(void)', { symbol: 5 } as never)).toThrow(
        expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringMatching(/option 'symbol' must be a non-empty string, not 5/) }),
      );
      expect(() => lib.func('int plugin_version(void)', { errno: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
      expect(() => lib.func('int plugin_version(void)', null as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
      // C would see only 'plugin_version': the call used to bind to it.
      const nul = /contains a NUL character at index 14; C would see only "plugin_version"/;
      expect(() => lib.symbol('plugin_version\0evil')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringMatching(nul) }));
      expect(() => lib.func('int f(void)', { symbol: 'plugin_version\0evil' })).toThrow(
        expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringMatching(nul) }),
      );
      expect(lib.symbol('plugin_version')).toBeTypeOf('bigint');
    } finally {
      await lib.close();
    }
  });
});

describe('HotLibrary.open(path, options)', () => {
  it.each([
    [{ abi: { min: 'a' } }, /option 'abi\.min' must be an integer from 0 to 4294967295, not "a"/],
    [{ abi: { min: 2 } }, /option 'abi' accepts no version at all: min 2 is above max 1 \(max defaults to this host's ABI version, 1; give abi\.max too\)/],
    [{ abi: { mni: 0 } }, /unknown option 'abi\.mni' \(did you mean 'abi\.min'\?\)/],
    [{ drainTimeoutMs: NaN }, /option 'drainTimeoutMs' must be a number of milliseconds from 0 to 2147483647, not NaN/],
    [{ drainTimeoutMs: -1 }, /option 'drainTimeoutMs'/],
    [{ drainTimeoutMs: Infinity }, /option 'drainTimeoutMs'/],
    [{ drainTimeoutMs: 2 ** 31 }, /option 'drainTimeoutMs'/],
    [{ drainTimeoutMs: '100' }, /option 'drainTimeoutMs'/],
    [{ policy: 'swap' }, /option 'policy' must be one of 'overlap', 'handover', not "swap"/],
    [{ userData: 5 }, /option 'userData' must be a bigint from 0n to 2n \*\* 64n - 1n, not 5/],
    [{ userData: -1n }, /option 'userData'/],
    [{ isolaton: 'local' }, /unknown option 'isolaton' \(did you mean 'isolation'\?\)/],
    [{ sha256: 42 }, /option 'sha256'/],
    [{ functions: ['int f(void)'] }, /option 'functions' must be an object of C prototypes by name, not an array/],
    [{ functions: { f: 42 } }, /functions\.f must be a C prototype string/],
    [{ watch: 'yes' }, /option 'watch' must be an object, not "yes"/],
    [{ watch: { debounce: 5 } }, /unknown option 'watch\.debounce' \(did you mean 'watch\.debounceMs'\?\)/],
    [{ watch: { stableMs: NaN } }, /option 'watch\.stableMs'/],
  ])('%o is refused before anything is loaded', async (options, message) => {
    await refused(() => HotLibrary.open(P1, options as never), message);
  });

  it('a prototype that does not parse is ERR_DLSWAP_SIGNATURE, before anything is loaded', async () => {
    await refused(() => HotLibrary.open(P1, { functions: { f: 'int f(' } }), /functions\.f /, 'ERR_DLSWAP_SIGNATURE');
  });

  it('an invalid watch option no longer leaves generation 1 loaded and initialised (debounceMs: -1)', async () => {
    await refused(() => HotLibrary.open(P1, { functions: plugin, watch: { debounceMs: -1 } }), /option 'watch\.debounceMs' must be a number of milliseconds/);
  });

  it('valid options still work, and a path that is not a string is refused', async () => {
    const hot = await HotLibrary.open(P1, { functions: plugin, abi: { min: 0, max: 1 }, drainTimeoutMs: 0, userData: 0xffff_ffff_ffff_ffffn, watch: false });
    hots.push(hot);
    expect(hot.fn.plugin_version()).toBe(1);
    await refused(() => HotLibrary.open(42 as never), /path must be a non-empty string, not 42/);
  });
});

describe('hot.reload(path, options)', () => {
  async function opened() {
    const hot = await HotLibrary.open(P1, { functions: plugin });
    hots.push(hot);
    return hot;
  }

  it('reload(path, null) rejects with ERR_DLSWAP_ARG, creates no generation, and close() resolves', async () => {
    const hot = await opened();
    await refused(() => hot.reload(P2, null as never), /reload\(path, options\): options must be an object, not null/);
    expect(hot.generations().map((g) => [g.id, g.state])).toEqual([[1, 'active']]);
    // The next reload gets the next id: nothing was half-created.
    expect((await hot.reload(P2)).to).toBe(2);
    await withTimeout(hot.close());
  });

  it('an options getter that throws: ERR_DLSWAP_ARG, nothing loading, close() resolves', async () => {
    const hot = await opened();
    const err = await refused(
      () =>
        hot.reload(P2, {
          get wait(): never {
            throw new TypeError('bad getter');
          },
        }),
      /reading option 'wait' threw: bad getter/,
    );
    expect(err.cause).toBeInstanceOf(TypeError);
    expect(hot.generations().every((g) => g.state !== 'loading')).toBe(true);
    await withTimeout(hot.close());
    expect(hot.generations().map((g) => g.state)).toEqual(['closed']);
  });

  it('wrong types: path, wait, sha256, unknown keys', async () => {
    const hot = await opened();
    await refused(() => hot.reload(42 as never), /reload\(path, options\): path must be a non-empty string, not 42/);
    await refused(() => hot.reload('', {}), /path must be a non-empty string/);
    await refused(() => hot.reload(P2, { wait: 'never' as never }), /option 'wait' must be one of 'swap', 'closed', not "never"/);
    await refused(() => hot.reload(P2, { sha256: 'xyz' }), /option 'sha256'/);
    await refused(() => hot.reload(P2, { wiat: 'swap' } as never), /did you mean 'wait'/);
    expect(hot.generations()).toHaveLength(1);
  });
});

describe('LibraryWatcher(path, options)', () => {
  it('refuses bad options with ERR_DLSWAP_ARG', () => {
    expect(() => new LibraryWatcher(P1, { debounceMs: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringMatching(/option 'debounceMs'/) }),
    );
    expect(() => new LibraryWatcher(P1, { pollIntervalMs: Infinity })).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(() => new LibraryWatcher(P1, { persistant: false } as never)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/did you mean 'persistent'/) }),
    );
    expect(() => new LibraryWatcher(null as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
  });
});

describe('other entry points', () => {
  it('open() with a NUL in the path, func() and rebind() on something that is not a Library, readCString with a bad maxBytes', async () => {
    await refused(() => open(`${P1}\0x`), /open\(path, options\): path contains a NUL character/);
    expect(() => func({} as never, 'int f(void)')).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringMatching(/expected a Library returned by open\(\)/) }),
    );
    const lib = open(P1);
    try {
      const f = lib.func('int plugin_version(void)');
      expect(() => rebind(f, {} as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
      expect(() => rebind(f, lib, -1n)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
      expect(f()).toBe(1);
    } finally {
      await lib.close();
    }
    for (const bad of [Symbol('s'), -1, 1.5, '10', NaN]) {
      expect(() => readCString(1n, bad as never)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    }
  });

  it('dlswap watch: an interval beyond what a timer can wait is a usage error', async () => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (d) => (text += d));
    expect(await runWatch([P1, '--interval', '1e12'], new PassThrough(), false, { err })).toBe(2);
    expect(text).toMatch(/option '--interval' takes a number of milliseconds from 0 to 2147483647, not '1e12'/);
  });
});
