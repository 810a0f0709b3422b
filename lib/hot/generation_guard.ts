/**
 * The one guard of a generation between its load and its activation.
 *
 * Contract. `guardGeneration(gen, loaded, report, timer, finiTimeoutMs, steps)` is called the moment
 * a generation's load returns (HotLibrary.open and reload, either swap policy) and runs `steps`:
 * everything that happens to the generation before it serves (adopting the image, binding its
 * functions, the user's setup hook, the abort and close checks, the handover's state transfer, the
 * swap). `steps` calls `guard.release()` in the same synchronous step that makes the generation
 * serve; from then on the generation is its HotLibrary's, and retiring it is the retirement's job.
 *
 * Before that, anything thrown (a phase's coded error, a user hook's exception, a throwing getter,
 * a bug's TypeError, a value that is not even an Error) ends the same way: the generation is rejected
 * and discarded (`discardGeneration`: dlswap_fini if its init ran, exactly once, then dlclose and
 * the unload check, on the loader thread), the report says which phase failed, and the caller gets
 * an ERR_DLSWAP_RELOAD whose `cause` is a DlswapError. Leaves behind: nothing mapped (a generation
 * the retirement could not unmap is recorded as pinned, with the reason), `gen` rejected and retired.
 */
import { asDlswapError, type DlswapError } from '../errors';
import type { Generation } from './generation';
import { discardGeneration, reloadError, type Loaded } from './hot_phases';
import type { PhaseTimer } from './phase_timer';
import type { ReloadPhase, ReloadReport } from './hot_types';

export interface GenerationGuard {
  /** The phase the steps are in (what a failure is reported as): 'verifying' first, then 'swap'. */
  enter(phase: ReloadPhase): void;
  /** The generation serves: called in the same step as its move to 'active'. */
  release(): void;
}

export async function guardGeneration<T>(
  gen: Generation,
  loaded: Loaded,
  report: ReloadReport,
  timer: PhaseTimer,
  finiTimeoutMs: number,
  steps: (guard: GenerationGuard) => Promise<T>,
): Promise<T> {
  let phase: ReloadPhase = 'verifying';
  let released = false;
  const guard: GenerationGuard = {
    enter(next) {
      phase = next;
    },
    release() {
      released = true;
    },
  };
  try {
    return await steps(guard);
  } catch (e) {
    if (released) throw e; // past the swap: not the guard's (the retirement owns the generation)
    throw await rejectAndDiscard(gen, loaded, report, timer, finiTimeoutMs, phase, e);
  }
}

async function rejectAndDiscard(
  gen: Generation,
  loaded: Loaded,
  report: ReloadReport,
  timer: PhaseTimer,
  finiTimeoutMs: number,
  phase: ReloadPhase,
  thrown: unknown,
): Promise<DlswapError> {
  const err = asDlswapError(thrown, 'ERR_DLSWAP_INTERNAL', `generation ${gen.id} failed while ${phase}`);
  timer.lap(phase);
  report.failedPhase = phase;
  report.error = err;
  if (gen.isIn('loading', 'verifying')) gen.reject(err.message);
  await discardGeneration(gen, finiTimeoutMs, loaded);
  return reloadError(report);
}
