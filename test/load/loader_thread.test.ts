/**
 * Loading off the event loop (docs/hot-reload.md, "Where the work runs"): open, reload and retire run
 * on dlswap's loader thread, the JS thread only swaps; plugin code that does not return is bounded by
 * initTimeoutMs / finiTimeoutMs; a load that fails there leaves nothing behind. The fault points of
 * the pipeline fire on the loader thread: test/hot/faults.test.ts drives every one of them through a
 * HotLibrary, whose loads run there by default.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HotLibrary } from '../../lib/hot/hot_library';
import { openAsync } from '../../lib/load/library';
import { clearFaults, injectFault } from '../../lib/faults';
import { addon } from '../../lib/native';
import { privateDir } from '../../lib/load/temp_area';
import { fixture, privateMappings, runChild, strayPrivateFiles } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const FUNCTIONS = { v: 'int plugin_version(void)' } as const;

afterEach(() => clearFaults());

/** Waits until nothing of dlswap's private copies is mapped (a released plugin thread finishes its job first). */
async function untilUnmapped(ms = 20_000): Promise<string[]> {
  const end = Date.now() + ms;
  let left = privateMappings(privateDir());
  while (left.length && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    left = privateMappings(privateDir());
  }
  return left;
}

function childJson(script: string, env: NodeJS.ProcessEnv): Record<string, number | string | boolean> {
  const r = runChild(script, { env, timeout: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`child printed no result (exit ${r.status} ${r.signal ?? ''}):\n${r.stdout}\n${r.stderr}`);
  }
}

// The plugin fixture's dlswap_init sleeps DLSWAP_FIXTURE_INIT_MS, or waits until the file
// DLSWAP_FIXTURE_INIT_WAIT names exists; a 5 ms interval counts the event loop's turns meanwhile, and
// opens that gate at its third turn.
const TIMERS = (loadOn: string) => `
  const fs = require('fs');
  const gate = process.env.DLSWAP_FIXTURE_INIT_WAIT;
  let ticks = 0;
  const iv = setInterval(() => { if (++ticks === 3 && gate) fs.writeFileSync(gate, ''); }, 5);
  (async () => {
    const hot = await dlswap.HotLibrary.open(${JSON.stringify(P1)}, { functions: ${JSON.stringify(FUNCTIONS)}, loadOn: '${loadOn}' });
    const openTicks = ticks;
    if (gate) fs.rmSync(gate);
    ticks = 0;
    await hot.reload(${JSON.stringify(P2)}, { wait: 'swap' });
    const reloadTicks = ticks;
    const v = hot.fn.v();
    await hot.close();
    clearInterval(iv);
    console.log(JSON.stringify({ openTicks, reloadTicks, v }));
  })();`;

describe('the event loop during a slow dlswap_init', () => {
  it('keeps running timers while init runs on the loader thread, on open and on reload', () => {
    // init returns only once the loop has turned three times during it: a blocked loop would leave
    // it waiting until it gives up (and the open fails). Nothing is timed.
    const gate = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-gate-')), 'open');
    try {
      const r = childJson(TIMERS('loader'), { DLSWAP_FIXTURE_INIT_WAIT: gate });
      expect(r.v).toBe(2);
      expect(r.openTicks).toBeGreaterThanOrEqual(3);
      expect(r.reloadTicks).toBeGreaterThanOrEqual(3);
    } finally {
      fs.rmSync(path.dirname(gate), { recursive: true, force: true });
    }
  });

  it("with loadOn: 'main' the loop stops for the whole init, which is what that option costs", () => {
    // An upper bound on turns during a 400 ms init: a loaded machine only makes it fewer.
    const r = childJson(TIMERS('main'), { DLSWAP_FIXTURE_INIT_MS: '400' });
    expect(r.v).toBe(2);
    expect(r.openTicks).toBeLessThanOrEqual(2);
    expect(r.reloadTicks).toBeLessThanOrEqual(2);
  });
});

describe('plugin code that does not return', () => {
  it('an init that hangs is rejected by initTimeoutMs; the current generation keeps serving; the stuck one is quarantined', async () => {
    const hot = await HotLibrary.open(P1, { functions: FUNCTIONS, initTimeoutMs: 200 });
    try {
      injectFault('in-verify', 'hang');
      const t = performance.now();
      const err = await hot.reload(P2).then(
        () => null,
        (e: Error & { code?: string; causeCode?: string }) => e,
      );
      expect(performance.now() - t).toBeLessThan(10_000);
      expect(err).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_TIMEOUT' });
      expect(hot.fn.v()).toBe(1);
      const stuck = hot.generations().find((g) => g.id === 2)!;
      expect(stuck.state).toBe('rejected');
      expect(stuck.rejectedReason).toMatch(/did not return within 200 ms/);
      // Released (as a plugin that finally returns would be): still never called, and the next
      // reload works.
      clearFaults();
      await hot.reload(P2);
      expect(hot.fn.v()).toBe(2);
    } finally {
      clearFaults();
      await hot.close();
    }
    // Once its init returned at last, the stuck generation was finalised and closed on the loader
    // thread, with nobody to tell: nothing of it stays.
    expect(await untilUnmapped()).toEqual([]);
  });

  it('a fini that hangs is reported as pinned with the reason, and the new generation serves', async () => {
    const hot = await HotLibrary.open(P1, { functions: FUNCTIONS, finiTimeoutMs: 200 });
    try {
      injectFault('in-fini', 'hang');
      const report = await hot.reload(P2);
      expect(hot.fn.v()).toBe(2);
      expect(report.unloaded).toBe(false);
      expect(report.pinnedReason).toMatch(/dlswap_fini did not return within 200 ms/);
      expect(report.pinnedReason).toMatch(/stays mapped/);
    } finally {
      clearFaults();
      await hot.close();
    }
    // Released, the fini returns and that retirement goes on: the image is closed after all.
    expect(await untilUnmapped()).toEqual([]);
  });
});

describe('a load that fails on the loader thread', () => {
  it.each([
    ['after-copy', 'namespace'],
    ['after-open', 'namespace'],
    ['after-open', 'fresh-namespace'],
    ['after-open', 'local'],
  ] as const)('at %s (%s): no copy, no mapping, no namespace is left', async (point, isolation) => {
    const namespacesBefore = addon.freshNamespaceCount();
    // A C++ library's fresh namespace is never freed by glibc (libstdc++ cannot leave it), failed
    // load or not (docs/isolation.md): in fresh-namespace only the C plugin can show nothing is left.
    const files = isolation === 'fresh-namespace' ? [P1] : [P1, fixture('seed001/v1/libmyservice.so')];
    for (const file of files) {
      injectFault(point, 'throw');
      await expect(openAsync(file, { isolation })).rejects.toMatchObject({ code: 'ERR_DLSWAP_INTERNAL' });
      expect(strayPrivateFiles()).toEqual([]);
      expect(privateMappings(privateDir())).toEqual([]);
      expect(addon.freshNamespaceCount()).toBe(namespacesBefore);
    }
  });

  it('a private dependency whose own dependency is missing: the copies made before the failure are gone too', async () => {
    // seed001's core and helper without libinner.so.1, which the helper needs.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-noinner-'));
    try {
      for (const f of ['libmyservice.so', 'libhelper.so.1']) fs.copyFileSync(fixture(`seed001/v1/${f}`), path.join(dir, f));
      const err = await openAsync(path.join(dir, 'libmyservice.so')).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      expect(err?.code).toBe('ERR_DLSWAP_DEPENDENCY_NOT_FOUND');
      expect(err?.message).toContain('libinner.so.1');
      // The loader's words name the helper's file, not its private copy or private name.
      expect(err?.message).not.toContain(privateDir());
      expect(strayPrivateFiles()).toEqual([]);
      expect(privateMappings(privateDir())).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('concurrency', () => {
  it('several HotLibrary instances reload at once, on the main thread and in a worker, every answer right', () => {
    const script = `
      const { Worker, isMainThread, parentPort } = require('node:worker_threads');
      const paths = [${JSON.stringify(P1)}, ${JSON.stringify(P2)}];
      const seed = [${JSON.stringify(fixture('seed001/v1/libmyservice.so'))}, ${JSON.stringify(fixture('seed001/v2/libmyservice.so'))}];
      async function run(instances, reloads) {
        const hots = await Promise.all(Array.from({ length: instances }, (_, i) => i % 2
          ? dlswap.HotLibrary.open(seed[0], { functions: { a: 'int service_answer(void)' } })
          : dlswap.HotLibrary.open(paths[0], { functions: { v: 'int plugin_version(void)' } })));
        let wrong = 0, calls = 0;
        await Promise.all(hots.map(async (hot, i) => {
          for (let k = 1; k <= reloads; k++) {
            const v = k % 2 ? 1 : 0;
            await hot.reload(i % 2 ? seed[v] : paths[v], { wait: 'swap' });
            const got = i % 2 ? await hot.fn.a.async() : await hot.fn.v.async();
            const want = i % 2 ? [1232323, 1242424][v] : v + 1;
            calls++;
            if (got !== want) wrong++;
          }
        }));
        const pinned = hots.flatMap((h) => h.generations().filter((g) => g.state === 'closed' && g.unloaded !== true));
        await Promise.all(hots.map((h) => h.close()));
        return { wrong, calls, pinned: pinned.length };
      }
      (async () => {
        const worker = new Worker(\`
          const { parentPort } = require('node:worker_threads');
          const dlswap = require(\${JSON.stringify(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'index.js'))})});
          \${run.toString()}
          const paths = \${JSON.stringify(paths)}, seed = \${JSON.stringify(seed)};
          run(2, 20).then((r) => parentPort.postMessage(r));\`, { eval: true });
        const fromWorker = new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
        const main = await run(4, 20);
        const w = await fromWorker;
        await worker.terminate();
        console.log(JSON.stringify({ mainWrong: main.wrong, mainCalls: main.calls, mainPinned: main.pinned, workerWrong: w.wrong, workerCalls: w.calls, workerPinned: w.pinned }));
      })();`;
    const r = childJson(script, {});
    expect(r).toEqual({ mainWrong: 0, mainCalls: 80, mainPinned: 0, workerWrong: 0, workerCalls: 40, workerPinned: 0 });
  });
});
