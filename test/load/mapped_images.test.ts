// Where each loaded image lives (lib/load/mapped_images.ts): the copy a debugger reads stays as long
// as the image is mapped, under the name the link map gives; mappedImages() says what each copy was
// made from; DLSWAP_KEEP_COPIES keeps them all for post-mortem work.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { open, type Library } from '../../lib/load/library';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { imageAt, mappedImages } from '../../lib/load/mapped_images';
import { privateDir } from '../../lib/load/temp_area';
import { fixture, runChild, strayPrivateFiles, underAsan } from '../helpers';

const opened: Library[] = [];
afterEach(async () => {
  for (const lib of opened.splice(0)) await lib.close();
  expect(strayPrivateFiles()).toEqual([]);
});

describe.each(ISOLATION_MODES.filter((m) => m !== 'deepbind' || !underAsan))('isolation %s', (mode) => {
  it('names the copy the link map names, the file it came from, and the span of its code', async () => {
    const lib = open(fixture('libbasic_v1.so'), { isolation: mode });
    opened.push(lib);
    const image = imageAt(lib.symbol('add'));
    expect(image).not.toBeNull();
    expect(image).toMatchObject({
      // The dynamic loader was given the copy's real path: what gdb reads from the link map, and
      // what the kernel names in /proc/<pid>/maps and core files.
      loadedAs: lib.info.mappedPath,
      mappedPath: lib.info.mappedPath,
      source: fs.realpathSync(fixture('libbasic_v1.so')),
      buildId: lib.info.buildId,
      dependencyOf: null,
      isolation: mode,
      lmid: lib.info.lmid,
      redirected: true,
    });
    expect(image!.loadedAs.startsWith(privateDir() + path.sep)).toBe(true);
    expect(fs.existsSync(image!.loadedAs)).toBe(true);
    expect(fs.readFileSync('/proc/self/maps', 'utf8')).toContain(` ${image!.mappedPath}\n`);
    await lib.close();
    opened.splice(0);
    expect(mappedImages().some((m) => m.loadedAs === image!.loadedAs)).toBe(false);
    expect(fs.existsSync(image!.loadedAs)).toBe(false);
  });
});

it('lists private dependencies with the library they came with', () => {
  const lib = open(fixture('seed001/v1/libmyservice.so'), { isolation: 'namespace' });
  opened.push(lib);
  const deps = mappedImages().filter((m) => m.dependencyOf === fs.realpathSync(fixture('seed001/v1/libmyservice.so')));
  expect(deps.map((d) => path.basename(d.source)).sort()).toEqual(['libhelper.so.1', 'libinner.so.1']);
  for (const d of deps) expect(fs.existsSync(d.loadedAs)).toBe(true);
});

describe('DLSWAP_KEEP_COPIES', () => {
  it("keeps every copy, closed ones included, past exit and past the next process's sweep", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-keep-'));
    try {
      const kept = runChild(
        `const lib = dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))});
         const copy = lib.info.mappedPath;
         lib.close().then((r) => console.log(JSON.stringify({ copy, unloaded: r.unloaded })));`,
        { env: { DLSWAP_TMPDIR: tmp, DLSWAP_KEEP_COPIES: '1' } },
      );
      const { copy, unloaded } = JSON.parse(kept.stdout);
      expect(unloaded).toBe(true);
      expect(fs.existsSync(copy)).toBe(true);
      // Another process, without the variable: its sweep leaves the kept directory alone.
      const next = runChild(`dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}).close().then(() => console.log('ok'));`, {
        env: { DLSWAP_TMPDIR: tmp },
      });
      expect(next.stdout.trim()).toBe('ok');
      expect(fs.existsSync(copy)).toBe(true);
      expect(fs.readdirSync(path.dirname(copy)).sort()).toEqual(['.dlswap-keep', path.basename(copy)]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("without it, a closed library's copy goes at once", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-keep-'));
    try {
      const r = runChild(
        `const lib = dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))});
         const copy = lib.info.mappedPath;
         lib.close().then(() => console.log(JSON.stringify({ copy, there: require('fs').existsSync(copy) })));`,
        { env: { DLSWAP_TMPDIR: tmp } },
      );
      expect(JSON.parse(r.stdout).there).toBe(false);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('a private area whose path others could change', () => {
  it('is loaded through its descriptor, never by a path resolved again, and NODE_DEBUG says why', () => {
    // The base is ours and private, but its parent is writable by anyone (and not sticky): someone
    // could swap the directories on the way between two resolutions of the path.
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-open-'));
    try {
      fs.chmodSync(parent, 0o777);
      const base = path.join(parent, 'base');
      fs.mkdirSync(base, { mode: 0o700 });
      const r = runChild(
        `const lib = dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))});
         const [image] = dlswap.mappedImages();
         console.log(JSON.stringify({ loadedAs: image.loadedAs, mappedPath: image.mappedPath, sum: lib.func('int add(int, int)')(2, 3) }));`,
        { env: { DLSWAP_TMPDIR: base, NODE_DEBUG: 'dlswap' } },
      );
      const out = JSON.parse(r.stdout);
      expect(out.sum).toBe(5);
      expect(out.loadedAs).toMatch(/^\/proc\/self\/fd\/\d+\/\d+-[0-9a-f]{6}-libbasic_v1\.so$/);
      expect(out.mappedPath.startsWith(fs.realpathSync(base))).toBe(true);
      expect(r.stderr).toMatch(/mapped from \/proc\/self\/fd\/.*\(not its real path, which debuggers could open: .* is writable by other users\)/);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
