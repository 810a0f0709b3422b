// The pieces the reload phases are made of (lib/hot/hot_phases.ts and its helpers), on their own: which
// phase reaches which fault point, the plugin ABI table against include/dlswap.h, the retry policy of
// a retirement, and the phase clock.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HANDOVER_FAULT_POINTS, PHASE_FAULT_POINTS, RELOAD_FAULT_POINTS } from '../../lib/faults';
import { PLUGIN_ENTRY_POINTS, resolvePluginAbi } from '../../lib/hot/plugin_abi';
import { RETIRE_PASSES, pinnedByFailure, retryRetirement } from '../../lib/hot/retire_policy';
import { PhaseTimer } from '../../lib/hot/phase_timer';
import type { LoadResult } from '../../lib/native';

describe('fault points by phase', () => {
  it('every reload and handover point belongs to exactly one phase', () => {
    const mapped = Object.values(PHASE_FAULT_POINTS).flat();
    expect([...mapped].sort()).toEqual([...RELOAD_FAULT_POINTS, ...HANDOVER_FAULT_POINTS].sort());
    expect(new Set(mapped).size).toBe(mapped.length);
  });

  it('the phases are the documented ones', () => {
    expect(Object.keys(PHASE_FAULT_POINTS)).toEqual(['loading', 'verifying', 'swap', 'draining', 'teardown', 'finalizing', 'closing']);
  });
});

describe('the plugin ABI', () => {
  it('PLUGIN_ENTRY_POINTS are the prototypes of include/dlswap.h', () => {
    const header = fs.readFileSync(path.join(__dirname, '..', '..', 'include', 'dlswap.h'), 'utf8');
    const declared = [...header.matchAll(/^DLSWAP_EXPORT\s+(.+?);$/gm)].map((m) => m[1].replace(/\s+/g, ' '));
    expect(declared.length).toBeGreaterThan(0);
    expect(declared.sort()).toEqual(Object.values(PLUGIN_ENTRY_POINTS).sort());
    for (const [name, proto] of Object.entries(PLUGIN_ENTRY_POINTS)) expect(proto).toContain(`${name}(`);
  });

  it('resolvePluginAbi reads what the loader found', () => {
    const base = { ok: true, symbols: [] } as unknown as LoadResult;
    expect(resolvePluginAbi({ ...base, abi: 1, hasVersion: true, version: '1.2', initialized: true })).toEqual({
      abiVersion: 1,
      version: '1.2',
      initialized: true,
    });
    expect(resolvePluginAbi({ ...base, hasVersion: false, version: '', initialized: false })).toEqual({ abiVersion: 0, version: null, initialized: false });
  });
});

describe('the retirement retry policy', () => {
  it('a pass that fails once is retried, and the failure is heard at once', async () => {
    const heard: unknown[] = [];
    let passes = 0;
    const result = await retryRetirement(
      async () => {
        if (++passes === 1) throw new Error('transient');
      },
      (e) => heard.push(e),
    );
    expect(result).toBeNull();
    expect(passes).toBe(2);
    expect(heard).toHaveLength(1);
  });

  it(`gives up after ${RETIRE_PASSES} passes and returns the last failure, unheard`, async () => {
    const heard: unknown[] = [];
    let passes = 0;
    const result = await retryRetirement(
      async () => {
        throw new Error(`pass ${++passes}`);
      },
      (e) => heard.push(e),
    );
    expect(passes).toBe(RETIRE_PASSES);
    expect((result!.error as Error).message).toBe(`pass ${RETIRE_PASSES}`);
    expect(heard).toHaveLength(RETIRE_PASSES - 1);
  });

  it('says which step the image stays mapped for', () => {
    const e = new Error('boom');
    expect(pinnedByFailure(e, { drained: false, finalized: false, closed: false })).toMatch(/boom.*calls or leases/);
    expect(pinnedByFailure(e, { drained: true, finalized: false, closed: false })).toMatch(/dlswap_fini did not run/);
    expect(pinnedByFailure(e, { drained: true, finalized: true, closed: false })).toMatch(/dlclose was not reached/);
  });
});

describe('the phase clock', () => {
  it('laps add up per phase, recorded phases are set, and no report means no record', async () => {
    const durations: Record<string, number> = {};
    const timer = new PhaseTimer(durations);
    timer.record('verifying', 5);
    await new Promise((r) => setTimeout(r, 5));
    const ms = timer.lap('verifying');
    expect(ms).toBeGreaterThan(0);
    expect(durations.verifying).toBeCloseTo(5 + ms, 6);
    timer.record('closing', 2);
    expect(durations.closing).toBe(2);
    const none = new PhaseTimer(undefined);
    expect(none.lap('swap')).toBeGreaterThanOrEqual(0);
  });
});
