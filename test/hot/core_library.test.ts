/**
 * The thin-loader architecture (a service whose logic is a hot-updatable C++ core library): the core
 * fixture (fixtures-c/core: OpenSSL, std::cerr, exceptions, a mutex and a thread of its own) is
 * swapped v1 -> v2 -> v1 -> v2 -> v1 under continuous sync and async load, in every isolation mode,
 * each mode in a child process of its own (test/core_library/swap.cjs) so that a crash fails that
 * mode and nothing else.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { lastJsonLine, runNode } from '../child';
import { fixture, underAsan } from '../helpers';

interface CoreResult {
  core: string;
  outcome: 'ok' | 'refused' | 'wrong' | 'timeout' | 'missing';
  message?: string;
  code?: string;
  causeCode?: string;
  plainOpen?: string;
  failureCount: number;
  failures: unknown[];
  swaps?: { what: string; from: number; to: number; version: number; unloaded?: boolean; pinnedReason?: string }[];
  answers?: { sync: Record<string, number>; async: Record<string, number> };
  straddled?: number;
  generations?: { id: number; state: string; version: string | null; unloaded?: boolean; pinnedReason?: string }[];
  readyLogs?: [number, string][];
  auditorThreadsLeft?: number;
}

const SCRIPT = path.join(__dirname, '..', 'core_library', 'swap.cjs');
const TIMEOUT_MS = 60_000;

async function swapIn(mode: string): Promise<CoreResult> {
  const child = await runNode(SCRIPT, [mode], { timeoutMs: TIMEOUT_MS, env: { DLSWAP_CELL_DEADLINE_MS: String(TIMEOUT_MS - 5_000) } });
  const result = lastJsonLine<CoreResult>(child.stdout, 'core');
  const what = child.timedOut ? `TIMEOUT after ${child.ms} ms` : child.signal ? `CRASH ${child.signal}` : `exit ${child.code}`;
  const context = `${mode}: ${what}\nresult: ${JSON.stringify(result)}\nstderr (tail):\n${child.stderr.split('\n').slice(-25).join('\n')}`;
  expect(child.timedOut, context).toBe(false);
  expect(child.signal, context).toBeNull();
  expect(result, context).not.toBeNull();
  expect(result!.outcome, context).not.toBe('missing');
  expect(child.code, context).toBe(0);
  return result!;
}

describe('the core fixture', () => {
  it('is built (needs OpenSSL headers: Debian libssl-dev)', () => {
    for (const v of ['libcore_v1.so', 'libcore_v2.so']) {
      expect(fs.existsSync(fixture(v)), `${fixture(v)} is missing: install libssl-dev, then npm run build:fixtures`).toBe(true);
    }
  });
});

describe.each(ISOLATION_MODES.filter((m) => m !== 'deepbind' || !underAsan))('core library in %s', (mode) => {
  if (mode === 'deepbind') {
    it(
      'is refused with ERR_DLSWAP_UNSAFE_MODE: it uses std::cerr, which node copy-relocates',
      async () => {
        const r = await swapIn(mode);
        expect(r.outcome).toBe('refused');
        expect(r.code).toBe('ERR_DLSWAP_RELOAD');
        expect(r.causeCode).toBe('ERR_DLSWAP_UNSAFE_MODE');
        expect(r.message).toMatch(/_ZSt4cerr/);
        expect(r.plainOpen).toBe('ERR_DLSWAP_UNSAFE_MODE');
      },
      TIMEOUT_MS + 10_000,
    );
    return;
  }

  it(
    'swaps v1 -> v2 -> v1 -> v2 -> v1 under sync and async load; every answer comes from the generation it started on',
    async () => {
      const r = await swapIn(mode);
      const context = JSON.stringify(r);
      expect(r.outcome, context).toBe('ok');
      expect(r.failureCount, context).toBe(0);
      expect(
        r.swaps!.map((s) => [s.from, s.to, s.version]),
        context,
      ).toEqual([
        [1, 2, 2],
        [2, 3, 1],
        [3, 4, 2],
        [4, 5, 1],
      ]);
      // Both versions answered, sync and async, with the right version and sha256 (checked per call
      // by the child against node's crypto), and some async calls were in flight across a swap.
      for (const kind of ['sync', 'async'] as const) {
        expect(r.answers![kind]['1'], `${kind} answers of v1: ${context}`).toBeGreaterThan(0);
        expect(r.answers![kind]['2'], `${kind} answers of v2: ${context}`).toBeGreaterThan(0);
      }
      expect(r.straddled, context).toBeGreaterThan(0);
      // Each generation ran its dlswap_init (log through the host) and reported its version.
      expect(r.readyLogs, context).toEqual([
        [1, 'core v1 ready'],
        [2, 'core v2 ready'],
        [3, 'core v1 ready'],
        [4, 'core v2 ready'],
        [5, 'core v1 ready'],
      ]);
      expect(
        r.generations!.map((g) => [g.id, g.state, g.version]),
        context,
      ).toEqual([
        [1, 'closed', 'core-1'],
        [2, 'closed', 'core-2'],
        [3, 'closed', 'core-1'],
        [4, 'closed', 'core-2'],
        [5, 'closed', 'core-1'],
      ]);
      // Built with -fno-gnu-unique and joining its thread in dlswap_fini, every generation unloads.
      expect(
        r.generations!.map((g) => g.unloaded),
        context,
      ).toEqual([true, true, true, true, true]);
      expect(r.auditorThreadsLeft, context).toBe(0);
    },
    TIMEOUT_MS + 10_000,
  );
});
