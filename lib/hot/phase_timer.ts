/**
 * The one clock of a reload's phases: what `report.durations` holds. Phases timed here are laps of
 * one clock, so that the time between two phases is counted once; phases the loader thread times
 * itself (the native load, fini, dlclose) are recorded as it measured them.
 */
import type { ReloadPhase } from './hot_types';

export type PhaseDurations = Partial<Record<ReloadPhase, number>>;

export class PhaseTimer {
  // undefined: a retirement nobody reports on (close()), timed for nobody.
  readonly #durations: PhaseDurations | undefined;
  #since = performance.now();

  constructor(durations: PhaseDurations | undefined) {
    this.#durations = durations;
  }

  /** Starts a new lap now, without counting the time since the last one. */
  restart(): void {
    this.#since = performance.now();
  }

  /**
   * Adds the time since the last lap (or restart) to `phase`, and starts a new lap. Adds rather than
   * sets: verifying is timed natively first, then by the setup hook here.
   */
  lap(phase: ReloadPhase): number {
    const now = performance.now();
    const ms = now - this.#since;
    if (this.#durations) this.#durations[phase] = (this.#durations[phase] ?? 0) + ms;
    this.#since = now;
    return ms;
  }

  /** A phase the loader thread timed. */
  record(phase: ReloadPhase, ms: number): void {
    if (this.#durations) this.#durations[phase] = ms;
  }
}
