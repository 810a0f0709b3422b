import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { defaultDirs } from '../lib/load/search';
import { privateFiles } from '../lib/load/temp_area';

export const root = path.resolve(__dirname, '..');
export const fixturesDir = path.join(root, 'build', 'fixtures');
export const fixture = (name: string): string => path.join(fixturesDir, name);

/** A system library by file name, in the dynamic loader's default directories (lib/load/search.ts), or null. */
export function findSystemLib(name: string): string | null {
  for (const d of defaultDirs()) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

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
export function runChild(script: string, opts: { env?: NodeJS.ProcessEnv; as?: readonly string[]; timeout?: number } = {}): SpawnSyncReturns<string> {
  const prelude = `const dlswap = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});\n`;
  const node = [process.execPath, '-e', prelude + script];
  const [cmd, ...args] = opts.as ? ['setpriv', ...opts.as, ...node] : node;
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...opts.env }, timeout: opts.timeout ?? 60_000 });
  if (r.error && opts.as) throw new Error(`setpriv (util-linux) could not run the child: ${r.error.message}`);
  return r;
}

// Who a child runs as, for tests run by root (`runChild(script, { as })`: setpriv's arguments). Each
// keeps the checkout reachable wherever it lives (root's home, a 0700 `mktemp -d`), so the suite does
// not depend on where it was cloned.

/** Root without root's bypass of file permissions: a file of mode 000 is as unreadable as for anyone. */
export const ROOT_WITHOUT_BYPASS = ['--bounding-set=-dac_override,-dac_read_search'] as const;

/**
 * User `nobody` (65534), which may read and search every directory (CAP_DAC_READ_SEARCH, so the
 * checkout is reachable) and write nothing it does not own: for checks of who owns what.
 */
export const NOBODY_READING = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'] as const;

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

/**
 * CPU milliseconds (user + system, this process) that `f` took. For hang guards on work the test
 * thread does itself (a parser on a pathological input): unlike the wall clock, a loaded machine does
 * not stretch it. CONTRIBUTING.md says how large a guard must be (10x the quiet figure at least).
 */
export function cpuMs(f: () => void): number {
  const before = process.cpuUsage();
  f();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}
