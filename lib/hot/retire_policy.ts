/**
 * What a retirement does when a step fails (draining, finalizing, closing of an old generation).
 *
 * A failure past the swap cannot roll back: new calls already run on the new generation. So the
 * retirement is retried once, resuming at the step that failed (a transient failure: an injected
 * fault, a loader job refused as busy). Skipping a step is never the answer: closing without the
 * drain would fail the calls and leases still on the generation, closing without fini would unmap
 * code the plugin's threads may be running. If the second pass fails too, the image stays mapped and
 * is reported as pinned, with the step it stopped at.
 */

/** How many passes a retirement gets in all. */
export const RETIRE_PASSES = 2;

/**
 * Runs `pass` until it succeeds, at most RETIRE_PASSES times. `pass` must resume where the failed
 * one stopped (each of its steps runs at most once). `onFailure` hears each failure but the last at
 * once: the next pass may wait long for a lease or a slow call. Resolves with the last failure, or
 * null once a pass succeeded; never rejects.
 */
export async function retryRetirement(pass: () => Promise<void>, onFailure: (e: unknown) => void): Promise<{ error: unknown } | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      await pass();
      return null;
    } catch (e) {
      if (attempt >= RETIRE_PASSES) return { error: e };
      onFailure(e);
    }
  }
}

/** Which step a retirement stopped at, for the reason a generation stays mapped. */
export interface RetireProgress {
  drained: boolean;
  /** The teardown hook ran (or there was none to run). */
  tornDown: boolean;
  finalized: boolean;
  closed: boolean;
}

/** Why an image whose retirement failed twice stays mapped. */
export function pinnedByFailure(failure: unknown, progress: RetireProgress): string {
  const why = !progress.drained
    ? 'calls or leases may still be using it'
    : !progress.finalized
      ? "dlswap_fini did not run, so the plugin's threads may still be running"
      : 'dlclose was not reached';
  return `its retirement failed (${(failure as Error).message}); the image stays mapped because ${why}`;
}
