/**
 * Private dependencies per generation (docs/isolation.md): a library that ships its dependencies
 * beside it gets its own copy of each per open, renamed so that the dynamic loader cannot match one
 * generation's with another's; retiring a generation retires its copies; a dependency bound to
 * another file than the library would load itself is refused, never silent.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { open, type Library } from '../../lib/load/library';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { addon } from '../../lib/native';
import { privateDir } from '../../lib/load/temp_area';
import { lastJsonLine, runNode } from '../child';
import { fixture, privateMappings, runChild, underAsan, strayPrivateFiles } from '../helpers';
import { buildElf } from '../fuzz/elf_builder';
import { hostMachine, readElf } from '../../lib/elf/elf';

const MODES = ISOLATION_MODES.filter((m) => m !== 'deepbind' || !underAsan);
const SEED = (v: 1 | 2) => fixture(`seed001/v${v}/libmyservice.so`);
const RIGHT = { 1: 1232323, 2: 1242424 };

const opened: Library[] = [];
function load(file: string, isolation: Isolation, extra: Record<string, unknown> = {}): Library {
  const lib = open(file, { isolation, ...extra });
  opened.push(lib);
  return lib;
}
afterEach(async () => {
  for (const lib of opened.splice(0).reverse()) await lib.close();
  expect(strayPrivateFiles()).toEqual([]);
});

describe('seed-001: a C++ core whose versions ship dependencies of the same SONAMEs', () => {
  it.each(MODES)('%s: two generations side by side, each with its own helper and inner library', async (mode) => {
    const v1 = load(SEED(1), mode);
    const v2 = load(SEED(2), mode);
    expect(v1.func('int service_answer(void)')()).toBe(RIGHT[1]);
    expect(v2.func('int service_answer(void)')()).toBe(RIGHT[2]);
    // The closure, as lib.info shows it: where each was found, its copy and new name, what it was bound to.
    const priv = v2.info.dependencies.filter((d) => d.kind === 'private');
    expect(priv.map((d) => [d.name, d.requiredBy, d.foundVia, d.searchEntry])).toEqual([
      ['libhelper.so.1', null, 'RUNPATH', '$ORIGIN'],
      ['libinner.so.1', 'libhelper.so.1', 'RUNPATH', '$ORIGIN'],
    ]);
    for (const d of priv) {
      expect(d.file).toBe(fs.realpathSync(path.join(path.dirname(SEED(2)), d.name)));
      expect(d.boundTo).toBe(d.file);
      expect(d.copy!.startsWith(privateDir())).toBe(true);
      expect(d.privateName).toHaveLength(d.name.length);
      expect(d.privateName).toMatch(/^~/);
      expect(d.buildId).toMatch(/^[0-9a-f]{40}$/);
    }
    expect(v2.info.dependencies.find((d) => d.name === 'libstdc++.so.6')).toMatchObject({ kind: 'system', copy: null });
    // Closing a generation closes its closure, and says so per dependency.
    const closed = await v1.close();
    opened.splice(opened.indexOf(v1), 1);
    expect(closed.unloaded).toBe(true);
    expect(closed.dependencies!.map((d) => [d.name, d.kind, d.unloaded])).toEqual([
      ['libhelper.so.1', 'private', true],
      ['libinner.so.1', 'private', true],
    ]);
    expect(v2.func('int service_answer(void)')()).toBe(RIGHT[2]);
  });

  // The "done when": 1,000 reloads in namespace under sync and async load, 0 wrong answers,
  // every generation retired, flat maps and descriptors. A child process per mode: a crash fails the
  // mode, not the suite.
  it.each([['namespace', 1000], ['local', 300], ...(underAsan ? [] : [['deepbind', 300]])] as [Isolation, number][])(
    '%s: %i alternating reloads under sync and async load, every answer from its own generation',
    async (mode, reloads) => {
      const child = await runNode(path.join(__dirname, '..', 'private_deps', 'reloads.cjs'), [mode, String(reloads)], { timeoutMs: 150_000 });
      const r = lastJsonLine<{
        reloads: number;
        sync: number;
        async: number;
        wrong: number;
        wrongSamples: unknown[];
        answers: Record<string, number>;
        notUnloaded: unknown[];
        depsNotUnloaded: unknown[];
        samples: [number, number, number, number][];
        mapsSlopePer1000: number;
        fdsSlopePer1000: number;
        privateMapsSlopePer1000: number;
        error?: unknown;
      }>(child.stdout, 'mode');
      const context = `${mode}: exit ${child.code} ${child.signal ?? ''}\n${JSON.stringify(r)}\n${child.stderr.slice(-3000)}`;
      expect(r, context).not.toBeNull();
      expect(r!.error, context).toBeUndefined();
      expect(r!.reloads, context).toBe(reloads);
      expect(r!.wrong, context).toBe(0);
      expect(r!.answers[RIGHT[1]], context).toBeGreaterThan(0);
      expect(r!.answers[RIGHT[2]], context).toBeGreaterThan(0);
      expect(r!.async, context).toBeGreaterThan(reloads);
      expect(r!.notUnloaded, context).toEqual([]);
      expect(r!.depsNotUnloaded, context).toEqual([]);
      // The serving generation's three files, five mappings each, at every sample; no descriptor kept.
      expect(new Set(r!.samples.map((s) => s[3])).size, context).toBe(1);
      expect(r!.fdsSlopePer1000, context).toBe(0);
      // A leaked generation would add ~15 mappings per reload (15,000 per 1,000); V8's and malloc's own
      // growth under millions of calls stays far below one per reload.
      expect(r!.mapsSlopePer1000, context).toBeLessThan(500);
      expect(child.code, context).toBe(0);
    },
    160_000,
  );
});

describe('closures', () => {
  it('nested: a private dependency with a private dependency of its own', () => {
    const v1 = load(SEED(1), 'namespace');
    const v2 = load(SEED(2), 'namespace');
    expect(v1.func('int service_inner(void)')()).toBe(23);
    expect(v2.func('int service_inner(void)')()).toBe(24);
    const inner = v2.info.dependencies.find((d) => d.name === 'libinner.so.1')!;
    expect(inner).toMatchObject({ kind: 'private', requiredBy: 'libhelper.so.1' });
    expect(v2.info.dependencies.find((d) => d.name === 'libhelper.so.1')!.needs).toContain('libinner.so.1');
  });

  it('symbol versioning: DT_VERNEED names the dependency too, and is renamed with it', () => {
    // The loader asserts that every vn_file names a loaded dependency: renaming DT_NEEDED alone
    // would abort node. The load proves it; readelf shows it on a file renamed the same way.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-verneed-'));
    try {
      const file = path.join(tmp, 'libmyservice.so');
      fs.copyFileSync(SEED(1), file);
      addon.renameForTest(file, { 'libhelper.so.1': '~zz01lper.so.1' }, false);
      const dyn = execFileSync('readelf', ['-d', '-V', '-W', file], { encoding: 'utf8' });
      expect(dyn).toContain('Shared library: [~zz01lper.so.1]');
      expect(dyn).toMatch(/File: ~zz01lper\.so\.1\s+Cnt: 1/);
      expect(dyn).not.toContain('libhelper.so.1');
      // And the helper's own base version definition (its SONAME), with a matching hash.
      const helper = path.join(tmp, 'libhelper.so.1');
      fs.copyFileSync(fixture('seed001/v1/libhelper.so.1'), helper);
      addon.renameForTest(helper, { 'libhelper.so.1': '~zz01lper.so.1' }, false);
      const hv = execFileSync('readelf', ['-d', '-V', '-W', helper], { encoding: 'utf8' });
      expect(hv).toContain('Library soname: [~zz01lper.so.1]');
      expect(hv).toMatch(/Flags: BASE\s+Index: 1\s+Cnt: 1\s+Name: ~zz01lper\.so\.1/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    const v2 = load(SEED(2), 'namespace');
    expect(v2.func('int service_helper(void)')()).toBe(24);
  });

  it.each(MODES)('%s: a one-character SONAME gets a one-character private name', (mode) => {
    const v1 = load(fixture('closure_v1/libshort_user.so'), mode);
    const v2 = load(fixture('closure_v2/libshort_user.so'), mode);
    expect(v1.func('int short_value(void)')()).toBe(1);
    expect(v2.func('int short_value(void)')()).toBe(2);
    const names = [v1, v2].map((l) => l.info.dependencies.find((d) => d.name === 'q')!.privateName!);
    expect(names.map((n) => n.length)).toEqual([1, 1]);
    expect(new Set([...names, 'q']).size).toBe(3);
  });

  it.each(MODES)('%s: a dependency without a SONAME, matched by file name', (mode) => {
    const v1 = load(fixture('closure_v1/libnoso_user.so'), mode);
    const v2 = load(fixture('closure_v2/libnoso_user.so'), mode);
    expect(v1.func('int noso_value(void)')()).toBe(1);
    expect(v2.func('int noso_value(void)')()).toBe(2);
    expect(v2.info.dependencies.find((d) => d.name === 'libnoso.so')).toMatchObject({ kind: 'private', soname: null });
  });

  it('a NODELETE private dependency: the library unloads, each copy of the dependency stays, and the report says why', async () => {
    const v1 = open(fixture('closure_v1/libnd_user.so'), { isolation: 'namespace' });
    const v2 = load(fixture('closure_v2/libnd_user.so'), 'namespace');
    expect(v1.func('int nd_value(void)')()).toBe(1);
    expect(v2.func('int nd_value(void)')()).toBe(2);
    const copy = v1.info.dependencies.find((d) => d.name === 'libnd.so.1')!.copy!;
    const r = await v1.close();
    expect(r.unloaded).toBe(true);
    expect(r.dependencies).toEqual([{ name: 'libnd.so.1', kind: 'private', file: copy, unloaded: false, reason: expect.stringMatching(/DF_1_NODELETE/) }]);
    expect(privateMappings(copy).length).toBeGreaterThan(0);
  });
});

describe('sharing on purpose', () => {
  it.each(MODES.filter((m) => m !== 'fresh-namespace'))('%s: shareDependencies binds every generation to the first one loaded, and says so', async (mode) => {
    const share = { shareDependencies: ['libhelper.so.1'] };
    const v1 = load(SEED(1), mode, share);
    const v2 = load(SEED(2), mode, share);
    expect(v1.func('int service_answer(void)')()).toBe(RIGHT[1]);
    // v2's own code, v1's helper (and the helper's inner library): what sharing means.
    expect(v2.func('int service_answer(void)')()).toBe(1242323);
    const helper = v2.info.dependencies.find((d) => d.name === 'libhelper.so.1')!;
    expect(helper).toMatchObject({ kind: 'shared', copy: null, file: fs.realpathSync(fixture('seed001/v2/libhelper.so.1')) });
    expect(helper.boundTo).toBe(fs.realpathSync(fixture('seed001/v1/libhelper.so.1')));
    // The helper is not followed: its own dependencies are the loader's business, from where it is.
    expect(v2.info.dependencies.find((d) => d.name === 'libinner.so.1')).toBeUndefined();
    const first = await v1.close();
    opened.splice(opened.indexOf(v1), 1);
    expect(first.dependencies).toEqual([
      expect.objectContaining({ name: 'libhelper.so.1', kind: 'shared', unloaded: false, reason: expect.stringMatching(/another library/) }),
    ]);
  });
});

describe('never silent', () => {
  it.each(MODES.filter((m) => m !== 'fresh-namespace'))(
    '%s: a dependency bound to an object some other load brought is refused, naming both files',
    async (mode) => {
      // libmm_user.so needs libmm_dep.so.1 and has no RUNPATH: on its own it finds none.
      expect(() => open(fixture('libmm_user.so'), { isolation: mode })).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_DEPENDENCY_NOT_FOUND' }));
      // Something else in the namespace has one under that name: the loader would bind it silently.
      const other = load(fixture('mm/libmm_dep.so.1'), mode);
      let err: Error & { code?: string } = new Error('not thrown');
      try {
        open(fixture('libmm_user.so'), { isolation: mode });
      } catch (e) {
        err = e as typeof err;
      }
      expect(err.code).toBe('ERR_DLSWAP_DEPENDENCY_MISMATCH');
      expect(err.message).toContain(fixture('libmm_user.so'));
      expect(err.message).toContain(fs.realpathSync(fixture('mm/libmm_dep.so.1')));
      expect(err.message).toContain('shareDependencies');
      // Accepted when shared on purpose, and then reported.
      const user = load(fixture('libmm_user.so'), mode, { shareDependencies: ['libmm_dep.so.1'] });
      expect(user.func('int mm_value(void)')()).toBe(7);
      expect(user.info.dependencies[0]).toMatchObject({ name: 'libmm_dep.so.1', kind: 'shared', boundTo: fs.realpathSync(fixture('mm/libmm_dep.so.1')) });
      expect(other.closed).toBe(false);
    },
  );

  it('LD_LIBRARY_PATH hiding the dependency the library ships: loaded as the dynamic loader would, and announced with both files', () => {
    const v2dir = path.dirname(SEED(2));
    const r = runChild(
      `const lib = dlswap.open(${JSON.stringify(SEED(1))});
       const d = lib.info.dependencies.find((x) => x.name === 'libhelper.so.1');
       console.log(JSON.stringify({ helper: lib.func('int service_helper(void)')(), foundVia: d.foundVia, file: d.file, shadowed: d.shadowed }));
       lib.close().then(() => process.exit(0));`,
      { env: { LD_LIBRARY_PATH: v2dir } },
    );
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toEqual({
      helper: 24,
      foundVia: 'LD_LIBRARY_PATH',
      file: fs.realpathSync(fixture('seed001/v2/libhelper.so.1')),
      shadowed: path.join(path.dirname(SEED(1)), 'libhelper.so.1'),
    });
    expect(r.stderr).toContain('DLSWAP_DEPENDENCY_SHADOWED');
    expect(r.stderr).toContain(path.join(v2dir, 'libhelper.so.1'));
  });

  it("a C++ class derived from a shared library's keeps its generation mapped, with the reason", async () => {
    const base = fixture('derive/libbase.so.1');
    for (const mode of ['namespace', 'local'] as const) {
      const owner = load(base, mode); // libbase is shared: another library of the process has it
      const derived = open(fixture('derive/libderived.so'), { isolation: mode, shareDependencies: ['libbase.so.1'] });
      derived.func('void derived_register(void)')();
      const r = await derived.close();
      expect(r.unloaded).toBe(false);
      expect(r.reason).toMatch(/kept mapped on purpose: its C\+\+ classes derive from classes of .*libbase\.so\.1 \(it imports _ZTI4Base\)/);
      // libbase still calls into it: safe, because it was kept.
      expect(owner.func('int base_kept_value(void)')()).toBe(42);
      owner.func('void base_release(void)')();
    }
    // Private, libbase goes with the generation, and so may the generation.
    const alone = open(fixture('derive/libderived.so'), { isolation: 'namespace' });
    alone.func('void derived_register(void)')();
    expect((await alone.close()).unloaded).toBe(true);
  });
});

describe('renaming in place', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-rename-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a name whose bytes the string table shares with a symbol is refused, and nothing is written', () => {
    // Tail merging: the symbol "foo.so.1" points into "libfoo.so.1"; a new name for the library
    // would rename the symbol too.
    const file = path.join(tmp, 'merged.so');
    fs.writeFileSync(
      file,
      buildElf({ cls: 64, be: false, machine: hostMachine().machine, needed: ['libfoo.so.1'], symbols: [{ name: 'foo.so.1' }], tailMerge: true }),
    );
    const before = fs.readFileSync(file);
    expect(() => addon.renameForTest(file, { 'libfoo.so.1': '~0000o.so.1' }, false)).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_DEPENDENCY', message: expect.stringMatching(/'libfoo\.so\.1' shares its bytes with 'foo\.so\.1'/) }),
    );
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    // Without the merge, the same rename is fine.
    const plain = path.join(tmp, 'plain.so');
    fs.writeFileSync(plain, buildElf({ cls: 64, be: false, machine: hostMachine().machine, needed: ['libfoo.so.1'], symbols: [{ name: 'foo.so.1' }] }));
    addon.renameForTest(plain, { 'libfoo.so.1': '~0000o.so.1' }, false);
    expect(readElf(plain).needed).toEqual(['~0000o.so.1']);
    expect(readElf(plain).exports).toContain('foo.so.1');
  });

  it('points the search path at its own directory, padded to the same length', () => {
    const file = path.join(tmp, 'libmyservice.so');
    fs.copyFileSync(SEED(1), file);
    addon.renameForTest(file, {}, true);
    expect(readElf(file).runpath).toBe('$ORIGIN');
    const short = path.join(tmp, 'short.so');
    fs.writeFileSync(short, buildElf({ cls: 64, be: false, machine: hostMachine().machine, runpath: '/x', needed: ['libc.so.6'] }));
    expect(() => addon.renameForTest(short, {}, true)).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_DEPENDENCY', message: expect.stringMatching(/too short/) }),
    );
  });
});
