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
  // H2: dlopen(..., RTLD_GLOBAL) from code inside a namespace crashes glibc 2.36 (nsload).
  {
    library: 'lua',
    modes: NAMESPACES,
    scenarios: BOTH,
    kinds: ['crash'],
    issue: 'issue 22 H2',
    what: "SIGSEGV in package.loadlib(libz, '*'), which dlopens with RTLD_GLOBAL (add_to_global_resize)",
    match: /CRASH SIGSEGV\n.*last phase: (check: package\.loadlib|load on generation 1)/,
  },
  {
    library: 'gmodule',
    modes: NAMESPACES,
    scenarios: BOTH,
    kinds: ['crash'],
    issue: 'issue 22 H2',
    what: 'SIGSEGV in g_module_open(libz, 0), which dlopens with RTLD_GLOBAL',
    match: /CRASH SIGSEGV\n.*last phase: (check: g_module_open|load on generation 1)/,
  },
  {
    library: 'ltdl',
    modes: NAMESPACES,
    scenarios: BOTH,
    kinds: ['crash'],
    issue: 'issue 22 H2',
    what: 'SIGSEGV in lt_dlopenadvise(libz, lt_dladvise_global), which dlopens with RTLD_GLOBAL',
    match: /CRASH SIGSEGV\n.*last phase: (check: lt_dlopenadvise|load on generation 1)/,
  },

  // H5: a process-wide registry in a dependency every generation shares: the second generation
  // registers again (fresh-namespace, where each generation has its own copy, passes).
  {
    library: 'glog',
    modes: SHARED,
    scenarios: ['hot'],
    kinds: ['exit', 'crash'],
    issue: 'issue 22 H5',
    what: "generation 2's constructor registers glog's flags again in the shared libgflags: \"... linked both statically and dynamically\", exit(1) inside the load (exit code 1 in every run seen; exit() racing the process's other threads may end in a signal)",
    match: /linked both statically and dynamically/,
  },
  {
    library: 'rocksdb',
    modes: ['local'],
    scenarios: ['hot'],
    kinds: ['exit', 'crash'],
    issue: 'issue 22 H5',
    what: "reload 1: generation 2 registers RocksDB's gflags flags again in the shared libgflags, which prints \"... linked both statically and dynamically\" and calls exit(1) inside the load: exit code 1 since dlswap's state outlives exit() (SIGABRT or SIGSEGV before); exit() racing RocksDB's threads may still end in a signal",
    match: /linked both statically and dynamically/,
  },
  {
    library: 'rocksdb',
    modes: ['namespace'],
    scenarios: ['hot'],
    kinds: ['hang', 'crash', 'exit'],
    issue: 'issue 22 H5',
    what: "reload 1: generation 2 registers RocksDB's gflags flags again in the shared libgflags, which prints \"... linked both statically and dynamically\" and calls exit(1) inside dlmopen: a hang under the loader lock, or SIGSEGV, from run to run",
    match: /linked both statically and dynamically|last phase: reload 1/,
    timeoutMs: 15_000,
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
    kinds: ['crash', 'wrong'],
    issue: 'issue 22 H5',
    what: "libfftw3's planner, shared by the generations, keeps generation 1's threaded solvers and hooks after it is unmapped (SIGSEGV planning on a later generation, at a reload or under load), and generation 1's fftw_cleanup_threads resets the next generation's thread count to 1 (wrong answers before the crash, or instead of it when no later plan reaches the freed solvers)",
    match: /CRASH SIGSEGV|fftw_planner_nthreads: got 1, expected 4/,
  },
  {
    library: 'fftw-omp',
    modes: SHARED,
    scenarios: ['hot'],
    kinds: ['crash', 'wrong'],
    issue: 'issue 22 H5',
    what: "libfftw3's planner, shared by the generations, keeps generation 1's OpenMP solvers and hooks after it is unmapped (SIGSEGV planning on a later generation, at a reload or under load); where generation 1's destructors ran before it was unmapped (namespace: early destructors, issue 22 H3), its fftw_cleanup_threads resets the next generation's thread count to 1 instead (wrong answers)",
    match: /CRASH SIGSEGV|fftw_planner_nthreads: got 1, expected 4/,
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

  // H6: static TLS diagnosed wrongly (nsload): the refusal is right, its code and words are not.
  {
    library: 'jemalloc',
    modes: ['local', 'deepbind', 'namespace', 'fresh-namespace'],
    scenarios: BOTH,
    kinds: ['refused'],
    issue: 'issue 22 H6',
    what: 'refused with ERR_DLSWAP_NAMESPACE_EXHAUSTED, "cannot open ... in a new link-map namespace", in every mode: the refusal is right (2,632 bytes of initial-exec TLS), the code and two of three sentences are not',
    match: /ERR_DLSWAP_NAMESPACE_EXHAUSTED/,
  },
];
