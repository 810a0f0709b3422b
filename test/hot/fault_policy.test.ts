// HotLibrary and faults (lib/hot/fault_policy.ts, docs/faults.md "Hot libraries"): a fault in the
// current generation rolls back to the previous one while it is still draining ('fault', then
// 'rollback'); without one, or under onFault 'quarantine', the faulted generation refuses calls until
// a reload; a fault in a new generation's dlswap_init or setup fails that reload. These faults are
// contained inside this test process: a containment failure would end the whole file.
import { afterEach, describe, expect, it } from 'vitest';
import { HotLibrary, type ReloadReport } from '../../lib/hot/hot_library';
import type { FaultError } from '../../lib/containment';
import { fixture, underAsan } from '../helpers';

const V1 = fixture('libfaults_v1.so');
const V2 = fixture('libfaults_v2.so');
const FUNCTIONS = { faults: 'int faults(int kind, int x)', version: 'int faults_version(void)' } as const;
const SEGV = 1;
const FPE = 3;
const MODES = ['local', 'deepbind', 'namespace', 'fresh-namespace'].filter((m) => !(underAsan && m === 'deepbind')) as (
  | 'local'
  | 'deepbind'
  | 'namespace'
  | 'fresh-namespace'
)[];

const open: HotLibrary<typeof FUNCTIONS>[] = [];
async function hotOpen(path: string, options: Omit<Parameters<typeof HotLibrary.open>[1] & object, 'functions'> = {}) {
  const hot = await HotLibrary.open(path, { isolation: 'namespace', ...options, functions: FUNCTIONS });
  open.push(hot);
  return hot;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

/** Records the fault-related events of `hot`, in order. */
function record(hot: HotLibrary<typeof FUNCTIONS>) {
  const events: string[] = [];
  const rollbacks: ReloadReport[] = [];
  hot.on('fault', (e) => events.push(`fault ${e.generation} ${e.fault.signal}`));
  hot.on('rollback', (r) => {
    events.push(`rollback ${r.to} -> ${r.from}`);
    rollbacks.push(r);
  });
  hot.on('pinned', (e) => events.push(`pinned ${e.generation}`));
  return { events, rollbacks };
}

function code(f: () => unknown): string {
  try {
    f();
    return 'returned';
  } catch (e) {
    return (e as FaultError).code;
  }
}

describe.each(MODES)('isolation %s', (isolation) => {
  it("a fault in the current generation rolls back to the previous one, still draining: 'fault', then 'rollback'", async () => {
    const hot = await hotOpen(V1, { isolation });
    const { events, rollbacks } = record(hot);
    const lease = hot.pin(); // keeps generation 1 draining (mapped, not finalized)
    await hot.reload(V2, { wait: 'swap' });
    expect(hot.fn.version()).toBe(2);
    expect(code(() => hot.fn.faults(SEGV, 0))).toBe('ERR_DLSWAP_FAULT');
    // Already rolled back when the caller sees the error: the next call is served by generation 1.
    expect(events).toEqual(['fault 2 SIGSEGV', 'rollback 2 -> 1']);
    expect(hot.current).toBe(1);
    expect(hot.fn.version()).toBe(1);
    expect(hot.fn.faults(0, 1)).toBe(2);
    expect(rollbacks[0].fault).toMatchObject({ signal: 'SIGSEGV', generation: 2, function: 'faults' });
    lease.release();
    await rollbacks[0].retired; // generation 2 retires: quarantined, so never unmapped
    const g2 = hot.generations().find((g) => g.id === 2)!;
    expect(g2).toMatchObject({ state: 'closed', unloaded: false, fault: { signal: 'SIGSEGV' } });
    expect(g2.pinnedReason).toMatch(/^quarantined after a fault/);
    expect(hot.generations().find((g) => g.id === 1)).toMatchObject({ state: 'active' });
    expect(events.at(-1)).toBe('pinned 2');
  });
});

describe('HotLibrary faults', () => {
  it('an .async call that faults rolls back the same way', async () => {
    const hot = await hotOpen(V1);
    const { events } = record(hot);
    const lease = hot.pin();
    await hot.reload(V2, { wait: 'swap' });
    await expect(hot.fn.faults.async(FPE, 1)).rejects.toMatchObject({ code: 'ERR_DLSWAP_FAULT', fault: { signal: 'SIGFPE', thread: { role: 'pool' } } });
    expect(events).toEqual(['fault 2 SIGFPE', 'rollback 2 -> 1']);
    expect(await hot.fn.version.async()).toBe(1);
    lease.release();
  });

  it('with no previous generation left, the faulted one stays current and refuses calls until a reload', async () => {
    const hot = await hotOpen(V1);
    const { events } = record(hot);
    await hot.reload(V2); // generation 1 is closed and unmapped
    expect(code(() => hot.fn.faults(SEGV, 0))).toBe('ERR_DLSWAP_FAULT');
    expect(events).toEqual(['fault 2 SIGSEGV']);
    expect(hot.current).toBe(2);
    expect(code(() => hot.fn.version())).toBe('ERR_DLSWAP_FAULTED');
    await expect(hot.fn.version.async()).rejects.toMatchObject({ code: 'ERR_DLSWAP_FAULTED', fault: { signal: 'SIGSEGV' } });
    const report = await hot.reload(V1);
    expect(hot.fn.version()).toBe(1);
    expect(report).toMatchObject({ from: 2, to: 3, unloaded: false });
    expect(report.pinnedReason).toMatch(/^quarantined after a fault/);
  });

  it("onFault: 'quarantine' never rolls back, even with a previous generation draining", async () => {
    const hot = await hotOpen(V1, { onFault: 'quarantine' });
    const { events } = record(hot);
    const lease = hot.pin();
    await hot.reload(V2, { wait: 'swap' });
    expect(code(() => hot.fn.faults(SEGV, 0))).toBe('ERR_DLSWAP_FAULT');
    expect(events).toEqual(['fault 2 SIGSEGV']);
    expect(hot.current).toBe(2);
    expect(code(() => hot.fn.version())).toBe('ERR_DLSWAP_FAULTED');
    // The lease still calls generation 1, which never faulted.
    expect(lease.fn.version()).toBe(1);
    lease.release();
  });

  it('a fault in a lease (an older generation) quarantines that generation only: no rollback', async () => {
    const hot = await hotOpen(V1);
    const { events } = record(hot);
    const lease = hot.pin();
    await hot.reload(V2, { wait: 'swap' });
    expect(code(() => lease.fn.faults(SEGV, 0))).toBe('ERR_DLSWAP_FAULT');
    expect(events).toEqual(['fault 1 SIGSEGV']);
    expect(hot.fn.version()).toBe(2);
    lease.release();
  });

  it("a fault in a new generation's dlswap_init fails that reload; the current one keeps serving", async () => {
    // user_data: kind SIGSEGV (1) in generation 2's init only.
    const hot = await hotOpen(V1, { userData: (2n << 8n) | 1n });
    const { events } = record(hot);
    const err = await hot.reload(V2).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_FAULT', report: { failedPhase: 'verifying' } });
    expect((err as { cause: FaultError }).cause.fault).toMatchObject({ signal: 'SIGSEGV', function: 'dlswap_init', generation: 2, thread: { role: 'loader' } });
    expect(events).toEqual(['fault 2 SIGSEGV', 'rollback 2 -> 1']);
    expect(hot.fn.version()).toBe(1);
    expect(hot.generations().find((g) => g.id === 2)).toMatchObject({ state: 'rejected', unloaded: false });
  });

  it("a fault in a new generation's setup hook fails that reload; the current one keeps serving", async () => {
    let faultIn = 0;
    const hot = await hotOpen(V1, {
      setup: (gen) => {
        if (gen.id === faultIn) gen.fn.faults(SEGV, 0);
      },
    });
    const { events } = record(hot);
    faultIn = 2;
    await expect(hot.reload(V2)).rejects.toMatchObject({ code: 'ERR_DLSWAP_RELOAD', causeCode: 'ERR_DLSWAP_FAULT' });
    expect(events).toEqual(['fault 2 SIGSEGV', 'rollback 2 -> 1']);
    expect(hot.fn.version()).toBe(1);
  });
});
