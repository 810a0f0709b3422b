/**
 * `dlswap/testing`: testing C code from vitest (docs/testing.md). The build runs once per test run
 * (a globalSetup: `nativeBuild`) and again on every rerun in watch mode; each test gets a fresh
 * instance of the library (`testLibrary().fresh(context)`); a faulting call is that test's failure
 * with the fault report, never the whole run's.
 */
export { nativeBuild, buildNative, DEFAULT_BUILD_VARIABLE } from './build';
export type { NativeBuildOptions, BuildResult, SetupProject } from './build';
export { testLibrary } from './test_library';
export type { TestLibrary, TestLibraryOptions, TestContextLike } from './test_library';
export { withSourceLines } from './source_lines';
export type { SourceFrame } from './source_lines';
