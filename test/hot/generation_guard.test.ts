// The generation guard (lib/hot/generation_guard.ts): whatever fails between a generation's load and
// its activation (a fault point, a throwing setup hook, a listener, a getter of the type registry, an
// abort, close(), a handover that cannot drain), in HotLibrary.open and in reload, in every mode, the
// caller gets a coded error and the generation is gone: no private copy of it stays mapped, its
// dlswap_fini ran exactly once if its dlswap_init ran, and every constructor got its destructor.
// The scenarios run in child processes (test/hot/guard_scenarios.cjs), one per mode, with
// librecord.so writing down each piece of its code that runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastJsonLine, limiter, runNode } from '../child';
import { underAsan } from '../helpers';

interface Result {
  kind: 'open' | 'reload';
  name: string;
  code?: string;
  causeCode?: string;
  failedPhase?: string;
  isDlswapError: boolean;
  mapped: number;
  mappedAfterClose?: number;
  serving?: number | null;
  generations?: [number, string, boolean | null][];
  record: Record<string, number>;
}
interface Run {
  mode: string;
  count: number;
  results: Result[];
  uncaught: string[];
}

const script = path.join(__dirname, 'guard_scenarios.cjs');
const MODES = ['local', ...(underAsan ? [] : ['deepbind']), 'namespace', 'fresh-namespace'];
// (The type registry is read once, by the options check, before anything is loaded: a getter of it
// that throws fails there, not inside a generation: test/hot/hot_reload.test.ts 'declared functions'.)
const SCENARIOS = 18;
// fresh-namespace: glibc's namespace and static TLS budget lasts about ten loads per process.
const CHUNK: Record<string, number> = { 'fresh-namespace': 3 };
const two = limiter(2);

async function runScenarios(mode: string, range: string): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-guard-'));
  try {
    const child = await two(() => runNode(script, [mode, range], { timeoutMs: 120_000, env: { DLSWAP_FIXTURE_RECORD: path.join(dir, 'record') } }));
    const run = lastJsonLine<Run>(child.stdout, 'results');
    expect(run, `mode ${mode} ${range}: exit ${child.code} ${child.signal ?? ''}\n${child.stderr}`).not.toBeNull();
    expect(child.code).toBe(0);
    return run!;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Each generation's inits and finis: exactly as many finis as inits, and never more than one. */
function expectFiniPerInit(r: Result): void {
  const counts = (what: string) =>
    Object.fromEntries(
      Object.entries(r.record)
        .filter(([k]) => k.startsWith(`${what} `))
        .map(([k, n]) => [k.slice(what.length + 1), n]),
    );
  const inits = counts('init');
  const finis = counts('fini');
  expect(finis, `${r.kind} '${r.name}': fini per generation`).toEqual(inits);
  for (const n of Object.values(inits)) expect(n).toBe(1);
  const ctors = Object.entries(r.record)
    .filter(([k]) => k.startsWith('ctor '))
    .reduce((a, [, n]) => a + n, 0);
  const dtors = Object.entries(r.record)
    .filter(([k]) => k.startsWith('dtor '))
    .reduce((a, [, n]) => a + n, 0);
  expect(dtors, `${r.kind} '${r.name}': a destructor per constructor`).toBe(ctors);
}

describe.each(MODES)('%s: a generation that fails before it serves', (mode) => {
  it('is discarded: a coded error, no mapping left, one fini per init, whatever failed', async () => {
    const chunk = CHUNK[mode] ?? SCENARIOS;
    const ranges = Array.from({ length: Math.ceil(SCENARIOS / chunk) }, (_, i) => `${i * chunk}:${Math.min(SCENARIOS, (i + 1) * chunk)}`);
    const runs = await Promise.all(ranges.map((r) => runScenarios(mode, r)));
    expect(runs[0].count).toBe(SCENARIOS);
    const results = runs.flatMap((r) => r.results);
    expect(results).toHaveLength(SCENARIOS);
    for (const r of results) {
      const what = `${r.kind} '${r.name}'`;
      expect(r.isDlswapError, what).toBe(true);
      if (/abort/.test(r.name)) {
        expect(r.code, what).toBe('ERR_DLSWAP_ABORTED');
      } else {
        expect(r.code, what).toBe('ERR_DLSWAP_RELOAD');
        expect(r.causeCode, what).toMatch(/^ERR_DLSWAP_/);
        expect(r.failedPhase, what).toMatch(/^(loading|verifying|swap)$/);
      }
      expectFiniPerInit(r);
      if (r.kind === 'open') {
        expect(r.mapped, `${what}: private copies mapped`).toBe(0);
      } else {
        // Only generation 1, which keeps serving; nothing once it is closed.
        expect(r.mapped, `${what}: private copies mapped`).toBe(1);
        expect(r.mappedAfterClose, what).toBe(0);
        if (!/close\(\)/.test(r.name)) expect(r.serving, what).toBe(1);
        expect(r.generations!.find(([id]) => id === 2)![1], what).toBe('rejected');
      }
    }
    // The setup scenarios' own errors are causes, named in the messages; a listener's throw is
    // rethrown on its own tick (an uncaught exception), and stopped nothing.
    expect(runs.flatMap((r) => r.uncaught)).toEqual(['listener threw']);
  }, 300_000);
});
