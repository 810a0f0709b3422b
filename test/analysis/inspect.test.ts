import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostMachine, readElf } from '../../lib/elf/elf';
import {
  deepbindHazards,
  inspect,
  nodeExportCollisions,
  nodeInterposedOwnCalls,
  type Hazard,
  type HazardId,
  type InspectReport,
} from '../../lib/analysis/inspect';
import { runInspect } from '../../lib/cli/inspect';
import { colorEnabled, stripAnsi, table, wrap } from '../../lib/cli/format';
import { buildElf, type SynthOptions } from '../fuzz/elf_builder';
import { findSystemLib, underAsan } from '../helpers';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'build', 'fixtures');
const fixture = (name: string): string => path.join(fixtures, name);
const haveFixtures = fs.existsSync(fixture('libbasic_v1.so'));

const libz = findSystemLib('libz.so.1');
const libstdcxx = findSystemLib('libstdc++.so.6');
const preload = /libasan|libtsan|libhwasan|jemalloc|tcmalloc|mimalloc/.test(process.env.LD_PRELOAD ?? '');

const HAZARD_IDS: HazardId[] = [
  'wrong-arch',
  'not-shared-library',
  'missing-dependency',
  'unresolved-import',
  'needs-node-symbols',
  'gnu-unique',
  'nodelete',
  'thread-local-dtor',
  'tls',
  'copy-reloc-import',
  'node-export-collision',
  'node-import-interposition',
  'private-dependencies',
  'textrel',
  'execstack',
  'init-fini-node-binding',
  'pthread-key-destructors',
  'starts-threads',
  'threads-stopped-by-destructor',
  'loads-modules',
  'signal-handlers',
  'exit-handlers',
  'global-locale',
  'shared-registry',
];
const SCOPES = ['local', 'deepbind', 'namespace', 'fresh-namespace', 'unload'];
const REPORT_KEYS = [
  'schema',
  'path',
  'realPath',
  'size',
  'class',
  'endian',
  'machine',
  'machineCode',
  'type',
  'matchesHost',
  'soname',
  'needed',
  'rpath',
  'runpath',
  'buildId',
  'dependencies',
  'exports',
  'imports',
  'truncated',
  'hazards',
  'recommendation',
];

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-inspect-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function hazard(r: InspectReport, id: HazardId): Hazard | undefined {
  return r.hazards.find((h) => h.id === id);
}

/** Every report, whatever the file, has the documented shape. */
function checkShape(r: InspectReport): void {
  expect(Object.keys(r)).toEqual(REPORT_KEYS);
  expect(r.schema).toBe(1);
  for (const h of r.hazards) {
    expect(HAZARD_IDS).toContain(h.id);
    expect(['info', 'warn', 'error']).toContain(h.severity);
    expect(h.message.length).toBeGreaterThan(10);
    for (const a of h.affects) expect(SCOPES).toContain(a);
    if (h.symbols) expect(h.symbols.length).toBeGreaterThan(0);
  }
  expect(new Set(r.hazards.map((h) => h.id)).size).toBe(r.hazards.length);
  expect(Object.keys(r.recommendation)).toEqual(['isolation', 'reason']);
  expect([null, 'local', 'deepbind', 'namespace', 'fresh-namespace']).toContain(r.recommendation.isolation);
  expect(r.recommendation.reason.length).toBeGreaterThan(10);
  // Whatever it recommends must not be a mode one of its own error hazards rules out.
  if (r.recommendation.isolation) {
    for (const h of r.hazards.filter((x) => x.severity === 'error')) expect(h.affects).not.toContain(r.recommendation.isolation);
  }
  expect(JSON.parse(JSON.stringify(r))).toEqual(r);
}

function synth(name: string, o: Partial<SynthOptions>): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, buildElf({ cls: 64, be: false, machine: hostMachine().machine, execstack: false, ...o }));
  return p;
}

describe.skipIf(!haveFixtures)('fixtures', () => {
  it('every fixture inspects to a well-formed report', () => {
    const libs: string[] = [];
    for (const e of fs.readdirSync(fixtures, { withFileTypes: true, recursive: true })) {
      if (e.isFile() && e.name.endsWith('.so')) libs.push(path.join(e.parentPath ?? e.path, e.name));
    }
    expect(libs.length).toBeGreaterThan(5);
    for (const lib of libs) {
      const r = inspect(lib);
      checkShape(r);
      expect(r.matchesHost).toBe(true);
      expect(r.type).toBe('dyn');
      expect(r.buildId).toMatch(/^[0-9a-f]+$/);
      expect(r.realPath).toBe(fs.realpathSync(lib));
    }
  });

  it('libbasic_v1.so: a plain C library has no hazards and goes to the default namespace', () => {
    const r = inspect(fixture('libbasic_v1.so'));
    expect(r.hazards).toEqual([]);
    expect(r.recommendation.isolation).toBe('namespace');
    expect(r.recommendation.reason).toMatch(/local would work too/);
    expect(r.exports).toBe(readElf(fixture('libbasic_v1.so')).exports.length);
    expect(r.needed).toEqual(['libc.so.6']);
  });

  it('libcrc_clash.so: crc32 collides with node, so not local', () => {
    const r = inspect(fixture('libcrc_clash.so'));
    const h = hazard(r, 'node-export-collision')!;
    expect(h.symbols).toContain('crc32');
    expect(h.affects).toEqual(['local']);
    expect(r.recommendation.isolation).toBe('namespace');
    expect(r.recommendation.reason).toMatch(/crc32/);
    expect(nodeExportCollisions(readElf(fixture('libcrc_clash.so')))).toEqual(['crc32']);
    // It calls crc32 itself through the PLT: under local that call is node's, so local is refused.
    expect(h.severity).toBe('error');
    expect(nodeInterposedOwnCalls(readElf(fixture('libcrc_clash.so')))).toEqual(['crc32']);
  });

  it('libcerr.so: imports std::cerr, so never deepbind', () => {
    const r = inspect(fixture('libcerr.so'));
    const h = hazard(r, 'copy-reloc-import')!;
    expect(h.severity).toBe('error');
    expect(h.affects).toEqual(['deepbind']);
    expect(h.symbols).toEqual(expect.arrayContaining(['_ZSt4cerr', '_ZSt4cout']));
    expect(deepbindHazards(readElf(fixture('libcerr.so')))).toEqual(expect.arrayContaining(['_ZSt4cerr', '_ZSt4cout']));
    expect(r.recommendation.isolation).not.toBe('deepbind');
    expect(hazard(r, 'node-export-collision')).toBeUndefined();
  });

  it('libunique.so: STB_GNU_UNIQUE pins it', () => {
    const r = inspect(fixture('libunique.so'));
    const h = hazard(r, 'gnu-unique')!;
    expect(h.symbols).toEqual(readElf(fixture('libunique.so')).uniqueSymbols);
    expect(h.affects).toContain('unload');
    expect(r.recommendation.isolation).not.toBe('fresh-namespace');
  });

  it('libpriv_v1.so: $ORIGIN RUNPATH with a private dependency, copied per generation in the default mode', () => {
    const r = inspect(fixture('libpriv_v1.so'));
    const h = hazard(r, 'private-dependencies')!;
    expect(h.severity).toBe('info');
    expect(h.symbols).toEqual(['libprivdep.so']);
    expect(r.runpath).toBe('$ORIGIN/privdep_v1');
    expect(r.recommendation.isolation).toBe('namespace');
    const dep = r.dependencies.find((d) => d.name === 'libprivdep.so')!;
    expect(dep).toMatchObject({ kind: 'private', foundVia: 'RUNPATH', searchEntry: '$ORIGIN/privdep_v1', soname: 'libprivdep.so', copy: null });
    expect(dep.reason).toMatch(/not a system library directory/);
  });

  it('seed001: a nested closure is listed with who needs what', () => {
    const r = inspect(fixture('seed001/v1/libmyservice.so'));
    const priv = r.dependencies.filter((d) => d.kind === 'private');
    expect(priv.map((d) => [d.name, d.requiredBy])).toEqual([
      ['libhelper.so.1', null],
      ['libinner.so.1', 'libhelper.so.1'],
    ]);
    expect(priv.every((d) => /^[0-9a-f]{40}$/.test(d.buildId ?? ''))).toBe(true);
  });

  it('libmissingdep.so: a dependency that is nowhere', () => {
    const r = inspect(fixture('libmissingdep.so'));
    expect(r.needed).toContain('libdlswap_fixture_absent.so');
    expect(hazard(r, 'missing-dependency')!.symbols).toEqual(['libdlswap_fixture_absent.so']);
    expect(r.recommendation.isolation).toBeNull();
  });

  it('libunresolved.so: a symbol nothing defines', () => {
    const r = inspect(fixture('libunresolved.so'));
    expect(hazard(r, 'unresolved-import')!.symbols).toEqual(['dlswap_fixture_no_such_symbol']);
    expect(r.recommendation.isolation).toBeNull();
  });

  it('libtypes.so and libctor.so', () => {
    expect(inspect(fixture('libtypes.so')).recommendation.isolation).toBe('namespace');
    expect(inspect(fixture('libctor.so')).hazards.filter((h) => h.severity !== 'info')).toEqual([]);
  });
});

// The hazards must be the ones the loader runs into. Skipped while the loader is not usable.
describe.skipIf(!haveFixtures)('agreement with the loader', () => {
  type LibraryModule = typeof import('../../lib/load/library');
  let lib: LibraryModule | null = null;
  beforeAll(async () => {
    try {
      lib = await import('../../lib/load/library');
      await lib.open(fixture('libbasic_v1.so'), { isolation: 'local' }).close();
    } catch {
      lib = null;
    }
  });
  const openCode = (file: string, isolation: 'local' | 'deepbind' | 'namespace'): string | undefined => {
    try {
      void lib!.open(file, { isolation }).close();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  };

  it('copy-reloc-import: the loader refuses deepbind for libcerr.so', (ctx) => {
    if (!lib) return ctx.skip();
    expect(openCode(fixture('libcerr.so'), 'deepbind')).toBe(preload ? 'ERR_DLSWAP_MODE_UNSUPPORTED' : 'ERR_DLSWAP_UNSAFE_MODE');
  });

  it('gnu-unique: libunique.so stays mapped after close; libbasic_v1.so does not', async (ctx) => {
    if (!lib) return ctx.skip();
    const unique = await lib.open(fixture('libunique.so'), { isolation: 'local' }).close();
    expect(unique.unloaded).toBe(false);
    expect(hazard(inspect(fixture('libunique.so')), 'gnu-unique')!.affects).toContain('unload');
    const basic = await lib.open(fixture('libbasic_v1.so'), { isolation: 'local' }).close();
    expect(basic.unloaded).toBe(true);
    expect(inspect(fixture('libbasic_v1.so')).hazards.some((h) => h.affects.includes('unload'))).toBe(false);
  });

  it('unresolved-import and missing-dependency fail to load as predicted', (ctx) => {
    if (!lib) return ctx.skip();
    expect(openCode(fixture('libunresolved.so'), 'local')).toBe('ERR_DLSWAP_UNRESOLVED_SYMBOL');
    expect(openCode(fixture('libmissingdep.so'), 'local')).toBe('ERR_DLSWAP_DEPENDENCY_NOT_FOUND');
  });

  it('the recommended mode opens every loadable fixture', async (ctx) => {
    if (!lib) return ctx.skip();
    for (const name of ['libbasic_v1.so', 'libcrc_clash.so', 'libcerr.so', 'libtypes.so', 'libctor.so', 'libpriv_v1.so']) {
      const isolation = inspect(fixture(name)).recommendation.isolation!;
      const l = lib.open(fixture(name), { isolation });
      await l.close();
    }
  });

  const gcc = spawnSync('g++', ['--version']).status === 0;
  const compile = (name: string, source: string, lang: 'c' | 'c++'): string => {
    const src = path.join(tmp, `${name}.${lang === 'c' ? 'c' : 'cc'}`);
    const out = path.join(tmp, `${name}.so`);
    fs.writeFileSync(src, source);
    const r = spawnSync(lang === 'c' ? 'gcc' : 'g++', ['-shared', '-fPIC', '-O0', '-o', out, src], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return out;
  };

  it.skipIf(!gcc)('needs-node-symbols: loads in local, fails in namespace', (ctx) => {
    if (!lib) return ctx.skip();
    const so = compile('libneedsnode', 'extern unsigned uv_version(void);\nunsigned f(void) { return uv_version(); }\n', 'c');
    expect(hazard(inspect(so), 'needs-node-symbols')!.symbols).toEqual(['uv_version']);
    expect(openCode(so, 'local')).toBeUndefined();
    expect(openCode(so, 'namespace')).toBe('ERR_DLSWAP_UNRESOLVED_SYMBOL');
  });

  // Which copy-relocated imports are hazards under deepbind was measured, so it is checked here by
  // loading under RTLD_DEEPBIND in a child node process (a crash must not take the test runner down).
  it.skipIf(!gcc || underAsan)('copy-reloc-import lists exactly what breaks under RTLD_DEEPBIND (deepbind is refused under ASan)', () => {
    const benign = compile(
      'libdeepbind_ok',
      [
        '#include <cstdio>',
        '#include <new>',
        '#include <streambuf>',
        '#include <ostream>',
        '#include <stdexcept>',
        'struct Buf : std::streambuf { char d[64]; Buf() { setp(d, d + 63); } const char *str() { *pptr() = 0; return d; } };',
        '__attribute__((constructor)) static void init() {',
        '  Buf b; std::ostream os(&b); os << "ok " << 1;',
        '  int *p = new (std::nothrow) int(2);',
        '  try { throw std::runtime_error("x"); } catch (const std::exception &) {}',
        '  std::fprintf(stderr, "%s %d\\n", b.str(), *p); std::fflush(stderr); delete p;',
        '}',
      ].join('\n'),
      'c++',
    );
    const crash = compile(
      'libdeepbind_cout',
      '#include <iostream>\n__attribute__((constructor)) static void init() { std::cout << "x" << std::endl; }\n',
      'c++',
    );
    const benignInfo = readElf(benign);
    const copied = new Set(readElf('/proc/self/exe').copyRelocs);
    expect(benignInfo.imports.filter((s) => copied.has(s)).length).toBeGreaterThan(0);
    expect(deepbindHazards(benignInfo)).toEqual([]);
    expect(deepbindHazards(readElf(crash))).toContain('_ZSt4cout');

    const script = (file: string): string =>
      `require(${JSON.stringify(path.join(root, 'dist', 'index.js'))}).open(${JSON.stringify(file)}, { isolation: 'deepbind', force: true }); console.log('loaded');`;
    const ok = spawnSync(process.execPath, ['-e', script(benign)], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } });
    expect(ok.stdout).toContain('loaded');
    expect(ok.status).toBe(0);
    const bad = spawnSync(process.execPath, ['-e', script(crash)], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } });
    expect(bad.stdout).not.toContain('loaded');
    expect(bad.signal ?? bad.status).not.toBe(0);
  });
});

describe('threads and keys', () => {
  it('a library that creates keys with destructors and starts threads says so, and what each mode can see', () => {
    const r = inspect(fixture('libruntime_probe.so'));
    checkShape(r);
    expect(hazard(r, 'pthread-key-destructors')).toMatchObject({ severity: 'warn', affects: ['local', 'deepbind'] });
    expect(hazard(r, 'pthread-key-destructors')!.symbols).toEqual(expect.arrayContaining(['pthread_key_create', 'tss_create']));
    expect(hazard(r, 'starts-threads')!.symbols).toEqual(expect.arrayContaining(['pthread_create', 'thrd_create']));
    expect(hazard(r, 'init-fini-node-binding')).toBeUndefined();
  });

  it("an OpenMP plugin starts threads through libgomp's pool", () => {
    const r = inspect(fixture('libomp_plugin.so'));
    expect(hazard(r, 'starts-threads')!.symbols).toContain('GOMP_parallel');
    expect(hazard(r, 'starts-threads')!.message).toMatch(/libgomp/);
  });

  it('a plain library has none of these', () => {
    const r = inspect(fixture('libbasic_v1.so'));
    for (const id of ['pthread-key-destructors', 'starts-threads', 'init-fini-node-binding'] as const) expect(hazard(r, id)).toBeUndefined();
  });
});

describe('system libraries', () => {
  it.skipIf(!libz)("libz collides with node's zlib", () => {
    const r = inspect(libz!);
    checkShape(r);
    expect(r.soname).toBe('libz.so.1');
    const h = hazard(r, 'node-export-collision')!;
    expect(h.symbols).toEqual(expect.arrayContaining(['crc32', 'deflate', 'inflate']));
    expect(r.recommendation.isolation).toBe('namespace');
  });

  it.skipIf(!libz)('a bare soname is found as open() finds it (and an unknown one is ERR_DLSWAP_NOT_FOUND)', () => {
    const r = inspect('libz.so.1');
    expect(path.isAbsolute(r.path)).toBe(true);
    expect(r.realPath).toBe(fs.realpathSync(libz!));
    expect(r.soname).toBe('libz.so.1');
    expect(() => inspect('libdlswap-no-such-library.so.9')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_NOT_FOUND' }));
  });

  it.skipIf(!libstdcxx)('libstdc++ has unique symbols and thread_local destructors', () => {
    const r = inspect(libstdcxx!);
    checkShape(r);
    expect(hazard(r, 'gnu-unique')!.symbols!.length).toBeGreaterThan(10);
    expect(hazard(r, 'thread-local-dtor')!.symbols).toContain('__cxa_thread_atexit_impl');
    expect(hazard(r, 'tls')!.severity).toBe('info');
    // It imports stdin/stdout/stderr, which node copy-relocates but which read correctly under deepbind.
    expect(readElf(libstdcxx!).imports).toEqual(expect.arrayContaining(['stdout', 'stderr']));
    expect(hazard(r, 'copy-reloc-import')).toBeUndefined();
    // std::cout is node's by design (a copy relocation), not a collision.
    expect(hazard(r, 'node-export-collision')?.symbols ?? []).not.toContain('_ZSt4cout');
    expect(r.recommendation.isolation).toBe('namespace');
  });

  const libuv = findSystemLib('libuv.so.1');
  it.skipIf(!libuv)("libuv: its destructor is bound to node's uv_library_shutdown, so local is ruled out", () => {
    const r = inspect(libuv!);
    checkShape(r);
    const h = hazard(r, 'init-fini-node-binding')!;
    expect(h.severity).toBe('error');
    expect(h.symbols).toEqual(['uv_library_shutdown']);
    expect(h.affects).toEqual(['local']);
    expect(r.recommendation.isolation).not.toBe('local');
    expect(r.recommendation.reason).toMatch(/uv_library_shutdown/);
    expect(hazard(r, 'starts-threads')!.symbols).toContain('pthread_create');
  });

  it('node itself is not a shared library', () => {
    const r = inspect('/proc/self/exe');
    checkShape(r);
    expect(hazard(r, 'not-shared-library')?.severity).toBe('error');
    expect(r.recommendation.isolation).toBeNull();
  });
});

describe('synthetic libraries for each hazard', () => {
  it('wrong-arch', () => {
    const r = inspect(synth('i386.so', { cls: 32, machine: 3 }));
    checkShape(r);
    expect(r.matchesHost).toBe(false);
    expect(r.class).toBe(32);
    expect(r.machine).toBe('i386');
    expect(hazard(r, 'wrong-arch')!.severity).toBe('error');
    expect(r.recommendation.isolation).toBeNull();
    const be = inspect(synth('s390x.so', { be: true, machine: 22 }));
    expect(be.endian).toBe('big');
    expect(hazard(be, 'wrong-arch')).toBeDefined();
  });

  it('not-shared-library: executables, objects and PIEs', () => {
    expect(hazard(inspect(synth('exec', { type: 2 })), 'not-shared-library')).toBeDefined();
    expect(hazard(inspect(synth('obj.o', { type: 1 })), 'not-shared-library')).toBeDefined();
    expect(hazard(inspect(synth('pie', { flags1: 0x08000000 })), 'not-shared-library')!.message).toMatch(/position-independent executable/);
  });

  it('nodelete', () => {
    const r = inspect(synth('nodelete.so', { flags1: 0x8 }));
    expect(hazard(r, 'nodelete')!.affects).toEqual(['unload', 'fresh-namespace']);
  });

  it('thread-local-dtor', () => {
    const r = inspect(synth('tlsdtor.so', { symbols: [{ name: 'f' }, { name: '__cxa_thread_atexit', shndx: 0 }] }));
    expect(hazard(r, 'thread-local-dtor')!.symbols).toEqual(['__cxa_thread_atexit']);
  });

  it('tls: dynamic model is info, static model warns, oversized static fails', () => {
    const dyn = inspect(synth('tlsdyn.so', { tls: { memsz: 64, filesz: 0, align: 8 } }));
    expect(hazard(dyn, 'tls')!.severity).toBe('info');
    expect(hazard(dyn, 'tls')!.message).toContain('64 bytes');
    const st = inspect(synth('tlsstatic.so', { tls: { memsz: 64, filesz: 0, align: 8 }, flags: 0x10 }));
    expect(hazard(st, 'tls')!.severity).toBe('warn');
    expect(hazard(st, 'tls')!.affects).toEqual(['local', 'deepbind', 'namespace', 'fresh-namespace']);
    const big = inspect(synth('tlsbig.so', { tls: { memsz: 4096, filesz: 0, align: 64 }, flags: 0x10 }));
    expect(hazard(big, 'tls')!.severity).toBe('error');
  });

  it('copy-reloc-import includes glibc aliases of environ', () => {
    const r = inspect(synth('environ.so', { symbols: [{ name: 'f' }, { name: 'environ', shndx: 0, type: 1 }] }));
    expect(hazard(r, 'copy-reloc-import')!.symbols).toEqual(['environ']);
  });

  it.skipIf(!libz)('node-import-interposition: imports from libz that node also exports', () => {
    const r = inspect(
      synth('usesz.so', { needed: ['libz.so.1', 'libc.so.6'], symbols: [{ name: 'f' }, { name: 'deflate', shndx: 0 }, { name: 'malloc', shndx: 0 }] }),
    );
    const h = hazard(r, 'node-import-interposition')!;
    expect(h.symbols).toEqual(['deflate']);
    expect(h.message).toContain('libz.so.1');
    expect(r.recommendation.isolation).not.toBe('local');
  });

  it('textrel and execstack', () => {
    expect(hazard(inspect(synth('textrel.so', { textrel: true })), 'textrel')!.severity).toBe('warn');
    expect(hazard(inspect(synth('execstack.so', { execstack: true })), 'execstack')!.message).toMatch(/executable stack/);
    const none = inspect(synth('nostack.so', { execstack: undefined }));
    const x86 = ['x86_64', 'i386'].includes(none.machine);
    expect(Boolean(hazard(none, 'execstack'))).toBe(x86);
  });

  it('an $ORIGIN search path without private dependencies present plans no copies', () => {
    const r = inspect(synth('origin.so', { rpath: '$ORIGIN/../lib', needed: ['libc.so.6'] }));
    expect(hazard(r, 'private-dependencies')).toBeUndefined();
    expect(r.dependencies.map((d) => d.kind)).toEqual(['system']);
    expect(r.recommendation.isolation).toBe('namespace');
  });

  it('a private NODELETE dependency: copied per generation, and each copy stays mapped', () => {
    fs.mkdirSync(path.join(tmp, 'deps'), { recursive: true });
    fs.writeFileSync(
      path.join(tmp, 'deps', 'libpinned.so'),
      buildElf({ cls: 64, be: false, machine: hostMachine().machine, soname: 'libpinned.so', flags1: 0x8 }),
    );
    const r = inspect(synth('privpinned.so', { runpath: '$ORIGIN/deps', needed: ['libpinned.so', 'libstdc++.so.6'] }));
    expect(r.recommendation.isolation).toBe('namespace');
    expect(hazard(r, 'private-dependencies')!.symbols).toEqual(['libpinned.so']);
    expect(hazard(r, 'nodelete')).toMatchObject({ severity: 'warn', symbols: ['libpinned.so'], affects: ['unload'] });
  });

  it('a library of another architecture earlier in the search is skipped, as the loader skips it', () => {
    fs.mkdirSync(path.join(tmp, 'otherarch'), { recursive: true });
    const other = hostMachine().machine === 62 ? 183 : 62;
    fs.writeFileSync(path.join(tmp, 'otherarch', 'libc.so.6'), buildElf({ cls: 64, be: false, machine: other, soname: 'libc.so.6' }));
    const r = inspect(synth('archskip.so', { runpath: '$ORIGIN/otherarch', needed: ['libc.so.6'] }));
    expect(r.dependencies[0]).toMatchObject({ name: 'libc.so.6', kind: 'system' });
    expect(hazard(r, 'missing-dependency')).toBeUndefined();
  });

  it('needs-node-symbols: imports only node defines rule out the namespaces', () => {
    const r = inspect(
      synth('needsnode.so', { needed: ['libc.so.6'], symbols: [{ name: 'f' }, { name: 'uv_version', shndx: 0 }, { name: 'malloc', shndx: 0 }] }),
    );
    const h = hazard(r, 'needs-node-symbols')!;
    expect(h.symbols).toEqual(['uv_version']);
    expect(h.affects).toEqual(['namespace', 'fresh-namespace']);
    expect(r.recommendation.isolation).toBe('local');
    const clash = inspect(synth('needsnode-clash.so', { needed: ['libc.so.6'], symbols: [{ name: 'crc32' }, { name: 'uv_version', shndx: 0 }] }));
    expect(clash.recommendation.isolation).toBe(preload ? 'local' : 'deepbind');
  });

  it('unresolved-import: weak imports may stay unresolved, others may not', () => {
    const weak = inspect(synth('weak.so', { needed: ['libc.so.6'], symbols: [{ name: 'f' }, { name: 'optional_hook', shndx: 0, bind: 2 }] }));
    expect(hazard(weak, 'unresolved-import')).toBeUndefined();
    const strong = inspect(synth('strong.so', { needed: ['libc.so.6'], symbols: [{ name: 'f' }, { name: 'dlswap_test_nowhere', shndx: 0 }] }));
    expect(hazard(strong, 'unresolved-import')!.symbols).toEqual(['dlswap_test_nowhere']);
  });

  it('bad input is a coded error', () => {
    const codeOf = (p: string): string | undefined => {
      try {
        inspect(p);
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(codeOf(path.join(tmp, 'missing.so'))).toBe('ERR_DLSWAP_NOT_FOUND');
    expect(codeOf(tmp)).toBe('ERR_DLSWAP_NOT_A_FILE');
    fs.writeFileSync(path.join(tmp, 'empty.so'), '');
    expect(codeOf(path.join(tmp, 'empty.so'))).toBe('ERR_DLSWAP_EMPTY_FILE');
    fs.writeFileSync(path.join(tmp, 'text.so'), 'hello');
    expect(codeOf(path.join(tmp, 'text.so'))).toBe('ERR_DLSWAP_NOT_ELF');
    fs.writeFileSync(path.join(tmp, 'trunc.so'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0]));
    expect(codeOf(path.join(tmp, 'trunc.so'))).toBe('ERR_DLSWAP_BAD_ELF');
  });
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

// Issue 22: hazards passed up from the closure (H7), and what a library does to the whole process.
describe.skipIf(!haveFixtures)('hazards of the closure and of the process', () => {
  const hz = (name: string): string => path.join(fixtures, 'hazards', name);
  const dist = path.join(root, 'dist', 'index.js');
  /** Runs `body` in a child node with dlswap as `d` and the fixture directory as `F`. */
  const child = (body: string) =>
    spawnSync(
      process.execPath,
      ['-e', `const d = require(${JSON.stringify(dist)}); const F = ${JSON.stringify(path.join(fixtures, 'hazards'))} + '/';\n${body}`],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, LD_PRELOAD: '' },
      },
    );

  it('a plugin that links a dependency starting threads is told so, with the dependency named', () => {
    const r = inspect(hz('libhz_pool_user.so'));
    checkShape(r);
    expect(readElf(hz('libhz_pool_user.so')).imports).not.toContain('pthread_create');
    const h = hazard(r, 'starts-threads')!;
    expect(h).toMatchObject({ severity: 'warn', affects: ['unload'], from: ['libhz_pool.so.1'], symbols: ['pthread_create'] });
    expect(h.message).toMatch(/^through its dependency libhz_pool\.so\.1: starts threads/);
    // Its destructor (a second DT_FINI_ARRAY entry) is what stops the thread.
    expect(readElf(hz('libhz_pool.so.1')).finiArrayEntries).toBe(2);
    expect(readElf(hz('libhz_pool_user.so')).finiArrayEntries).toBe(1);
    expect(hazard(r, 'threads-stopped-by-destructor')).toMatchObject({ from: ['libhz_pool.so.1'], affects: ['unload'] });
    expect(hazard(r, 'threads-stopped-by-destructor')!.message).toMatch(/teardown hook/);
  });

  it("a hazard of the library and of its dependencies is one entry: the library's words, the dependencies added", () => {
    const r = inspect(hz('libhz_pool.so.1'));
    expect(hazard(r, 'starts-threads')!.from).toBeUndefined();
    const ids = r.hazards.map((h) => h.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('loads-modules: what inspect says about RTLD_GLOBAL in a namespace is what happens', () => {
    const r = inspect(hz('libhz_dlopen_user.so'));
    checkShape(r);
    const h = hazard(r, 'loads-modules')!;
    expect(h.symbols).toEqual(['dlopen']);
    expect(h.affects).toEqual(['namespace', 'fresh-namespace']);
    // A module loaded with RTLD_GLOBAL (0x100) by code inside the namespace.
    const run = child(
      `const lib = d.open(F + 'libhz_dlopen_user.so', { isolation: 'namespace' });
       const f = lib.func('int load_module(const char *path, int flags, const char *symbol)');
       console.log('local', f('libz.so.1', 2, 'zlibVersion'));
       console.log('global', f('libz.so.1', 2 | 0x100, 'zlibVersion'));`,
    );
    expect(run.stdout).toContain('local 1');
    if (h.severity === 'info') {
      // dlswap's runtime serves dlopen in the namespace: the call works.
      expect(h.message).toMatch(/dlswap's runtime serves these calls/);
      expect(run.stdout).toContain('global 1');
      expect(run.status).toBe(0);
    } else {
      // It does not (yet): glibc crashes, as the hazard says.
      expect(h.severity).toBe('warn');
      expect(h.message).toMatch(/add_to_global_resize/);
      expect(run.signal).toBe('SIGSEGV');
    }
  });

  it('loads-modules is an error in the namespace modes for a caller that asks GModule or libltdl for RTLD_GLOBAL', () => {
    const cases = [
      ['gmodule-user.so', ['g_module_open']],
      ['ltdl-user.so', ['lt_dlopenadvise', 'lt_dladvise_global']],
    ] as const;
    for (const [name, imports] of cases) {
      const sym = imports[imports.length - 1];
      const r = inspect(synth(name, { needed: ['libc.so.6'], symbols: [{ name: 'f' }, ...imports.map((i) => ({ name: i, shndx: 0, bind: 2 }))] }));
      const h = hazard(r, 'loads-modules')!;
      expect(h.symbols).toContain(sym);
      if (h.severity === 'info') continue; // dlswap's runtime handles it
      expect(h.severity).toBe('error');
      expect(r.recommendation.isolation).not.toBe('namespace');
      expect(r.recommendation.isolation).not.toBe('fresh-namespace');
      expect(r.recommendation.reason).toMatch(/not namespace: loads-modules/);
    }
  });

  const libtbb = findSystemLib('libtbb.so.12');
  it.skipIf(!libtbb)("a plugin linking oneTBB: no longer 'hazards none, local would work too'", () => {
    const r = inspect(synth('tbb-plugin.so', { needed: ['libtbb.so.12'], symbols: [{ name: 'plugin_run' }] }));
    checkShape(r);
    expect(r.hazards.length).toBeGreaterThan(0);
    expect(r.recommendation.reason).not.toMatch(/local would work too/);
    expect(hazard(r, 'starts-threads')!.from).toContain('libtbb.so.12');
    const h = hazard(r, 'loads-modules')!;
    expect(h.from).toContain('libtbb.so.12');
    if (h.severity === 'error') expect(['local', 'deepbind']).toContain(r.recommendation.isolation);
  });

  it('signal-handlers: every mode; the remedy it names (restore before close) leaves node its signals', () => {
    const r = inspect(hz('libhz_signal_user.so'));
    checkShape(r);
    expect(hazard(r, 'signal-handlers')).toMatchObject({
      severity: 'warn',
      symbols: ['sigaction'],
      affects: ['local', 'deepbind', 'namespace', 'fresh-namespace'],
    });
    const run = child(
      `process.on('SIGUSR2', () => { console.log('node got SIGUSR2'); process.exit(0); });
       const lib = d.open(F + 'libhz_signal_user.so', { isolation: 'namespace' });
       console.log('installed', lib.func('int signal_install(void)')());
       console.log('restored', lib.func('int signal_restore(void)')());
       lib.close().then((c) => { console.log('unloaded', c.unloaded); process.kill(process.pid, 'SIGUSR2'); });
       setTimeout(() => process.exit(3), 20000);`,
    );
    expect(run.stdout).toContain('installed 1');
    expect(run.stdout).toContain('restored 1');
    expect(run.stdout).toContain('node got SIGUSR2');
    expect(run.status).toBe(0);
  });

  it('exit-handlers: local and deepbind ruled out; in a namespace, exit after close is clean', () => {
    const r = inspect(hz('libhz_exit_user.so'));
    checkShape(r);
    expect(hazard(r, 'exit-handlers')).toMatchObject({ severity: 'error', symbols: ['on_exit'], affects: ['local', 'deepbind'] });
    expect(r.recommendation.isolation).toBe('namespace');
    expect(r.recommendation.reason).toMatch(/under local it would meet exit-handlers/);
    const run = child(
      `const lib = d.open(F + 'libhz_exit_user.so', { isolation: 'namespace' });
       console.log('registered', lib.func('int exit_register(void)')());
       lib.close().then((c) => { console.log('unloaded', c.unloaded); process.exit(0); });`,
    );
    expect(run.stdout).toContain('registered 1');
    expect(run.stdout).toContain('unloaded true');
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
  });

  it('global-locale: the modes that share a libc with others', () => {
    const r = inspect(hz('libhz_locale_user.so'));
    expect(hazard(r, 'global-locale')).toMatchObject({ severity: 'warn', symbols: ['setlocale'], affects: ['local', 'deepbind', 'namespace'] });
  });

  const libgflags = findSystemLib('libgflags.so.2.2');
  it.skipIf(!libgflags)('shared-registry: a library that registers gflags flags gets its own libgflags per generation', () => {
    const registerer = '_ZN6google14FlagRegistererC1IiEEPKcS3_S3_PT_S5_';
    const r = inspect(synth('flags-user.so', { needed: ['libgflags.so.2.2'], symbols: [{ name: 'f' }, { name: registerer, shndx: 0 }] }));
    checkShape(r);
    const h = hazard(r, 'shared-registry')!;
    expect(h).toMatchObject({ severity: 'info', symbols: [registerer], affects: ['local', 'deepbind', 'namespace'], from: ['libgflags.so.2.2'] });
    expect(h.message).toMatch(/linked both statically and dynamically/);
    expect(h.message).toMatch(/each generation its own copy of libgflags\.so\.2\.2/);
    // As a load plans it: a copy per generation, saying why.
    expect(r.dependencies.find((d) => d.name === 'libgflags.so.2.2')).toMatchObject({ kind: 'private', registry: "gflags' flag registry", foundVia: 'system' });
    expect(hazard(r, 'private-dependencies')).toBeUndefined();
    expect(r.recommendation.isolation).toBe('namespace');
    // libgflags itself is the registry: each generation's copy has its own.
    expect(hazard(inspect(libgflags!), 'shared-registry')).toBeUndefined();
  });

  const libglib = findSystemLib('libglib-2.0.so.0');
  it.skipIf(!libglib)("shared-registry: a registrant GLib's quark table keeps pointers into is kept mapped (unless -z nodelete)", () => {
    const sym = 'g_quark_from_static_string';
    const r = inspect(synth('quark-user.so', { needed: ['libglib-2.0.so.0'], symbols: [{ name: 'f' }, { name: sym, shndx: 0 }] }));
    const h = hazard(r, 'shared-registry')!;
    expect(h).toMatchObject({ severity: 'warn', symbols: [sym], from: ['libglib-2.0.so.0'] });
    expect(h.message).toMatch(/a retired generation stays mapped/);
    expect(r.dependencies.find((d) => d.name === 'libglib-2.0.so.0')!.kind).toBe('system');
    expect(r.recommendation.isolation).toBe('namespace');
  });

  const openblas = findSystemLib('libopenblas.so.0');
  it.skipIf(!openblas)('OpenBLAS: a pool its destructor stops, and its shutdown named', () => {
    const h = hazard(inspect(openblas!), 'threads-stopped-by-destructor')!;
    expect(h.symbols).toContain('blas_shutdown');
    expect(h.message).toMatch(/blas_shutdown/);
  });

  const magick = findSystemLib('libMagickCore-6.Q16.so.6');
  it.skipIf(!magick)('MagickCore: signal handlers, threads through libgomp, loaders through libltdl', () => {
    const r = inspect(magick!);
    checkShape(r);
    expect(hazard(r, 'signal-handlers')!.symbols).toContain('sigaction');
    expect(hazard(r, 'starts-threads')!.from).toContain('libgomp.so.1');
    expect(hazard(r, 'loads-modules')!.symbols).toContain('lt_dlopen');
  });
});

describe('CLI', () => {
  const saved = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR, TERM: process.env.TERM };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const run = (argv: string[], isTTY = false): { code: number; out: string; err: string } => {
    const out = new Capture(),
      err = new Capture();
    const code = runInspect(argv, out, isTTY, err);
    return { code, out: out.text, err: err.text };
  };
  const sample = (): string => (haveFixtures ? fixture('libcrc_clash.so') : synth('cli.so', { symbols: [{ name: 'crc32' }] }));

  it('--json prints the report', () => {
    const r = run([sample(), '--json']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const report = JSON.parse(r.out) as InspectReport;
    expect(report).toEqual(inspect(sample()));
    expect(r.out).toBe(`${JSON.stringify(inspect(sample()), null, 2)}\n`);
  });

  it('human output: a table, no colour unless asked', () => {
    delete process.env.NO_COLOR;
    delete process.env.FORCE_COLOR;
    process.env.TERM = 'xterm';
    const plain = run([sample()], false);
    expect(plain.code).toBe(0);
    expect(plain.out).not.toContain('\x1b[');
    expect(plain.out).toMatch(/SEVERITY\s+HAZARD\s+AFFECTS\s+DETAILS/);
    expect(plain.out).toMatch(/node-export-collision/);
    expect(plain.out).toMatch(/Recommended isolation: (deepbind|namespace)/);

    const tty = run([sample()], true);
    expect(tty.out).toContain('\x1b[');
    expect(stripAnsi(tty.out).replace(/\s+/g, ' ')).toBe(plain.out.replace(/\s+/g, ' '));

    process.env.NO_COLOR = '1';
    expect(run([sample()], true).out).not.toContain('\x1b[');
    process.env.FORCE_COLOR = '1';
    expect(run([sample()], false).out).toContain('\x1b[');
    process.env.FORCE_COLOR = '0';
    delete process.env.NO_COLOR;
    expect(run([sample()], true).out).not.toContain('\x1b[');
  });

  it('bad input: exit 1 with the code on stderr', () => {
    const missing = run([path.join(tmp, 'nope.so')]);
    expect(missing.code).toBe(1);
    expect(missing.out).toBe('');
    expect(missing.err).toMatch(/ERR_DLSWAP_NOT_FOUND/);
    const dir = run([tmp, '--json']);
    expect(dir.code).toBe(1);
    expect(dir.err).toMatch(/ERR_DLSWAP_NOT_A_FILE/);
    fs.writeFileSync(path.join(tmp, 'garbage.so'), Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01'), Buffer.alloc(100, 0xff)]));
    const garbage = run([path.join(tmp, 'garbage.so')]);
    expect(garbage.code).toBe(1);
    expect(garbage.err).toMatch(/ERR_DLSWAP_BAD_ELF/);
  });

  it('usage errors: exit 2', () => {
    expect(run([]).code).toBe(2);
    expect(run(['--bogus', sample()]).code).toBe(2);
    expect(run([sample(), sample()]).code).toBe(2);
    const help = run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/usage: dlswap inspect/);
  });

  const bin = path.join(root, 'bin', 'dlswap.js');
  const dist = path.join(root, 'dist', 'cli', 'inspect.js');
  it.skipIf(!fs.existsSync(bin) || !fs.existsSync(dist))('through bin/dlswap.js', () => {
    const r = spawnSync(process.execPath, [bin, 'inspect', sample(), '--json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as InspectReport).schema).toBe(1);
    const bad = spawnSync(process.execPath, [bin, 'inspect', path.join(tmp, 'nope.so')], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/ERR_DLSWAP_NOT_FOUND/);
  });
});

describe('format helpers', () => {
  it('colorEnabled precedence', () => {
    expect(colorEnabled(true, {})).toBe(true);
    expect(colorEnabled(false, {})).toBe(false);
    expect(colorEnabled(true, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(true, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled(false, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled(false, { FORCE_COLOR: '' })).toBe(true);
    expect(colorEnabled(true, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled(true, { FORCE_COLOR: 'false' })).toBe(false);
    expect(colorEnabled(true, { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled(true, { TERM: 'dumb' })).toBe(false);
  });

  it('table aligns columns ignoring colour codes', () => {
    const t = table(
      [
        ['\x1b[31ma\x1b[39m', 'bb', 'x'],
        ['ccc', 'd', 'y'],
      ],
      { header: ['H1', 'H2', 'H3'] },
    );
    const lines = stripAnsi(t).split('\n');
    expect(lines).toEqual(['H1   H2  H3', 'a    bb  x', 'ccc  d   y']);
  });

  it('wrap', () => {
    expect(wrap('aa bb cc dd', 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrap('averyverylongword x', 5)).toEqual(['averyverylongword', 'x']);
  });
});
