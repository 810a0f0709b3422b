import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { privateFiles } from '../lib/load/temp_area';

export const root = path.resolve(__dirname, '..');
export const fixturesDir = path.join(root, 'build', 'fixtures');
export const fixture = (name: string): string => path.join(fixturesDir, name);

/**
 * Files of this process's private directory that no mapping of the process is of: a finished test
 * leaves none. A copy stays as long as its image is mapped (a pinned generation's, a NODELETE
 * dependency's), for debuggers and profilers; /proc/self/maps, not dlswap, says which are.
 */
export function strayPrivateFiles(): string[] {
  const mapped = new Set(
    fs
      .readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .map((l) => l.split(/\s+/).slice(5).join(' '))
      .filter((f) => f.startsWith('/'))
      .map((f) => path.basename(f)),
  );
  return privateFiles().filter((f) => !mapped.has(f));
}

/** Lines of /proc/self/maps that belong to dlswap's private copies (of this process). */
export function privateMappings(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
}

/**
 * Runs a CommonJS script in a child node that has dlswap's dist build as `dlswap` (the same code as
 * lib/: test/setup/compiled_dist.ts compiles it before the run). For hazards that crash the process,
 * and for tests that need a process of their own (namespace budgets, exit).
 */
export function runChild(
  script: string,
  opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; timeout?: number } = {},
): SpawnSyncReturns<string> {
  const prelude = `const dlswap = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});\n`;
  return spawnSync(process.execPath, ['-e', prelude + script], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    uid: opts.uid,
    gid: opts.gid,
    timeout: opts.timeout ?? 60_000,
  });
}

/**
 * True when the suite runs under AddressSanitizer (scripts/test-asan.mjs preloads libasan). dlswap
 * refuses isolation 'deepbind' there (RTLD_DEEPBIND binds the library past ASan's interceptors), so
 * tests of that mode are skipped.
 */
export const underAsan = /libasan/.test(process.env.LD_PRELOAD ?? '');

/** mulberry32: a tiny, fast seeded random source; good enough that a fuzz failure reproduces from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
