'use strict';
/**
 * Cells of the conformance suite that fail on the current loader, each exactly as recorded: the
 * library, the modes and scenarios, how it fails, and the class of issue 22 it belongs to.
 * test/conformance/conformance.test.ts passes such a cell only if it fails in one of the listed
 * ways (and, with `match`, with that text), and fails it as soon as it passes: remove an entry when
 * the fix for its class lands. Any failure not listed fails the suite. See docs/conformance.md,
 * "Known failures".
 *
 *   library    a name of libraries.cjs
 *   modes, scenarios
 *   kinds      'crash' (a signal while running), 'crash-at-exit' (a signal after every answer was
 *              right), 'hang' (killed at its budget), 'exit' (a nonzero exit without a result),
 *              'wrong', 'error', 'refused' (a refusal the suite does not expect)
 *   issue      'issue 22 H1' ...: the class, whose fix removes the entry
 *   what       what happens, in words
 *   match      (optional) a RegExp the failure's report must match
 *   timeoutMs  (optional) a shorter budget for a known hang (10 times a quiet hot cell's ~1.5 s)
 *   intermittent  (optional) a race, seen in some runs only ('1 of 6 runs'): the cell may also pass
 */
const NAMESPACES = ['namespace', 'fresh-namespace'];
const BOTH = ['basic', 'hot'];
const SHARED = ['local', 'deepbind', 'namespace']; // the modes where generations share system dependencies

module.exports = [
  // H5: a process-wide registry in a dependency every generation shares: the second generation
  // registers again (fresh-namespace, where each generation has its own copy, passes).
  {
    library: 'glog',
    modes: ['local', 'deepbind'],
    scenarios: ['hot'],
    kinds: ['exit'],
    issue: 'issue 22 H5',
    what: "generation 2's constructor registers glog's flags again in the shared libgflags: \"... linked both statically and dynamically\", exit(1) inside the load, which dlswap cannot stand in front of in these modes: the process ends with status 1 at once, saying which load did it",
    match: /linked both statically and dynamically/,
  },
  {
    library: 'glog',
    modes: ['namespace'],
    scenarios: ['hot'],
    kinds: ['refused', 'hang'],
    issue: 'issue 22 H5',
    what: "reload 1 fails with ERR_DLSWAP_EXIT_DURING_LOAD (gflags' exit(1) in generation 2's constructor, unwound) and generation 1 serves on, a refusal the default mode must not make; and gflags called exit holding its registry's lock, which stays held: a GetCommandLineOption of generation 1 that comes after it waits for ever (a hang in some runs). Only a refusal before generation 2 runs (or a libgflags of its own) avoids both; fresh-namespace passes",
    match: /linked both statically and dynamically/,
    timeoutMs: 15_000,
  },
  {
    library: 'rocksdb',
    modes: ['local'],
    scenarios: ['hot'],
    kinds: ['exit', 'crash'],
    issue: 'issue 22 H5',
    what: "reload 1: generation 2 registers RocksDB's gflags flags again in the shared libgflags, which prints \"... linked both statically and dynamically\" and calls exit(1) inside the load: the process ends with status 1 (a signal if another thread crashes first)",
    match: /linked both statically and dynamically/,
  },
  {
    library: 'rocksdb',
    modes: ['namespace'],
    scenarios: ['hot'],
    kinds: ['crash-at-exit', 'refused'],
    issue: 'issue 22 H5',
    what: "reload 1: generation 2 registers RocksDB's gflags flags again in the shared libgflags, which calls exit(1) in its constructor: the reload fails with ERR_DLSWAP_EXIT_DURING_LOAD and generation 1 serves on, a refusal the default mode must not make; then SIGSEGV at exit (H1: RocksDB's Env joins its threads from a destructor)",
    match: /ERR_DLSWAP_EXIT_DURING_LOAD|linked both statically and dynamically/,
  },
  {
    library: 'gio',
    modes: SHARED,
    scenarios: ['hot'],
    kinds: ['hang'],
    issue: 'issue 22 H5',
    what: "reload 1 never settles: generation 2 registers GIO's types again in the shared libgobject (\"cannot register existing type\")",
    match: /last phase: reload 1/,
    timeoutMs: 15_000,
  },
  {
    library: 'fftw-threads',
    modes: SHARED,
    scenarios: ['hot'],
    // A hang since calls are contained: the fault in the freed solvers ends the call, and a worker of
    // the shared planner waits for ever.
    kinds: ['crash', 'wrong', 'hang'],
    timeoutMs: 15_000,
    issue: 'issue 22 H5',
    what: "libfftw3's planner, shared by the generations, keeps generation 1's threaded solvers and hooks after it is unmapped (SIGSEGV planning on a later generation, at a reload or under load), and generation 1's fftw_cleanup_threads resets the next generation's thread count to 1 (wrong answers before the crash, or instead of it when no later plan reaches the freed solvers)",
    match: /CRASH SIGSEGV|fftw_planner_nthreads: got 1, expected 4|TIMEOUT: killed after/,
  },
  {
    library: 'fftw-omp',
    modes: SHARED,
    scenarios: ['hot'],
    // A hang since calls are contained: the fault in the freed solvers ends the call, and a worker of
    // the shared planner waits for ever.
    kinds: ['crash', 'wrong', 'hang'],
    timeoutMs: 15_000,
    issue: 'issue 22 H5',
    what: "libfftw3's planner, shared by the generations, keeps generation 1's OpenMP solvers and hooks after it is unmapped (SIGSEGV planning on a later generation, at a reload or under load); where generation 1's destructors ran before it was unmapped (namespace: early destructors, issue 22 H3), its fftw_cleanup_threads resets the next generation's thread count to 1 instead (wrong answers)",
    match: /CRASH SIGSEGV|fftw_planner_nthreads: got 1, expected 4|TIMEOUT: killed after/,
  },

  // Issue 21 item 4 (loader): a thread still running in the image when close() unmaps it; in local
  // and deepbind dlswap sees only threads blocked in the image.
  {
    library: 'fftw-threads',
    modes: ['local', 'deepbind'],
    scenarios: ['basic'],
    kinds: ['crash'],
    issue: 'issue 21 I4',
    what: "SIGSEGV at close(), after fftw_cleanup_threads: FFTW's workers are told to stop but may still be running their last instructions in the image when it is unmapped (the namespace modes see every thread the library started and wait)",
    match: /CRASH SIGSEGV\n.*last phase: close/,
    intermittent: 'deepbind: 1 of 6 runs by hand, once in 3 suite runs; local: not seen in 6',
  },

  // H4b: process-wide hooks left pointing into an unloaded image. jemalloc loads in every mode with
  // the tunable its ERR_DLSWAP_STATIC_TLS names (libraries_process.cjs).
  {
    library: 'jemalloc',
    modes: ['local', 'deepbind'],
    scenarios: BOTH,
    kinds: ['crash-at-exit'],
    issue: 'issue 22 H4b',
    what: "every answer right and close() unloads it, then SIGSEGV at exit: its thread-specific-data key lives in node's libc (local, deepbind), whose destructor runs when a thread that used it exits, in the unmapped image (__nptl_deallocate_tsd); the namespace modes withhold the destructors of keys whose code went away",
    match: /CRASH SIGSEGV after the cell reported 'ok'/,
  },
];
