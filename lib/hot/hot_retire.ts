/**
 * An old generation's way out: draining, teardown, finalizing, closing (lib/hot/hot_phases.ts), under the retry
 * policy of lib/hot/retire_policy.ts. Never unmaps code that is still running: not under an async call or
 * a lease, and not before dlswap_fini has stopped the plugin's threads.
 */
import type { Generation } from './generation';
import { PhaseTimer } from './phase_timer';
import { pinnedByFailure, retryRetirement, type RetireProgress } from './retire_policy';
import { closeGeneration, drainGeneration, finalizeGeneration, publishClosed, teardownGeneration, type PhaseEvents } from './hot_phases';
import type { HotOptions, ReloadReport } from './hot_types';
import type { TypeDefs } from '../signature/ctypes_types';

export interface RetireTimeouts {
  drainTimeoutMs: number;
  /** Bounds dlswap_fini, and the teardown hook. */
  finiTimeoutMs: number;
}

/** The user's hooks a retirement runs (HotOptions). */
export interface RetireHooks {
  teardown?: HotOptions<Record<string, string>, TypeDefs>['teardown'];
}

/**
 * Retires `gen` once: a second call (close() during a drain) joins the retirement in progress.
 * Resolves once the generation is closed, whatever that came to; never rejects (failures go to
 * 'error', and to the reason the image stays mapped).
 */
export function retireGeneration(
  gen: Generation,
  report: ReloadReport | undefined,
  timeouts: RetireTimeouts,
  events: PhaseEvents,
  hooks: RetireHooks = {},
): Promise<void> {
  return gen.retireWith(() => retireOnce(gen, report, timeouts, events, hooks));
}

async function retireOnce(gen: Generation, report: ReloadReport | undefined, timeouts: RetireTimeouts, events: PhaseEvents, hooks: RetireHooks): Promise<void> {
  const timer = new PhaseTimer(report?.durations);
  // Each step runs at most once: a second pass resumes at the step that failed.
  const progress: RetireProgress = { drained: false, tornDown: false, finalized: !gen.initialized, closed: false };
  const pass = async () => {
    if (!progress.drained) {
      await drainGeneration(gen, timeouts.drainTimeoutMs, events, report, timer);
      if (gen.isIn('active')) return; // revived by a rollback (lib/hot/fault_policy.ts)
      progress.drained = true;
    }
    if (!progress.tornDown) {
      progress.tornDown = true; // a failed hook is not run again: it is reported, and the image kept
      const failure = await teardownGeneration(gen, hooks.teardown, timeouts.finiTimeoutMs, timer);
      if (failure) events.reportError(failure);
    }
    if (progress.closed) return;
    const r = await finalizeGeneration(gen, progress, timeouts.finiTimeoutMs, timer);
    closeGeneration(gen, r, progress);
  };
  const failure = await retryRetirement(pass, (e) => events.reportError(e));
  if (gen.isIn('active')) return; // serves again: retired later, by whatever replaces it
  if (failure && !progress.closed) gen.recordClose({ unloaded: false, reason: pinnedByFailure(failure.error, progress) });
  publishClosed(gen, report, events);
}
