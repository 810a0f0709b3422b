// Where containment stops (docs/faults.md, "What is not contained"): a fault under code that holds
// the dynamic loader's lock or dlswap's own state, or outside any call, is never turned into an
// error; it gets one report naming the library, then the signal's previous disposition (node's
// default: the process ends with the signal). And node's and V8's own handling keeps working:
// a WebAssembly out-of-bounds access still throws WebAssembly.RuntimeError after a contained fault,
// whether the other handler was installed before dlswap's (node's) or after it (a chaining one).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, runChild, underAsan } from '../helpers';

const LIB = JSON.stringify(fixture('libfaults_v1.so'));
const CTOR = JSON.stringify(fixture('libctor_fault.so'));
const MODES = ['local', 'deepbind', 'namespace', 'fresh-namespace'].filter((m) => !(underAsan && m === 'deepbind'));

// A module whose one function loads i32 at 256 MiB, far past its one page of memory.
const WASM_OOB = `
  const oob = () => {
    const bytes = new Uint8Array([0,0x61,0x73,0x6d,1,0,0,0, 1,5,1,0x60,0,1,0x7f, 3,2,1,0, 5,3,1,0,1, 7,5,1,1,0x66,0,0,
      0x0a,0x0d,1,0x0b,0,0x41,0x80,0x80,0x80,0x80,1,0x28,2,0,0x0b]);
    try { new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f(); return 'no trap'; }
    catch (e) { return e.constructor.name; }
  };`;

const REPORT_INSIDE = /^dlswap: SIGSEGV .* inside a call through dlswap, but under code that cannot be interrupted safely/m;
const REPORT_OUTSIDE = /^dlswap: SIGSEGV .*libfaults_v1\.so.* outside any call through dlswap, so it cannot be contained/m;

describe.each(MODES)('isolation %s: not contained', (mode) => {
  const open = `const lib = dlswap.open(${LIB}, { isolation: ${JSON.stringify(mode)} });`;

  it('a fault under dl_iterate_phdr (the loader lock held): reported, then the process ends with SIGSEGV', () => {
    const r = runChild(`${open} lib.func('int fault_under_loader_lock(void)')(); console.log('survived');`);
    expect(r.stdout).not.toContain('survived');
    expect(r.signal).toBe('SIGSEGV');
    expect(r.stderr).toMatch(REPORT_INSIDE);
  });

  it('a fault in the constructor of a library the call dlopens (inside the dynamic loader)', () => {
    const r = runChild(`${open} lib.func('int fault_in_dlopen(const char *path)')(${CTOR}); console.log('survived');`);
    expect(r.stdout).not.toContain('survived');
    expect(r.signal).toBe('SIGSEGV');
    expect(r.stderr).toMatch(REPORT_INSIDE);
  });

  it("a fault in dlswap's own code that the library called (its host's log function with a bad pointer)", () => {
    const r = runChild(`
      dlswap.HotLibrary.open(${LIB}, { isolation: ${JSON.stringify(mode)}, functions: { bad: 'int log_bad_pointer(void)' } })
        .then((hot) => { hot.fn.bad(); console.log('survived'); });`);
    expect(r.stdout).not.toContain('survived');
    expect(r.signal).toBe('SIGSEGV');
    expect(r.stderr).toMatch(REPORT_INSIDE);
    expect(r.stderr).toMatch(/log_bad_pointer\+0x[0-9a-f]+ in .*libfaults_v1\.so \(generation 1\)/);
  });

  it('a fault in a constructor while dlswap loads the library (inside the dynamic loader): one report naming it', () => {
    const r = runChild(`dlswap.openAsync(${CTOR}, { isolation: ${JSON.stringify(mode)} }).then(() => console.log('survived'));`);
    expect(r.stdout).not.toContain('survived');
    expect(r.signal).toBe('SIGSEGV');
    expect(r.stderr).toMatch(
      /^dlswap: SIGSEGV .* while dlswap was loading .*libctor_fault\.so, thread \d+: a fault in a constructor happens inside the dynamic loader/m,
    );
  });

  it('a fault in a thread the library started, outside any call: one report, then the process ends with SIGSEGV', () => {
    const r = runChild(`${open} lib.func('int start_crashing_thread(int ms)')(20); setTimeout(() => console.log('survived'), 5000);`);
    expect(r.stdout).not.toContain('survived');
    expect(r.signal).toBe('SIGSEGV');
    expect(r.stderr).toMatch(REPORT_OUTSIDE);
    expect(r.stderr.match(/^dlswap: /gm)).toHaveLength(1);
  });
});

describe("node's and V8's own handlers", () => {
  it.each(MODES)('%s: a WebAssembly out-of-bounds access throws RuntimeError before and after a contained fault', (mode) => {
    const r = runChild(`${WASM_OOB}
      const before = oob();
      const lib = dlswap.open(${LIB}, { isolation: ${JSON.stringify(mode)} });
      let code;
      try { lib.func('int faults(int kind, int x)')(1, 0); } catch (e) { code = e.code; }
      console.log(JSON.stringify({ before, code, after: oob(), again: oob() }));`);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ before: 'RuntimeError', code: 'ERR_DLSWAP_FAULT', after: 'RuntimeError', again: 'RuntimeError' });
  });

  it('a SIGSEGV handler installed after dlswap that chains to it: faults are still contained and WebAssembly still traps', () => {
    const r = runChild(`${WASM_OOB}
      const keep = dlswap.open(${LIB}, { isolation: 'local' });   // never closed: the handler lives in it
      keep.func('int install_chaining_handler(void)')();
      const lib = dlswap.open(${LIB}, { isolation: 'namespace' });
      let code;
      try { lib.func('int faults(int kind, int x)')(1, 0); } catch (e) { code = e.code; }
      console.log(JSON.stringify({ code, wasm: oob(), chained: keep.func('int chained_handler_calls(void)')() > 0,
        installed: dlswap.faultHandlers().installed.SIGSEGV }));`);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ code: 'ERR_DLSWAP_FAULT', wasm: 'RuntimeError', chained: true, installed: false });
  });

  it("node's own crash (a signal sent to it) keeps its exit status and prints no dlswap report", () => {
    const r = runChild(`
      const lib = dlswap.open(${LIB});
      lib.func('int ok(int x)')(1);
      process.kill(process.pid, 'SIGSEGV');
      setTimeout(() => console.log('survived'), 2000);`);
    expect(r.stdout).not.toContain('survived');
    expect(r.signal).toBe('SIGSEGV');
    expect(r.stderr).not.toMatch(/dlswap:/);
  });

  // core_pattern 'core' (or a path): the kernel writes the file itself; a pipe to a collector
  // (systemd-coredump, apport) is the system's business and not checked here. AddressSanitizer
  // turns core dumps off in every process it runs in (its disable_coredump default).
  const corePattern = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  it.skipIf(corePattern.startsWith('|') || corePattern.includes('/') || underAsan)(
    "a fault dlswap does not contain still dumps core: a library thread's crash, and node's own",
    () => {
      for (const body of [
        `const lib = dlswap.open(${LIB}); lib.func('int start_crashing_thread(int ms)')(10); setTimeout(() => {}, 5000);`,
        `const lib = dlswap.open(${LIB}); lib.func('int ok(int x)')(1); process.kill(process.pid, 'SIGSEGV');`,
      ]) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-core-'));
        try {
          const script = path.join(dir, 'crash.js');
          fs.writeFileSync(script, `const dlswap = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'index.js'))});\n${body}`);
          const r = spawnSync('bash', ['-c', `ulimit -c unlimited; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(script)}`], {
            cwd: dir,
            encoding: 'utf8',
            timeout: 120_000,
          });
          expect(r.signal).toBe('SIGSEGV');
          expect(
            fs.readdirSync(dir).some((f) => f === 'core' || f.startsWith('core.')),
            body,
          ).toBe(true);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
    },
  );

  it('abort() outside any call keeps its exit status (SIGABRT)', () => {
    const r = runChild(`
      const lib = dlswap.open(${LIB});
      lib.func('int ok(int x)')(1);
      process.abort();`);
    expect(r.signal).toBe('SIGABRT');
    expect(r.stderr).not.toMatch(/^dlswap:/m);
  });

  it('--report-on-signal still writes a diagnostic report after a contained fault', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-report-'));
    try {
      const r = runChild(`
        process.report.directory = ${JSON.stringify(dir)};
        process.report.reportOnSignal = true;
        const lib = dlswap.open(${LIB});
        try { lib.func('int faults(int kind, int x)')(1, 0); } catch (e) { console.log(e.code); }
        process.kill(process.pid, 'SIGUSR2');
        setTimeout(() => console.log(require('fs').readdirSync(${JSON.stringify(dir)}).filter((f) => f.endsWith('.json')).length), 1000);`);
      expect(r.stdout).toBe('ERR_DLSWAP_FAULT\n1\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
