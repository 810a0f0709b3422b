// What the close path learns about the process's mappings (native/common/proc_maps.h): one
// PROCMAP_QUERY ioctl per question on Linux 6.11+, the parsed text of /proc/self/maps before. The
// two must say the same, on the kernel the suite runs on.
import fs from 'node:fs';
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { open, type Library } from '../../lib/load/library';
import { addon } from '../../lib/native';
import { fixture } from '../helpers';

const [major, minor] = os
  .release()
  .split('.')
  .map((n) => parseInt(n, 10));
const kernelHasQuery = major > 6 || (major === 6 && minor >= 11);

const opened: Library[] = [];
afterAll(async () => {
  for (const lib of opened) await lib.close();
});

/** The lines of /proc/self/maps for `file`, as the kernel prints them. */
function mapsLines(file: string): { start: bigint; end: bigint; exec: boolean }[] {
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(file) || l.endsWith(`${file} (deleted)`))
    .map((l) => {
      const [range, perms] = l.split(' ');
      const [a, b] = range.split('-');
      return { start: BigInt(`0x${a}`), end: BigInt(`0x${b}`), exec: perms[2] === 'x' };
    });
}

describe('the mappings the close path reads', () => {
  for (const isolation of ['namespace', 'local'] as const) {
    it(`${isolation}: the ioctl and the text give the same run of mappings for a loaded library, and the kernel's lines`, () => {
      const lib = open(fixture('libplugin_v1.so'), { isolation });
      opened.push(lib);
      const at = lib.symbol('plugin_version');
      const best = addon.mappingRun(at, 'best');
      const text = addon.mappingRun(at, 'text');
      expect(text.queried).toBe(false);
      expect(best.queried).toBe(kernelHasQuery);
      expect(best.run).toEqual(text.run);
      // The whole object: every mapping of its private copy, in order, the code among them.
      const file = best.run[0].file.replace(/ \(deleted\)$/, '');
      expect(best.run.every((m) => m.file === best.run[0].file)).toBe(true);
      expect(best.run.map(({ start, end, exec }) => ({ start, end, exec }))).toEqual(mapsLines(file));
      expect(best.run.some((m) => m.exec && m.start <= at && at < m.end)).toBe(true);
    });
  }

  it('an address in no mapping, or in memory that is not a file, has no run', () => {
    const buf = Buffer.alloc(64);
    for (const address of [0x1000n, addon.addressOf(buf)]) {
      expect(addon.mappingRun(address, 'best').run).toEqual([]);
      expect(addon.mappingRun(address, 'text').run).toEqual([]);
    }
  });

  it('once a library is closed, neither finds its file where it was', async () => {
    const lib = open(fixture('libplugin_v2.so'), { isolation: 'namespace' });
    const at = lib.symbol('plugin_version');
    const before = addon.mappingRun(at, 'best').run;
    expect(before.length).toBeGreaterThan(0);
    expect(await lib.close()).toMatchObject({ unloaded: true });
    for (const source of ['best', 'text'] as const) {
      const after = addon.mappingRun(at, source).run;
      expect(after.some((m) => m.file === before[0].file)).toBe(false);
    }
  });
});
