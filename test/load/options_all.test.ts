// Every option of every entry point, with bad values: each is refused with a typed error before
// anything is copied or loaded. "Nothing loaded" is checked three ways: an armed 'after-copy' fault is
// still armed afterwards (no copy was even attempted), the private area holds no file and maps
// nothing new, and librecord.so (fixtures-c/record) wrote no constructor line. The list of options
// comes from lib/options.ts itself: an option added without a bad value here fails the first test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HotLibrary } from '../../lib/hot/hot_library';
import { open, openAsync, type Library } from '../../lib/load/library';
import { func } from '../../lib/call/func';
import { LibraryWatcher } from '../../lib/watch/watch';
import { decode, encode, encodeToBuffer, sizeof, alignof, offsetof } from '../../lib/call/memory_api';
import { armedFaults, clearFaults, injectFault } from '../../lib/faults';
import { privateDir, privateFiles } from '../../lib/load/temp_area';
import { OPTION_NAMES } from '../../lib/options';
import { types, TypeRegistry } from '../../lib/signature/ctypes';
import { fixture } from '../helpers';

const LIB = fixture('librecord.so');
const functions = { gen: 'int record_generation(void)' };

// A getter that throws, and one that is not an own enumerable key (never read, so not refused).
const throwingGetter = (key: string) =>
  Object.defineProperty({}, key, {
    enumerable: true,
    get: () => {
      throw new Error(`getter of ${key}`);
    },
  });

/** Bad values of each option, by name. Each must be refused wherever the option is taken. */
const BAD: Record<string, unknown[]> = {
  isolation: ['nope', 1, null, ['local']],
  force: ['yes', 1, null],
  shareDependencies: ['libx.so', [1], ['a/b'], [''], ['x\0y']],
  sha256: [1234, 'abc', 'g'.repeat(64), null],
  types: [{}, Object.create(TypeRegistry.prototype), 'int', null, new Proxy({}, {})],
  // Without `types` (as this file opens HotLibrary) every handle type is refused; test/hot/handles.test.ts has the rest.
  handles: [[], 'conn', null, { conn: 5 }, { conn: '' }, { conn: 'gen' }],
  functions: [[], 'int f(void)', { f: 42 }, { f: null }, { f: 'int f(' }, { f: 'int f(struct nope x)' }, { f: { name: 'f', returns: 'int', args: 'int' } }],
  policy: ['swap', 1],
  onFault: ['restart', true, null],
  drainTimeoutMs: [NaN, -1, Infinity, 2 ** 31, '100', 1n],
  handoverTimeout: ['later', true],
  initTimeoutMs: [NaN, -5, 1e12],
  finiTimeoutMs: [NaN, -5, 1e12, '10'],
  loadOn: ['worker', 0],
  abi: [{ min: 'a' }, { min: 2 }, { mni: 0 }, 5, { max: -1 }],
  userData: [5, -1n, 2n ** 64n, '1'],
  watch: ['yes', { debounce: 5 }, { stableMs: NaN }, 1],
  setup: ['fn', {}, 1],
  teardown: ['fn', {}, 1],
  teardownTimeoutMs: [NaN, -1, 2 ** 31, '5'],
  signal: [{}, 'abort', { aborted: false }],
  wait: ['never', 1],
  debounceMs: [-1, NaN],
  stableMs: [Infinity],
  settleTimeoutMs: ['1'],
  pollIntervalMs: [2 ** 32],
  persistent: ['no'],
  initialSha256: ['x'],
  build: ['', [], [''], 5, ['cc', 7]],
  sources: ['src', [], [''], [1]],
  cwd: ['', 5, 'a\0b'],
  buildTimeoutMs: [NaN, -1, '60'],
  symbol: ['', 5, 'a\0b'],
  errno: [1, 'yes'],
  fallback: ['x', {}, Symbol('s')],
  onError: [1, 'log'],
  name: [5, {}],
  timeoutMs: [0, -1, NaN, Infinity, 2 ** 31, '100'],
};

/** Not an options object at all, an unknown key, a throwing getter: refused by every entry point. */
const BAD_OBJECTS: unknown[] = [null, [], 'options', 5, { nope: 1 }, throwingGetter('anything')];

let record: string;
let dir: string;
const lines = () => (fs.existsSync(record) ? fs.readFileSync(record, 'utf8').split('\n').filter(Boolean) : []);
const mapped = () =>
  fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(privateDir())).length;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-options-'));
  record = path.join(dir, 'record');
  process.env.DLSWAP_FIXTURE_RECORD = record;
});
afterAll(() => {
  delete process.env.DLSWAP_FIXTURE_RECORD;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `run` fails with a typed error (ERR_DLSWAP_ARG unless `codes` says otherwise) and loads nothing. */
async function refusedBeforeLoad(what: string, run: () => unknown, codes = ['ERR_DLSWAP_ARG']): Promise<void> {
  injectFault('after-copy');
  // Copies of libraries still open (kept while their image is mapped) are there before and after.
  const before = { lines: lines().length, mapped: mapped(), files: privateFiles() };
  let error: unknown = null;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  try {
    expect(error, `${what}: should have been refused`).toBeInstanceOf(Error);
    expect(codes, `${what}: ${(error as Error).message}`).toContain((error as { code?: string }).code);
    expect(armedFaults(), `${what}: a copy was attempted`).toEqual(['after-copy']);
    expect(privateFiles(), what).toEqual(before.files);
    expect(mapped(), `${what}: mappings`).toBe(before.mapped);
    expect(lines().slice(before.lines), `${what}: library code ran`).toEqual([]);
  } finally {
    clearFaults();
  }
}

describe('one check per option, before anything is loaded', () => {
  it('every option of every entry point has bad values to try', () => {
    const all = new Set(Object.values(OPTION_NAMES).flat());
    expect([...all].filter((o) => !(o in BAD))).toEqual([]);
  });

  it('the fixture writes its constructor down when it is loaded (the control)', async () => {
    const before = lines().length;
    const lib = open(LIB, { isolation: 'local' });
    expect(lines().slice(before)).toEqual([`ctor ${process.pid}`]);
    await lib.close();
  });

  it('open and openAsync', async () => {
    for (const [entry, call, names] of [
      ['open', (o: unknown) => open(LIB, o as never), OPTION_NAMES.open],
      ['openAsync', (o: unknown) => openAsync(LIB, o as never), OPTION_NAMES.openAsync],
    ] as const) {
      for (const name of names) {
        for (const v of BAD[name]) await refusedBeforeLoad(`${entry} ${name}: ${String(v)}`, () => call({ [name]: v }));
      }
      for (const o of BAD_OBJECTS) await refusedBeforeLoad(`${entry} options ${String(o)}`, () => call(o));
    }
  });

  it('HotLibrary.open', async () => {
    for (const name of OPTION_NAMES.hotOpen) {
      for (const v of BAD[name]) {
        // A prototype that does not parse, or names a type nobody declared, is a signature error.
        const codes = name === 'functions' ? ['ERR_DLSWAP_ARG', 'ERR_DLSWAP_SIGNATURE'] : ['ERR_DLSWAP_ARG'];
        await refusedBeforeLoad(`HotLibrary.open ${name}: ${String(v)}`, () => HotLibrary.open(LIB, { functions, [name]: v } as never), codes);
      }
    }
    for (const o of BAD_OBJECTS) await refusedBeforeLoad(`HotLibrary.open options ${String(o)}`, () => HotLibrary.open(LIB, o as never));
    // The watcher's options and the build step's, inside `watch`.
    for (const name of OPTION_NAMES.hotWatch) {
      for (const v of BAD[name])
        await refusedBeforeLoad(`HotLibrary.open watch.${name}: ${String(v)}`, () => HotLibrary.open(LIB, { functions, watch: { [name]: v } } as never));
    }
    // A struct too large to pass by value: refused from the prototype, before the load.
    const big = types('struct big { char a[0x7fffffff]; }');
    await refusedBeforeLoad(
      'HotLibrary.open: a 2 GiB struct by value',
      () => HotLibrary.open(LIB, { types: big, functions: { f: 'int record_generation(struct big b)' } } as never),
      ['ERR_DLSWAP_TOO_LARGE'],
    );
  });

  it('reload, close and lib.close', async () => {
    const hot = await HotLibrary.open(LIB, { isolation: 'local', functions });
    try {
      for (const name of OPTION_NAMES.reload) {
        for (const v of BAD[name]) await refusedBeforeLoad(`reload ${name}: ${String(v)}`, () => hot.reload(LIB, { [name]: v } as never));
      }
      for (const o of BAD_OBJECTS) await refusedBeforeLoad(`reload options ${String(o)}`, () => hot.reload(LIB, o as never));
      for (const v of BAD.signal) await refusedBeforeLoad(`close signal: ${String(v)}`, () => hot.close({ signal: v } as never));
      for (const o of BAD_OBJECTS) await refusedBeforeLoad(`close options ${String(o)}`, () => hot.close(o as never));
      // lib.close(options) of a plain library: refused, and the library stays open.
      const lib = open(LIB, { isolation: 'local' });
      for (const name of OPTION_NAMES.libraryClose) {
        for (const v of BAD[name]) await refusedBeforeLoad(`lib.close ${name}: ${String(v)}`, () => lib.close({ [name]: v } as never));
      }
      for (const o of BAD_OBJECTS) await refusedBeforeLoad(`lib.close options ${String(o)}`, () => lib.close(o as never));
      expect(lib.closed).toBe(false);
      expect((await lib.close()).unloaded).toBe(true);
      expect(hot.generations().map((g) => g.state)).toEqual(['active']);
    } finally {
      await hot.close();
    }
  });

  it('LibraryWatcher, func, callback and the typed memory functions', async () => {
    for (const name of OPTION_NAMES.watch) {
      for (const v of BAD[name]) await refusedBeforeLoad(`LibraryWatcher ${name}: ${String(v)}`, () => new LibraryWatcher(LIB, { [name]: v } as never));
    }
    for (const o of BAD_OBJECTS) await refusedBeforeLoad(`LibraryWatcher options ${String(o)}`, () => new LibraryWatcher(LIB, o as never));
    const lib: Library = open(LIB, { isolation: 'local' });
    try {
      for (const name of OPTION_NAMES.func) {
        for (const v of BAD[name]) {
          await refusedBeforeLoad(`lib.func ${name}: ${String(v)}`, () => lib.func('int record_generation(void)', { [name]: v } as never));
          await refusedBeforeLoad(`func ${name}: ${String(v)}`, () => func(lib, 'int record_generation(void)', { [name]: v } as never));
        }
      }
      for (const name of OPTION_NAMES.callback) {
        for (const v of BAD[name])
          await refusedBeforeLoad(`lib.callback ${name}: ${String(v)}`, () => lib.callback('int (*)(int)', (x: number) => x, { [name]: v } as never));
      }
      for (const o of BAD_OBJECTS) {
        await refusedBeforeLoad(`lib.func options ${String(o)}`, () => lib.func('int record_generation(void)', o as never));
        await refusedBeforeLoad(`lib.callback options ${String(o)}`, () => lib.callback('int (*)(int)', (x: number) => x, o as never));
      }
      const memory: [string, (o: unknown) => unknown][] = [
        ['decode', (o) => decode(Buffer.alloc(4), 'int', undefined, o as never)],
        ['encode', (o) => encode(Buffer.alloc(4), 'int', 1, o as never)],
        ['encodeToBuffer', (o) => encodeToBuffer('int', 1, o as never)],
        ['sizeof', (o) => sizeof('int', o as never)],
        ['alignof', (o) => alignof('int', o as never)],
        ['offsetof', (o) => offsetof('struct s', 'a', o as never)],
      ];
      for (const [entry, call] of memory) {
        for (const v of BAD.types) await refusedBeforeLoad(`${entry} types: ${String(v)}`, () => call({ types: v }));
        for (const o of BAD_OBJECTS) await refusedBeforeLoad(`${entry} options ${String(o)}`, () => call(o));
      }
    } finally {
      await lib.close();
    }
  });
});
