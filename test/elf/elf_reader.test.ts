import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostMachine, nodeCopyRelocatedSymbols, readElf, readElfBytes, type ElfInfo } from '../../lib/elf/elf';
import { buildElf, ehdrField, writeField, type SynthOptions } from '../fuzz/elf_builder';
import { cpuMs, findSystemLib, ROOT_WITHOUT_BYPASS, runChild } from '../helpers';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'build', 'fixtures');
const fixture = (name: string): string => path.join(fixtures, name);

const libz = findSystemLib('libz.so.1');
const libstdcxx = findSystemLib('libstdc++.so.6');
const haveFixtures = fs.existsSync(fixture('libbasic_v1.so'));

const ERROR_CODES = ['ERR_DLSWAP_NOT_FOUND', 'ERR_DLSWAP_NOT_A_FILE', 'ERR_DLSWAP_ACCESS', 'ERR_DLSWAP_EMPTY_FILE', 'ERR_DLSWAP_NOT_ELF', 'ERR_DLSWAP_BAD_ELF'];

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-elf-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function write(name: string, data: Buffer | string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, data);
  return p;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    const err = e as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(typeof err.message).toBe('string');
    return err.code;
  }
  return undefined;
}

/** Reads `p` and requires either a result or one of the documented coded errors. */
function readOrCodedError(p: string): ElfInfo | string {
  try {
    return readElf(p);
  } catch (e) {
    const err = e as Error & { code?: string };
    expect(ERROR_CODES).toContain(err.code);
    expect(err.message).toContain(p);
    return err.code!;
  }
}

function readelfTool(args: string[]): string | null {
  const r = spawnSync('readelf', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return r.status === 0 ? r.stdout : null;
}

describe('node itself', () => {
  it('reads /usr/bin/node (74k symbols) quickly', () => {
    let info!: ElfInfo;
    const used = cpuMs(() => (info = readElf('/usr/bin/node')));
    // A hang guard in CPU time, far above the quiet figure (~140 ms); speed is bench/'s to measure.
    expect(used).toBeLessThan(5_000);
    expect(info.class).toBe(64);
    expect(info.endian).toBe('little');
    expect(info.type === 'exec' || info.type === 'dyn').toBe(true);
    expect(info.exports.length).toBeGreaterThan(10_000);
    expect(info.exports).toContain('napi_create_string_utf8');
    expect(info.exports).toContain('uv_loop_init');
    expect(info.needed).toContain('libc.so.6');
    expect(info.buildId).toMatch(/^[0-9a-f]{16,}$/);
    expect(info.truncated).toBe(false);
    expect(info.fileSize).toBe(fs.statSync('/usr/bin/node').size);
  });

  it('finds the copy relocations that readelf reports', () => {
    const info = readElf('/usr/bin/node');
    expect(info.copyRelocs).toContain('_ZSt4cout');
    expect(info.copyRelocs).toContain('_ZSt4cerr');
    const text = readelfTool(['-rW', '/usr/bin/node']);
    if (text === null) return;
    const expected = new Set(
      text
        .split('\n')
        .filter((l) => /_COPY\b/.test(l))
        .map((l) => l.trim().split(/\s+/)[4].replace(/@.*/, '')),
    );
    expect(new Set(info.copyRelocs)).toEqual(expected);
  });

  it('hostMachine and nodeCopyRelocatedSymbols describe this process', () => {
    const h = hostMachine();
    expect(h.class).toBe(64);
    const expected = { x64: 'x86_64', arm64: 'aarch64' }[process.arch as 'x64' | 'arm64'];
    if (expected) expect(h.machineName).toBe(expected);
    expect(nodeCopyRelocatedSymbols()).toContain('_ZSt4cerr');
    // A copy, so callers cannot corrupt the cache.
    nodeCopyRelocatedSymbols().length = 0;
    expect(nodeCopyRelocatedSymbols().length).toBeGreaterThan(0);
  });
});

describe('system libraries', () => {
  // readelf's view of the dynamic symbol table, reduced to names the way readElf reports them.
  function readelfSymbols(file: string): { exports: Set<string>; imports: Set<string>; unique: Set<string> } | null {
    const text = readelfTool(['-W', '--dyn-syms', file]);
    if (text === null) return null;
    const exports = new Set<string>(),
      imports = new Set<string>(),
      unique = new Set<string>();
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8 || !/^\d+:$/.test(f[0])) continue;
      const [, value, size, type, bind, vis, ndx] = f;
      const name = f[7].replace(/@.*/, '');
      if (!['GLOBAL', 'WEAK', 'UNIQUE'].includes(bind) || !name) continue;
      if (ndx === 'UND') {
        imports.add(name);
        continue;
      }
      if (ndx === 'ABS' && Number(value) === 0 && size === '0' && type === 'OBJECT') continue;
      if (!['DEFAULT', 'PROTECTED'].includes(vis)) continue;
      if (!['FUNC', 'OBJECT', 'TLS', 'IFUNC', 'NOTYPE'].includes(type)) continue;
      exports.add(name);
      if (bind === 'UNIQUE') unique.add(name);
    }
    return { exports, imports, unique };
  }

  it.skipIf(!libz)('libz.so.1', () => {
    const info = readElf(libz!);
    expect(info.soname).toBe('libz.so.1');
    expect(info.type).toBe('dyn');
    expect(info.exports).toContain('crc32');
    expect(info.exports).toContain('deflate');
    expect(info.uniqueSymbols).toEqual([]);
    expect(info.copyRelocs).toEqual([]);
    const ref = readelfSymbols(libz!);
    if (ref) {
      expect(new Set(info.exports)).toEqual(ref.exports);
      expect(new Set(info.imports)).toEqual(ref.imports);
    }
  });

  it.skipIf(!libstdcxx)('libstdc++.so.6 has unique symbols and TLS', () => {
    const info = readElf(libstdcxx!);
    expect(info.soname).toBe('libstdc++.so.6');
    expect(info.uniqueSymbols.length).toBeGreaterThan(0);
    expect(info.exports).toContain('_ZSt4cout');
    expect(info.imports).toContain('__cxa_thread_atexit_impl');
    const ref = readelfSymbols(libstdcxx!);
    if (ref) {
      expect(new Set(info.exports)).toEqual(ref.exports);
      expect(new Set(info.imports)).toEqual(ref.imports);
      expect(new Set(info.uniqueSymbols)).toEqual(ref.unique);
    }
  });

  it('libc.so.6 uses the static TLS model', () => {
    const libc = findSystemLib('libc.so.6');
    if (!libc) return;
    const info = readElf(libc);
    expect(info.tls).not.toBeNull();
    expect(info.staticTlsModel).toBe(true);
    expect(info.exports).toContain('malloc');
    // Version definitions (GLIBC_2.2.5) are absolute placeholders, not symbols.
    expect(info.exports.some((s) => s.startsWith('GLIBC_'))).toBe(false);
  });

  it('names a linker script (libc.so) as such', () => {
    const script = ['/usr/lib/x86_64-linux-gnu/libc.so', '/usr/lib/aarch64-linux-gnu/libc.so'].find((p) => fs.existsSync(p));
    if (!script) return;
    expect(codeOf(() => readElf(script))).toBe('ERR_DLSWAP_NOT_ELF');
    expect(() => readElf(script)).toThrow(/linker script/);
  });
});

describe.skipIf(!haveFixtures)('fixtures', () => {
  it('libbasic_v1.so', () => {
    const info = readElf(fixture('libbasic_v1.so'));
    expect(info.type).toBe('dyn');
    expect(info.exports).toEqual(expect.arrayContaining(['add', 'version', 'call_internal', 'counter_next']));
    expect(info.buildId).toMatch(/^[0-9a-f]+$/);
    expect(info.uniqueSymbols).toEqual([]);
    expect(info.nodelete).toBe(false);
    expect(info.execstack).toBe(false);
  });

  it('libunique.so has STB_GNU_UNIQUE symbols', () => {
    expect(readElf(fixture('libunique.so')).uniqueSymbols.length).toBeGreaterThan(0);
  });

  it('libcerr.so imports std::cerr and std::cout', () => {
    const info = readElf(fixture('libcerr.so'));
    expect(info.imports).toEqual(expect.arrayContaining(['_ZSt4cerr', '_ZSt4cout']));
    expect(info.needed.some((n) => n.startsWith('libstdc++'))).toBe(true);
  });

  it('libpriv_v1.so has RUNPATH $ORIGIN/privdep_v1', () => {
    const info = readElf(fixture('libpriv_v1.so'));
    expect(info.runpath ?? info.rpath).toBe('$ORIGIN/privdep_v1');
    expect(info.needed).toContain('libprivdep.so');
  });

  it('libmissingdep.so needs a library that does not exist', () => {
    expect(readElf(fixture('libmissingdep.so')).needed).toContain('libdlswap_fixture_absent.so');
  });

  it('libcrc_clash.so exports crc32', () => {
    expect(readElf(fixture('libcrc_clash.so')).exports).toContain('crc32');
  });

  it('libtypes.so and libctor.so', () => {
    expect(readElf(fixture('libtypes.so')).exports.length).toBeGreaterThan(10);
    expect(readElf(fixture('libctor.so')).exports).toContain('ctor_global');
  });
});

describe('synthetic ELF files, every class and byte order', () => {
  const machines: Record<string, { machine: number; name: string; copy: number }> = {
    '64le': { machine: 62, name: 'x86_64', copy: 5 },
    '64be': { machine: 22, name: 's390x', copy: 9 },
    '32le': { machine: 3, name: 'i386', copy: 5 },
    '32be': { machine: 20, name: 'ppc', copy: 19 },
  };
  const variants = [
    { cls: 64, be: false },
    { cls: 64, be: true },
    { cls: 32, be: false },
    { cls: 32, be: true },
  ] as const;

  function options(cls: 32 | 64, be: boolean, extra: Partial<SynthOptions> = {}): SynthOptions {
    const m = machines[`${cls}${be ? 'be' : 'le'}`];
    return {
      cls,
      be,
      machine: m.machine,
      copyRelocType: m.copy,
      soname: 'libsynth.so.1',
      needed: ['libc.so.6', 'libdep.so'],
      runpath: '$ORIGIN/lib',
      symbols: [
        { name: 'exported_fn' },
        { name: 'exported_obj', type: 1 },
        { name: 'weak_fn', bind: 2 },
        { name: 'unique_obj', bind: 10, type: 1 },
        { name: 'tls_var', type: 6 },
        { name: 'hidden_fn', vis: 2 },
        { name: 'local_fn', bind: 0 },
        { name: 'imported_fn', shndx: 0 },
        { name: 'stdout', shndx: 0, type: 1 },
        { name: 'GLIBC_2.2.5', type: 1, shndx: 0xfff1, value: 0, size: 0 },
      ],
      copyRelocs: [8],
      buildId: Buffer.from('00112233445566778899aabbccddeeff01234567', 'hex'),
      tls: { memsz: 64, filesz: 16, align: 8 },
      execstack: false,
      flags: 0x8 | 0x10, // DF_BIND_NOW | DF_STATIC_TLS
      flags1: 0x8, // DF_1_NODELETE
      ...extra,
    };
  }

  for (const v of variants) {
    const label = `${v.cls}-bit ${v.be ? 'big' : 'little'}-endian`;
    for (const hash of ['sysv', 'gnu', 'none'] as const) {
      it(`${label}, ${hash} hash`, () => {
        const p = write(`synth-${v.cls}-${v.be}-${hash}.so`, buildElf(options(v.cls, v.be, { hash, sections: hash === 'none' })));
        const info = readElf(p);
        const m = machines[`${v.cls}${v.be ? 'be' : 'le'}`];
        expect(info.class).toBe(v.cls);
        expect(info.endian).toBe(v.be ? 'big' : 'little');
        expect(info.machine).toBe(m.machine);
        expect(info.machineName).toBe(m.name);
        expect(info.type).toBe('dyn');
        expect(info.soname).toBe('libsynth.so.1');
        expect(info.needed).toEqual(['libc.so.6', 'libdep.so']);
        expect(info.runpath).toBe('$ORIGIN/lib');
        expect(info.rpath).toBeNull();
        expect(info.buildId).toBe('00112233445566778899aabbccddeeff01234567');
        expect(info.exports.sort()).toEqual(['exported_fn', 'exported_obj', 'tls_var', 'unique_obj', 'weak_fn']);
        expect(info.imports.sort()).toEqual(['imported_fn', 'stdout']);
        expect(info.uniqueSymbols).toEqual(['unique_obj']);
        expect(info.copyRelocs).toEqual(['stdout']);
        expect(info.tls).toEqual({ memsz: 64, filesz: 16, align: 8 });
        expect(info.staticTlsModel).toBe(true);
        expect(info.nodelete).toBe(true);
        expect(info.flags).toBe(0x18);
        expect(info.flags1).toBe(0x8);
        expect(info.textrel).toBe(false);
        expect(info.execstack).toBe(false);
        expect(info.truncated).toBe(false);
      });
    }
  }

  it('a GNU hash table with no hashed symbol does not hide the imports', () => {
    // GNU ld writes symoffset 1 and empty buckets for a library that defines no dynamic symbol.
    const imports = [
      { name: 'environ', shndx: 0, type: 1 },
      { name: 'puts', shndx: 0 },
      { name: 'stderr', shndx: 0, type: 1 },
    ];
    for (const cls of [64, 32] as const) {
      const p = write(
        `onlyimports-${cls}.so`,
        buildElf({ cls, be: false, machine: cls === 64 ? 62 : 3, hash: 'gnu', emptyGnuHash: true, sections: true, symbols: imports }),
      );
      const info = readElf(p);
      expect(info.imports.sort()).toEqual(['environ', 'puts', 'stderr']);
      expect(info.exports).toEqual([]);
    }
  });

  it('textrel, execstack and no PT_GNU_STACK', () => {
    let info = readElf(write('textrel.so', buildElf(options(64, false, { textrel: true, execstack: true }))));
    expect(info.textrel).toBe(true);
    expect(info.execstack).toBe(true);
    info = readElf(write('dftextrel.so', buildElf(options(64, false, { flags: 0x4, execstack: undefined }))));
    expect(info.textrel).toBe(true);
    expect(info.execstack).toBeNull();
    expect(info.staticTlsModel).toBe(false);
  });

  it('an executable and an object file', () => {
    expect(readElf(write('exec', buildElf(options(64, false, { type: 2 })))).type).toBe('exec');
    expect(readElf(write('rel.o', buildElf(options(64, false, { type: 1 })))).type).toBe('rel');
    expect(readElf(write('core', buildElf(options(64, false, { type: 4 })))).type).toBe('core');
    expect(readElf(write('other', buildElf(options(64, false, { type: 0x1234 })))).type).toBe('other');
  });

  it('header-only 32-bit and big-endian files report class and machine', () => {
    for (const [cls, be, machine, name] of [
      [32, false, 40, 'arm'],
      [64, true, 21, 'ppc64'],
      [64, false, 243, 'riscv64'],
      [64, false, 183, 'aarch64'],
      [64, false, 0x7777, 'unknown-30583'],
    ] as const) {
      const ehsize = cls === 64 ? 64 : 52;
      const b = Buffer.alloc(ehsize);
      b.set([0x7f, 0x45, 0x4c, 0x46, cls === 64 ? 2 : 1, be ? 2 : 1, 1]);
      const w16 = (off: number, val: number): void => {
        if (be) b.writeUInt16BE(val, off);
        else b.writeUInt16LE(val, off);
      };
      w16(16, 3);
      w16(18, machine);
      w16(cls === 64 ? 52 : 40, ehsize);
      const info = readElf(write(`hdr-${cls}-${be}-${machine}`, b));
      expect(info.class).toBe(cls);
      expect(info.endian).toBe(be ? 'big' : 'little');
      expect(info.machine).toBe(machine);
      expect(info.machineName).toBe(name);
      expect(info.exports).toEqual([]);
      expect(info.soname).toBeNull();
    }
  });
});

describe('bad input', () => {
  it('missing file, directory, device, FIFO', () => {
    expect(codeOf(() => readElf(path.join(tmp, 'does-not-exist.so')))).toBe('ERR_DLSWAP_NOT_FOUND');
    expect(codeOf(() => readElf(path.join(tmp, 'no-dir', 'x.so')))).toBe('ERR_DLSWAP_NOT_FOUND');
    expect(codeOf(() => readElf(tmp))).toBe('ERR_DLSWAP_NOT_A_FILE');
    expect(codeOf(() => readElf('/dev/null'))).toBe('ERR_DLSWAP_NOT_A_FILE');
    const fifo = path.join(tmp, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      // Must not block in open().
      expect(codeOf(() => readElf(fifo))).toBe('ERR_DLSWAP_NOT_A_FILE');
    }
  });

  it('unreadable file', () => {
    const p = write('unreadable.so', buildElf({ cls: 64, be: false, machine: 62 }));
    fs.chmodSync(p, 0);
    const code = codeOf(() => readElf(p));
    if (process.getuid?.() !== 0) expect(code).toBe('ERR_DLSWAP_ACCESS');
    else {
      // root reads anything; without that bypass (a child) it cannot.
      expect(code).toBeUndefined();
      const r = runChild(`try { dlswap.readElf(${JSON.stringify(p)}); console.log('read'); } catch (e) { console.log(e.code); }`, { as: ROOT_WITHOUT_BYPASS });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('ERR_DLSWAP_ACCESS');
    }
  });

  it('argument errors', () => {
    const read = readElf as unknown as (p: unknown) => unknown;
    expect(codeOf(() => read(42))).toBe('ERR_DLSWAP_ARG');
    expect(codeOf(() => read(''))).toBe('ERR_DLSWAP_ARG');
    expect(codeOf(() => read('a\0b'))).toBe('ERR_DLSWAP_ARG');
  });

  it('empty, not ELF, archive, script', () => {
    expect(codeOf(() => readElf(write('empty.so', '')))).toBe('ERR_DLSWAP_EMPTY_FILE');
    expect(codeOf(() => readElf(write('text.so', 'hello world\n')))).toBe('ERR_DLSWAP_NOT_ELF');
    expect(codeOf(() => readElf(write('tiny.so', 'x')))).toBe('ERR_DLSWAP_NOT_ELF');
    expect(codeOf(() => readElf(write('lib.a', '!<arch>\nfoo.o/  ')))).toBe('ERR_DLSWAP_NOT_ELF');
    expect(() => readElf(path.join(tmp, 'lib.a'))).toThrow(/static archive/);
    expect(codeOf(() => readElf(write('magic-only.so', Buffer.from([0x7f, 0x45, 0x4c, 0x46]))))).toBe('ERR_DLSWAP_BAD_ELF');
  });

  it('bad class and byte order', () => {
    const base = buildElf({ cls: 64, be: false, machine: 62 });
    const badClass = Buffer.from(base);
    badClass[4] = 3;
    expect(codeOf(() => readElf(write('badclass.so', badClass)))).toBe('ERR_DLSWAP_BAD_ELF');
    const badData = Buffer.from(base);
    badData[5] = 0;
    expect(codeOf(() => readElf(write('baddata.so', badData)))).toBe('ERR_DLSWAP_BAD_ELF');
  });

  it('inconsistent header sizes and program headers out of the file', () => {
    for (const cls of [64, 32] as const) {
      const base = buildElf({ cls, be: false, machine: cls === 64 ? 62 : 3, symbols: [{ name: 'f' }] });
      const bad = (field: Parameters<typeof ehdrField>[1], value: bigint | number): string | undefined => {
        const b = Buffer.from(base);
        writeField(b, ehdrField(cls, field), value);
        return codeOf(() => readElf(write(`bad-${cls}-${field}-${value}.so`, b)));
      };
      expect(bad('e_ehsize', 10)).toBe('ERR_DLSWAP_BAD_ELF');
      expect(bad('e_phentsize', 12)).toBe('ERR_DLSWAP_BAD_ELF');
      expect(bad('e_phnum', 0xfffe)).toBe('ERR_DLSWAP_BAD_ELF');
      expect(bad('e_phoff', base.length - 8)).toBe('ERR_DLSWAP_BAD_ELF');
      expect(bad('e_phoff', cls === 64 ? 0xffffffffffffffffn : 0xffffffff)).toBe('ERR_DLSWAP_BAD_ELF');
      // PN_XNUM without a section 0 to hold the real count.
      expect(bad('e_phnum', 0xffff)).toBe('ERR_DLSWAP_BAD_ELF');
    }
  });

  it('garbage section headers never crash and never change what the dynamic section says', () => {
    for (const cls of [64, 32] as const) {
      const base = buildElf({
        cls,
        be: false,
        machine: cls === 64 ? 62 : 3,
        soname: 'libg.so',
        symbols: [{ name: 'f' }, { name: 'g', shndx: 0 }],
        sections: true,
      });
      const good = readElf(write(`sect-${cls}.so`, base));
      expect(good.exports).toEqual(['f']);
      const values: (bigint | number)[] = [0, 1, 7, base.length - 1, base.length, base.length + 1000, 0xffffffff, 0x7fffffffffffffffn, 0xffffffffffffffffn];
      let n = 0;
      for (const field of ['e_shoff', 'e_shnum', 'e_shentsize', 'e_shstrndx'] as const) {
        for (const value of values) {
          const b = Buffer.from(base);
          writeField(b, ehdrField(cls, field), value);
          const info = readOrCodedError(write(`sect-${cls}-${n++}.so`, b));
          expect(typeof info).toBe('object');
          expect((info as ElfInfo).exports).toEqual(['f']);
          expect((info as ElfInfo).soname).toBe('libg.so');
        }
      }
      // Random bytes over the section header table itself.
      const shoff = Number(base.readBigUInt64LE(ehdrField(cls, 'e_shoff').off) & 0xffffffffn);
      const off = cls === 64 ? shoff : base.readUInt32LE(ehdrField(32, 'e_shoff').off);
      for (let i = 0; i < 50; i++) {
        const b = Buffer.from(base);
        for (let j = off; j < b.length; j++) if (Math.random() < 0.3) b[j] = Math.floor(Math.random() * 256);
        const info = readOrCodedError(write(`sect-rand-${cls}-${i}.so`, b));
        expect((info as ElfInfo).soname).toBe('libg.so');
      }
    }
  });

  it('without PT_DYNAMIC symbols still come from .dynsym', () => {
    const b = buildElf({ cls: 64, be: false, machine: 62, symbols: [{ name: 'only_in_sections' }], sections: true });
    // Turn PT_DYNAMIC (the second program header) into PT_NULL.
    b.writeUInt32LE(0, 64 + 56);
    const info = readElf(write('nodyn.so', b));
    expect(info.exports).toEqual(['only_in_sections']);
  });

  it('tables pointing outside the file are skipped with truncated set', () => {
    // DT_STRSZ far beyond the file: the dynamic strings cannot be read.
    const b = buildElf({ cls: 64, be: false, machine: 62, soname: 'libx.so', symbols: [{ name: 'f' }] });
    const dynOff = Number(b.readBigUInt64LE(64 + 56 + 8));
    const dynSz = Number(b.readBigUInt64LE(64 + 56 + 32));
    for (let at = dynOff; at < dynOff + dynSz; at += 16) {
      if (b.readBigUInt64LE(at) === 10n) b.writeBigUInt64LE(0xfffffffffn, at + 8);
    }
    const info = readElf(write('bigstrsz.so', b));
    expect(info.truncated).toBe(true);
    expect(info.soname).toBeNull();
    // PT_DYNAMIC offset past the end.
    const c = buildElf({ cls: 64, be: false, machine: 62, soname: 'libx.so' });
    c.writeBigUInt64LE(BigInt(c.length + 4096), 64 + 56 + 8);
    expect(readElf(write('dynpast.so', c)).truncated).toBe(true);
  });

  it('a huge symbol count from DT_HASH is refused, not allocated', () => {
    const b = buildElf({ cls: 64, be: false, machine: 62, symbols: [{ name: 'f' }] });
    const dynOff = Number(b.readBigUInt64LE(64 + 56 + 8));
    let hashOff = 0;
    for (let at = dynOff; ; at += 16) {
      const tag = b.readBigUInt64LE(at);
      if (tag === 0n) break;
      if (tag === 4n) hashOff = Number(b.readBigUInt64LE(at + 8));
    }
    b.writeUInt32LE(0xffffffff, hashOff + 4);
    const info = readElf(write('hugehash.so', b));
    expect(info.truncated).toBe(true);
    expect(info.exports).toEqual([]);
  });

  it('truncated real libraries at many offsets', () => {
    const sources = [haveFixtures ? fixture('libbasic_v1.so') : null, haveFixtures ? fixture('libcerr.so') : null, libz].filter((p): p is string => p !== null);
    for (const src of sources) {
      const data = fs.readFileSync(src);
      const cuts = new Set<number>();
      for (let i = 1; i < 256; i++) cuts.add(i);
      for (let i = 256; i < data.length; i += Math.max(1, Math.floor(data.length / 300))) cuts.add(i);
      const p = path.join(tmp, 'cut.so');
      for (const n of cuts) {
        fs.writeFileSync(p, data.subarray(0, n));
        const r = readOrCodedError(p);
        if (n < 64) expect(r).toBe(n < 4 ? 'ERR_DLSWAP_NOT_ELF' : 'ERR_DLSWAP_BAD_ELF');
      }
    }
  });

  it('random mutations of real libraries', () => {
    const sources = [haveFixtures ? fixture('libunique.so') : null, libz].filter((p): p is string => p !== null);
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const p = path.join(tmp, 'mut.so');
    for (const src of sources) {
      const data = fs.readFileSync(src);
      for (let i = 0; i < 300; i++) {
        const b = Buffer.from(data);
        const k = 1 + rand(16);
        for (let j = 0; j < k; j++) b[rand(Math.min(b.length, 8192))] = rand(256);
        fs.writeFileSync(p, b);
        readOrCodedError(p);
      }
    }
  });

  it('a large sparse file that is not ELF, and one with a valid header', () => {
    const p = path.join(tmp, 'huge.bin');
    const fd = fs.openSync(p, 'w');
    fs.ftruncateSync(fd, 3 * 1024 * 1024 * 1024);
    fs.closeSync(fd);
    expect(codeOf(() => readElf(p))).toBe('ERR_DLSWAP_NOT_ELF');
    const head = buildElf({ cls: 64, be: false, machine: 62, soname: 'libhuge.so' });
    const fd2 = fs.openSync(p, 'r+');
    fs.writeSync(fd2, head, 0, head.length, 0);
    fs.closeSync(fd2);
    const info = readElf(p);
    expect(info.soname).toBe('libhuge.so');
    expect(info.fileSize).toBe(3 * 1024 * 1024 * 1024);
  });
});

describe('fuzzing under AddressSanitizer', () => {
  const gxx = spawnSync('g++', ['--version']).status === 0;
  it.skipIf(!gxx)(
    'mutated fixtures and synthetic files',
    () => {
      const exe = path.join(tmp, 'elf_fuzz');
      const build = spawnSync(
        'g++',
        [
          '-std=c++17',
          '-g',
          '-O1',
          '-fsanitize=address,undefined',
          '-fno-sanitize-recover=all',
          `-I${path.join(root, 'native')}`,
          path.join(root, 'native', 'elf', 'elf_reader.cc'),
          path.join(root, 'native', 'loader', 'dynamic_names.cc'),
          path.join(root, 'test', 'fuzz', 'elf_fuzz.cc'),
          '-o',
          exe,
        ],
        { encoding: 'utf8' },
      );
      expect(build.stderr).toBe('');
      expect(build.status).toBe(0);
      const seeds: string[] = [];
      for (const [cls, be, machine] of [
        [64, false, 62],
        [64, true, 22],
        [32, false, 3],
        [32, true, 20],
      ] as const) {
        for (const hash of ['sysv', 'gnu'] as const) {
          seeds.push(
            write(
              `seed-${cls}-${be}-${hash}.so`,
              buildElf({
                cls,
                be,
                machine,
                hash,
                sections: true,
                soname: 'libseed.so',
                needed: ['libc.so.6'],
                rpath: '$ORIGIN',
                symbols: [{ name: 'a' }, { name: 'b', shndx: 0 }, { name: 'u', bind: 10, type: 1 }],
                copyRelocs: [1],
                buildId: Buffer.alloc(20, 0xab),
                tls: { memsz: 8, filesz: 8, align: 8 },
                execstack: false,
              }),
            ),
          );
        }
      }
      if (haveFixtures) {
        seeds.push(fixture('libbasic_v1.so'), fixture('libunique.so'), fixture('libcerr.so'), fixture('libpriv_v1.so'));
        seeds.push(fixture('seed001/v1/libmyservice.so'), fixture('seed001/v1/libhelper.so.1'), fixture('closure_v1/q'));
      }
      if (libz) seeds.push(libz);
      const iterations = process.env.DLSWAP_FUZZ_ITERATIONS ?? '5000';
      const run = spawnSync(exe, [iterations, String(Date.now() % 1_000_000), tmp, ...seeds], {
        encoding: 'utf8',
        env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS: 'print_stacktrace=1' },
        timeout: 120_000,
      });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const outcome = JSON.parse(run.stdout) as Record<string, number>;
      expect(outcome.iterations).toBe(Number(iterations));
      // The private-copy rename ran on every file that read, and succeeded on some of them.
      expect(outcome['rename-ok']).toBeGreaterThan(0);
    },
    180_000,
  );
});

describe('readElfBytes', () => {
  it('reads bytes already in memory exactly as readElf reads the file, naming them as told', () => {
    for (const name of ['libplugin_v1.so', 'libtypes.so', 'libunique.so']) {
      const file = fixture(name);
      expect(readElfBytes(fs.readFileSync(file), file)).toEqual(readElf(file));
    }
    const v1 = fs.readFileSync(fixture('libplugin_v1.so'));
    expect(() => readElfBytes(Buffer.alloc(0), 'x.so')).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_EMPTY_FILE', message: expect.stringMatching(/^x\.so is empty/) }),
    );
    expect(() => readElfBytes(Buffer.from('INPUT(-lc)'), 'x.so')).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_NOT_ELF', message: expect.stringMatching(/linker script/) }),
    );
    expect(() => readElfBytes(v1.subarray(0, 20), 'x.so')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_BAD_ELF' }));
    expect(readElfBytes(v1.subarray(0, 2000), 'half.so').truncated).toBe(true);
    expect(() => readElfBytes('not bytes' as never, 'x.so')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
  });
});
