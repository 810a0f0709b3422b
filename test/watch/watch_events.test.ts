// When each watch event fires, as docs/watch.md#events states it: 'watch-reload' at the swap (the
// old generation still draining, `report.unloaded` not set until `report.retired` resolves), and a
// failed reload's 'watch-skip' after its 'rollback'.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HotLibrary, type ReloadReport } from '../../lib/hot/hot_library';
import type { GenerationState } from '../../lib/hot/generation';
import type { HotWatchSkip } from '../../lib/hot/events';
import { privateFiles } from '../../lib/load/temp_area';
import { fixture } from '../helpers';

const GUARD_MS = 30_000;
const plugin = { plugin_version: 'int plugin_version(void)' } as const;

let dir: string;
let lib: string;
let hot: HotLibrary<typeof plugin> | null = null;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-watch-events-'));
  lib = path.join(dir, 'libwatched.so');
  fs.copyFileSync(fixture('libplugin_v1.so'), lib);
});

afterEach(async () => {
  await hot?.close();
  hot = null;
  fs.rmSync(dir, { recursive: true, force: true });
  expect(privateFiles()).toEqual([]);
});

function publish(from: string): void {
  fs.copyFileSync(from, path.join(dir, 'next'));
  fs.renameSync(path.join(dir, 'next'), lib);
}

function guard<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${GUARD_MS} ms`)), GUARD_MS).unref())]);
}

describe('when watch events fire', () => {
  it("'watch-reload' fires at the swap: the new generation serves, the old one drains, report.unloaded is set only once report.retired resolves", async () => {
    hot = await HotLibrary.open(lib, { functions: plugin, watch: { debounceMs: 30, stableMs: 40, persistent: false } });
    const h = hot;
    const order: string[] = [];
    h.on('unloaded', (e) => order.push(`unloaded ${e.generation}`));
    // A lease keeps generation 1 from draining, so that "still draining" is certain, not a race.
    const lease = h.pin();
    const seen = new Promise<{ report: ReloadReport; current: number; unloaded: boolean | undefined; old: GenerationState | undefined }>((resolve) =>
      h.once('watch-reload', (report) => {
        order.push(`watch-reload ${report.to}`);
        resolve({ report, current: h.current, unloaded: report.unloaded, old: h.generations().find((g) => g.id === report.from)?.state });
      }),
    );
    publish(fixture('libplugin_v2.so'));
    const at = await guard(seen, 'watch-reload');
    expect(at.current).toBe(2);
    expect(at.report.to).toBe(2);
    expect(at.unloaded).toBeUndefined();
    expect(at.old).toBe('draining');
    expect(h.fn.plugin_version()).toBe(2);
    expect(lease.fn.plugin_version()).toBe(1);
    lease.release();
    await guard(at.report.retired, 'the retirement of generation 1');
    expect(at.report.unloaded).toBe(true);
    expect(order).toEqual(['watch-reload 2', 'unloaded 1']);
  });

  it("a build that fails verification: 'rollback' first, then 'watch-skip' with reason 'reload-failed', path, message and the error", async () => {
    hot = await HotLibrary.open(lib, {
      functions: { ...plugin, handle: 'int handle(const char *req, char *out, size_t cap)' },
      watch: { debounceMs: 30, stableMs: 40, persistent: false },
    });
    const h = hot;
    const order: string[] = [];
    h.on('rollback', (r) => order.push(`rollback ${r.to}`));
    const skipped = new Promise<HotWatchSkip>((resolve) =>
      h.once('watch-skip', (s) => {
        order.push(`watch-skip ${s.reason}`);
        resolve(s);
      }),
    );
    publish(fixture('libplugin_missing.so'));
    const skip = await guard(skipped, 'watch-skip');
    expect(order).toEqual(['rollback 2', 'watch-skip reload-failed']);
    expect(skip.path).toBe(lib);
    if (skip.reason !== 'reload-failed') throw new Error(`reason ${skip.reason}`);
    expect(skip.message).toBe(skip.error.message);
    expect(skip.error.causeCode).toBe('ERR_DLSWAP_SYMBOL_NOT_FOUND');
    expect(skip.error.report?.failedPhase).toBe('verifying');
    expect(h.current).toBe(1);
  });
});
