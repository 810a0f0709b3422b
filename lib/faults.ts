/**
 * Fault injection points in the load and reload path, for tests that prove a reload can fail
 * anywhere without losing a call (docs/reliability.md). Inert unless armed: through the environment
 * (DLSWAP_FAULTS="before-swap:throw,in-fini:kill@3") or the test-only `injectFault()`. Unarmed, a
 * fault point costs one Map size check.
 *
 * Environment syntax: a comma-separated list of `point[:action][@n]`. `action` is `throw` (the
 * default: the step fails with ERR_DLSWAP_INTERNAL), `kill` (SIGKILL to this process, as a crash
 * or an OOM kill would) or `hang` (the thread blocks until clearFaults(), as a plugin init or fini
 * that never returns). `@n` fires from the n-th time the point is reached (default: the first),
 * so that a process can be killed in the middle of a run of reloads rather than at its first one.
 * An entry from the environment stays armed for every later pass.
 */
import { DlswapError } from './errors';
import { addon } from './native';

export const FAULT_POINTS = [
  'after-copy',
  'after-open',
  'in-verify',
  'before-swap',
  'during-drain',
  'in-fini',
  'before-dlclose',
  'after-dlclose',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];
export type FaultAction = 'throw' | 'kill' | 'hang';

// The table itself is native (native/faults.h), so that points reached on the loader thread and
// points reached here consume the same entries. This flag only spares the unarmed path a call.
let maybeArmed = false;

/** @internal exported for tests; parses DLSWAP_FAULTS syntax and arms what it names. */
export function armFromSpec(spec: string | undefined): void {
  for (const item of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z-]+)(?::(throw|kill|hang))?(?:@(\d+))?$/.exec(item);
    if (!m || !(FAULT_POINTS as readonly string[]).includes(m[1]) || (m[3] !== undefined && Number(m[3]) < 1)) {
      // A typo must not make a fault test pass by silently injecting nothing.
      process.emitWarning(`DLSWAP_FAULTS: ignoring '${item}'; expected point[:throw|kill|hang][@n] with point one of ${FAULT_POINTS.join(', ')}`);
      continue;
    }
    addon.armFault(m[1], (m[2] ?? 'throw') as FaultAction, Number(m[3] ?? 1) - 1, Infinity);
    maybeArmed = true;
  }
}
armFromSpec(process.env.DLSWAP_FAULTS);

/**
 * Arms a fault point for the next `times` passes (default 1). Test-only. `hang` blocks the thread
 * that reaches the point (a plugin init or fini that never returns) until `clearFaults()`.
 */
export function injectFault(point: FaultPoint, action: FaultAction = 'throw', times = 1): void {
  if (!(FAULT_POINTS as readonly string[]).includes(point)) {
    throw new DlswapError('ERR_DLSWAP_ARG', `unknown fault point '${point}'; one of ${FAULT_POINTS.join(', ')}`);
  }
  if (action !== 'throw' && action !== 'kill' && action !== 'hang') {
    throw new DlswapError('ERR_DLSWAP_ARG', `unknown fault action '${String(action)}'; one of throw, kill, hang`);
  }
  addon.armFault(point, action, 0, times);
  maybeArmed = true;
}

/** Disarms every point, and lets every thread hung at one go on. */
export function clearFaults(): void {
  addon.clearFaults();
  maybeArmed = false;
}

/** Points armed now (for tests that check that a fault was consumed). */
export function armedFaults(): FaultPoint[] {
  return addon.armedFaults() as FaultPoint[];
}

/** A point reached on this thread. The points of the load and retire pipeline are in native code. */
export function faultPoint(point: FaultPoint): void {
  if (!maybeArmed) return;
  if (addon.hitFault(point)) throw new DlswapError('ERR_DLSWAP_INTERNAL', `injected fault at '${point}'`);
}
