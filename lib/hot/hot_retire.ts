/**
 * An old generation's way out: draining, finalizing, closing (lib/hot/hot_phases.ts), under the retry
 * policy of lib/hot/retire_policy.ts. Never unmaps code that is still running: not under an async call or
 * a lease, and not before dlswap_fini has stopped the plugin's threads.
 */
import type { Generation } from './generation';
import { PhaseTimer } from './phase_timer';
import { pinnedByFailure, retryRetirement, type RetireProgress } from './retire_policy';
import { closeGeneration, drainGeneration, finalizeGeneration, publishClosed, type PhaseEvents } from './hot_phases';
import type { ReloadReport } from './hot_types';

export interface RetireTimeouts {
  drainTimeoutMs: number;
  finiTimeoutMs: number;
}

/**
 * Retires `gen` once: a second call (close() during a drain) joins the retirement in progress.
 * Resolves once the generation is closed, whatever that came to; never rejects (failures go to
 * 'error', and to the reason the image stays mapped).
 */
export function retireGeneration(gen: Generation, report: ReloadReport | undefined, timeouts: RetireTimeouts, events: PhaseEvents): Promise<void> {
  gen.retiring ??= retireOnce(gen, report, timeouts, events);
  return gen.retiring;
}

async function retireOnce(gen: Generation, report: ReloadReport | undefined, timeouts: RetireTimeouts, events: PhaseEvents): Promise<void> {
  const timer = new PhaseTimer(report?.durations);
  // Each step runs at most once: a second pass resumes at the step that failed.
  const progress: RetireProgress = { drained: false, finalized: !gen.initialized, closed: false };
  const pass = async () => {
    if (!progress.drained) {
      await drainGeneration(gen, timeouts.drainTimeoutMs, events, report, timer);
      progress.drained = true;
    }
    if (progress.closed) return;
    const r = await finalizeGeneration(gen, progress, timeouts.finiTimeoutMs, timer);
    closeGeneration(gen, r, progress);
  };
  const failure = await retryRetirement(pass, (e) => events.reportError(e));
  if (failure && !progress.closed) gen.closeResult = { unloaded: false, reason: pinnedByFailure(failure.error, progress) };
  publishClosed(gen, report, events);
}
