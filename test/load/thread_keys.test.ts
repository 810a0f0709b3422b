// Thread-specific data keys with a destructor in the library, in `local` and `deepbind` (issue 22,
// H4b: jemalloc's per-thread cache). The key is node's libc's, which calls the destructor when a
// thread that set it exits: after an unmap that is code that is gone, and node dies with SIGSEGV at
// exit, when libuv's pool threads end. A retirement reads libc's key table (native/image/thread_keys.h):
// its destructors run first, and a key they did not delete keeps the image mapped for good.
// docs/isolation.md, "Thread-specific data keys in local and deepbind". Each case in a child: the
// crash it prevents comes at exit.
import { describe, expect, it } from 'vitest';
import type { Isolation } from '../../lib/load/isolation';
import { fixture, runChild, underAsan } from '../helpers';

const MODES: Isolation[] = underAsan ? ['local'] : ['local', 'deepbind'];

/** Opens `name`, makes its key, sets it on four libuv pool threads, closes it; node then exits by itself. */
function setThenClose(name: string, mode: Isolation) {
  return runChild(
    `(async () => {
       const lib = dlswap.open(${JSON.stringify(fixture(name))}, { isolation: ${JSON.stringify(mode)} });
       const key = lib.func('int key_dtor_make(void)')();
       const set = lib.func('int key_dtor_set(long value)');
       const rcs = await Promise.all([1, 2, 3, 4].map((v) => set.async(v)));
       const r = await lib.close();
       const mapped = require('fs').readFileSync('/proc/self/maps', 'utf8').includes(require('path').basename(lib.info.mappedPath));
       console.log(JSON.stringify({ key, rcs, unloaded: r.unloaded, reason: r.reason ?? null, mapped }));
     })();`,
  );
}

describe.each(MODES)('%s', (mode) => {
  it('a key never deleted: the image stays mapped for good, saying which key, and node exits cleanly', () => {
    const r = setThenClose('libkey_dtor.so', mode);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ rcs: [0, 0, 0, 0], unloaded: false, mapped: true });
    expect(out.key).toBeGreaterThanOrEqual(0);
    expect(out.reason).toContain(`kept mapped for good: it made thread-specific data key ${out.key} in node's libc`);
  });

  it('a key its destructor deletes: unloaded as usual', () => {
    const r = setThenClose('libkey_dtor_clean.so', mode);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rcs: [0, 0, 0, 0], unloaded: true, reason: null, mapped: false });
  });

  it('HotLibrary: every generation that made a key stays, the others go', () => {
    const r = runChild(
      `(async () => {
         const functions = { make: 'int key_dtor_make(void)', set: 'int key_dtor_set(long value)' };
         const hot = await dlswap.HotLibrary.open(${JSON.stringify(fixture('libkey_dtor.so'))}, { isolation: ${JSON.stringify(mode)}, functions });
         hot.fn.make();
         await hot.fn.set.async(1);
         await hot.reload(${JSON.stringify(fixture('libkey_dtor_clean.so'))});
         hot.fn.make();
         await hot.fn.set.async(2);
         await hot.reload(${JSON.stringify(fixture('libkey_dtor.so'))});
         await hot.close();
         console.log(JSON.stringify(hot.generations().map((g) => [g.unloaded, /thread-specific data key/.test(g.pinnedReason ?? '')])));
       })();`,
    );
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    // Generation 3 never made its key.
    expect(JSON.parse(r.stdout)).toEqual([
      [false, true],
      [true, false],
      [true, false],
    ]);
  });
});

it("namespace: the keys are the namespace's, whose destructors dlswap withholds once the code is gone: unloaded", () => {
  const r = setThenClose('libkey_dtor.so', 'namespace');
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ unloaded: true, mapped: false });
});

describe('in this process (where test:valgrind and test:asan look at the key table read)', () => {
  it('local: a key its destructor deletes lets the image go; one left keeps it, naming the key', async () => {
    const { open } = await import('../../lib/load/library');
    const clean = open(fixture('libkey_dtor_clean.so'), { isolation: 'local' });
    clean.func('int key_dtor_make(void)')();
    expect(clean.func('int key_dtor_set(long value)')(5)).toBe(0);
    expect(await clean.close()).toMatchObject({ unloaded: true });
    const kept = open(fixture('libkey_dtor.so'), { isolation: 'local' });
    const key = kept.func('int key_dtor_make(void)')();
    expect(kept.func('int key_dtor_set(long value)')(6)).toBe(0);
    const r = await kept.close();
    expect(r.unloaded).toBe(false);
    expect(r.reason).toContain(`thread-specific data key ${key} in node's libc`);
  });
});
