// Library code that ends the process while dlswap loads it (issue 22, H5): exit, _exit, _Exit,
// quick_exit, abort or a failing assert() in a constructor or in dlswap_init. In the namespace modes
// the load fails with ERR_DLSWAP_EXIT_DURING_LOAD and node goes on; in local and deepbind nothing can
// stand in front of libc, and the process ends with the library's status (exit: at once, with a
// message naming the load). docs/reliability.md, docs/isolation.md. Every case runs in a child.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { fixture, runChild, underAsan } from '../helpers';

const LOAD_END = fixture('libload_end.so');
const LOAD_END_CXX = fixture('libload_end_cxx.so');
const NAMESPACE_MODES: Isolation[] = ['namespace', 'fresh-namespace'];
const LOCAL_MODES: Isolation[] = underAsan ? ['local'] : ['local', 'deepbind'];
const ENDS = ['exit', '_exit', '_Exit', 'quick_exit', 'abort', 'assert', 'pthread_exit'] as const;
const CALLED: Record<(typeof ENDS)[number], string> = {
  exit: 'exit(7)',
  _exit: '_exit(7)',
  _Exit: '_Exit(7)',
  quick_exit: 'quick_exit(7)',
  abort: 'abort()',
  assert: 'a failing assert()',
  pthread_exit: 'pthread_exit()', // the thread, not the process: it would have kept the loader lock
};

/**
 * Opens `file` in `mode` with the fixture told to end the process `how`, then checks node still
 * works (a timer, a second library), and lets node exit by itself.
 */
function openEnding(file: string, mode: Isolation, how: string, env: NodeJS.ProcessEnv = {}) {
  return runChild(
    `let outcome;
     try { dlswap.open(${JSON.stringify(file)}, { isolation: ${JSON.stringify(mode)} }); outcome = { opened: true }; }
     catch (e) { outcome = { code: e.code, message: e.message }; }
     const basic = dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}, { isolation: ${JSON.stringify(mode)} });
     outcome.after = basic.func('int add(int a, int b)')(2, 3);
     setTimeout(() => console.log(JSON.stringify(outcome)), 5);`,
    { env: { DLSWAP_FIXTURE_END: how, ...env }, timeout: 60_000 },
  );
}

describe.each(NAMESPACE_MODES)('%s: a constructor that ends the process fails the load instead', (mode) => {
  it.each(ENDS)('%s: ERR_DLSWAP_EXIT_DURING_LOAD, node keeps working and exits 0 by itself', (how) => {
    const r = openEnding(LOAD_END, mode, how);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.code).toBe('ERR_DLSWAP_EXIT_DURING_LOAD');
    expect(out.message).toContain(`a constructor of ${LOAD_END} called ${CALLED[how]} while it was being loaded (isolation '${mode}')`);
    expect(out.message).toContain('stays mapped, unused');
    expect(out.after).toBe(5);
    // The library's own message still reaches stderr (assert's as glibc words it).
    expect(r.stderr).toContain(`load_end: ending the process with ${how}`);
    if (how === 'assert') expect(r.stderr).toMatch(/load_end\.c:\d+: load_end_constructor: Assertion `how == NULL/);
  });

  it("a C++ static initialiser's cleanups run as the call unwinds (a guard's destructor)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-load-end-'));
    try {
      const marker = path.join(dir, 'marker');
      const r = openEnding(LOAD_END_CXX, mode, 'exit', { DLSWAP_FIXTURE_MARKER: marker });
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout).code).toBe('ERR_DLSWAP_EXIT_DURING_LOAD');
      expect(fs.readFileSync(marker, 'utf8')).toBe('cleanup ran\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dlswap_init that calls exit or abort: the reload is rejected, the serving generation stays', () => {
    for (const how of ['exit', '_exit', 'abort']) {
      const r = runChild(
        `(async () => {
           const hot = await dlswap.HotLibrary.open(${JSON.stringify(fixture('libplugin_v1.so'))}, { isolation: ${JSON.stringify(mode)}, functions: { v: 'int plugin_version(void)' } });
           process.env.DLSWAP_FIXTURE_INIT_EXIT = ${JSON.stringify(how)};
           const e = await hot.reload(${JSON.stringify(fixture('libplugin_v2.so'))}).then(() => null, (err) => err);
           delete process.env.DLSWAP_FIXTURE_INIT_EXIT;
           const serving = hot.fn.v();
           await hot.reload(${JSON.stringify(fixture('libplugin_v2.so'))});
           console.log(JSON.stringify({ code: e && e.code, cause: e && e.cause && e.cause.code, message: e && e.cause && e.cause.message, serving, next: hot.fn.v() }));
           await hot.close();
         })();`,
      );
      expect(r.status, `${how}: ${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', cause: 'ERR_DLSWAP_EXIT_DURING_LOAD', serving: 1, next: 2 });
      expect(out.message).toContain(`dlswap_init of ${fixture('libplugin_v2.so')} called`);
    }
  });

  it('a registry shared by every generation: generation 2 registers again and exits; fresh-namespace gives it its own', () => {
    const r = runChild(
      `(async () => {
         const options = { isolation: ${JSON.stringify(mode)}, shareDependencies: ['libload_end_registry.so'],
                           functions: { version: 'int registry_user_version(void)', count: 'int registry_user_count(void)' } };
         const hot = await dlswap.HotLibrary.open(${JSON.stringify(fixture('libregistry_user_v1.so'))}, options);
         const e = await hot.reload(${JSON.stringify(fixture('libregistry_user_v2.so'))}).then(() => null, (err) => err);
         console.log(JSON.stringify({ failed: e && e.cause && e.cause.code, version: hot.fn.version(), count: hot.fn.count() }));
         await hot.close();
       })();`,
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    if (mode === 'namespace') {
      expect(out).toEqual({ failed: 'ERR_DLSWAP_EXIT_DURING_LOAD', version: 1, count: 1 });
      expect(r.stderr).toContain("registry: 'answer' is registered twice");
    } else {
      expect(out).toEqual({ failed: null, version: 2, count: 1 });
    }
  });
});

describe.each(NAMESPACE_MODES)('%s: exit() outside a load', (mode) => {
  it("ends the process as asked, as node's exit(): the library's buffered output is flushed, process.on('exit') does not run", () => {
    const r = runChild(
      `process.on('exit', () => console.log('exit handler ran'));
       const lib = dlswap.open(${JSON.stringify(LOAD_END)}, { isolation: ${JSON.stringify(mode)} });
       lib.func('void load_end_exit_now(int status)')(9);
       console.log('still running');`,
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(9);
    expect(r.stdout).toBe('buffered before exit');
  });
});

// A load gives each generation its own libgflags (test/load/registry_copies.test.ts); shared on
// purpose, the second generation registers its flag again in the same registry.
describe('gflags, a real registry shared on purpose: a flag registered again by a second generation', () => {
  const V1 = fixture('libgflags_user_v1.so');
  const V2 = fixture('libgflags_user_v2.so');
  const reload = (mode: Isolation) =>
    runChild(
      `(async () => {
         const hot = await dlswap.HotLibrary.open(${JSON.stringify(V1)}, { isolation: ${JSON.stringify(mode)}, shareDependencies: ['libgflags.so.2.2'], functions: { flag: 'int gflags_user_flag(void)' } });
         const errors = [];
         for (let i = 0; i < 3; i++) await hot.reload(${JSON.stringify(V2)}).catch((e) => errors.push(e.cause ? e.cause.code : e.code));
         console.log(JSON.stringify({ errors, flag: hot.fn.flag() }));
         await hot.close();
       })();`,
    );

  it('the fixture is built (Debian: libgflags2.2, which .ci/run installs)', () => {
    expect(fs.existsSync(V1), `${V1} missing: install libgflags2.2 and rebuild the fixtures`).toBe(true);
  });

  it('namespace: gflags calls exit(1) in the constructor; every reload fails typed, generation 1 serves on', () => {
    const r = reload('namespace');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ errors: Array(3).fill('ERR_DLSWAP_EXIT_DURING_LOAD'), flag: 1 });
    expect(r.stderr).toContain("something wrong with flag 'dlswap_fixture_flag'");
  });

  it('fresh-namespace: each generation has its own libgflags, every reload works', () => {
    const r = reload('fresh-namespace');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ errors: [], flag: 1 });
  });

  it.each(LOCAL_MODES)("%s: the process exits with gflags' status 1 at once, saying which load did it", (mode) => {
    const r = reload(mode);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`dlswap: exit(1) was called while loading ${V2}`);
  });
});

describe.each(LOCAL_MODES)('%s: nothing can stand in front of libc', (mode) => {
  it.each([
    ['exit', 7, null, true],
    ['_exit', 7, null, false],
    ['_Exit', 7, null, false],
    ['quick_exit', 7, null, false],
    ['abort', null, 'SIGABRT', false],
  ] as const)('%s ends the process (status %s, signal %s); no JS runs after it', (how, status, signal, message) => {
    const r = openEnding(LOAD_END, mode, how);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(status);
    expect(r.signal).toBe(signal);
    expect(r.stderr.includes(`dlswap: exit(7) was called while loading ${LOAD_END}`)).toBe(message);
  });
});

it('every mode is covered', () => {
  expect([...NAMESPACE_MODES, ...LOCAL_MODES].sort()).toEqual(ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind')).sort());
});
