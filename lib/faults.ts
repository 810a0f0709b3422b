/**
 * Fault injection points in the load and reload path, for tests that prove a reload can fail
 * anywhere without losing a call. Inert unless armed: through the environment
 * (DLSWAP_FAULTS="before-swap:throw,in-fini:kill") or the test-only `injectFault()`.
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

const armed = new Map<FaultPoint, { action: FaultAction; remaining: number }>();

function parseEnv(spec: string | undefined): void {
  for (const item of (spec ?? '').split(',').filter(Boolean)) {
    const [point, action = 'throw'] = item.split(':');
    if ((FAULT_POINTS as readonly string[]).includes(point) && (action === 'throw' || action === 'kill')) {
      armed.set(point as FaultPoint, { action, remaining: Infinity });
    }
  }
}
parseEnv(process.env.DLSWAP_FAULTS);

/** Arms a fault point for the next `times` passes (default 1). Test-only. */
export function injectFault(point: FaultPoint, action: FaultAction = 'throw', times = 1): void {
  armed.set(point, { action, remaining: times });
}

export function clearFaults(): void {
  armed.clear();
}

export function faultPoint(point: FaultPoint): void {
  if (armed.size === 0) return;
  const f = armed.get(point);
  if (!f) return;
  if (--f.remaining <= 0) armed.delete(point);
  if (f.action === 'kill') process.kill(process.pid, 'SIGKILL');
  throw new DlswapError('ERR_DLSWAP_INTERNAL', `injected fault at '${point}'`);
}
