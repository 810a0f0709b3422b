/**
 * Fault injection points in the load and reload path, the handover, and the watcher, for tests that
 * prove a reload can fail anywhere without losing a call (docs/reliability.md). Inert unless armed,
 * and armed only by an explicit call: `injectFault()`, or `armFaults(spec)` from the test-only entry
 * point `dlswap/testing` (lib/testing/index.ts). The environment arms nothing by itself: a variable such as
 * DLSWAP_FAULTS, inherited by every process a test or a shell starts, must never make a production
 * `open()` fail or kill its process; a test that wants faults from the environment passes it on
 * (`armFaults(process.env.DLSWAP_FAULTS)`). Unarmed, a fault point costs one boolean check.
 *
 * Spec syntax: a comma-separated list of `point[:action][@n]`. `action` is `throw` (the
 * default: the step fails with ERR_DLSWAP_INTERNAL), `kill` (SIGKILL to this process, as a crash
 * or an OOM kill would), `hang` (the thread that reaches the point blocks until clearFaults(), as a
 * plugin init or fini that never returns) or `terminate` (in a worker_thread: that thread stops right
 * there, as `worker.terminate()` would stop it, its environment torn down with whatever was in
 * flight, a load on the loader thread included; in the main thread, the same as `kill`). `@n` fires
 * from the n-th time the point is reached (default: the first), so that a process can be killed in
 * the middle of a run of reloads rather than at its first one. An entry of a spec stays armed for
 * every later pass.
 */
import { DlswapError } from './errors';
import { addon } from './native';
import type { ReloadPhase } from './hot/hot_types';

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

/**
 * @internal Which phase function reaches each reload point (lib/hot/hot_phases.ts, and the swap's,
 * lib/hot/swap.ts). Points named 'in-'/'after-'/'before-' the native steps are reached inside the
 * loader job the phase function runs. Every reload and handover point is in exactly one phase
 * (test/hot/hot_phases.test.ts).
 */
export const PHASE_FAULT_POINTS = {
  loading: ['after-copy', 'after-open'], // loadGeneration: the load job
  verifying: ['in-verify'], // loadGeneration: the load job's plugin checks, right after dlswap_init
  swap: ['before-swap', 'in-state-export', 'in-state-import'], // Switchboard.swapIn, transferState (lib/hot/swap.ts)
  draining: ['during-drain'], // drainGeneration
  teardown: [], // teardownGeneration: the user's hook, which fails by itself when it fails
  finalizing: ['in-fini'], // finalizeGeneration: the retire job
  closing: ['before-dlclose', 'after-dlclose'], // the retire job, as closeGeneration reads it
} as const satisfies Record<ReloadPhase, readonly FaultPoint[]>;
export type FaultAction = 'throw' | 'kill' | 'hang' | 'terminate';

// The table itself is native (native/common/faults.h), so that points reached on the loader thread and
// points reached here consume the same entries. This flag only spares the unarmed path a call.
let maybeArmed = false;

const SPEC_ENTRY = /^([a-z-]+)(?::(throw|kill|hang|terminate))?(?:@(\d+))?$/;

/**
 * Arms every entry of `spec` (`'before-swap:throw,in-fini:kill@3'`), each for every pass from its
 * n-th on. Test-only: exported by `dlswap/testing`, never run on its own. The whole spec is checked
 * before anything is armed: a typo throws ERR_DLSWAP_ARG rather than make a fault test pass by
 * injecting nothing. An empty or absent spec arms nothing.
 */
export function armFaults(spec: string | undefined): void {
  if (spec !== undefined && typeof spec !== 'string') throw new DlswapError('ERR_DLSWAP_ARG', `armFaults(spec): spec must be a string, not ${typeof spec}`);
  const entries = (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const m = SPEC_ENTRY.exec(item);
      if (!m || !(FAULT_POINTS as readonly string[]).includes(m[1]) || (m[3] !== undefined && Number(m[3]) < 1)) {
        throw new DlswapError(
          'ERR_DLSWAP_ARG',
          `armFaults(spec): '${item}' is not point[:throw|kill|hang|terminate][@n] with point one of ${FAULT_POINTS.join(', ')}`,
        );
      }
      return { point: m[1], action: (m[2] ?? 'throw') as FaultAction, skip: Number(m[3] ?? 1) - 1 };
    });
  for (const e of entries) addon.armFault(e.point, e.action, e.skip, Infinity);
  if (entries.length) maybeArmed = true;
}

/** 'terminate': a worker stops right there, as worker.terminate() would stop it; the main thread is killed. */
function terminateHere(): never {
  // node:worker_threads is loaded here, not with the package (bench/startup.mjs).
  if ((require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread) process.kill(process.pid, 'SIGKILL');
  // Inside a worker, process.exit() stops only that thread, at once (no finally block runs), and its
  // environment is torn down with everything in flight: what worker.terminate() does from outside.
  process.exit(1);
}
// A loader job that reaches a 'terminate' point asks this environment's thread to do it.
addon.setTerminator(terminateHere);

/**
 * Arms a fault point for the next `times` passes (default 1). Test-only. `hang` blocks the thread
 * that reaches the point (a plugin init or fini that never returns) until `clearFaults()`.
 */
export function injectFault(point: FaultPoint, action: FaultAction = 'throw', times = 1): void {
  if (!(FAULT_POINTS as readonly string[]).includes(point)) {
    throw new DlswapError('ERR_DLSWAP_ARG', `unknown fault point '${point}'; one of ${FAULT_POINTS.join(', ')}`);
  }
  if (action !== 'throw' && action !== 'kill' && action !== 'hang' && action !== 'terminate') {
    throw new DlswapError('ERR_DLSWAP_ARG', `unknown fault action '${String(action)}'; one of 'throw', 'kill', 'hang', 'terminate'`);
  }
  if (!(typeof times === 'number' && Number.isInteger(times) && times >= 1) && times !== Infinity) {
    throw new DlswapError('ERR_DLSWAP_ARG', `injectFault(point, action, times): times must be a positive integer or Infinity, not ${String(times)}`);
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
  const action = addon.hitFault(point);
  if (action === 'terminate') terminateHere();
  if (action === 'throw') throw new DlswapError('ERR_DLSWAP_INTERNAL', `injected fault at '${point}'`);
}
