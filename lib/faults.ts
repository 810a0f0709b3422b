/**
 * Fault injection points in the load and reload path, for tests that prove a reload can fail
 * anywhere without losing a call (docs/reliability.md). Inert unless armed: through the environment
 * (DLSWAP_FAULTS="before-swap:throw,in-fini:kill@3") or the test-only `injectFault()`. Unarmed, a
 * fault point costs one Map size check.
 *
 * Environment syntax: a comma-separated list of `point[:action][@n]`. `action` is `throw` (the
 * default: the step fails with ERR_DLSWAP_INTERNAL) or `kill` (SIGKILL to this process, as a crash
 * or an OOM kill would). `@n` fires from the n-th time the point is reached (default: the first),
 * so that a process can be killed in the middle of a run of reloads rather than at its first one.
 * An entry from the environment stays armed for every later pass.
 */
import { DlswapError } from './errors';

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
export type FaultAction = 'throw' | 'kill';

interface Armed {
  action: FaultAction;
  /** Passes to let through before the first fault. */
  skip: number;
  /** Faults left to inject. */
  remaining: number;
}

const armed = new Map<FaultPoint, Armed>();

/** @internal exported for tests; parses DLSWAP_FAULTS syntax and arms what it names. */
export function armFromSpec(spec: string | undefined): void {
  for (const item of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z-]+)(?::(throw|kill))?(?:@(\d+))?$/.exec(item);
    if (!m || !(FAULT_POINTS as readonly string[]).includes(m[1]) || (m[3] !== undefined && Number(m[3]) < 1)) {
      // A typo must not make a fault test pass by silently injecting nothing.
      process.emitWarning(`DLSWAP_FAULTS: ignoring '${item}'; expected point[:throw|kill][@n] with point one of ${FAULT_POINTS.join(', ')}`);
      continue;
    }
    armed.set(m[1] as FaultPoint, { action: (m[2] ?? 'throw') as FaultAction, skip: Number(m[3] ?? 1) - 1, remaining: Infinity });
  }
}
armFromSpec(process.env.DLSWAP_FAULTS);

/** Arms a fault point for the next `times` passes (default 1). Test-only. */
export function injectFault(point: FaultPoint, action: FaultAction = 'throw', times = 1): void {
  if (!(FAULT_POINTS as readonly string[]).includes(point)) {
    throw new DlswapError('ERR_DLSWAP_ARG', `unknown fault point '${point}'; one of ${FAULT_POINTS.join(', ')}`);
  }
  armed.set(point, { action, skip: 0, remaining: times });
}

export function clearFaults(): void {
  armed.clear();
}

/** Points armed now (for tests that check that a fault was consumed). */
export function armedFaults(): FaultPoint[] {
  return [...armed.keys()];
}

export function faultPoint(point: FaultPoint): void {
  if (armed.size === 0) return;
  const f = armed.get(point);
  if (!f) return;
  if (f.skip > 0) {
    f.skip--;
    return;
  }
  if (--f.remaining <= 0) armed.delete(point);
  if (f.action === 'kill') process.kill(process.pid, 'SIGKILL');
  throw new DlswapError('ERR_DLSWAP_INTERNAL', `injected fault at '${point}'`);
}
