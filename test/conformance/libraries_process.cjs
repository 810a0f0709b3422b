'use strict';
/**
 * Conformance libraries that reach beyond their own image (issue 22): thread pools, language
 * runtimes, process-wide registries, plugin loaders, signal handlers, static TLS. Same entry format
 * and the same rule as libraries.cjs: every expected value comes from somewhere else than the library
 * (answers.cjs, node, dpkg, a documented constant or struct layout, /proc). libraries.cjs appends
 * these to its table.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const a = require('./answers.cjs');
const { resolveLibrary } = require('./resolve.cjs');

const { eq, check, upstreamVersion, upstreamParts, cstr, bytes, matmul, dft, mappingOf, threadNames } = a;

const nonNull = (what, p) => check(`${what} returns a non-NULL pointer`, typeof p === 'bigint' && p !== 0n, p, 'non-NULL');
const ptrAt = (buf, off = 0) => buf.readBigUInt64LE(off);
const dlswap = () => require(path.join(__dirname, '..', '..', 'dist', 'index.js'));

/** The real path of a system library, for "this address is in that file" answers. */
const realLib = (soname) => fs.realpathSync(resolveLibrary(soname));

/** A std::string (libstdc++'s layout: data pointer, length, 16-byte local buffer) that is empty. */
function emptyStdString() {
  const s = Buffer.alloc(32);
  s.writeBigUInt64LE(dlswap().addressOf(s) + 16n, 0);
  return s;
}
/** The text of a short std::string made by emptyStdString (its data is still the local buffer). */
function stdStringText(s) {
  const len = Number(s.readBigUInt64LE(8));
  check(
    'the std::string stayed in its local buffer (short value)',
    s.readBigUInt64LE(0) === dlswap().addressOf(s) + 16n,
    s.readBigUInt64LE(0),
    'its own buffer',
  );
  return s.subarray(16, 16 + len).toString('utf8');
}

/** A NULL-terminated char *argv[] of Buffers that the caller keeps alive for the call. */
function argvOf(args) {
  const strings = args.map((x) => cstr(x));
  const argv = Buffer.alloc(8 * (args.length + 1));
  for (const [i, b] of strings.entries()) argv.writeBigUInt64LE(dlswap().addressOf(b), 8 * i);
  return { argv, keep: strings };
}

// Integer-valued matrices, so that any summation order gives the exact product.
const N = 96;
const matA = Float64Array.from(bytes(N * N, 5), (x) => (x % 17) - 8);
const matB = Float64Array.from(bytes(N * N, 9), (x) => (x % 13) - 6);
let matC;
const expectedProduct = () => (matC ??= matmul(matA, matB, N, N, N));

const FFT_N = 2048;
const fftIn = Float64Array.from(bytes(2 * FFT_N, 3), (x) => (x - 128) / 64);
let fftOut;
const expectedDft = () => (fftOut ??= dft(fftIn));
function closeTo(what, got, expected, tolerance) {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
  check(what, worst <= tolerance, `largest difference ${worst}`, `<= ${tolerance}`);
}

/** FFTW's threaded planner, in either of its two builds (POSIX threads or OpenMP). */
function fftwEntry(name, soname, pool) {
  const FFTW_FORWARD = -1;
  const FFTW_ESTIMATE = 1 << 6;
  const FFTW_UNALIGNED = 1 << 1; // fftw3.h: the arrays of execute need not share the planning arrays' alignment
  const plan = (fn, input, output) => fn.fftw_plan_dft_1d(FFT_N, input, output, FFTW_FORWARD, FFTW_ESTIMATE | FFTW_UNALIGNED);
  return {
    name,
    package: 'libfftw3-double3',
    soname,
    functions: {
      fftw_init_threads: 'int fftw_init_threads(void)',
      fftw_plan_with_nthreads: 'void fftw_plan_with_nthreads(int nthreads)',
      fftw_planner_nthreads: 'int fftw_planner_nthreads(void)',
      fftw_plan_dft_1d: 'void *fftw_plan_dft_1d(int n, double *in, double *out, int sign, unsigned flags)',
      fftw_execute_dft: 'void fftw_execute_dft(const void *plan, double *in, double *out)',
      fftw_destroy_plan: 'void fftw_destroy_plan(void *plan)',
      fftw_cleanup_threads: 'void fftw_cleanup_threads(void)',
    },
    // fftw3.h: fftw_init_threads before any other call, fftw_cleanup_threads after the last plan
    // (it also stops the pool the threaded plans started).
    init(fn) {
      check('fftw_init_threads (nonzero: threads available)', fn.fftw_init_threads() !== 0, 0, 'nonzero');
      fn.fftw_plan_with_nthreads(4);
    },
    fini(fn) {
      fn.fftw_cleanup_threads();
    },
    checks: {
      'fftw_planner_nthreads = what was set'(fn) {
        eq('fftw_planner_nthreads', fn.fftw_planner_nthreads(), 4);
      },
      [`a ${FFT_N}-point DFT on ${pool} = the definition`](fn) {
        const input = Float64Array.from(fftIn);
        const output = new Float64Array(2 * FFT_N);
        const p = plan(fn, input, output);
        nonNull('fftw_plan_dft_1d', p);
        try {
          fn.fftw_execute_dft(p, input, output);
          closeTo('DFT', output, expectedDft(), 1e-8);
          eq('the input was left alone (FFTW_ESTIMATE plans do not overwrite it)', Buffer.from(input.buffer), Buffer.from(Float64Array.from(fftIn).buffer));
        } finally {
          fn.fftw_destroy_plan(p);
        }
      },
    },
    async: {
      name: 'fftw_execute_dft.async',
      // Planning is not thread-safe (fftw3.h): the plan is made here, on the JS thread; executing
      // it on a pool thread is.
      async run(fn) {
        const input = Float64Array.from(fftIn);
        const output = new Float64Array(2 * FFT_N);
        const p = plan(fn, input, output);
        nonNull('fftw_plan_dft_1d', p);
        try {
          await fn.fftw_execute_dft.async(p, input, output);
          closeTo('DFT (async)', output, expectedDft(), 1e-8);
        } finally {
          fn.fftw_destroy_plan(p);
        }
      },
    },
  };
}

/** Runs Lua code in state L and returns its one result as a string. */
function luaEval(fn, L, code) {
  eq(`luaL_loadstring(${JSON.stringify(code)})`, fn.luaL_loadstring(L, code), 0);
  const status = fn.lua_pcallk(L, 0, 1, 0, 0n, null);
  const text = fn.lua_tolstring(L, -1, null);
  fn.lua_settop(L, 0);
  eq(`lua_pcall of ${JSON.stringify(code)} (0: no error; message: ${text})`, status, 0);
  return text;
}

/** Evaluates a Tcl script and returns its result. */
function tclEval(fn, interp, script) {
  const code = fn.Tcl_Eval(interp, script);
  const result = fn.Tcl_GetStringResult(interp);
  eq(`Tcl_Eval(${JSON.stringify(script)}) (TCL_OK = 0; result: ${result})`, code, 0);
  return result;
}

const GOBJECT_FUNCTIONS = {
  g_type_fundamental: 'size_t g_type_fundamental(size_t type)',
  g_type_name: 'const char *g_type_name(size_t type)',
  g_type_from_name: 'size_t g_type_from_name(const char *name)',
  g_type_is_a: 'int g_type_is_a(size_t type, size_t is_a)',
  g_type_register_static_simple:
    'size_t g_type_register_static_simple(size_t parent, const char *name, unsigned class_size, void *class_init, unsigned instance_size, void *instance_init, int flags)',
  g_object_new: 'void *g_object_new(size_t type, const char *first_property_name, ...)',
  g_object_unref: 'void g_object_unref(void *object)',
};
// gtype.h: G_TYPE_MAKE_FUNDAMENTAL(x) = x << 2; G_TYPE_INT 6, G_TYPE_STRING 16, G_TYPE_OBJECT 20.
const G_TYPE_INT = 6n << 2n;
const G_TYPE_STRING = 16n << 2n;
const G_TYPE_OBJECT = 20n << 2n;
// gobject.h, LP64: sizeof(GObjectClass) (a GTypeClass, a GSList *, 7 function pointers, 2 gsize,
// a gpointer, a gsize, 3 gpointers) and sizeof(GObject) (a GTypeInstance, a guint ref_count, a GData *).
const SIZEOF_GOBJECT_CLASS = 136;
const SIZEOF_GOBJECT = 24;

/** A std::string value of a gflags flag through GetCommandLineOption (false when there is no such flag). */
const GET_OPTION = '_ZN6google20GetCommandLineOptionEPKcPNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE';
function flagValue(fn, name) {
  const s = emptyStdString();
  const found = fn.GetCommandLineOption(name, s);
  return found ? stdStringText(s) : null;
}

/** What a RocksDB database needs besides its handle: a new directory, options, read/write options. */
function rocksPrepare(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-rocksdb-'));
  const opts = fn.rocksdb_options_create();
  fn.rocksdb_options_set_create_if_missing(opts, 1);
  return { dir, opts, handle: 0n, err: Buffer.alloc(8), wo: fn.rocksdb_writeoptions_create(), ro: fn.rocksdb_readoptions_create() };
}
function rocksCheckErr(fn, what, err) {
  const p = ptrAt(err);
  if (p !== 0n) {
    const text = dlswap().readCString(p);
    fn.rocksdb_free(p);
    err.fill(0);
    eq(`${what}: error`, text, null);
  }
}
function rocksClose(fn, s) {
  if (s.handle) fn.rocksdb_close(s.handle);
  fn.rocksdb_writeoptions_destroy(s.wo);
  fn.rocksdb_readoptions_destroy(s.ro);
  fn.rocksdb_options_destroy(s.opts);
  fs.rmSync(s.dir, { recursive: true, force: true });
}
function rocksRoundTrip(fn, s, key, value) {
  fn.rocksdb_put(s.handle, s.wo, key, BigInt(Buffer.byteLength(key)), value, BigInt(value.length), s.err);
  rocksCheckErr(fn, 'rocksdb_put', s.err);
  const len = Buffer.alloc(8);
  const p = fn.rocksdb_get(s.handle, s.ro, key, BigInt(Buffer.byteLength(key)), len, s.err);
  rocksCheckErr(fn, 'rocksdb_get', s.err);
  nonNull('rocksdb_get', p);
  try {
    eq('value read back', dlswap().readBytes(p, Number(len.readBigUInt64LE(0))), value);
  } finally {
    fn.rocksdb_free(p);
  }
}

module.exports = [
  // ---- thread pools ------------------------------------------------------------------------------
  {
    name: 'openblas',
    package: 'libopenblas0-pthread',
    soname: 'libopenblas.so.0',
    functions: {
      cblas_ddot: 'double cblas_ddot(int n, const double *x, int incx, const double *y, int incy)',
      cblas_dgemm:
        'void cblas_dgemm(int order, int transa, int transb, int m, int n, int k, double alpha, const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc)',
      openblas_get_num_threads: 'int openblas_get_num_threads(void)',
      openblas_get_parallel: 'int openblas_get_parallel(void)',
    },
    checks: {
      // OpenBLAS starts one thread per CPU it may run on (its constructor sizes the pool).
      'openblas_get_num_threads = CPUs this process may run on'(fn) {
        eq('openblas_get_num_threads', fn.openblas_get_num_threads(), os.availableParallelism());
        eq('openblas_get_parallel (1: the pthreads build)', fn.openblas_get_parallel(), 1);
      },
      'cblas_ddot = the dot product'(fn) {
        const x = matA.subarray(0, 1000);
        const y = matB.subarray(0, 1000);
        eq(
          'cblas_ddot',
          fn.cblas_ddot(1000, x, 1, y, 1),
          x.reduce((s, v, i) => s + v * y[i], 0),
        );
      },
      [`cblas_dgemm ${N}x${N} on its thread pool = the product`](fn) {
        const c = new Float64Array(N * N);
        // cblas.h: CblasRowMajor 101, CblasNoTrans 111.
        fn.cblas_dgemm(101, 111, 111, N, N, N, 1, matA, N, matB, N, 0, c, N);
        eq('C = A B', Buffer.from(c.buffer), Buffer.from(expectedProduct().buffer));
      },
    },
    async: {
      name: 'cblas_dgemm.async',
      async run(fn) {
        const c = new Float64Array(N * N);
        await fn.cblas_dgemm.async(101, 111, 111, N, N, N, 1, matA, N, matB, N, 0, c, N);
        eq('C = A B (async)', Buffer.from(c.buffer), Buffer.from(expectedProduct().buffer));
      },
    },
  },
  fftwEntry('fftw-threads', 'libfftw3_threads.so.3', 'POSIX threads'),
  fftwEntry('fftw-omp', 'libfftw3_omp.so.3', "libgomp's pool"),
  {
    name: 'onetbb',
    package: 'libtbb12',
    soname: 'libtbb.so.12',
    functions: {
      // tbb::detail::r1::max_concurrency(const task_arena_base *), cache_aligned_allocate(size_t),
      // cache_aligned_deallocate(void *), is_tbbmalloc_used().
      max_concurrency: 'int _ZN3tbb6detail2r115max_concurrencyEPKNS0_2d115task_arena_baseE(const void *arena)',
      cache_aligned_allocate: 'void *_ZN3tbb6detail2r122cache_aligned_allocateEm(size_t size)',
      cache_aligned_deallocate: 'void _ZN3tbb6detail2r124cache_aligned_deallocateEPv(void *p)',
      is_tbbmalloc_used: 'bool _ZN3tbb6detail2r117is_tbbmalloc_usedEv(void)',
    },
    checks: {
      'max_concurrency(default arena) = CPUs this process may run on'(fn) {
        eq('max_concurrency(NULL)', fn.max_concurrency(null), os.availableParallelism());
      },
      // The first allocation loads libtbbmalloc (with RTLD_GLOBAL, issue 22 H2) when it is installed.
      'cache_aligned_allocate: a cache-line aligned block, from libtbbmalloc'(fn) {
        const p = fn.cache_aligned_allocate(1000n);
        nonNull('cache_aligned_allocate', p);
        try {
          eq('alignment (64-byte cache lines at least)', p % 64n, 0n);
          eq('is_tbbmalloc_used (libtbbmalloc.so.2 is installed)', fn.is_tbbmalloc_used(), resolveLibrary('libtbbmalloc.so.2') !== null);
        } finally {
          fn.cache_aligned_deallocate(p);
        }
      },
    },
    async: {
      name: 'max_concurrency.async',
      async run(fn) {
        eq('max_concurrency.async(NULL)', await fn.max_concurrency.async(null), os.availableParallelism());
      },
    },
  },
  {
    name: 'rocksdb',
    package: 'librocksdb7.8',
    soname: 'librocksdb.so.7.8',
    functions: {
      rocksdb_options_create: 'void *rocksdb_options_create(void)',
      rocksdb_options_set_create_if_missing: 'void rocksdb_options_set_create_if_missing(void *opts, uint8_t v)',
      rocksdb_options_destroy: 'void rocksdb_options_destroy(void *opts)',
      rocksdb_open: 'void *rocksdb_open(const void *opts, const char *name, void *errptr)',
      rocksdb_close: 'void rocksdb_close(void *db)',
      rocksdb_writeoptions_create: 'void *rocksdb_writeoptions_create(void)',
      rocksdb_writeoptions_destroy: 'void rocksdb_writeoptions_destroy(void *o)',
      rocksdb_readoptions_create: 'void *rocksdb_readoptions_create(void)',
      rocksdb_readoptions_destroy: 'void rocksdb_readoptions_destroy(void *o)',
      rocksdb_put: 'void rocksdb_put(void *db, const void *wo, const char *key, size_t keylen, const uint8_t *val, size_t vallen, void *errptr)',
      rocksdb_get: 'void *rocksdb_get(void *db, const void *ro, const char *key, size_t keylen, size_t *vallen, void *errptr)',
      rocksdb_flushoptions_create: 'void *rocksdb_flushoptions_create(void)',
      rocksdb_flushoptions_set_wait: 'void rocksdb_flushoptions_set_wait(void *o, uint8_t v)',
      rocksdb_flushoptions_destroy: 'void rocksdb_flushoptions_destroy(void *o)',
      rocksdb_flush: 'void rocksdb_flush(void *db, const void *o, void *errptr)',
      rocksdb_free: 'void rocksdb_free(void *p)',
    },
    init(fn) {
      const s = rocksPrepare(fn);
      s.handle = fn.rocksdb_open(s.opts, s.dir, s.err);
      rocksCheckErr(fn, 'rocksdb_open', s.err);
      nonNull('rocksdb_open', s.handle);
      return s;
    },
    fini(fn, _ctx, s) {
      rocksClose(fn, s);
    },
    checks: {
      'put and get round-trip'(fn, ctx) {
        rocksRoundTrip(fn, ctx.state, `key-${ctx.gen}`, bytes(300, ctx.gen));
      },
      // A flush runs on the HIGH-priority background pool, whose threads RocksDB names rocksdb:high*.
      'flush on its background threads'(fn, ctx) {
        rocksRoundTrip(fn, ctx.state, 'flushed', bytes(64, 77));
        const o = fn.rocksdb_flushoptions_create();
        try {
          fn.rocksdb_flushoptions_set_wait(o, 1);
          fn.rocksdb_flush(ctx.state.handle, o, ctx.state.err);
          rocksCheckErr(fn, 'rocksdb_flush', ctx.state.err);
        } finally {
          fn.rocksdb_flushoptions_destroy(o);
        }
        const pause = new Int32Array(new SharedArrayBuffer(4));
        for (let i = 0; i < 100 && !threadNames().some((t) => t.startsWith('rocksdb:high')); i++) Atomics.wait(pause, 0, 0, 10);
        check(
          'a thread named rocksdb:high* runs',
          threadNames().some((t) => t.startsWith('rocksdb:high')),
          threadNames(),
          'rocksdb:high0',
        );
      },
    },
    async: {
      name: 'rocksdb_open.async, then put and get',
      async run(fn) {
        const s = rocksPrepare(fn);
        try {
          s.handle = await fn.rocksdb_open.async(s.opts, s.dir, s.err);
          rocksCheckErr(fn, 'rocksdb_open.async', s.err);
          nonNull('rocksdb_open.async', s.handle);
          rocksRoundTrip(fn, s, 'async', bytes(100, 42));
        } finally {
          rocksClose(fn, s);
        }
      },
    },
  },

  // ---- language runtimes -------------------------------------------------------------------------
  {
    name: 'lua',
    package: 'liblua5.4-0',
    soname: 'liblua5.4.so.0',
    functions: {
      luaL_newstate: 'void *luaL_newstate(void)',
      luaL_openlibs: 'void luaL_openlibs(void *L)',
      luaL_loadstring: 'int luaL_loadstring(void *L, const char *s)',
      lua_pcallk: 'int lua_pcallk(void *L, int nargs, int nresults, int errfunc, intptr_t ctx, void *k)',
      lua_tolstring: 'const char *lua_tolstring(void *L, int idx, size_t *len)',
      lua_settop: 'void lua_settop(void *L, int idx)',
      lua_version: 'double lua_version(void *L)',
      lua_close: 'void lua_close(void *L)',
    },
    init(fn) {
      const L = fn.luaL_newstate();
      nonNull('luaL_newstate', L);
      fn.luaL_openlibs(L);
      return L;
    },
    fini(fn, _ctx, L) {
      fn.lua_close(L);
    },
    checks: {
      'lua_version = dpkg'(fn, ctx) {
        const [M, m] = upstreamParts('liblua5.4-0');
        eq('lua_version (LUA_VERSION_NUM = major * 100 + minor)', fn.lua_version(ctx.state), M * 100 + m);
      },
      'arithmetic, strings and formatting = JavaScript'(fn, ctx) {
        eq('6 * 7', luaEval(fn, ctx.state, 'return 6 * 7'), '42');
        // biome-ignore lint/suspicious/noApproximativeNumericConstant: the number the C side was given, not pi
        eq("string.format('%08.3f', 3.14159)", luaEval(fn, ctx.state, "return string.format('%08.3f', 3.14159)"), (3.14159).toFixed(3).padStart(8, '0'));
        eq("('dlswap'):rep(3):upper()", luaEval(fn, ctx.state, "return ('dlswap'):rep(3):upper()"), 'dlswap'.repeat(3).toUpperCase());
      },
      // package.loadlib(path, '*') links a C library with RTLD_GLOBAL (loadlib.c: lsys_load), the
      // plugin loader's own call (issue 22 H2); with a symbol name it loads RTLD_LOCAL.
      'package.loadlib of libz: RTLD_GLOBAL and RTLD_LOCAL'(fn, ctx) {
        const z = JSON.stringify(realLib('libz.so.1'));
        eq("package.loadlib(libz, '*')", luaEval(fn, ctx.state, `return tostring(package.loadlib(${z}, '*'))`), 'true');
        eq("type(package.loadlib(libz, 'zlibVersion'))", luaEval(fn, ctx.state, `return type(package.loadlib(${z}, 'zlibVersion'))`), 'function');
      },
    },
    async: {
      name: 'luaL_newstate.async, then a script',
      async run(fn) {
        const L = await fn.luaL_newstate.async();
        nonNull('luaL_newstate.async', L);
        try {
          fn.luaL_openlibs(L);
          eq('2^10', luaEval(fn, L, 'return math.tointeger(2^10)'), '1024');
        } finally {
          fn.lua_close(L);
        }
      },
    },
  },
  {
    name: 'tcl',
    package: 'libtcl8.6',
    soname: 'libtcl8.6.so',
    functions: {
      Tcl_FindExecutable: 'void Tcl_FindExecutable(const char *argv0)',
      Tcl_CreateInterp: 'void *Tcl_CreateInterp(void)',
      Tcl_Eval: 'int Tcl_Eval(void *interp, const char *script)',
      Tcl_GetStringResult: 'const char *Tcl_GetStringResult(void *interp)',
      Tcl_DeleteInterp: 'void Tcl_DeleteInterp(void *interp)',
      Tcl_Finalize: 'void Tcl_Finalize(void)',
      Tcl_UtfToUpper: 'int Tcl_UtfToUpper(char *str)',
    },
    // tcl.h: Tcl_FindExecutable initialises the library; Tcl_Finalize undoes it (and stops the
    // notifier thread).
    init(fn) {
      fn.Tcl_FindExecutable(null);
      const interp = fn.Tcl_CreateInterp();
      nonNull('Tcl_CreateInterp', interp);
      return interp;
    },
    fini(fn, _ctx, interp) {
      fn.Tcl_DeleteInterp(interp);
      fn.Tcl_Finalize();
    },
    checks: {
      'info patchlevel = dpkg'(fn, ctx) {
        eq('info patchlevel', tclEval(fn, ctx.state, 'info patchlevel'), upstreamVersion('libtcl8.6'));
      },
      'expr, string toupper, binary encode base64 = JavaScript'(fn, ctx) {
        eq('expr {6*7}', tclEval(fn, ctx.state, 'expr {6*7}'), '42');
        eq('string toupper', tclEval(fn, ctx.state, 'string toupper "dlswap h\\u00e9llo"'), 'dlswap héllo'.toUpperCase());
        eq('binary encode base64', tclEval(fn, ctx.state, 'binary encode base64 "conformance"'), Buffer.from('conformance').toString('base64'));
      },
      // The event loop: `after` and `vwait` wait in the notifier, which a threaded Tcl runs on a
      // thread of its own.
      'after + vwait through the notifier'(fn, ctx) {
        eq('vwait', tclEval(fn, ctx.state, 'set ::dlswap_done 0; after 5 {set ::dlswap_done 7}; vwait ::dlswap_done; set ::dlswap_done'), '7');
      },
    },
    async: {
      name: 'Tcl_UtfToUpper.async',
      async run(fn) {
        const text = 'conformance ünïcode';
        const buf = cstr(text);
        const n = await fn.Tcl_UtfToUpper.async(buf);
        eq('Tcl_UtfToUpper result', buf.subarray(0, n).toString('utf8'), text.toUpperCase());
      },
    },
  },

  // ---- process-wide registries -------------------------------------------------------------------
  {
    name: 'gflags',
    package: 'libgflags2.2',
    soname: 'libgflags.so.2.2',
    functions: {
      SetArgv: 'void _ZN6google7SetArgvEiPPKc(int argc, const void *argv)',
      GetArgv: 'const char *_ZN6google7GetArgvEv(void)',
      GetArgvSum: 'uint32_t _ZN6google10GetArgvSumEv(void)',
      ProgramInvocationShortName: 'const char *_ZN6google26ProgramInvocationShortNameEv(void)',
      GetCommandLineOption: `bool ${GET_OPTION}(const char *name, void *out)`,
    },
    checks: {
      // gflags.h: SetArgv keeps the first argv it is given; GetArgv is it joined with spaces,
      // GetArgvSum the sum of its bytes.
      'SetArgv, GetArgv, GetArgvSum, ProgramInvocationShortName'(fn) {
        const args = ['/opt/dlswap/conformance-tool', '--flagfile=', 'x'];
        const { argv, keep } = argvOf(args);
        fn.SetArgv(args.length, argv);
        void keep;
        eq('GetArgv', fn.GetArgv(), args.join(' '));
        eq(
          'GetArgvSum',
          fn.GetArgvSum(),
          [...Buffer.from(args.join(' '))].reduce((s, b) => s + b, 0),
        );
        eq('ProgramInvocationShortName', fn.ProgramInvocationShortName(), 'conformance-tool');
      },
      // Flags gflags defines itself (gflags_completions.cc: tab_completion_columns = 80; gflags.cc:
      // flagfile = "").
      'GetCommandLineOption of its own flags'(fn) {
        eq('tab_completion_columns', flagValue(fn, 'tab_completion_columns'), '80');
        eq('flagfile', flagValue(fn, 'flagfile'), '');
        eq('a flag nobody defined', flagValue(fn, 'dlswap_no_such_flag'), null);
      },
    },
    async: {
      name: 'GetArgvSum.async',
      // SetArgv first (it keeps the first argv it was given, so a sync check may have set the same
      // one already): the sum is then that argv's.
      async run(fn) {
        const args = ['/opt/dlswap/conformance-tool', '--flagfile=', 'x'];
        const { argv, keep } = argvOf(args);
        fn.SetArgv(args.length, argv);
        void keep;
        eq(
          'GetArgvSum.async',
          await fn.GetArgvSum.async(),
          [...Buffer.from(args.join(' '))].reduce((s, b) => s + b, 0),
        );
      },
    },
  },
  {
    // glog registers its flags (logtostderr, minloglevel, v...) in libgflags, which every
    // generation shares outside fresh-namespace (issue 22 H5).
    name: 'glog',
    package: 'libgoogle-glog0v6',
    soname: 'libglog.so.1',
    functions: {
      InitGoogleLogging: 'void _ZN6google17InitGoogleLoggingEPKc(const char *argv0)',
      ShutdownGoogleLogging: 'void _ZN6google21ShutdownGoogleLoggingEv(void)',
      IsGoogleLoggingInitialized: 'bool _ZN6google26IsGoogleLoggingInitializedEv(void)',
      GetLogSeverityName: 'const char *_ZN6google18GetLogSeverityNameEi(int severity)',
      GetCommandLineOption: `bool ${GET_OPTION}(const char *name, void *out)`,
    },
    init(fn) {
      fn.InitGoogleLogging('dlswap-conformance');
      eq('IsGoogleLoggingInitialized', fn.IsGoogleLoggingInitialized(), true);
    },
    fini(fn) {
      fn.ShutdownGoogleLogging();
    },
    checks: {
      // log_severity.h: INFO 0, WARNING 1, ERROR 2, FATAL 3.
      GetLogSeverityName(fn) {
        eq(
          'severity names',
          [0, 1, 2, 3].map((s) => fn.GetLogSeverityName(s)),
          ['INFO', 'WARNING', 'ERROR', 'FATAL'],
        );
      },
      // glog's documented defaults: logtostderr false, minloglevel 0, v 0.
      'its flags, as libgflags holds them'(fn) {
        eq('logtostderr', flagValue(fn, 'logtostderr'), 'false');
        eq('minloglevel', flagValue(fn, 'minloglevel'), '0');
        eq('v', flagValue(fn, 'v'), '0');
      },
    },
    async: {
      name: 'GetLogSeverityName.async',
      async run(fn) {
        eq('GetLogSeverityName.async(2)', await fn.GetLogSeverityName.async(2), 'ERROR');
      },
    },
  },
  {
    name: 'gobject',
    package: 'libglib2.0-0',
    soname: 'libgobject-2.0.so.0',
    functions: GOBJECT_FUNCTIONS,
    // A type of this generation's own, registered once per generation (a name can be registered
    // once per type system).
    init(fn) {
      const t = fn.g_type_register_static_simple(G_TYPE_OBJECT, 'DlswapConformanceProbe', SIZEOF_GOBJECT_CLASS, null, SIZEOF_GOBJECT, null, 0);
      check('g_type_register_static_simple', t !== 0n, t, 'a new type');
      return t;
    },
    checks: {
      'fundamental types: ids and names (gtype.h)'(fn) {
        eq('g_type_name(G_TYPE_INT)', fn.g_type_name(G_TYPE_INT), 'gint');
        eq('g_type_name(G_TYPE_STRING)', fn.g_type_name(G_TYPE_STRING), 'gchararray');
        eq('g_type_from_name("GObject")', fn.g_type_from_name('GObject'), G_TYPE_OBJECT);
      },
      'a registered type: an object of it'(fn, ctx) {
        const t = ctx.state;
        eq('g_type_name', fn.g_type_name(t), 'DlswapConformanceProbe');
        eq('g_type_fundamental', fn.g_type_fundamental(t), G_TYPE_OBJECT);
        eq('g_type_is_a(GObject)', fn.g_type_is_a(t, G_TYPE_OBJECT), 1);
        const o = fn.g_object_new(t, null);
        nonNull('g_object_new', o);
        // gobject.h: GObject is { GTypeInstance (a class pointer), guint ref_count, GData *qdata }.
        eq(
          'ref_count of a new object',
          dlswap()
            .readBytes(o + 8n, 4)
            .readUInt32LE(0),
          1,
        );
        fn.g_object_unref(o);
      },
    },
    async: {
      name: 'g_type_name.async',
      async run(fn) {
        eq('g_type_name.async(G_TYPE_OBJECT)', await fn.g_type_name.async(G_TYPE_OBJECT), 'GObject');
      },
    },
  },
  {
    // GIO: types in GObject, extension points, its modules directory (GModule) and GLib's worker
    // thread (file monitors).
    name: 'gio',
    package: 'libglib2.0-0',
    soname: 'libgio-2.0.so.0',
    functions: {
      g_file_new_for_path: 'void *g_file_new_for_path(const char *path)',
      g_file_get_basename: 'void *g_file_get_basename(void *file)',
      g_file_load_contents: 'int g_file_load_contents(void *file, void *cancellable, void *contents, size_t *length, void *etag, void *error)',
      g_file_monitor_file: 'void *g_file_monitor_file(void *file, int flags, void *cancellable, void *error)',
      g_file_monitor_cancel: 'int g_file_monitor_cancel(void *monitor)',
      g_object_unref: 'void g_object_unref(void *object)',
      g_free: 'void g_free(void *p)',
    },
    setup(cell) {
      cell.shared.file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-gio-')), 'conformance.bin');
      fs.writeFileSync(cell.shared.file, bytes(5000, 21));
    },
    checks: {
      'g_file_get_basename = path.basename'(fn, ctx) {
        const f = fn.g_file_new_for_path(ctx.cell.shared.file);
        nonNull('g_file_new_for_path', f);
        try {
          const p = fn.g_file_get_basename(f);
          eq('basename', ctx.readCString(p), path.basename(ctx.cell.shared.file));
          fn.g_free(p);
        } finally {
          fn.g_object_unref(f);
        }
      },
      'g_file_load_contents = fs.readFileSync'(fn, ctx) {
        const f = fn.g_file_new_for_path(ctx.cell.shared.file);
        const out = Buffer.alloc(8);
        const len = Buffer.alloc(8);
        try {
          eq('g_file_load_contents', fn.g_file_load_contents(f, null, out, len, null, null), 1);
          eq('contents', dlswap().readBytes(ptrAt(out), Number(len.readBigUInt64LE(0))), fs.readFileSync(ctx.cell.shared.file));
          fn.g_free(ptrAt(out));
        } finally {
          fn.g_object_unref(f);
        }
      },
      // A file monitor runs on GLib's worker thread, which it names gmain.
      'a file monitor, on GLib worker thread'(fn, ctx) {
        const f = fn.g_file_new_for_path(ctx.cell.shared.file);
        try {
          const m = fn.g_file_monitor_file(f, 0, null, null);
          nonNull('g_file_monitor_file', m);
          // The thread names itself once it runs: give it up to a second.
          const pause = new Int32Array(new SharedArrayBuffer(4));
          for (let i = 0; i < 100 && !threadNames().includes('gmain'); i++) Atomics.wait(pause, 0, 0, 10);
          check('a thread named gmain runs', threadNames().includes('gmain'), threadNames(), 'gmain');
          fn.g_file_monitor_cancel(m);
          fn.g_object_unref(m);
        } finally {
          fn.g_object_unref(f);
        }
      },
    },
    async: {
      name: 'g_file_load_contents.async',
      async run(fn, ctx) {
        const f = fn.g_file_new_for_path(ctx.cell.shared.file);
        const out = Buffer.alloc(8);
        const len = Buffer.alloc(8);
        try {
          eq('g_file_load_contents.async', await fn.g_file_load_contents.async(f, null, out, len, null, null), 1);
          eq('contents', dlswap().readBytes(ptrAt(out), Number(len.readBigUInt64LE(0))), fs.readFileSync(ctx.cell.shared.file));
          fn.g_free(ptrAt(out));
        } finally {
          fn.g_object_unref(f);
        }
      },
    },
  },

  // ---- plugin loaders ----------------------------------------------------------------------------
  {
    name: 'gmodule',
    package: 'libglib2.0-0',
    soname: 'libgmodule-2.0.so.0',
    functions: {
      g_module_supported: 'int g_module_supported(void)',
      g_module_open: 'void *g_module_open(const char *file, int flags)',
      g_module_symbol: 'int g_module_symbol(void *module, const char *name, void *symbol)',
      g_module_close: 'int g_module_close(void *module)',
      g_module_build_path: 'void *g_module_build_path(const char *directory, const char *module_name)',
      g_free: 'void g_free(void *p)',
    },
    checks: {
      'g_module_supported, g_module_build_path'(fn, ctx) {
        eq('g_module_supported', fn.g_module_supported(), 1);
        const p = fn.g_module_build_path('/opt/x', 'z');
        eq('g_module_build_path (gmodule.h: lib<name>.so on ELF systems)', ctx.readCString(p), '/opt/x/libz.so');
        fn.g_free(p);
      },
      // gmodule.h: flags 0 is RTLD_GLOBAL (issue 22 H2), G_MODULE_BIND_LOCAL (1 << 1) RTLD_LOCAL.
      'g_module_open of libz, global and local: its symbol is in libz'(fn) {
        for (const [how, flags] of [
          ['G_MODULE_BIND_LOCAL', 2],
          ['default flags (RTLD_GLOBAL)', 0],
        ]) {
          const m = fn.g_module_open(realLib('libz.so.1'), flags);
          nonNull(`g_module_open(libz, ${how})`, m);
          const sym = Buffer.alloc(8);
          eq(`g_module_symbol(zlibVersion), ${how}`, fn.g_module_symbol(m, 'zlibVersion', sym), 1);
          eq(`zlibVersion is mapped from libz (${how})`, mappingOf(ptrAt(sym)), realLib('libz.so.1'));
          eq('g_module_close', fn.g_module_close(m), 1);
        }
      },
    },
    async: {
      name: 'g_module_build_path.async',
      async run(fn, ctx) {
        const p = await fn.g_module_build_path.async(null, 'dlswap');
        eq('g_module_build_path.async', ctx.readCString(p), 'libdlswap.so');
        fn.g_free(p);
      },
    },
  },
  {
    name: 'ltdl',
    package: 'libltdl7',
    soname: 'libltdl.so.7',
    functions: {
      lt_dlinit: 'int lt_dlinit(void)',
      lt_dlexit: 'int lt_dlexit(void)',
      lt_dlopen: 'void *lt_dlopen(const char *filename)',
      lt_dlsym: 'void *lt_dlsym(void *handle, const char *name)',
      lt_dlclose: 'int lt_dlclose(void *handle)',
      lt_dladvise_init: 'int lt_dladvise_init(void *advise)',
      lt_dladvise_global: 'int lt_dladvise_global(void *advise)',
      lt_dladvise_destroy: 'int lt_dladvise_destroy(void *advise)',
      lt_dlopenadvise: 'void *lt_dlopenadvise(const char *filename, void *advise)',
    },
    // ltdl.h: lt_dlinit before use, lt_dlexit after (reference counted).
    init(fn) {
      eq('lt_dlinit', fn.lt_dlinit(), 0);
    },
    fini(fn) {
      eq('lt_dlexit', fn.lt_dlexit(), 0);
    },
    checks: {
      'lt_dlopen of libz: its symbol is in libz'(fn) {
        const h = fn.lt_dlopen(realLib('libz.so.1'));
        nonNull('lt_dlopen(libz)', h);
        const p = fn.lt_dlsym(h, 'zlibVersion');
        nonNull('lt_dlsym(zlibVersion)', p);
        eq('zlibVersion is mapped from libz', mappingOf(p), realLib('libz.so.1'));
        eq('lt_dlclose', fn.lt_dlclose(h), 0);
      },
      // lt_dladvise_global: the module's symbols for everything loaded later (RTLD_GLOBAL, issue 22 H2).
      'lt_dlopenadvise(global) of libz'(fn) {
        const advise = Buffer.alloc(8);
        eq('lt_dladvise_init', fn.lt_dladvise_init(advise), 0);
        try {
          eq('lt_dladvise_global', fn.lt_dladvise_global(advise), 0);
          const h = fn.lt_dlopenadvise(realLib('libz.so.1'), ptrAt(advise));
          nonNull('lt_dlopenadvise(libz, global)', h);
          eq('zlibVersion is mapped from libz', mappingOf(fn.lt_dlsym(h, 'zlibVersion')), realLib('libz.so.1'));
          eq('lt_dlclose', fn.lt_dlclose(h), 0);
        } finally {
          fn.lt_dladvise_destroy(advise);
        }
      },
    },
    async: {
      name: 'lt_dladvise_init.async',
      async run(fn) {
        const advise = Buffer.alloc(8);
        eq('lt_dladvise_init.async', await fn.lt_dladvise_init.async(advise), 0);
        check('an advise was made', ptrAt(advise) !== 0n, ptrAt(advise), 'non-NULL');
        fn.lt_dladvise_destroy(advise);
      },
    },
  },

  // ---- signal handlers ---------------------------------------------------------------------------
  {
    // MagickCoreGenesis(path, MagickTrue), as ImageMagick's own tools call it, installs handlers for
    // SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGBUS, SIGFPE, SIGTERM, SIGXCPU... (issue 22 H4); its image
    // operations run on libgomp's pool.
    name: 'magickcore',
    package: 'libmagickcore-6.q16-6',
    soname: 'libMagickCore-6.Q16.so.6',
    functions: {
      MagickCoreGenesis: 'void MagickCoreGenesis(const char *path, int establish_signal_handlers)',
      MagickCoreTerminus: 'void MagickCoreTerminus(void)',
      GetMagickVersion: 'const char *GetMagickVersion(size_t *version)',
      GetMagickQuantumDepth: 'const char *GetMagickQuantumDepth(size_t *depth)',
      AcquireExceptionInfo: 'void *AcquireExceptionInfo(void)',
      DestroyExceptionInfo: 'void *DestroyExceptionInfo(void *exception)',
      ConstituteImage: 'void *ConstituteImage(size_t columns, size_t rows, const char *map, int storage, const uint8_t *pixels, void *exception)',
      ResizeImage: 'void *ResizeImage(const void *image, size_t columns, size_t rows, int filter, double blur, void *exception)',
      ExportImagePixels:
        'int ExportImagePixels(const void *image, ssize_t x, ssize_t y, size_t columns, size_t rows, const char *map, int storage, uint8_t *pixels, void *exception)',
      DestroyImage: 'void *DestroyImage(void *image)',
    },
    init(fn) {
      fn.MagickCoreGenesis(process.execPath, 1);
    },
    fini(fn) {
      fn.MagickCoreTerminus();
    },
    checks: {
      'GetMagickVersion, GetMagickQuantumDepth = dpkg'(fn) {
        // Debian's 8:6.9.11.60+dfsg is ImageMagick 6.9.11-60.
        const [M, m, p, q] = upstreamParts('libmagickcore-6.q16-6');
        const v = fn.GetMagickVersion(null);
        check('GetMagickVersion', typeof v === 'string' && v.startsWith(`ImageMagick ${M}.${m}.${p}-${q} Q16 `), v, `ImageMagick ${M}.${m}.${p}-${q} Q16 ...`);
        eq('GetMagickQuantumDepth', fn.GetMagickQuantumDepth(null), 'Q16');
      },
      // StorageType CharPixel = 1 (magick/constitute.h).
      'ConstituteImage then ExportImagePixels: the same RGB bytes'(fn) {
        const e = fn.AcquireExceptionInfo();
        const pixels = bytes(40 * 30 * 3, 8);
        const img = fn.ConstituteImage(40n, 30n, 'RGB', 1, pixels, e);
        try {
          nonNull('ConstituteImage', img);
          const out = Buffer.alloc(pixels.length);
          eq('ExportImagePixels', fn.ExportImagePixels(img, 0n, 0n, 40n, 30n, 'RGB', 1, out, e), 1);
          eq('pixels', out, pixels);
        } finally {
          if (img) fn.DestroyImage(img);
          fn.DestroyExceptionInfo(e);
        }
      },
      // Resizing runs on libgomp's team; a uniform image stays uniform under any filter
      // (FilterTypes PointFilter = 1).
      'ResizeImage of a uniform image on its OpenMP threads'(fn) {
        const e = fn.AcquireExceptionInfo();
        const colour = [12, 200, 34];
        const src = Buffer.alloc(64 * 48 * 3);
        for (let i = 0; i < src.length; i++) src[i] = colour[i % 3];
        const img = fn.ConstituteImage(64n, 48n, 'RGB', 1, src, e);
        const big = img ? fn.ResizeImage(img, 256n, 192n, 1, 1.0, e) : 0n;
        try {
          nonNull('ResizeImage', big);
          const out = Buffer.alloc(256 * 192 * 3);
          eq('ExportImagePixels', fn.ExportImagePixels(big, 0n, 0n, 256n, 192n, 'RGB', 1, out, e), 1);
          const wrong = out.findIndex((b, i) => b !== colour[i % 3]);
          eq('first pixel byte that is not the colour', wrong, -1);
        } finally {
          if (big) fn.DestroyImage(big);
          if (img) fn.DestroyImage(img);
          fn.DestroyExceptionInfo(e);
        }
      },
    },
    async: {
      name: 'ConstituteImage.async',
      async run(fn) {
        const e = fn.AcquireExceptionInfo();
        const pixels = bytes(16 * 16 * 3, 4);
        const img = await fn.ConstituteImage.async(16n, 16n, 'RGB', 1, pixels, e);
        try {
          nonNull('ConstituteImage.async', img);
          const out = Buffer.alloc(pixels.length);
          eq('ExportImagePixels', fn.ExportImagePixels(img, 0n, 0n, 16n, 16n, 'RGB', 1, out, e), 1);
          eq('pixels', out, pixels);
        } finally {
          if (img) fn.DestroyImage(img);
          fn.DestroyExceptionInfo(e);
        }
      },
    },
  },

  // ---- static TLS --------------------------------------------------------------------------------
  {
    // 2,632 bytes of initial-exec TLS: more than the default static TLS surplus, so plain dlopen in
    // node fails too. Expected: refused before any of its code runs, with the tunable that works
    // (issue 22 H6).
    name: 'jemalloc',
    package: 'libjemalloc2',
    soname: 'libjemalloc.so.2',
    // 2,632 bytes of initial-exec TLS, more than glibc keeps for later loads by default: every mode
    // refuses it with ERR_DLSWAP_STATIC_TLS, as plain dlopen fails (test/load/static_tls.test.ts),
    // naming this tunable, with which it loads in every mode (fresh-namespace's setting covers all).
    env: { GLIBC_TUNABLES: 'glibc.rtld.nns=16:glibc.rtld.optional_static_tls=20480' },
    functions: {
      mallctl: 'int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)',
    },
    checks: {
      'mallctl("version") = dpkg'(fn, ctx) {
        const out = Buffer.alloc(8);
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(8n);
        eq('mallctl(version)', fn.mallctl('version', out, len, null, 0n), 0);
        const v = ctx.readCString(ptrAt(out));
        check('version starts with the dpkg version', v.startsWith(`${upstreamVersion('libjemalloc2')}-`), v, `${upstreamVersion('libjemalloc2')}-...`);
      },
      'mallctl("opt.narenas") > 0'(fn) {
        const out = Buffer.alloc(4);
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(4n);
        eq('mallctl(opt.narenas)', fn.mallctl('opt.narenas', out, len, null, 0n), 0);
        check('opt.narenas', out.readUInt32LE(0) > 0, out.readUInt32LE(0), '> 0');
      },
    },
    async: {
      name: 'mallctl.async',
      async run(fn) {
        const out = Buffer.alloc(8);
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(8n);
        eq('mallctl.async(version)', await fn.mallctl.async('version', out, len, null, 0n), 0);
      },
    },
  },
];
