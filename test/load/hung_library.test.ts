/**
 * Library code that never returns where dlswap runs it (docs/reliability.md, "Library code that does
 * not return"): constructors and destructors run by the dynamic loader with its lock held, and
 * the plugin entry points dlswap calls itself. Every one is bounded on the loader thread; past the
 * bound the open, reload or close settles with ERR_DLSWAP_TIMEOUT. A constructor or destructor that
 * hangs keeps the loader's lock: every later load and close is then refused at once with
 * ERR_DLSWAP_LOADER_HUNG naming the library (none of them may wait for the lock), and exit still
 * exits, with its status. Each case runs in a child process (fixtures-c/hang/: the hang is real).
 */
import { describe, expect, it } from 'vitest';
import { fixture, runChild } from '../helpers';

const HANG_CTOR = fixture('libhang_ctor.so');
const HANG_DTOR = fixture('libhang_dtor.so');
const BASIC = fixture('libbasic_v1.so');
const P1 = fixture('libplugin_v1.so');

interface Settled {
  code?: string;
  causeCode?: string;
  message?: string;
  ms: number;
}

// `settle(promise)`: how a promise settled and how long it took, for the child's report.
const PRELUDE = `
const settle = async (p) => {
  const t = performance.now();
  try { const v = await p; return { ok: true, value: v, ms: performance.now() - t }; }
  catch (e) { return { code: e.code, causeCode: e.causeCode, message: e.message, ms: performance.now() - t }; }
};
const trySync = (f) => { const t = performance.now(); try { f(); return { ok: true, ms: performance.now() - t }; } catch (e) { return { code: e.code, message: e.message, ms: performance.now() - t }; } };
`;

function run(body: string, env: NodeJS.ProcessEnv = {}) {
  // A hang guard far above the quiet figures (a few hundred ms): a wait on the loader's lock would
  // never end, and is what this guards against.
  const r = runChild(PRELUDE + body, { env, timeout: 60_000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  let out: Record<string, Settled & Record<string, unknown>> | undefined;
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(`child printed no result (exit ${r.status} ${r.signal ?? ''}):\n${r.stdout}\n${r.stderr}`);
  }
  return { r, out: out! };
}

describe('a constructor that never returns (it holds the dynamic loader lock)', () => {
  it.each(['namespace', 'local'])('%s: openAsync rejects at initTimeoutMs; later loads are refused at once, naming it; process.exit(3) exits 3', (mode) => {
    const { r, out } = run(`
      (async () => {
        const first = await settle(dlswap.openAsync(${JSON.stringify(HANG_CTOR)}, { isolation: '${mode}', initTimeoutMs: 300 }));
        const later = await settle(dlswap.openAsync(${JSON.stringify(BASIC)}, { isolation: '${mode}' }));
        const sync = trySync(() => dlswap.open(${JSON.stringify(BASIC)}, { isolation: '${mode}' }));
        console.log(JSON.stringify({ first, later, sync }));
        process.exit(3);
      })();`);
    expect(r.status).toBe(3);
    expect(r.signal).toBeNull();
    expect(out.first).toMatchObject({
      code: 'ERR_DLSWAP_TIMEOUT',
      message: expect.stringMatching(/constructors of .*libhang_ctor\.so did not return within 300 ms/),
    });
    for (const later of [out.later, out.sync]) {
      expect(later.code).toBe('ERR_DLSWAP_LOADER_HUNG');
      expect(later.message).toMatch(/libbasic_v1\.so.*lock is held by the constructors of .*libhang_ctor\.so/);
    }
  });

  it('a reload to it rejects at initTimeoutMs and the old generation keeps serving; the next reload is refused at once; exit at the end of the script', () => {
    const { r, out } = run(`
      (async () => {
        const hot = await dlswap.HotLibrary.open(${JSON.stringify(P1)}, { functions: { v: 'int plugin_version(void)' }, initTimeoutMs: 300 });
        const first = await settle(hot.reload(${JSON.stringify(HANG_CTOR)}));
        const serves = hot.fn.v();
        const later = await settle(hot.reload(${JSON.stringify(P1)}));
        const closed = await settle(hot.close());
        console.log(JSON.stringify({ first, serves, later, closed: { ok: closed.ok } }));
      })();`);
    // Nothing keeps the process alive: it ends on its own, with the loader lock still held.
    expect(r.status).toBe(0);
    expect(out.first).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_TIMEOUT' });
    expect(out.serves).toBe(1);
    expect(out.later).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_LOADER_HUNG' });
    expect(out.later.message).toMatch(/libhang_ctor\.so/);
    expect(out.closed.ok).toBe(true);
  });

  it('one that returns after its timeout frees the lock: loads work again, and what it loaded was undone', () => {
    const { r, out } = run(
      `(async () => {
        const first = await settle(dlswap.openAsync(${JSON.stringify(HANG_CTOR)}, { initTimeoutMs: 200 }));
        await new Promise((res) => setTimeout(res, 1500));
        const later = await settle(dlswap.openAsync(${JSON.stringify(BASIC)}));
        const mapped = require('node:fs').readFileSync('/proc/self/maps', 'utf8').includes('libhang_ctor');
        console.log(JSON.stringify({ first, later: { ok: later.ok, code: later.code }, mapped }));
      })();`,
      { DLSWAP_FIXTURE_HANG_MS: '800' },
    );
    expect(r.status).toBe(0);
    expect(out.first.code).toBe('ERR_DLSWAP_TIMEOUT');
    expect(out.later).toEqual({ ok: true });
    expect(out.mapped).toBe(false);
  });
});

describe('a destructor that never returns (dlclose holds the lock)', () => {
  it.each(['namespace', 'local'])(
    '%s: close() settles at finiTimeoutMs with the image pinned; later loads are refused at once; process.exit(3) exits 3',
    (mode) => {
      const { r, out } = run(`
      (async () => {
        const lib = await dlswap.openAsync(${JSON.stringify(HANG_DTOR)}, { isolation: '${mode}', finiTimeoutMs: 300 });
        const value = lib.func('int hang_value(void)')();
        const closed = await settle(lib.close());
        const later = await settle(dlswap.openAsync(${JSON.stringify(BASIC)}, { isolation: '${mode}' }));
        console.log(JSON.stringify({ value, closed: closed.value, later }));
        process.exit(3);
      })();`);
      expect(r.status).toBe(3);
      expect(out.value).toBe(77);
      expect(out.closed).toMatchObject({ unloaded: false, reason: expect.stringMatching(/destructors of .*libhang_dtor\.so did not return within 300 ms/) });
      expect(out.later.code).toBe('ERR_DLSWAP_LOADER_HUNG');
      expect(out.later.message).toMatch(/destructors of .*libhang_dtor\.so/);
    },
  );
});

describe('plugin entry points that never return (no lock held)', () => {
  it.each([
    ['dlswap_version', 'libhang_version.so'],
    ['dlswap_abi_version', 'libhang_abi.so'],
  ])('%s: the reload rejects at initTimeoutMs; the old generation serves; the lock is free, so later loads work; process.exit(3) exits 3', (entry, file) => {
    const { r, out } = run(`
      (async () => {
        const hot = await dlswap.HotLibrary.open(${JSON.stringify(P1)}, { functions: {}, initTimeoutMs: 300 });
        const first = await settle(hot.reload(${JSON.stringify(fixture(file))}));
        const generations = hot.generations().map((g) => g.state);
        const later = await settle(dlswap.openAsync(${JSON.stringify(BASIC)}));
        const again = await settle(hot.reload(${JSON.stringify(P1)}));
        console.log(JSON.stringify({ first, generations, later: { ok: later.ok }, again: { ok: again.ok } }));
        process.exit(3);
      })();`);
    expect(r.status).toBe(3);
    expect(out.first).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_TIMEOUT', message: expect.stringContaining(`${entry} of `) });
    expect(out.first.message).toContain(file);
    expect(out.generations).toContain('active');
    expect(out.later).toEqual({ ok: true });
    expect(out.again).toEqual({ ok: true });
  });
});
