/**
 * `dlswap/testing`: the test-only entry point. Nothing here runs by being imported; each function
 * acts only when called.
 *
 * Testing C code from vitest (docs/testing.md): the build runs once per test run (a globalSetup:
 * `nativeBuild`) and again on every rerun in watch mode; each test gets a fresh instance of the
 * library (`testLibrary().fresh(context)`); a faulting call is that test's failure with the fault
 * report, never the whole run's.
 *
 * Fault injection (lib/faults.ts, docs/reliability.md#fault-injection) lives here too because it can
 * make a load fail or kill the process: the public entry point `dlswap` arms nothing by itself,
 * whatever the environment says. A test (or a child process it starts) that takes its faults from
 * the environment says so explicitly: `require('dlswap/testing').armFaults(process.env.DLSWAP_FAULTS)`.
 */
export { nativeBuild, buildNative, DEFAULT_BUILD_VARIABLE } from './build';
export type { NativeBuildOptions, BuildResult, SetupProject } from './build';
export { testLibrary } from './test_library';
export type { TestLibrary, TestLibraryOptions, TestContextLike } from './test_library';
export { withSourceLines } from './source_lines';
export type { SourceFrame } from './source_lines';
export { armFaults, injectFault, clearFaults, armedFaults, FAULT_POINTS, RELOAD_FAULT_POINTS, HANDOVER_FAULT_POINTS, WATCH_FAULT_POINTS } from '../faults';
export type { FaultPoint, FaultAction } from '../faults';
