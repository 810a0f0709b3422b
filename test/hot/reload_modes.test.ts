// A reload in each isolation mode, in process: v1 -> v2 -> v1, each swap seen by the next call, every
// closed generation unloaded. Part of `npm run test:fast` (CONTRIBUTING.md); the rest of the reload's
// behaviour is test/hot/hot_reload.test.ts's.
import { afterEach, describe, expect, it } from 'vitest';
import { HotLibrary } from '../../lib/hot/hot_library';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { fixture, strayPrivateFiles, underAsan } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const plugin = {
  handle: 'int handle(const char *req, char *out, size_t cap)',
  plugin_version: 'int plugin_version(void)',
} as const;

const hots: HotLibrary<typeof plugin>[] = [];

afterEach(async () => {
  for (const h of hots.splice(0)) await h.close();
  expect(strayPrivateFiles()).toEqual([]);
});

describe.each(ISOLATION_MODES.filter((m) => m !== 'deepbind' || !underAsan))('reload in %s', (isolation) => {
  it('swaps v1 -> v2 -> v1; calls after each swap see the new generation', async () => {
    const hot = await HotLibrary.open(P1, { isolation, functions: plugin });
    hots.push(hot);
    expect(hot.fn.plugin_version()).toBe(1);
    const r = await hot.reload(P2);
    expect(r.from).toBe(1);
    expect(r.to).toBe(2);
    expect(r.unloaded).toBe(true);
    expect(hot.fn.plugin_version()).toBe(2);
    const out = Buffer.alloc(64);
    const n = hot.fn.handle('ping', out, BigInt(out.length));
    expect(out.subarray(0, n).toString()).toBe('v2:ping');
    expect(await hot.fn.plugin_version.async()).toBe(2);
    await hot.reload(P1);
    expect(hot.fn.plugin_version()).toBe(1);
    const gens = hot.generations();
    expect(gens.map((g) => g.state)).toEqual(['closed', 'closed', 'active']);
    expect(gens.map((g) => g.version)).toEqual(['plugin-1.0.0', 'plugin-2.0.0', 'plugin-1.0.0']);
    expect(gens.slice(0, 2).every((g) => g.unloaded === true)).toBe(true);
  });
});
