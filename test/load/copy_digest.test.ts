/**
 * The digest of a copy that nothing reads at load time (lib/load/copy_digest.ts): a HotLibrary
 * generation without a pin, a watcher or a hook is copied without hashing (LoadSpec.hash false),
 * and its `info.sha256` is taken from its mapped copy on first read. It must be the digest of the
 * bytes that were copied: a copy the loader rewrites (private dependencies renamed) is hashed before
 * the first write.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isolationCode, type Isolation } from '../../lib/load/isolation';
import { libraryFromResult, open } from '../../lib/load/library';
import { tempBase } from '../../lib/load/temp_area';
import { addon, type LoadSpec } from '../../lib/native';
import { fixture, strayPrivateFiles } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const SERVICE = fixture('seed001/v1/libmyservice.so');
const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');

/** A plain load of `path` on this thread, hashed at load only if `hash`. */
function load(path: string, mode: Isolation, hash: boolean) {
  const spec: LoadSpec = {
    path,
    tempBase: tempBase(),
    cwd: process.cwd(),
    environment: mode === 'namespace' ? [] : undefined,
    keepCopies: false,
    isolation: isolationCode(mode),
    hash,
    refuseImports: [],
    refuseNodeInitFini: false,
    refuseNodeInterposition: false,
    functions: [],
    plugin: false,
    abiMin: 0,
    abiMax: 0,
    shareDependencies: [],
    registries: [],
    allowReplaceable: false,
  };
  const result = addon.loadSync(spec);
  if (!result.ok) throw new Error(`${result.code}: ${result.message}`);
  return { result, lib: libraryFromResult(result, path, mode, undefined, 1000) };
}

// A first open() sets up what every load needs (the namespace runtime, the exit hooks).
beforeAll(() => open(P1, { isolation: 'namespace' }).close());
afterEach(() => expect(strayPrivateFiles()).toEqual([]));

describe.each(['namespace', 'local'] as const)('a copy made without its digest (%s)', (mode) => {
  it("is not hashed at load; info.sha256 is the source bytes' digest, taken from the mapped copy on first read", async () => {
    const { result, lib } = load(P1, mode, false);
    expect(result.sha256).toBe('');
    expect(lib.info.sha256).toBe(sha256(fs.readFileSync(P1)));
    expect(lib.info.sha256).toBe(lib.info.sha256);
    expect(JSON.parse(JSON.stringify(lib.info)).sha256).toBe(sha256(fs.readFileSync(P1)));
    await lib.close();
    // Read once while open: kept after the close.
    expect(lib.info.sha256).toBe(sha256(fs.readFileSync(P1)));
  });

  it('read only after the close: ERR_DLSWAP_CLOSED, which says how to have it', async () => {
    const { lib } = load(P1, mode, false);
    await lib.close();
    expect(() => lib.info.sha256).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_CLOSED', message: expect.stringContaining('sha256') }));
  });

  it('a copy that is rewritten (its private dependencies renamed) is hashed before the rewrite', async () => {
    const { result, lib } = load(SERVICE, mode, false);
    try {
      const source = fs.readFileSync(SERVICE);
      // The mapped copy is not the source's bytes any more: a digest of it would be wrong.
      expect(sha256(fs.readFileSync(lib.info.mappedPath))).not.toBe(sha256(source));
      expect(result.sha256).toBe(sha256(source));
      expect(lib.info.sha256).toBe(sha256(source));
    } finally {
      await lib.close();
    }
  });

  it('hashed at load when asked (the default)', async () => {
    const { result, lib } = load(P1, mode, true);
    expect(result.sha256).toBe(sha256(fs.readFileSync(P1)));
    await lib.close();
    expect(lib.info.sha256).toBe(sha256(fs.readFileSync(P1)));
  });
});

describe('HotLibrary: the digest is taken at load when something can read it', () => {
  it('a setup hook sees the Library, and may keep it past its close: its info.sha256 was taken at load', async () => {
    const { HotLibrary } = await import('../../lib/hot/hot_library');
    const P2 = fixture('libplugin_v2.so');
    const seen: { info: { sha256: string } }[] = [];
    const hot = await HotLibrary.open(P1, { isolation: 'namespace', functions: { v: 'int plugin_version(void)' }, setup: (gen) => void seen.push(gen.lib) });
    const r = await hot.reload(P2);
    await r.retired;
    await hot.close();
    expect(seen.map((lib) => lib.info.sha256)).toEqual([sha256(fs.readFileSync(P1)), sha256(fs.readFileSync(P2))]);
  });
});
