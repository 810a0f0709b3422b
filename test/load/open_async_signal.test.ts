/**
 * openAsync(path, { signal }) (docs/conventions.md#abortsignal), in every isolation mode: aborted
 * before the call it loads nothing; aborted while the load runs on the loader thread it rejects at
 * once, and the load, once it returns, is undone (destructors run, image unmapped, copy removed,
 * a fresh namespace given back). librecord.so writes down its constructor and destructor, and the
 * 'after-open' fault point holds the loader thread right after dlopen, so that the abort lands
 * while the load is certainly running.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getEventListeners } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openAsync } from '../../lib/load/library';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { armedFaults, clearFaults, injectFault } from '../../lib/faults';
import { privateDir } from '../../lib/load/temp_area';
import { addon } from '../../lib/native';
import { fixture, privateMappings, strayPrivateFiles, underAsan } from '../helpers';

const LIB = fixture('librecord.so');
// deepbind is refused under ASan (test/helpers.ts, underAsan).
const MODES = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));

let dir: string;
let record: string;
const lines = () => (fs.existsSync(record) ? fs.readFileSync(record, 'utf8').split('\n').filter(Boolean) : []);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-open-signal-'));
  record = path.join(dir, 'record');
  process.env.DLSWAP_FIXTURE_RECORD = record;
});
afterAll(() => {
  delete process.env.DLSWAP_FIXTURE_RECORD;
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(() => clearFaults());

/** Polls `done` every 10 ms, for at most `ms` (a hang guard, not a timing assertion). */
async function until(done: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return done();
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: Error & { code?: string }) => e,
  );

describe('openAsync(path, { signal })', () => {
  it.each(MODES)('aborted before the call (%s): rejects with ERR_DLSWAP_ABORTED and loads nothing', async (isolation) => {
    const controller = new AbortController();
    const reason = new Error('the caller gave up');
    controller.abort(reason);
    injectFault('after-copy'); // still armed afterwards: no copy was even attempted
    const before = lines().length;
    const err = await rejection(openAsync(LIB, { isolation, signal: controller.signal }));
    expect(err).toMatchObject({ code: 'ERR_DLSWAP_ABORTED' });
    expect(err!.message).toMatch(/aborted before it started; nothing was loaded/);
    expect(err!.cause).toBe(reason);
    expect(armedFaults()).toEqual(['after-copy']);
    expect(lines().slice(before)).toEqual([]);
    expect(strayPrivateFiles()).toEqual([]);
    expect(privateMappings(privateDir())).toEqual([]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it.each(MODES)('aborted while the load runs (%s): rejects at once, and the load is undone once it returns', async (isolation) => {
    const namespacesBefore = addon.freshNamespaceCount();
    const controller = new AbortController();
    const before = lines().length;
    injectFault('after-open', 'hang'); // the loader thread waits right after dlopen until clearFaults()
    let settled = false;
    const opening = rejection(openAsync(LIB, { isolation, signal: controller.signal })).finally(() => (settled = true));
    try {
      // The constructor ran: the load is inside the loader thread's pipeline.
      expect(await until(() => lines().length > before)).toBe(true);
      expect(privateMappings(privateDir())).not.toEqual([]);
      expect(settled).toBe(false);
      controller.abort();
      // Rejected while the loader thread is still held: the abort does not wait for the load.
      const err = await opening;
      expect(err).toMatchObject({ code: 'ERR_DLSWAP_ABORTED' });
      expect(err!.message).toMatch(/closed as soon as its load returns/);
      expect((err!.cause as Error).name).toBe('AbortError');
      expect(armedFaults()).toEqual([]); // consumed: the thread is held there now
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    } finally {
      clearFaults();
    }
    // Released, the load returns to nobody: its destructor runs, and nothing of it is left.
    expect(await until(() => lines().slice(before).includes(`dtor ${process.pid}`) && privateMappings(privateDir()).length === 0)).toBe(true);
    expect(lines().slice(before)).toEqual([`ctor ${process.pid}`, `dtor ${process.pid}`]);
    expect(strayPrivateFiles()).toEqual([]);
    expect(addon.freshNamespaceCount()).toBe(namespacesBefore);
  });

  it("aborted after the load returned: the library is the caller's, and the signal keeps no listener", async () => {
    const controller = new AbortController();
    const lib = await openAsync<{}>(LIB, { isolation: 'local', signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort();
    try {
      expect(lib.closed).toBe(false);
      expect(lib.func('int record_generation(void)')()).toBe(0);
    } finally {
      expect((await lib.close()).unloaded).toBe(true);
    }
  });

  it("a load that fails with a signal that never aborts rejects with the load's own error", async () => {
    const controller = new AbortController();
    injectFault('after-open', 'throw');
    await expect(openAsync(LIB, { isolation: 'namespace', signal: controller.signal })).rejects.toMatchObject({ code: 'ERR_DLSWAP_INTERNAL' });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort(); // nothing is listening any more: no unhandled rejection, nothing to undo
    expect(strayPrivateFiles()).toEqual([]);
  });
});
