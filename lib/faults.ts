/**
 * Fault injection points in the load and reload path, the handover, and the watcher, for tests that
 * prove a reload can fail anywhere without losing a call (docs/reliability.md). Inert unless armed:
 * through the environment (DLSWAP_FAULTS="before-swap:throw,in-fini:kill@3") or the test-only
 * `injectFault()`. Unarmed, a fault point costs one Map size check.
 *
 * Environment syntax: a comma-separated list of `point[:action][@n]`. `action` is `throw` (the
 * default: the step fails with ERR_DLSWAP_INTERNAL), `kill` (SIGKILL to this process, as a crash
 * or an OOM kill would) or `terminate` (in a worker_thread: that thread stops right there, as
 * `worker.terminate()` would stop it; its environment is torn down with whatever was in flight; in
 * the main thread, the same as `kill`). `@n` fires from the n-th time the point is reached (default:
 * the first), so that a process can be killed in the middle of a run of reloads rather than at its
 * first one. An entry from the environment stays armed for every later pass.
 */
import { isMainThread } from 'node:worker_threads';
import { DlswapError } from './errors';

/** The points on the path of every reload, in the order a reload reaches them. */
export const RELOAD_FAULT_POINTS = [
  'after-copy',
  'after-open',
  'in-verify',
  'before-swap',
  'during-drain',
  'in-fini',
  'before-dlclose',
  'after-dlclose',
] as const;
/** The handover policy's state transfer: just before dlswap_state_export, and before dlswap_state_import. */
export const HANDOVER_FAULT_POINTS = ['in-state-export', 'in-state-import'] as const;
/**
 * The watcher (docs/watch.md): examining a settled file, reading it, judging its bytes, and the
 * reload it asks for.
 */
export const WATCH_FAULT_POINTS = ['watch-examine', 'watch-read', 'watch-judge', 'watch-reload'] as const;
export const FAULT_POINTS = [...RELOAD_FAULT_POINTS, ...HANDOVER_FAULT_POINTS, ...WATCH_FAULT_POINTS] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];
export type FaultAction = 'throw' | 'kill' | 'terminate';

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
    const m = /^([a-z-]+)(?::(throw|kill|terminate))?(?:@(\d+))?$/.exec(item);
    if (!m || !(FAULT_POINTS as readonly string[]).includes(m[1]) || (m[3] !== undefined && Number(m[3]) < 1)) {
      // A typo must not make a fault test pass by silently injecting nothing.
      process.emitWarning(`DLSWAP_FAULTS: ignoring '${item}'; expected point[:throw|kill|terminate][@n] with point one of ${FAULT_POINTS.join(', ')}`);
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
  if (action !== 'throw' && action !== 'kill' && action !== 'terminate') {
    throw new DlswapError('ERR_DLSWAP_ARG', `unknown fault action '${String(action)}'; one of 'throw', 'kill', 'terminate'`);
  }
  if (!(typeof times === 'number' && Number.isInteger(times) && times >= 1) && times !== Infinity) {
    throw new DlswapError('ERR_DLSWAP_ARG', `injectFault(point, action, times): times must be a positive integer or Infinity, not ${String(times)}`);
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
  if (f.action === 'kill' || (f.action === 'terminate' && isMainThread)) process.kill(process.pid, 'SIGKILL');
  // Inside a worker, process.exit() stops only that thread, at once (no finally block runs), and its
  // environment is torn down with everything in flight: what worker.terminate() does from outside.
  if (f.action === 'terminate') process.exit(1);
  throw new DlswapError('ERR_DLSWAP_INTERNAL', `injected fault at '${point}'`);
}
