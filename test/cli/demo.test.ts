import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import type { DemoResult } from '../../lib/cli/demo';
import { root, underAsan } from '../helpers';

describe('dlswap demo', () => {
  it('--quick --json: swaps under load in every mode with zero failed calls, every generation unloaded', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'dlswap.js'), 'demo', '--quick', '--json'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as DemoResult;
    expect(report.ok).toBe(true);
    expect(report.failedCalls).toBe(0);
    expect(report.modes.map((m) => m.mode)).toEqual(ISOLATION_MODES.filter((m) => m !== 'deepbind' || !underAsan));
    for (const m of report.modes) {
      expect(m.error).toBeUndefined();
      expect(m.failed).toBe(0);
      expect(m.failures).toEqual([]);
      expect(m.failedReloads).toBe(0);
      expect(m.reloads).toBeGreaterThanOrEqual(4);
      expect(m.syncCalls).toBeGreaterThan(0);
      expect(m.asyncCalls).toBeGreaterThan(0);
      expect(m.leaseCalls).toBeGreaterThan(0);
      expect(m.generations).toBe(m.reloads + 1);
      expect(m.allUnloaded).toBe(true);
      expect(m.unloaded).toBe(m.generations);
      expect(m.reloadMs.p50).toBeGreaterThan(0);
      expect(m.reloadMs.p99).toBeGreaterThanOrEqual(m.reloadMs.p50);
    }
  });

  it('rejects unknown arguments with exit code 2', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'dlswap.js'), 'demo', '--nope'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/dlswap demo: unknown option '--nope'/);
  });
});
