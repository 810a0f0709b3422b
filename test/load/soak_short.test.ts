// A short run of bench/soak.mjs (`npm run soak` runs the full one: 10,000 reloads in namespace,
// 1,000 in local and deepbind). In its own process, so that what is measured is dlswap's and not
// the test runner's. Too short for the soak's per-1,000 slopes (V8 is still sizing its heap), so
// it checks absolute bounds that any per-reload leak of an image, an fd or a generation's objects
// would exceed.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { root, underAsan } from '../helpers';

interface Point {
  reloads: number;
  rssAnonMiB: number;
  heapUsedMiB: number;
  mappings: number;
  privateMappings: number;
  fds: number;
}
interface ModeResult {
  mode: string;
  reloads: number;
  calls: number;
  failures: number;
  failureSamples: string[];
  retireErrors: number;
  first: Point;
  last: Point;
  points: Point[];
}

it('short soak: reloads under async load in every mode, zero failures, bounded growth', () => {
  const modes = underAsan ? ['namespace', 'local'] : ['namespace', 'local', 'deepbind'];
  const args = [path.join(root, 'bench', 'soak.mjs'), '--json', '--warmup', '300', '--samples', '10'];
  const plan: [string, number][] = modes.map((m) => [m, m === 'namespace' ? 500 : 150]);
  const results: ModeResult[] = [];
  for (const [mode, reloads] of plan) {
    const r = spawnSync(process.execPath, [...args, '--mode', mode, '--reloads', String(reloads)], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    results.push(...(JSON.parse(r.stdout).results as ModeResult[]));
  }
  for (const m of results) {
    const growth = (k: keyof Point) => Math.max(...m.points.map((p) => p[k])) - m.first[k];
    const summary = { mode: m.mode, failures: m.failureSamples, growth: { anon: growth('rssAnonMiB'), heap: growth('heapUsedMiB'), maps: growth('mappings') } };
    expect(m.failures, JSON.stringify(summary)).toBe(0);
    expect(m.retireErrors).toBe(0);
    expect(m.calls).toBeGreaterThan(m.reloads);
    // Exact: every closed generation's image is gone, no fd is left open.
    expect(m.last.privateMappings, m.mode).toBe(m.first.privateMappings);
    expect(m.last.fds, m.mode).toBe(m.first.fds);
    // Bounded: one leaked image per reload would be >= 5 mappings per reload; keeping each
    // generation's Library and ELF tables ~4 KiB of JS heap per reload.
    expect(growth('mappings'), JSON.stringify(summary)).toBeLessThan(50);
    expect(growth('heapUsedMiB'), JSON.stringify(summary)).toBeLessThan(1);
    // Under ASan freed memory sits in its quarantine (256 MiB by default) before it is reused:
    // resident memory grows by design there, and only the other bounds mean something.
    if (!underAsan) expect(growth('rssAnonMiB'), JSON.stringify(summary)).toBeLessThan(24);
  }
}, 120_000);
