/**
 * What a HotLibrary does when a call into one of its generations faults (docs/faults.md, "Hot
 * libraries"): the `onFault` policy. The fault itself was contained natively: the call ended with
 * ERR_DLSWAP_FAULT and the generation's image is quarantined (never called again, never unmapped).
 *
 * Contract of onGenerationFault (called synchronously from the fault's call path, before the caller
 * sees the error, so that no later call can reach the faulted generation through `hot.fn`):
 *   - emits 'fault' for every fault of every generation;
 *   - policy 'rollback' (the default), when the faulted generation is the one `hot.fn` calls and the
 *     generation it replaced is still draining (its image mapped, its dlswap_fini not run): swaps
 *     back to it (it serves again, its retirement is called off) and emits 'rollback'; the faulted
 *     generation is retired, which for a quarantined image means: neither finalized nor unmapped;
 *   - otherwise (policy 'quarantine', no previous generation left, or a generation that was not
 *     current: a lease's, one being verified) the faulted generation stays where it is and refuses
 *     every call with ERR_DLSWAP_FAULTED until a reload replaces it.
 * Never throws: a failure to roll back leaves the faulted generation current and quarantined.
 */
import type { Generation } from './generation';
import type { PhaseEvents } from './hot_phases';
import type { ReloadReport, SwapPolicy } from './hot_types';
import type { FaultError } from '../containment';

export type FaultPolicy = 'rollback' | 'quarantine';
export const DEFAULT_FAULT_POLICY: FaultPolicy = 'rollback';

/** What the policy needs of its HotLibrary. */
export interface FaultPolicyHost {
  policy: FaultPolicy;
  swapPolicy: SwapPolicy;
  /** The generation `hot.fn` calls now. */
  current(): Generation;
  /** Every generation not yet retired. */
  live(): Generation[];
  /** Points `hot.fn` back at `to` (which serves again) from `from` (which starts its retirement). */
  swapBack(from: Generation, to: Generation): void;
  events: PhaseEvents;
}

/** The generation a rollback from `gen` goes to: the newest older one that is still only draining. */
export function rollbackTarget(gen: Generation, live: Generation[]): Generation | null {
  const candidates = live.filter((g) => g.id < gen.id && g.isIn('draining') && g.lib !== null && !g.lib.closed && g.lib.fault === null && !g.quarantined);
  return candidates.sort((a, b) => b.id - a.id)[0] ?? null;
}

export function onGenerationFault(gen: Generation, error: FaultError, host: FaultPolicyHost): void {
  host.events.emit('fault', { generation: gen.id, error, fault: error.fault });
  if (host.policy !== 'rollback' || host.current() !== gen) return;
  const to = rollbackTarget(gen, host.live());
  if (!to) return;
  try {
    host.swapBack(gen, to);
  } catch (e) {
    host.events.reportError(e);
    return;
  }
  const report: ReloadReport = {
    from: to.id,
    to: gen.id,
    path: gen.path,
    policy: host.swapPolicy,
    durations: {},
    error,
    fault: error.fault,
    retired: gen.retired,
  };
  host.events.emit('rollback', report);
}
