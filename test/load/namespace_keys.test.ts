// pthread keys in dlswap's namespaces (native/namespace/runtime_keys.cc, issue 21 item 5): a
// namespace may get, set and delete only keys it created, and every key a generation made is
// reclaimed when its code is unmapped. Both failures hit node itself, so each case runs in a child.
import { describe, expect, it } from 'vitest';
import { fixture, runChild } from '../helpers';

const KEYS = fixture('libkeys.so');
const NAMESPACE_MODES = ['namespace', 'fresh-namespace'] as const;
const EINVAL = 22;

describe.each(NAMESPACE_MODES)('%s', (mode) => {
  it("a library cannot delete, set or read node's keys (or any key it did not make): EINVAL, NULL; node stays healthy", () => {
    // Deleting node's key 0 used to delete node's own: a worker's crypto.randomBytes then never
    // answered and process.exit() hung. Here the library tries every key number it did not make.
    const r = runChild(
      `const { Worker } = require('node:worker_threads');
       const lib = dlswap.open(${JSON.stringify(KEYS)}, { isolation: ${JSON.stringify(mode)} });
       const del = lib.func('int keys_delete(unsigned k)'), set = lib.func('int keys_set(unsigned k, long v)');
       const get = lib.func('long keys_get(unsigned k)'), own = lib.func('int keys_own(void)')();
       const out = {
         own: own >= 0,
         delete0: del(0), set0: set(0, 1234), get0: Number(get(0)),
         foreignDeleted: lib.func('int keys_delete_foreign(void)')(),
         ownSet: set(own, 77), ownGet: Number(get(own)),
       };
       lib.close().then(() => {
         // A worker's crypto uses node's per-thread keys; the answer must come.
         const w = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:crypto').randomBytes(16).length)", { eval: true });
         w.on('message', (n) => { out.workerRandomBytes = n; console.log(JSON.stringify(out)); process.exit(0); });
         w.on('error', (e) => { console.error(e); process.exit(2); });
       });`,
      { timeout: 60_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      own: true,
      delete0: EINVAL,
      set0: EINVAL,
      get0: 0,
      foreignDeleted: 0,
      ownSet: 0,
      ownGet: 77,
      workerRandomBytes: 16,
    });
  });
});

it('namespace: a key made and never deleted by each of 1,200 generations is reclaimed with it; node can still make keys', () => {
  // glibc's table has 1,024 keys; before the fix a key without destructor was never reclaimed and
  // node's own pthread_key_create failed with EAGAIN from about reload 1,017 on.
  const r = runChild(
    `const { addon } = require(${JSON.stringify(require.resolve('../../dist/native.js'))});
     (async () => {
       let lmid, made = 0;
       for (let i = 0; i < 1200; i++) {
         const lib = dlswap.open(${JSON.stringify(KEYS)}, { isolation: 'namespace' });
         lmid = BigInt(lib.info.lmid);
         if (lib.func('int keys_own(void)')() >= 0) made++;
         const closed = await lib.close();
         if (!closed.unloaded) throw new Error('generation ' + i + ' stayed mapped: ' + closed.reason);
       }
       const local = dlswap.open(${JSON.stringify(KEYS)}, { isolation: 'local' });
       const nodeKey = local.func('int keys_make_one(void)')();
       await local.close();
       console.log(JSON.stringify({ made, liveKeys: addon.runtimeStats(lmid).keys, nodeKey }));
     })().catch((e) => { console.error(e); process.exit(2); });`,
    { timeout: 300_000 },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  // Every generation could make its key (the table never ran out), none is left over, and node's
  // own libc makes a key afterwards (0: no error).
  expect(JSON.parse(r.stdout)).toEqual({ made: 1200, liveKeys: 0, nodeKey: 0 });
});
