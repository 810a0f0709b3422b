/**
 * The real-library conformance suite: every library of test/conformance/libraries.cjs, in every
 * isolation mode, in two scenarios (basic: open, calls, an async call, close; hot: HotLibrary with
 * reloads under sync and async load). Each cell runs in a child process of its own
 * (test/conformance/cell.cjs), so that a crash fails that cell and nothing else. See
 * docs/conformance.md.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DlswapErrorCode } from '../../lib/errors';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { lastJsonLine, limiter, runNode, type ChildRun } from '../child';
import { root } from '../helpers';

interface LibraryEntry {
  name: string;
  package: string;
  packages?: string[];
  soname: string;
  functions: Record<string, string>;
  checks: Record<string, unknown>;
  async: { name: string; run: unknown };
  timeoutMs?: number;
}

interface CellResult {
  cell: string;
  outcome: 'ok' | 'refused' | 'wrong' | 'error' | 'timeout' | 'missing' | 'usage';
  code?: string;
  refusedAt?: string;
  message?: string;
  phase?: string;
  failureCount?: number;
  failures?: { what: string; message: string }[];
  close?: { unloaded: boolean; reason?: string };
  hot?: { reloads: unknown[]; sync: number; async: number };
}

const requireCjs = createRequire(__filename);
const libraries = requireCjs('./libraries.cjs') as LibraryEntry[];
const { resolveLibrary, missingPackages } = requireCjs('./resolve.cjs') as {
  resolveLibrary(soname: string): string | null;
  missingPackages(names: string[]): string[];
};

const CELL = path.join(__dirname, '..', 'conformance', 'cell.cjs');
const SCENARIOS = ['basic', 'hot'] as const;
type Scenario = (typeof SCENARIOS)[number];

/**
 * Refusals that are right: the mode cannot serve the library and dlswap says so, with a typed code,
 * before anything crashes. Everything not listed here must work. Keep it honest and small: an entry
 * that no longer refuses fails its cell (remove the entry), and no entry may name 'namespace', the
 * default mode, which must serve every library.
 */
const EXPECTED_REFUSALS: Record<string, Partial<Record<Isolation, { code: DlswapErrorCode; why: string }>>> = {
  glib: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports environ, which node copy-relocates: under RTLD_DEEPBIND it reads libc\'s never-set copy (NULL)' } },
  libpython: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports environ (node copy-relocates it)' } },
  libuv: {
    deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports environ (node copy-relocates it)' },
    local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its destructor is bound to uv_library_shutdown, which node exports: closing it would shut node's thread pool down" },
  },
  // In 'local' node's exports come first in the lookup: a library that calls its own exported
  // functions through the PLT, under names node exports too (node bundles OpenSSL, zlib, brotli),
  // would run node's copy of the code instead of its own.
  libcrypto: { local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its own calls to 3,060 of its functions would run node's bundled OpenSSL" } },
  libssl: { local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its own calls to SSL_SESSION_free and 150 more would run node's bundled OpenSSL" } },
  zlib: { local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its own calls to crc32_z, inflate and 28 more would run node's bundled zlib" } },
  brotlienc: { local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its own calls to BrotliEncoderCompressStream and 6 more would run node's bundled brotli" } },
  brotlidec: { local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its own calls to BrotliDecoderDecompressStream would run node's bundled brotli (a different version: it crashed)" } },
  icuuc: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports tzname and timezone (node copy-relocates them): stale under RTLD_DEEPBIND' } },
  llvm: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports environ (node copy-relocates it)' } },
};

// Per-cell budgets. Cells take well under a second each on this machine; the budget is for a busy
// one. The test's own timeout adds the time a cell may wait for one of the 2 slots.
const CELL_TIMEOUT_MS: Record<Scenario, number> = { basic: 30_000, hot: 45_000 };
const SLOTS = 2;
const run = limiter(SLOTS);

const matrix = new Map<string, string>();

function installProblem(entry: LibraryEntry): string | null {
  const file = resolveLibrary(entry.soname);
  const missing = missingPackages([entry.package, ...(entry.packages ?? [])]);
  if (file && missing.length === 0) return null;
  const pkgs = [...new Set([entry.package, ...missing])];
  return file
    ? `${entry.soname} needs the Debian package(s) ${missing.join(', ')}: apt-get install ${missing.join(' ')}`
    : `${entry.soname} (${entry.name}) is not installed: install the Debian package ${entry.package} (apt-get install ${pkgs.join(' ')}; .ci/run does)`;
}

/** Why a cell failed, or null when it passed. Also records the cell in the matrix. */
function judge(entry: LibraryEntry, mode: Isolation, scenario: Scenario, child: ChildRun, result: CellResult | null): string | null {
  const key = `${entry.name}\t${mode}\t${scenario}`;
  const expected = EXPECTED_REFUSALS[entry.name]?.[mode];
  if (child.timedOut) {
    matrix.set(key, 'TIMEOUT');
    return `TIMEOUT: killed after ${child.ms} ms`;
  }
  if (child.signal) {
    matrix.set(key, `CRASH ${child.signal}`);
    return result ? `CRASH ${child.signal} after the cell reported '${result.outcome}' (at exit)` : `CRASH ${child.signal}`;
  }
  if (!result) {
    matrix.set(key, `ERROR (exit ${child.code})`);
    return `no result line (exit ${child.code})`;
  }
  switch (result.outcome) {
    case 'ok':
      if (child.code !== 0) {
        matrix.set(key, `ERROR (exit ${child.code})`);
        return `reported ok but exited ${child.code}`;
      }
      if (expected) {
        matrix.set(key, 'ok (refusal expected)');
        return `expected a refusal with ${expected.code} (${expected.why}), but it ran and every answer was right: remove the entry from EXPECTED_REFUSALS`;
      }
      matrix.set(key, 'ok');
      return null;
    case 'refused':
      matrix.set(key, `refused ${result.code}${result.refusedAt === 'open' ? '' : ` at ${result.refusedAt}`}`);
      if (mode === 'namespace') return `refused with ${result.code} in the default mode, which must serve every library: ${result.message}`;
      if (!expected) return `refused with ${result.code} at ${result.refusedAt}, and no refusal is expected for ${entry.name} in '${mode}': ${result.message}`;
      if (expected.code !== result.code || result.refusedAt !== 'open') {
        return `refused with ${result.code} at ${result.refusedAt}; expected ${expected.code} at open: ${result.message}`;
      }
      return null;
    case 'wrong':
      matrix.set(key, 'WRONG');
      return `WRONG answers (${result.failureCount})`;
    case 'missing':
      matrix.set(key, 'MISSING');
      return result.message ?? 'library missing';
    default:
      matrix.set(key, result.outcome.toUpperCase());
      return `${result.outcome} (exit ${child.code})`;
  }
}

function report(why: string, child: ChildRun, result: CellResult | null): string {
  const lastPhase = [...child.stderr.matchAll(/^\[cell [^\]]+\] (.*)$/gm)].map((m) => m[1]).filter((l) => !l.startsWith('FAIL')).at(-1);
  const parts = [why];
  if (child.signal || child.timedOut) parts.push(`last phase: ${lastPhase ?? '(none)'}`);
  if (result) {
    const { failures, ...rest } = result;
    parts.push(`result: ${JSON.stringify(rest)}`);
    for (const f of failures ?? []) parts.push(`  - ${f.what}: ${f.message}`);
  }
  parts.push(`stderr (tail):\n${child.stderr.split('\n').slice(-25).join('\n')}`);
  return parts.join('\n');
}

describe('the conformance table', () => {
  it('has at least 22 libraries, each with 2-4 sync checks and an async check', () => {
    expect(libraries.length).toBeGreaterThanOrEqual(22);
    expect(new Set(libraries.map((l) => l.name)).size).toBe(libraries.length);
    for (const l of libraries) {
      const n = Object.keys(l.checks).length;
      expect(n, l.name).toBeGreaterThanOrEqual(2);
      expect(n, l.name).toBeLessThanOrEqual(4);
      expect(typeof l.async.run, l.name).toBe('function');
      expect(l.package, l.name).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
    }
  });

  it('expects refusals only of known libraries, never in the default mode', () => {
    for (const [name, modes] of Object.entries(EXPECTED_REFUSALS)) {
      expect(libraries.some((l) => l.name === name), name).toBe(true);
      expect(Object.keys(modes), name).not.toContain('namespace');
      for (const r of Object.values(modes)) expect(r!.code).toMatch(/^ERR_DLSWAP_/);
    }
  });
});

// One concurrent suite: cells of all libraries share the SLOTS child processes, with no barrier
// between one library and the next.
describe.concurrent('cells', () => {
  for (const entry of libraries) {
    describe(`${entry.name} (${entry.package})`, () => {
      it(`is installed (${entry.soname})`, () => {
        const problem = installProblem(entry);
        if (problem) throw new Error(problem);
      });

      const budget = entry.timeoutMs;
      for (const mode of ISOLATION_MODES) {
        for (const scenario of SCENARIOS) {
          const timeoutMs = budget ?? CELL_TIMEOUT_MS[scenario];
          it(
            `${mode} ${scenario}`,
            async () => {
              const problem = installProblem(entry);
              if (problem) {
                matrix.set(`${entry.name}\t${mode}\t${scenario}`, 'MISSING');
                throw new Error(problem);
              }
              const child = await run(() =>
                runNode(CELL, [entry.name, mode, scenario], {
                  timeoutMs,
                  env: { DLSWAP_CELL_DEADLINE_MS: String(timeoutMs - 3_000) },
                }),
              );
              const result = lastJsonLine<CellResult>(child.stdout, 'cell');
              const why = judge(entry, mode, scenario, child, result);
              if (why) expect.fail(report(`${entry.name} ${mode} ${scenario}: ${why}`, child, result));
            },
            // The cell's budget, plus waiting for a slot behind at most a few other cells.
            3 * timeoutMs + 10_000,
          );
        }
      }
    });
  }
});

// The matrix of this run, for docs/conformance.md: build/conformance/matrix.md.
// inspect's advice checked against what ran: the mode it recommends for each real library must be
// one in which both of its cells passed, never one the loader refuses or one that crashed.
describe('inspect on the same libraries', () => {
  it('recommends, for each library, a mode in which its cells passed', async () => {
    const { inspect } = await import('../../lib/analysis/inspect');
    let checked = 0;
    for (const l of libraries) {
      const file = resolveLibrary(l.soname);
      if (!file) continue;
      const mode = inspect(file).recommendation.isolation;
      const cells = SCENARIOS.map((s) => matrix.get(`${l.name}\t${mode}\t${s}`));
      if (cells.some((c) => c === undefined)) continue; // those cells were filtered out of this run
      checked++;
      expect(cells, `${l.name}: inspect recommends ${mode}`).toEqual(SCENARIOS.map(() => 'ok'));
    }
    if (matrix.size > 0) expect(checked).toBeGreaterThan(0);
  });
});

afterAll(() => {
  if (matrix.size === 0) return;
  const cols = ISOLATION_MODES.flatMap((m) => SCENARIOS.map((s) => `${m} ${s}`));
  const lines = [`| library (package) | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
  for (const l of libraries) {
    const cells = ISOLATION_MODES.flatMap((m) => SCENARIOS.map((s) => matrix.get(`${l.name}\t${m}\t${s}`) ?? '—'));
    if (cells.every((c) => c === '—')) continue;
    lines.push(`| ${l.name} (${l.package}) | ${cells.join(' | ')} |`);
  }
  const dir = path.join(root, 'build', 'conformance');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'matrix.md'), `${lines.join('\n')}\n`);
});
