import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { open, type Library, namespaceBudget } from '../../lib/load/library';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { privateDir, privateFiles } from '../../lib/load/temp_area';
import { fixture, privateMappings, ROOT_WITHOUT_BYPASS, runChild, underAsan } from '../helpers';

const opened: Library[] = [];
// Images a test proved to be pinned (they stay mapped for the life of the process, by design).
const pinned = new Set<string>();
function load(name: string, isolation: Isolation, extra: Record<string, unknown> = {}): Library {
  const lib = open(fixture(name), { isolation, ...extra });
  opened.push(lib);
  return lib;
}

afterEach(async () => {
  for (const lib of opened.splice(0)) await lib.close();
  // Nothing of a finished test stays behind: no private copy, no mapping of one.
  expect(leftFiles()).toEqual([]);
  expect(leftMappings()).toEqual([]);
});

/** Files of the private directory, except the copies of images a test proved pinned (a copy stays as long as its image). */
function leftFiles(): string[] {
  return privateFiles().filter((f) => ![...pinned].some((p) => path.basename(p) === f));
}

/** Mappings of private copies, except images a test proved pinned. */
function leftMappings(): string[] {
  return privateMappings(privateDir()).filter((l) => ![...pinned].some((p) => l.includes(p)));
}

function readelfBuildId(file: string): string {
  const out = execFileSync('readelf', ['-n', file], { encoding: 'utf8' });
  return /Build ID: ([0-9a-f]+)/.exec(out)![1];
}

describe.each(ISOLATION_MODES)('isolation %s', (mode) => {
  it('opens a library and describes what it mapped', () => {
    const lib = load('libbasic_v1.so', mode);
    const { info } = lib;
    expect(info.path).toBe(fixture('libbasic_v1.so'));
    expect(info.realPath).toBe(fs.realpathSync(fixture('libbasic_v1.so')));
    expect(info.isolation).toBe(mode);
    expect(info.mappedPath.startsWith(privateDir() + path.sep)).toBe(true);
    expect(info.mappedPath.endsWith('libbasic_v1.so')).toBe(true);
    expect(info.buildId).toBe(readelfBuildId(fixture('libbasic_v1.so')));
    expect(info.size).toBe(fs.statSync(fixture('libbasic_v1.so')).size);
    if (mode === 'local' || mode === 'deepbind') expect(info.lmid).toBe(0);
    else expect(info.lmid).toBeGreaterThan(0);
    // The copy stays as long as it is mapped, under the name the link map and the mappings give
    // (what debuggers and profilers open); it goes with the mapping (afterEach).
    expect(fs.existsSync(info.mappedPath)).toBe(true);
    expect(fs.statSync(info.mappedPath).size).toBe(info.size);
    expect(privateMappings(privateDir()).length).toBeGreaterThan(0);
    expect(typeof lib.symbol('add')).toBe('bigint');
    expect(lib.symbol('add')).toBeGreaterThan(0n);
  });

  it('names the symbol and the library when a symbol is missing', () => {
    const lib = load('libbasic_v1.so', mode);
    expect(() => lib.symbol('no_such_function')).toThrow(
      expect.objectContaining({
        code: 'ERR_DLSWAP_SYMBOL_NOT_FOUND',
        message: expect.stringMatching(/no_such_function.*libbasic_v1\.so/),
      }),
    );
  });

  it('isolates two generations of one library from each other', () => {
    const v1 = load('libbasic_v1.so', mode);
    const v2 = load('libbasic_v2.so', mode);
    expect(v1.func('int version(void)')()).toBe(1);
    expect(v2.func('int version(void)')()).toBe(2);
    // call_internal reaches internal_target through the PLT: each generation must bind its own.
    expect(v1.func('int call_internal(void)')()).toBe(100);
    expect(v2.func('int call_internal(void)')()).toBe(200);
    // State is per generation.
    const n1 = v1.func('int counter_next(void)');
    const n2 = v2.func('int counter_next(void)');
    expect([n1(), n1(), n2()]).toEqual([1, 2, 1]);
  });

  it('opening the same file twice loads two independent copies', () => {
    const a = load('libbasic_v1.so', mode);
    const b = load('libbasic_v1.so', mode);
    expect(a.info.mappedPath).not.toBe(b.info.mappedPath);
    expect(a.symbol('add')).not.toBe(b.symbol('add'));
    const na = a.func('int counter_next(void)');
    const nb = b.func('int counter_next(void)');
    expect([na(), na(), nb()]).toEqual([1, 2, 1]);
  });

  it(`${mode === 'local' ? 'is' : 'is not'} interposed by node's crc32`, () => {
    // node exports zlib's crc32; crc32(0, NULL, 0) there is 0. The library's own returns a marker.
    if (mode === 'local') {
      // Refused up front: its own call to crc32 goes through the PLT, and node's comes first.
      expect(() => load('libcrc_clash.so', mode)).toThrow(
        expect.objectContaining({ code: 'ERR_DLSWAP_UNSAFE_MODE', message: expect.stringMatching(/calls its own crc32 .*'namespace'/) }),
      );
    }
    const lib = load('libcrc_clash.so', mode, mode === 'local' ? { force: true } : {});
    const r = lib.func('unsigned long call_crc32(void)')();
    expect(r).toBe(mode === 'local' ? 0n : 0xd15a0001n);
  });

  it('runs constructors before the first call', () => {
    const lib = load('libctor.so', mode);
    expect(lib.func('int ctor_value(void)')()).toBe(1234);
  });

  it('reports a plain C library as unloaded after close', async () => {
    const lib = open(fixture('libbasic_v1.so'), { isolation: mode });
    const mapped = lib.info.mappedPath;
    const r = await lib.close();
    expect(r.unloaded).toBe(true);
    expect(r.reason).toBeUndefined();
    expect(privateMappings(privateDir()).some((l) => l.includes(mapped))).toBe(false);
    if (mode === 'fresh-namespace') expect(r.namespaceFreed).toBe(true);
  });

  if (mode !== 'deepbind') {
    it('reports a library with STB_GNU_UNIQUE symbols as pinned, with the reason', async () => {
      const lib = open(fixture('libunique.so'), { isolation: mode });
      const next = lib.func('int unique_next(void)');
      expect([next(), next()]).toEqual([1, 2]);
      pinned.add(lib.info.mappedPath);
      const r = await lib.close();
      expect(r.unloaded).toBe(false);
      expect(r.reason).toMatch(/STB_GNU_UNIQUE/);
      expect(r.reason).toMatch(/unique/);
      expect(() => next()).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_CLOSED' }));
    });
  }

  it('rejects bad input with a code and leaves nothing behind', () => {
    const cases: [string, string][] = [
      [path.join(os.tmpdir(), 'dlswap-no-such-file.so'), 'ERR_DLSWAP_NOT_FOUND'],
      [os.tmpdir(), 'ERR_DLSWAP_NOT_A_FILE'],
      [fixture('libmissingdep.so'), 'ERR_DLSWAP_DEPENDENCY_NOT_FOUND'],
      [fixture('libunresolved.so'), 'ERR_DLSWAP_UNRESOLVED_SYMBOL'],
    ];
    for (const [file, code] of cases) {
      expect(() => open(file, { isolation: mode }), file).toThrow(expect.objectContaining({ code }));
      expect(leftFiles()).toEqual([]);
    }
  });
});

describe('bad files', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-bad-'));
    const real = fs.readFileSync(fixture('libbasic_v1.so'));
    fs.writeFileSync(path.join(dir, 'empty.so'), '');
    fs.writeFileSync(path.join(dir, 'text.so'), 'this is not a shared library\n');
    fs.writeFileSync(path.join(dir, 'truncated.so'), real.subarray(0, 2000));
    fs.writeFileSync(path.join(dir, 'header-only.so'), real.subarray(0, 40));
    const arm = Buffer.from(real);
    arm.writeUInt16LE(183, 18); // e_machine = EM_AARCH64
    fs.writeFileSync(path.join(dir, 'aarch64.so'), arm);
    // A minimal 32-bit i386 ET_DYN header: another class.
    const h32 = Buffer.alloc(52);
    h32.write('\x7fELF', 0, 'latin1');
    h32[4] = 1; // ELFCLASS32
    h32[5] = 1; // little endian
    h32[6] = 1; // EV_CURRENT
    h32.writeUInt16LE(3, 16); // ET_DYN
    h32.writeUInt16LE(3, 18); // EM_386
    h32.writeUInt32LE(1, 20);
    h32.writeUInt16LE(52, 40); // e_ehsize
    h32.writeUInt16LE(32, 42); // e_phentsize
    h32.writeUInt16LE(40, 46); // e_shentsize
    fs.writeFileSync(path.join(dir, 'i386.so'), h32);
    return () => fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['empty.so', 'ERR_DLSWAP_EMPTY_FILE'],
    ['text.so', 'ERR_DLSWAP_NOT_ELF'],
    ['truncated.so', 'ERR_DLSWAP_BAD_ELF'],
    ['header-only.so', 'ERR_DLSWAP_BAD_ELF'],
    ['aarch64.so', 'ERR_DLSWAP_WRONG_ARCH'],
    ['i386.so', 'ERR_DLSWAP_WRONG_ARCH'],
  ])('%s → %s, nothing left behind', (name, code) => {
    for (const isolation of ISOLATION_MODES.filter((m) => m !== 'deepbind' || !underAsan)) {
      let err: unknown;
      try {
        open(path.join(dir, name), { isolation });
      } catch (e) {
        err = e;
      }
      expect(err, isolation).toMatchObject({ code });
      // The message names the user's file, never dlswap's private copy.
      expect((err as Error).message).toContain(path.join(dir, name));
      expect((err as Error).message).not.toContain(privateDir());
      expect(leftFiles()).toEqual([]);
      expect(leftMappings()).toEqual([]);
    }
  });

  it('rejects an unreadable file with ERR_DLSWAP_ACCESS', () => {
    const file = path.join(dir, 'unreadable.so');
    fs.copyFileSync(fixture('libbasic_v1.so'), file);
    fs.chmodSync(file, 0o000);
    const script = `try { dlswap.open(${JSON.stringify(file)}); console.log('opened'); } catch (e) { console.log(e.code); }`;
    // root reads anything, so as root the child runs without that bypass (still root: it reaches
    // the checkout wherever it lives).
    const asRoot = process.getuid?.() === 0;
    const r = runChild(script, asRoot ? { as: ROOT_WITHOUT_BYPASS } : {});
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ERR_DLSWAP_ACCESS');
  });

  it('rejects arguments and modes it cannot honour', () => {
    expect(() => open('')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
    expect(() => open(fixture('libbasic_v1.so'), { isolation: 'global' as Isolation })).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringContaining("'fresh-namespace'") }),
    );
    expect(() => open(fixture('libpriv_v1.so'), { shareDependencies: ['dir/libprivdep.so'] })).toThrow(
      expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringContaining("without '/'") }),
    );
    expect(leftFiles()).toEqual([]);
  });

  it('refuses a file whose content differs from the pinned sha256', () => {
    expect(() => open(fixture('libbasic_v1.so'), { sha256: '0'.repeat(64) })).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_INTEGRITY' }));
    expect(leftFiles()).toEqual([]);
  });
});

describe('C++ and the deepbind hazard', () => {
  it('refuses a C++ library that imports std::cerr in deepbind, naming the symbols', () => {
    let err: Error & { code?: string } = new Error();
    try {
      open(fixture('libcerr.so'), { isolation: 'deepbind' });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('ERR_DLSWAP_UNSAFE_MODE');
    expect(err.message).toContain('_ZSt4cerr');
    expect(err.message).toContain("'namespace'");
    expect(leftFiles()).toEqual([]);
  });

  it.each(['local', 'namespace', 'fresh-namespace'] as const)('writes to std::cerr safely in %s', (mode) => {
    const lib = load('libcerr.so', mode);
    expect(lib.func('int cerr_hello(void)')()).toBe(42);
  });

  // The hazard is real: the first write to std::cerr dereferences libstdc++'s never-constructed
  // stream and faults inside libstdc++. In a call through dlswap that fault is contained
  // (docs/faults.md), so it shows as ERR_DLSWAP_FAULT naming the library, which is then
  // quarantined; outside a call (the library's own thread) it would end the process.
  it('the crash it prevents is real: deepbind + force + std::cerr faults in libstdc++, contained as ERR_DLSWAP_FAULT', () => {
    const r = runChild(
      `const lib = dlswap.open(${JSON.stringify(fixture('libcerr.so'))}, { isolation: 'deepbind', force: true });
       const hello = lib.func('int cerr_hello(void)');
       const out = {};
       try { out.value = hello(); } catch (e) { out.code = e.code; out.fault = e.fault; }
       try { hello(); } catch (e) { out.after = e.code; }
       lib.close().then((c) => {
         out.quarantined = c.quarantined;
         console.log(JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
       });`,
    );
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ code: 'ERR_DLSWAP_FAULT', after: 'ERR_DLSWAP_FAULTED', quarantined: true });
    expect(out.fault).toMatchObject({ signal: 'SIGSEGV', function: 'cerr_hello', library: fixture('libcerr.so') });
    // Inside libstdc++'s stream code, called from the library: the innermost frame is libstdc++'s,
    // the first of the library's own is cerr_hello.
    expect(out.fault.frames[0].object).toMatch(/libstdc\+\+\.so/);
    expect(out.fault.frames.find((f: { inLibrary: boolean }) => f.inLibrary)).toMatchObject({ symbol: 'cerr_hello' });
    expect(out.fault.where).toMatch(/in libstdc\+\+\.so\.6, called from cerr_hello\+0x[0-9a-f]+ in \S*libcerr\.so$/);
  });
});

describe('private dependencies', () => {
  // Each mode gives each open its own copy of a dependency it ships (test/load/private_deps.test.ts has
  // the rest: nested, versioned, short and nameless dependencies, sharing, refusals, 1,000 reloads).
  it.each(ISOLATION_MODES.filter((m) => m !== 'deepbind' || !underAsan))('%s gives each generation its own dependency of the same soname', (mode) => {
    const v1 = load('libpriv_v1.so', mode);
    const v2 = load('libpriv_v2.so', mode);
    expect(v1.func('int priv_value(void)')()).toBe(1);
    expect(v2.func('int priv_value(void)')()).toBe(2);
    const dep = v1.info.dependencies.find((d) => d.name === 'libprivdep.so')!;
    expect(dep).toMatchObject({ kind: 'private', foundVia: 'RUNPATH', searchEntry: '$ORIGIN/privdep_v1', soname: 'libprivdep.so' });
    expect(dep.file).toMatch(/privdep_v1\/libprivdep\.so$/);
    expect(dep.boundTo).toBe(dep.file);
    expect(dep.privateName).toHaveLength('libprivdep.so'.length);
    expect(dep.privateName).not.toBe('libprivdep.so');
  });

  it.each(ISOLATION_MODES.filter((m) => m !== 'deepbind' || !underAsan))('%s shares a dependency listed in shareDependencies', (mode) => {
    const v1 = load('libpriv_v1.so', mode, { shareDependencies: ['libprivdep.so'] });
    const v2 = load('libpriv_v2.so', mode, { shareDependencies: ['libprivdep.so'] });
    expect(v1.func('int priv_value(void)')()).toBe(1);
    expect(v2.func('int priv_version(void)')()).toBe(2);
    // fresh-namespace: every open is a namespace of its own, so "shared" can only mean "as it is".
    expect(v2.func('int priv_value(void)')()).toBe(mode === 'fresh-namespace' ? 2 : 1);
    expect(v2.info.dependencies.find((d) => d.name === 'libprivdep.so')).toMatchObject({ kind: 'shared', copy: null, privateName: null });
  });
});

describe('namespace mode', () => {
  it('survives 2,000 open/close cycles without exhausting static TLS', async () => {
    for (let i = 0; i < 2000; i++) {
      const lib = open(fixture(i % 2 ? 'libbasic_v2.so' : 'libbasic_v1.so'), { isolation: 'namespace' });
      if (i % 250 === 0) expect(lib.func('int version(void)')()).toBe((i % 2) + 1);
      const r = await lib.close();
      if (!r.unloaded) throw new Error(`cycle ${i}: ${r.reason}`);
    }
    expect(leftMappings()).toEqual([]);
  }, 120_000);

  it('flushes the namespace stdio on close (otherwise buffered output is lost)', () => {
    const r = runChild(
      `const lib = dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}, { isolation: 'namespace' });
       // puts resolves in the library's scope: the namespace's own libc, buffering into a pipe.
       lib.func('int puts(const char *s)')('written-inside-the-namespace');
       lib.close().then(() => process.exit(0));`,
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('written-inside-the-namespace');
  });

  it('frees memory with the allocator of the library namespace', () => {
    const lib = load('libtypes.so', 'namespace');
    const dup = lib.func('void *dup_upper(const char *s)');
    for (let i = 0; i < 1000; i++) lib.free(dup('hello') as bigint);
    expect(lib.free(null)).toBeUndefined();
  });
});

describe('fresh-namespace budget', () => {
  it('counts live namespaces', async () => {
    const before = namespaceBudget().freshNamespaces;
    const lib = open(fixture('libbasic_v1.so'), { isolation: 'fresh-namespace' });
    expect(namespaceBudget().freshNamespaces).toBe(before + 1);
    await lib.close();
    expect(namespaceBudget().freshNamespaces).toBe(before);
  });

  it('reports exhaustion with ERR_DLSWAP_NAMESPACE_EXHAUSTED and the GLIBC_TUNABLES fix', () => {
    // libcerr pulls libstdc++ into each namespace, which is then never freed: run it in a child.
    const r = runChild(
      `const libs = [];
       try { for (let i = 0; i < 40; i++) libs.push(dlswap.open(${JSON.stringify(fixture('libcerr.so'))}, { isolation: 'fresh-namespace' })); console.log('never'); }
       catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, opened: libs.length, budget: dlswap.namespaceBudget() })); }`,
    );
    const out = JSON.parse(r.stdout);
    expect(out.code).toBe('ERR_DLSWAP_NAMESPACE_EXHAUSTED');
    expect(out.message).toContain('GLIBC_TUNABLES=glibc.rtld.nns=16');
    expect(out.opened).toBeGreaterThan(3);
    expect(out.opened).toBeLessThan(16);
  });

  // Reloads open the new generation before they close the old one: glibc gives a namespace's static
  // TLS back only when it is the last one allocated, so nothing is ever given back, however many
  // generations closed. namespaceBudget().lifetimeLimit is the exact count; closing first is not limited.
  const reloadPattern = (closeFirst: boolean) => `
    const f = ${JSON.stringify(fixture('libbasic_v1.so'))};
    (async () => {
      let prev = dlswap.open(f, { isolation: 'fresh-namespace' }), opens = 1, error = null;
      for (let i = 0; i < 60; i++) {
        try {
          if (${closeFirst}) { await prev.close(); prev = dlswap.open(f, { isolation: 'fresh-namespace' }); }
          else { const next = dlswap.open(f, { isolation: 'fresh-namespace' }); await prev.close(); prev = next; }
          opens++;
        } catch (e) { error = { code: e.code, message: e.message }; break; }
      }
      console.log(JSON.stringify({ opens, error, budget: dlswap.namespaceBudget() }));
    })();`;

  it.each([
    ['default tunables', '', 11],
    ['glibc.rtld.nns=8', 'glibc.rtld.nns=8', 19],
  ])('reloads with %s: exactly lifetimeLimit namespaces in all, and the error says why in numbers', (_, tunables, expected) => {
    const r = runChild(reloadPattern(false), { env: { GLIBC_TUNABLES: tunables } });
    const out = JSON.parse(r.stdout);
    expect(out.budget.lifetimeLimit).toBe(expected);
    expect(out.opens).toBe(expected);
    expect(out.budget.created).toBe(expected);
    expect(out.error.code).toBe('ERR_DLSWAP_NAMESPACE_EXHAUSTED');
    expect(out.error.message).toContain(`This process has created ${expected} namespaces`);
    expect(out.error.message).toContain(`so a process can create ${expected} that way in all (the first open and ${expected - 1} reloads)`);
    expect(out.budget.staticTls).toEqual({ surplus: expect.any(Number), perNamespace: expect.any(Number) });
  });

  it('closing the old generation first gives its static TLS back: no such limit', () => {
    const out = JSON.parse(runChild(reloadPattern(true)).stdout);
    expect(out.error).toBeNull();
    expect(out.opens).toBe(61);
  });
});

describe('temp area', () => {
  it('is private: 0700 and owned by this user', () => {
    const st = fs.statSync(privateDir());
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.uid).toBe(process.getuid!());
    expect(fs.statSync(path.dirname(privateDir())).mode & 0o777).toBe(0o700);
  });

  it('at exit, leaves only the copies of libraries still open, for profilers; the next process sweeps them', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-exit-'));
    try {
      const userRoot = path.join(tmp, `dlswap-${process.getuid!()}`);
      // Closed before exit: nothing is left.
      const closed = runChild(`dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}).close().then(() => console.log('ok'));`, {
        env: { DLSWAP_TMPDIR: tmp },
      });
      expect(closed.stdout.trim()).toBe('ok');
      expect(fs.readdirSync(userRoot)).toEqual([]);
      // Open at exit: its copy stays (perf reads the files it sampled once the program has exited).
      const open = runChild(`console.log(dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}).info.mappedPath);`, { env: { DLSWAP_TMPDIR: tmp } });
      const copy = open.stdout.trim();
      expect(fs.existsSync(copy)).toBe(true);
      expect(fs.readdirSync(userRoot)).toEqual([path.basename(path.dirname(copy))]);
      expect(fs.readdirSync(path.dirname(copy))).toEqual([path.basename(copy)]);
      // The next process removes it, as it removes what a killed process left.
      const next = runChild(`dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}).close().then(() => console.log('ok'));`, {
        env: { DLSWAP_TMPDIR: tmp },
      });
      expect(next.stdout.trim()).toBe('ok');
      expect(fs.readdirSync(userRoot)).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the next process removes what a killed process left', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-kill-'));
    try {
      const killed = runChild(`dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}); process.kill(process.pid, 'SIGKILL');`, {
        env: { DLSWAP_TMPDIR: tmp },
      });
      expect(killed.signal).toBe('SIGKILL');
      const userRoot = path.join(tmp, `dlswap-${process.getuid!()}`);
      expect(fs.readdirSync(userRoot)).toHaveLength(1);
      const next = runChild(
        `const lib = dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))});
         console.log(require('fs').readdirSync(${JSON.stringify(userRoot)}).length);`,
        { env: { DLSWAP_TMPDIR: tmp } },
      );
      expect(next.stdout.trim()).toBe('1'); // its own directory only
      // Which stays, with the copy of the library it left open, for the process after it to sweep.
      expect(fs.readdirSync(userRoot)).toHaveLength(1);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('refuses a temp root that is a symlink or owned by someone else', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-evil-'));
    try {
      const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-target-'));
      fs.symlinkSync(elsewhere, path.join(tmp, `dlswap-${process.getuid!()}`));
      const r = runChild(
        `try { dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}); console.log('opened'); } catch (e) { console.log(e.code, e.message); }`,
        { env: { DLSWAP_TMPDIR: tmp } },
      );
      expect(r.stdout).toMatch(/^ERR_DLSWAP_TEMP_AREA .*symbolic link/);
      fs.rmSync(elsewhere, { recursive: true, force: true });
      if (process.getuid!() === 0) {
        fs.unlinkSync(path.join(tmp, 'dlswap-0'));
        fs.mkdirSync(path.join(tmp, 'dlswap-0'), { mode: 0o700 });
        fs.chownSync(path.join(tmp, 'dlswap-0'), 65534, 65534);
        const r2 = runChild(
          `try { dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}); console.log('opened'); } catch (e) { console.log(e.code, e.message); }`,
          { env: { DLSWAP_TMPDIR: tmp } },
        );
        expect(r2.stdout).toMatch(/^ERR_DLSWAP_TEMP_AREA .*owned by uid 65534/);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('packaging', () => {
  it('works from CommonJS and from ESM', () => {
    const cjs = runChild(`console.log(typeof require('dlswap').open, typeof dlswap.HotLibrary);`);
    expect(cjs.stdout.trim()).toMatch(/^function/);
    const esm = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `import { open } from 'dlswap'; import d from 'dlswap'; console.log(typeof open, d.open === open);`],
      { encoding: 'utf8', cwd: path.resolve(__dirname, '..', '..') },
    );
    expect(esm.trim()).toBe('function true');
  });
});

describe('process-wide loader state', () => {
  it('an emptied fresh namespace does not leave the loader lock held (other threads can dlopen)', async () => {
    const { Worker } = await import('node:worker_threads');
    const lib = open(fixture('libbasic_v1.so'), { isolation: 'fresh-namespace' });
    const lmid = BigInt(lib.info.lmid);
    expect((await lib.close()).namespaceFreed).toBe(true);
    // Probing the emptied namespace (budget, liveness) must not touch glibc's dl_load_lock.
    expect(namespaceBudget().freshNamespaces).toBeGreaterThanOrEqual(0);
    const { addon } = await import('../../lib/native');
    expect(addon.namespaceAlive(lmid)).toBe(false);
    const answer = await new Promise<string>((resolve, reject) => {
      const w = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const dlswap = require(workerData);
         const lib = dlswap.open(require('node:path').join(${JSON.stringify(fixture(''))}, 'libbasic_v1.so'));
         const v = String(lib.func('int version(void)')());
         lib.close().then(() => parentPort.postMessage(v));`,
        { eval: true, workerData: path.join(__dirname, '..', '..', 'dist', 'index.js') },
      );
      const timer = setTimeout(() => {
        void w.terminate();
        reject(new Error('the worker hung in dlopen: the loader lock was leaked'));
      }, 10_000);
      w.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as string);
      });
      w.once('error', reject);
    });
    expect(answer).toBe('1');
  });

  it.each(['namespace', 'fresh-namespace'] as const)('%s: getenv inside the namespace survives process.env changes', (mode) => {
    const before = load('libbasic_v1.so', mode);
    const getenvBefore = before.func('const char *getenv(const char *name)');
    // Grow the environment until glibc has to move (realloc + free) its environ array.
    for (let i = 0; i < 200; i++) process.env[`DLSWAP_TEST_GROW_${i}`] = 'x'.repeat(64);
    process.env.DLSWAP_TEST_VALUE = 'after';
    try {
      // The namespace opened before the change reads its own stable snapshot, never freed memory.
      expect(getenvBefore('PATH')).toBe(process.env.PATH);
      // A namespace library opened after the change sees the new environment.
      const after = load('libbasic_v2.so', mode);
      expect(after.func('const char *getenv(const char *name)')('DLSWAP_TEST_VALUE')).toBe('after');
    } finally {
      for (let i = 0; i < 200; i++) delete process.env[`DLSWAP_TEST_GROW_${i}`];
      delete process.env.DLSWAP_TEST_VALUE;
    }
  });
});
