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
  /** The environment node must start with for the library (read by glibc at startup). */
  env?: Record<string, string>;
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

/** How a cell failed: what test/conformance/known_failures.cjs lists. */
type FailureKind = 'crash' | 'crash-at-exit' | 'hang' | 'exit' | 'wrong' | 'error' | 'refused';

interface KnownFailure {
  library: string;
  modes: Isolation[];
  scenarios: Scenario[];
  issue: string;
  kinds: FailureKind[];
  what: string;
  /** When given, the failure's text (the reason, the cell's failures and stderr) must match it. */
  match?: RegExp;
  /** A budget for a known hang, shorter than the default (still 10 times a quiet cell's time). */
  timeoutMs?: number;
  /**
   * A race: the cell fails in some runs only (how often it was seen, in words). Such a cell may also
   * pass; every other listed cell must fail.
   */
  intermittent?: string;
}

const requireCjs = createRequire(__filename);
const libraries = requireCjs('./libraries.cjs') as LibraryEntry[];
const KNOWN_FAILURES = requireCjs('./known_failures.cjs') as KnownFailure[];
const knownFailure = (name: string, mode: Isolation, scenario: Scenario): KnownFailure | undefined =>
  KNOWN_FAILURES.find((k) => k.library === name && k.modes.includes(mode) && k.scenarios.includes(scenario));
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
  glib: {
    deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "imports environ, which node copy-relocates: under RTLD_DEEPBIND it reads libc's never-set copy (NULL)" },
  },
  libpython: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports environ (node copy-relocates it)' } },
  libuv: {
    deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports environ (node copy-relocates it)' },
    local: {
      code: 'ERR_DLSWAP_UNSAFE_MODE',
      why: "its destructor is bound to uv_library_shutdown, which node exports: closing it would shut node's thread pool down",
    },
  },
  // In 'local' node's exports come first in the lookup: a library that calls its own exported
  // functions through the PLT, under names node exports too (node bundles OpenSSL, zlib, brotli),
  // would run node's copy of the code instead of its own.
  libcrypto: { local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its own calls to 3,060 of its functions would run node's bundled OpenSSL" } },
  libssl: { local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its own calls to SSL_SESSION_free and 150 more would run node's bundled OpenSSL" } },
  zlib: { local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its own calls to crc32_z, inflate and 28 more would run node's bundled zlib" } },
  brotlienc: { local: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: "its own calls to BrotliEncoderCompressStream and 6 more would run node's bundled brotli" } },
  brotlidec: {
    local: {
      code: 'ERR_DLSWAP_UNSAFE_MODE',
      why: "its own calls to BrotliDecoderDecompressStream would run node's bundled brotli (a different version: it crashed)",
    },
  },
  icuuc: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports tzname and timezone (node copy-relocates them): stale under RTLD_DEEPBIND' } },
  llvm: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports environ (node copy-relocates it)' } },
  rocksdb: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports std::cout and std::cerr (node copy-relocates them)' } },
  tcl: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports environ (node copy-relocates it)' } },
  gflags: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports std::cerr (node copy-relocates it)' } },
  // Each generation gets its own libgflags (a process-wide registry glog registers in), loaded
  // RTLD_DEEPBIND like the library: that copy imports std::cerr.
  glog: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'its copy of libgflags (one per generation: it holds the flag registry) imports std::cerr' } },
  magickcore: { deepbind: { code: 'ERR_DLSWAP_UNSAFE_MODE', why: 'imports environ (node copy-relocates it)' } },
};

// Per-cell budgets. Cells take well under a second each on this machine; the budget is for a busy
// one. The test's own timeout adds the time a cell may wait for one of the 2 slots.
const CELL_TIMEOUT_MS: Record<Scenario, number> = { basic: 30_000, hot: 45_000 };
const SLOTS = 2;
const run = limiter(SLOTS);

const matrix = new Map<string, string>();
/** Cells that failed exactly as known_failures.cjs says, for the matrix. */
const knownSeen = new Map<string, string>();

function installProblem(entry: LibraryEntry): string | null {
  const file = resolveLibrary(entry.soname);
  const missing = missingPackages([entry.package, ...(entry.packages ?? [])]);
  if (file && missing.length === 0) return null;
  const pkgs = [...new Set([entry.package, ...missing])];
  return file
    ? `${entry.soname} needs the Debian package(s) ${missing.join(', ')}: apt-get install ${missing.join(' ')}`
    : `${entry.soname} (${entry.name}) is not installed: install the Debian package ${entry.package} (apt-get install ${pkgs.join(' ')}; .ci/run does)`;
}

/** Whether the cell left a generation mapped (pinned), for the matrix. */
function pinned(result: CellResult | null): boolean {
  const closed = result?.hot ? ((result.hot as { closed?: { unloaded: boolean }[] }).closed ?? []) : result?.close ? [result.close] : [];
  return closed.some((c) => !c.unloaded);
}

/** Why a cell failed and how, or null when it passed. Also records the cell in the matrix. */
function judge(
  entry: LibraryEntry,
  mode: Isolation,
  scenario: Scenario,
  child: ChildRun,
  result: CellResult | null,
): { why: string; kind: FailureKind } | null {
  const key = `${entry.name}\t${mode}\t${scenario}`;
  const expected = EXPECTED_REFUSALS[entry.name]?.[mode];
  const fail = (cell: string, kind: FailureKind, why: string) => {
    matrix.set(key, cell);
    return { why, kind };
  };
  if (child.timedOut) return fail('TIMEOUT', 'hang', `TIMEOUT: killed after ${child.ms} ms`);
  if (child.signal) {
    return result
      ? fail(`CRASH ${child.signal} at exit`, 'crash-at-exit', `CRASH ${child.signal} after the cell reported '${result.outcome}' (at exit)`)
      : fail(`CRASH ${child.signal}`, 'crash', `CRASH ${child.signal}`);
  }
  if (!result) return fail(`EXIT ${child.code}`, 'exit', `no result line (exit ${child.code})`);
  switch (result.outcome) {
    case 'ok':
      if (child.code !== 0) return fail(`EXIT ${child.code} at exit`, 'exit', `reported ok but exited ${child.code}`);
      if (expected) {
        return fail(
          'ok (refusal expected)',
          'error',
          `expected a refusal with ${expected.code} (${expected.why}), but it ran and every answer was right: remove the entry from EXPECTED_REFUSALS`,
        );
      }
      matrix.set(key, pinned(result) ? 'ok (pinned)' : 'ok');
      return null;
    case 'refused': {
      const cell = `refused ${result.code}${result.refusedAt === 'open' ? '' : ` at ${result.refusedAt}`}`;
      if (mode === 'namespace')
        return fail(cell, 'refused', `refused with ${result.code} in the default mode, which must serve every library: ${result.message}`);
      if (!expected)
        return fail(
          cell,
          'refused',
          `refused with ${result.code} at ${result.refusedAt}, and no refusal is expected for ${entry.name} in '${mode}': ${result.message}`,
        );
      matrix.set(key, cell);
      if (expected.code !== result.code || result.refusedAt !== 'open') {
        return { why: `refused with ${result.code} at ${result.refusedAt}; expected ${expected.code} at open: ${result.message}`, kind: 'refused' };
      }
      return null;
    }
    case 'wrong':
      return fail('WRONG', 'wrong', `WRONG answers (${result.failureCount})`);
    case 'timeout':
      return fail('TIMEOUT (cell deadline)', 'hang', `the cell's own deadline passed in phase '${result.phase}'`);
    case 'missing':
      matrix.set(key, 'MISSING');
      return { why: result.message ?? 'library missing', kind: 'error' };
    default:
      return fail(result.outcome.toUpperCase(), 'error', `${result.outcome} (exit ${child.code})`);
  }
}

function report(why: string, child: ChildRun, result: CellResult | null): string {
  const lastPhase = [...child.stderr.matchAll(/^\[cell [^\]]+\] (.*)$/gm)]
    .map((m) => m[1])
    .filter((l) => !l.startsWith('FAIL'))
    .at(-1);
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
  it('has at least 46 libraries, each with 2-4 sync checks and an async check', () => {
    expect(libraries.length).toBeGreaterThanOrEqual(46);
    expect(new Set(libraries.map((l) => l.name)).size).toBe(libraries.length);
    for (const l of libraries) {
      const n = Object.keys(l.checks).length;
      expect(n, l.name).toBeGreaterThanOrEqual(2);
      expect(n, l.name).toBeLessThanOrEqual(4);
      expect(typeof l.async.run, l.name).toBe('function');
      expect(l.package, l.name).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
    }
  });

  it('lists known failures precisely: a library of the table, its cells, how they fail, and why', () => {
    const kinds: FailureKind[] = ['crash', 'crash-at-exit', 'hang', 'exit', 'wrong', 'error', 'refused'];
    const cells = new Set<string>();
    for (const k of KNOWN_FAILURES) {
      expect(
        libraries.some((l) => l.name === k.library),
        k.library,
      ).toBe(true);
      expect(k.modes.length, k.library).toBeGreaterThan(0);
      for (const m of k.modes) expect(ISOLATION_MODES).toContain(m);
      for (const sc of k.scenarios) expect(SCENARIOS).toContain(sc);
      expect(k.kinds.length, k.library).toBeGreaterThan(0);
      for (const kind of k.kinds) expect(kinds).toContain(kind);
      expect(k.issue, k.library).toMatch(/^issue \d+ [A-Z]\d+\w*$/);
      expect(k.what.length, k.library).toBeGreaterThan(20);
      if (k.intermittent !== undefined) expect(k.intermittent, k.library).toMatch(/\d+ of \d+/);
      // One entry per cell: a cell's expectation is in one place.
      for (const m of k.modes) {
        for (const sc of k.scenarios) {
          const cell = `${k.library} ${m} ${sc}`;
          expect(cells.has(cell), cell).toBe(false);
          cells.add(cell);
        }
      }
    }
  });

  it('expects refusals only of known libraries, never in the default mode', () => {
    for (const [name, modes] of Object.entries(EXPECTED_REFUSALS)) {
      expect(
        libraries.some((l) => l.name === name),
        name,
      ).toBe(true);
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
          const timeoutMs = knownFailure(entry.name, mode, scenario)?.timeoutMs ?? budget ?? CELL_TIMEOUT_MS[scenario];
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
                  env: { ...entry.env, DLSWAP_CELL_DEADLINE_MS: String(timeoutMs - 3_000) },
                }),
              );
              const result = lastJsonLine<CellResult>(child.stdout, 'cell');
              const failed = judge(entry, mode, scenario, child, result);
              const known = knownFailure(entry.name, mode, scenario);
              const key = `${entry.name}\t${mode}\t${scenario}`;
              if (!failed) {
                if (known && !known.intermittent) {
                  expect.fail(
                    `${entry.name} ${mode} ${scenario} passed, but test/conformance/known_failures.cjs lists it as failing (${known.issue}: ${known.what}): remove it from the list`,
                  );
                }
                return;
              }
              const text = report(`${entry.name} ${mode} ${scenario}: ${failed.why}`, child, result);
              if (known?.kinds.includes(failed.kind) && (!known.match || known.match.test(text))) {
                knownSeen.set(key, `${matrix.get(key)} [known: ${known.issue}]`);
                return;
              }
              if (known) {
                expect.fail(
                  `listed in known_failures.cjs as ${known.kinds.join(' or ')}${known.match ? ` matching ${known.match}` : ''} (${known.issue}: ${known.what}), but it failed as ${failed.kind}:\n${text}`,
                );
              }
              expect.fail(text);
            },
            // The cell's budget, plus waiting for a slot behind at most a few other cells.
            3 * timeoutMs + 10_000,
          );
        }
      }
    });
  }
});

// inspect's advice checked against what ran: when some mode passed both of a library's cells, the
// mode inspect recommends must be one of those, never one the loader refuses or one that crashed
// (a known H1 crash at exit, dlswap's own bug in the namespace modes, counts as passed here).
describe('inspect on the same libraries', () => {
  it('recommends, for each library, a mode in which its cells passed, when there is one', async () => {
    const { inspect } = await import('../../lib/analysis/inspect');
    let checked = 0;
    for (const l of libraries) {
      const file = resolveLibrary(l.soname);
      if (!file) continue;
      // A known exit-time crash of dlswap's own (H1) is no fault of the mode: inspect cannot route around it.
      const passed = (m: Isolation) =>
        SCENARIOS.every((s) => /^ok/.test(matrix.get(`${l.name}\t${m}\t${s}`) ?? '') || knownFailure(l.name, m, s)?.issue === 'issue 22 H1');
      if (ISOLATION_MODES.some((m) => SCENARIOS.some((s) => matrix.get(`${l.name}\t${m}\t${s}`) === undefined))) continue; // filtered out of this run
      const good = ISOLATION_MODES.filter(passed);
      if (!good.length) continue;
      checked++;
      // inspect judges by this process's environment: the one the library's cells ran with.
      const saved = process.env.GLIBC_TUNABLES;
      if (l.env?.GLIBC_TUNABLES !== undefined) process.env.GLIBC_TUNABLES = l.env.GLIBC_TUNABLES;
      let mode: Isolation | null;
      try {
        mode = inspect(file).recommendation.isolation;
      } finally {
        if (saved === undefined) delete process.env.GLIBC_TUNABLES;
        else process.env.GLIBC_TUNABLES = saved;
      }
      expect(good, `${l.name}: inspect recommends ${mode}; both cells passed in ${good.join(', ')}`).toContain(mode);
    }
    if (matrix.size > 0) expect(checked).toBeGreaterThan(0);
  });
});

// The matrix of this run, for docs/conformance.md: build/conformance/matrix.md, with a count per mode.
afterAll(() => {
  if (matrix.size === 0) return;
  const cols = ISOLATION_MODES.flatMap((m) => SCENARIOS.map((s) => `${m} ${s}`));
  const lines = [`| library (package) | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
  for (const l of libraries) {
    const cells = ISOLATION_MODES.flatMap((m) => SCENARIOS.map((s) => matrix.get(`${l.name}\t${m}\t${s}`) ?? '—'));
    if (cells.every((c) => c === '—')) continue;
    lines.push(`| ${l.name} (${l.package}) | ${cells.join(' | ')} |`);
  }
  const kinds = ['ok', 'pinned', 'refused', 'wrong', 'error', 'crash', 'crash at exit', 'hang'];
  const kindOf = (c: string): string =>
    c === 'ok'
      ? 'ok'
      : c === 'ok (pinned)'
        ? 'pinned'
        : c.startsWith('refused')
          ? 'refused'
          : c === 'WRONG'
            ? 'wrong'
            : /^CRASH .* at exit$|^EXIT .* at exit$/.test(c)
              ? 'crash at exit'
              : c.startsWith('CRASH') || c.startsWith('EXIT')
                ? 'crash'
                : c.startsWith('TIMEOUT')
                  ? 'hang'
                  : 'error';
  lines.push('', `| mode | ${kinds.join(' | ')} |`, `|---|${kinds.map(() => '---').join('|')}|`);
  for (const m of ISOLATION_MODES) {
    const counts = kinds.map((k) => [...matrix].filter(([key, c]) => key.split('\t')[1] === m && kindOf(c) === k).length);
    lines.push(`| ${m} | ${counts.join(' | ')} |`);
  }
  if (knownSeen.size) lines.push('', 'Known failures seen as listed:', ...[...knownSeen].map(([k, v]) => `- ${k.split('\t').join(' ')}: ${v}`));
  const dir = path.join(root, 'build', 'conformance');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'matrix.md'), `${lines.join('\n')}\n`);
});
