/**
 * `dlswap/testing`: the test-only entry point. Nothing here runs by being imported; each function
 * acts only when called.
 *
 * Fault injection (lib/faults.ts, docs/reliability.md#fault-injection) lives here because it can make
 * a load fail or kill the process: the public entry point `dlswap` arms nothing by itself, whatever
 * the environment says. A test (or a child process it starts) that takes its faults from the
 * environment says so explicitly: `require('dlswap/testing').armFaults(process.env.DLSWAP_FAULTS)`.
 */
export { armFaults, injectFault, clearFaults, armedFaults, FAULT_POINTS, RELOAD_FAULT_POINTS, HANDOVER_FAULT_POINTS, WATCH_FAULT_POINTS } from './faults';
export type { FaultPoint, FaultAction } from './faults';
