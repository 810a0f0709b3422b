'use strict';
/**
 * The real-library conformance table: system libraries of Debian 12, each with a few calls whose
 * answers are checked against an independent source (test/conformance/answers.cjs: node's crypto and
 * zlib, dpkg's version of the package, documented constants and formats). See docs/conformance.md.
 *
 * An entry:
 *   name         the library's name in test titles and on the cell runner's command line
 *   package      the Debian package that ships it (named when the file is missing)
 *   soname       the file, resolved at run time under the multiarch library directories
 *   packages     other Debian packages it needs at run time (data files), if any
 *   functions    name -> C prototype: what `lib.func` binds (basic) and `HotLibrary` verifies (hot)
 *   setup(cell)  once per cell, before the library is opened (e.g. open a helper fixture)
 *   init(fn, ctx) -> state / fini(fn, ctx, state)
 *                once per generation, on the JS thread: the library's own global init/cleanup.
 *                `state` is only ever used on the JS thread (sync checks).
 *   checks       2-4 sync checks: (fn, ctx) => void, throwing a WrongAnswer (answers.eq/check)
 *   async        { name, run: async (fn, ctx) => void }: one check built around an `.async` call.
 *                It may run on several pool threads at once, so it never touches `ctx.state`.
 *   afterClose(cell, generations)  checks once every generation is closed
 *   timeoutMs    per-cell budget when the default (see test/conformance/conformance.test.ts) is too short
 *
 * `fn` holds the bound functions: a Library's `lib.func` (basic) or `hot.fn` (hot); all calls of one
 * sync check run on one generation. `ctx` is { gen, free, state, cell, readCString }: `free` is the
 * generation's own `lib.free` (memory a library malloc'ed belongs to its namespace's libc).
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const zlib = require('node:zlib');
const a = require('./answers.cjs');

const { eq, check, sha256, sha256hex, upstreamVersion, upstreamParts, cstr, bufString, bytes } = a;

/** A pointer written by the library into an out-parameter buffer. */
const ptrAt = (buf, off = 0) => buf.readBigUInt64LE(off);
const nonNull = (what, p) => check(`${what} returns a non-NULL pointer`, typeof p === 'bigint' && p !== 0n, p, 'non-NULL');
/** A 4-character OpenType tag as a number (HB_TAG). */
const tag = (s) => Buffer.from(s, 'latin1').readUInt32BE(0);

/** Thread ids of this process (for thread pools a library starts). */
const threadIds = () => new Set(fs.readdirSync('/proc/self/task').map(Number));

/** RFC 3986 percent-encoding: every byte but ALPHA / DIGIT / "-" / "." / "_" / "~". */
function percentEncode(s) {
  return [...Buffer.from(s, 'utf8')]
    .map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = [
  // ---- OpenSSL -----------------------------------------------------------------------------------
  {
    name: 'libcrypto',
    package: 'libssl3',
    soname: 'libcrypto.so.3',
    functions: {
      SHA256: 'void *SHA256(const uint8_t *d, size_t n, uint8_t *md)',
      EVP_sha256: 'const void *EVP_sha256(void)',
      HMAC: 'void *HMAC(const void *md, const void *key, int keylen, const uint8_t *d, size_t n, uint8_t *out, unsigned *outlen)',
      OpenSSL_version_num: 'unsigned long OpenSSL_version_num(void)',
      OPENSSL_version_major: 'unsigned OPENSSL_version_major(void)',
      OPENSSL_version_minor: 'unsigned OPENSSL_version_minor(void)',
      OPENSSL_version_patch: 'unsigned OPENSSL_version_patch(void)',
    },
    checks: {
      'SHA256 = node sha256'(fn) {
        const d = bytes(1000, 7);
        const md = Buffer.alloc(32);
        nonNull('SHA256', fn.SHA256(d, BigInt(d.length), md));
        eq('SHA256 digest', md, sha256(d));
      },
      'HMAC(EVP_sha256) = node hmac'(fn) {
        const key = Buffer.from('conformance key');
        const d = bytes(333, 3);
        const out = Buffer.alloc(64);
        const outlen = Buffer.alloc(4);
        nonNull('HMAC', fn.HMAC(fn.EVP_sha256(), key, key.length, d, BigInt(d.length), out, outlen));
        eq('HMAC length', outlen.readUInt32LE(0), 32);
        eq('HMAC', out.subarray(0, 32), crypto.createHmac('sha256', key).update(d).digest());
      },
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libssl3');
        eq('OPENSSL_version_major/minor/patch', [fn.OPENSSL_version_major(), fn.OPENSSL_version_minor(), fn.OPENSSL_version_patch()], [M, m, p]);
        // OPENSSL_VERSION_NUMBER for 3.x: 0xMNN00PP0 (opensslv.h).
        eq('OpenSSL_version_num', fn.OpenSSL_version_num(), (BigInt(M) << 28n) | (BigInt(m) << 20n) | (BigInt(p) << 4n));
      },
    },
    async: {
      name: 'SHA256.async',
      async run(fn) {
        const d = bytes(8192, 11);
        const md = Buffer.alloc(32);
        nonNull('SHA256.async', await fn.SHA256.async(d, BigInt(d.length), md));
        eq('SHA256 digest', md, sha256(d));
      },
    },
  },
  {
    name: 'libssl',
    package: 'libssl3',
    soname: 'libssl.so.3',
    functions: {
      OPENSSL_init_ssl: 'int OPENSSL_init_ssl(uint64_t opts, const void *settings)',
      TLS_method: 'const void *TLS_method(void)',
      SSL_CTX_new: 'void *SSL_CTX_new(const void *method)',
      SSL_CTX_ctrl: 'long SSL_CTX_ctrl(void *ctx, int cmd, long larg, void *parg)',
      SSL_CTX_free: 'void SSL_CTX_free(void *ctx)',
      SSL_alert_desc_string_long: 'const char *SSL_alert_desc_string_long(int value)',
      SSL_alert_type_string_long: 'const char *SSL_alert_type_string_long(int value)',
    },
    init(fn) {
      eq('OPENSSL_init_ssl', fn.OPENSSL_init_ssl(0n, null), 1);
    },
    checks: {
      'SSL_CTX protocol bounds round-trip'(fn) {
        const ctx = fn.SSL_CTX_new(fn.TLS_method());
        nonNull('SSL_CTX_new', ctx);
        try {
          // ssl.h: SSL_CTRL_SET_MIN/MAX_PROTO_VERSION 123/124, GET 130/131; TLS1_2/1_3_VERSION 0x0303/0x0304.
          eq('set min proto', fn.SSL_CTX_ctrl(ctx, 123, 0x0303n, null), 1n);
          eq('set max proto', fn.SSL_CTX_ctrl(ctx, 124, 0x0304n, null), 1n);
          eq('get min proto', fn.SSL_CTX_ctrl(ctx, 130, 0n, null), 0x0303n);
          eq('get max proto', fn.SSL_CTX_ctrl(ctx, 131, 0n, null), 0x0304n);
        } finally {
          fn.SSL_CTX_free(ctx);
        }
      },
      'alert strings (RFC 8446 codes)'(fn) {
        // RFC 8446 6: handshake_failure(40), decode_error(50); levels warning(1), fatal(2).
        eq('alert 40', fn.SSL_alert_desc_string_long(40), 'handshake failure');
        eq('alert 50', fn.SSL_alert_desc_string_long(50), 'decode error');
        eq('level fatal', fn.SSL_alert_type_string_long((2 << 8) | 40), 'fatal');
        eq('level warning', fn.SSL_alert_type_string_long((1 << 8) | 0), 'warning');
      },
    },
    async: {
      name: 'SSL_CTX_new.async',
      async run(fn) {
        const ctx = await fn.SSL_CTX_new.async(fn.TLS_method());
        nonNull('SSL_CTX_new.async', ctx);
        try {
          eq('set min proto', fn.SSL_CTX_ctrl(ctx, 123, 0x0303n, null), 1n);
          eq('get min proto', fn.SSL_CTX_ctrl(ctx, 130, 0n, null), 0x0303n);
        } finally {
          fn.SSL_CTX_free(ctx);
        }
      },
    },
  },

  // ---- GLib and HarfBuzz (which links GLib) -------------------------------------------------------
  {
    name: 'glib',
    package: 'libglib2.0-0',
    soname: 'libglib-2.0.so.0',
    functions: {
      glib_check_version: 'const char *glib_check_version(unsigned major, unsigned minor, unsigned micro)',
      g_compute_checksum_for_string: 'void *g_compute_checksum_for_string(int checksum_type, const char *str, long length)',
      g_utf8_strup: 'void *g_utf8_strup(const char *str, long len)',
      g_str_hash: 'unsigned g_str_hash(const char *v)',
      g_free: 'void g_free(void *mem)',
    },
    checks: {
      'glib_check_version: dpkg version accepted, a newer one refused'(fn) {
        const [M, m, p] = upstreamParts('libglib2.0-0');
        eq(`glib_check_version(${M}, ${m}, ${p})`, fn.glib_check_version(M, m, p), null);
        check(`glib_check_version(${M}, ${m + 2}, 0) refuses`, typeof fn.glib_check_version(M, m + 2, 0) === 'string', 'NULL', 'a message');
      },
      'g_compute_checksum_for_string(SHA256) = node sha256'(fn, ctx) {
        const text = 'dlswap conformance: glib';
        const p = fn.g_compute_checksum_for_string(2 /* G_CHECKSUM_SHA256 */, text, -1n);
        nonNull('g_compute_checksum_for_string', p);
        const hex = ctx.readCString(p);
        fn.g_free(p);
        eq('checksum', hex, sha256hex(text));
      },
      'g_utf8_strup = String#toUpperCase'(fn, ctx) {
        const text = 'grüße, señor ǆ';
        const p = fn.g_utf8_strup(text, -1n);
        nonNull('g_utf8_strup', p);
        const up = ctx.readCString(p);
        fn.g_free(p);
        eq('g_utf8_strup', up, text.toUpperCase());
      },
      'g_str_hash = djb2 (documented)'(fn) {
        // "hash = hash * 33 + c", starting at 5381, over the bytes (GLib's g_str_hash documentation).
        const s = 'dlswap-glib-hash';
        let h = 5381;
        for (const c of Buffer.from(s)) h = (Math.imul(h, 33) + c) >>> 0;
        eq('g_str_hash', fn.g_str_hash(s), h);
      },
    },
    async: {
      name: 'g_compute_checksum_for_string.async',
      async run(fn, ctx) {
        const text = `async ${'x'.repeat(500)}`;
        const p = await fn.g_compute_checksum_for_string.async(3 /* G_CHECKSUM_SHA512 */, text, -1n);
        nonNull('g_compute_checksum_for_string.async', p);
        const hex = ctx.readCString(p);
        fn.g_free(p);
        eq('checksum', hex, a.hash('sha512', text).toString('hex'));
      },
    },
  },
  {
    name: 'harfbuzz',
    package: 'libharfbuzz0b',
    soname: 'libharfbuzz.so.0',
    functions: {
      hb_version_string: 'const char *hb_version_string(void)',
      hb_version_atleast: 'int hb_version_atleast(unsigned major, unsigned minor, unsigned micro)',
      hb_tag_from_string: 'uint32_t hb_tag_from_string(const char *str, int len)',
      hb_script_get_horizontal_direction: 'int hb_script_get_horizontal_direction(uint32_t script)',
      hb_buffer_create: 'void *hb_buffer_create(void)',
      hb_buffer_add_utf8: 'void hb_buffer_add_utf8(void *buffer, const char *text, int text_length, unsigned item_offset, int item_length)',
      hb_buffer_guess_segment_properties: 'void hb_buffer_guess_segment_properties(void *buffer)',
      hb_buffer_get_length: 'unsigned hb_buffer_get_length(void *buffer)',
      hb_buffer_get_direction: 'int hb_buffer_get_direction(void *buffer)',
      hb_buffer_get_script: 'uint32_t hb_buffer_get_script(void *buffer)',
      hb_buffer_destroy: 'void hb_buffer_destroy(void *buffer)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libharfbuzz0b');
        eq('hb_version_string', fn.hb_version_string(), upstreamVersion('libharfbuzz0b'));
        eq('hb_version_atleast(dpkg)', fn.hb_version_atleast(M, m, p), 1);
        eq('hb_version_atleast(newer)', fn.hb_version_atleast(M + 1, 0, 0), 0);
      },
      'tags and script directions (hb-common.h)'(fn) {
        eq("hb_tag_from_string('kern')", fn.hb_tag_from_string('kern', -1), tag('kern'));
        // HB_DIRECTION_LTR = 4, HB_DIRECTION_RTL = 5; scripts are ISO 15924 tags.
        eq('direction(Arab)', fn.hb_script_get_horizontal_direction(tag('Arab')), 5);
        eq('direction(Latn)', fn.hb_script_get_horizontal_direction(tag('Latn')), 4);
      },
      'buffer: segment properties of Arabic text'(fn) {
        const text = 'سلام عليكم';
        const buf = fn.hb_buffer_create();
        nonNull('hb_buffer_create', buf);
        try {
          fn.hb_buffer_add_utf8(buf, text, -1, 0, -1);
          fn.hb_buffer_guess_segment_properties(buf);
          eq('hb_buffer_get_length', fn.hb_buffer_get_length(buf), [...text].length);
          eq('hb_buffer_get_script', fn.hb_buffer_get_script(buf), tag('Arab'));
          eq('hb_buffer_get_direction', fn.hb_buffer_get_direction(buf), 5);
        } finally {
          fn.hb_buffer_destroy(buf);
        }
      },
    },
    async: {
      name: 'hb_buffer_add_utf8.async + hb_buffer_guess_segment_properties.async',
      async run(fn) {
        const text = 'ελληνικά γράμματα';
        const buf = fn.hb_buffer_create();
        nonNull('hb_buffer_create', buf);
        try {
          await fn.hb_buffer_add_utf8.async(buf, text, -1, 0, -1);
          await fn.hb_buffer_guess_segment_properties.async(buf);
          eq('hb_buffer_get_length', fn.hb_buffer_get_length(buf), [...text].length);
          eq('hb_buffer_get_script', fn.hb_buffer_get_script(buf), tag('Grek'));
          eq('hb_buffer_get_direction', fn.hb_buffer_get_direction(buf), 4);
        } finally {
          fn.hb_buffer_destroy(buf);
        }
      },
    },
  },

  // ---- libmagic ----------------------------------------------------------------------------------
  {
    name: 'libmagic',
    package: 'libmagic1',
    packages: ['libmagic-mgc'], // the compiled magic database magic_load(NULL) reads
    soname: 'libmagic.so.1',
    functions: {
      magic_version: 'int magic_version(void)',
      magic_open: 'void *magic_open(int flags)',
      magic_load: 'int magic_load(void *cookie, const char *filename)',
      magic_buffer: 'const char *magic_buffer(void *cookie, const void *buffer, size_t length)',
      magic_error: 'const char *magic_error(void *cookie)',
      magic_close: 'void magic_close(void *cookie)',
    },
    init(fn) {
      return openCookie(fn);
    },
    fini(fn, _ctx, state) {
      if (state) fn.magic_close(state.cookie);
    },
    checks: {
      'magic_version = dpkg'(fn) {
        const [M, m] = upstreamParts('libmagic1');
        eq('magic_version', fn.magic_version(), M * 100 + m); // MAGIC_VERSION: 544 for 5.44
      },
      'gzip made by node is application/gzip (RFC 6713)'(fn, ctx) {
        const gz = zlib.gzipSync(Buffer.from('dlswap conformance\n'.repeat(20)));
        eq('magic_buffer', fn.magic_buffer(ctx.state.cookie, gz, BigInt(gz.length)), 'application/gzip');
      },
      'PNG made by node is image/png'(fn, ctx) {
        const png = a.makePng(2, 2, Buffer.alloc(16, 0x7f));
        eq('magic_buffer', fn.magic_buffer(ctx.state.cookie, png, BigInt(png.length)), 'image/png');
      },
      'ASCII text is text/plain'(fn, ctx) {
        const text = Buffer.from('The quick brown fox jumps over the lazy dog.\n'.repeat(4));
        eq('magic_buffer', fn.magic_buffer(ctx.state.cookie, text, BigInt(text.length)), 'text/plain');
      },
    },
    async: {
      name: 'magic_buffer.async',
      async run(fn) {
        // A cookie of its own: a magic_t is not to be shared between threads.
        const { cookie } = openCookie(fn);
        try {
          const gz = zlib.gzipSync(bytes(3000, 5));
          eq('magic_buffer.async', await fn.magic_buffer.async(cookie, gz, BigInt(gz.length)), 'application/gzip');
        } finally {
          fn.magic_close(cookie);
        }
      },
    },
  },

  // ---- CPython -----------------------------------------------------------------------------------
  {
    name: 'libpython',
    package: 'libpython3.11',
    packages: ['libpython3.11-stdlib'], // hashlib and the rest of the standard library
    soname: 'libpython3.11.so.1.0',
    functions: {
      Py_InitializeEx: 'void Py_InitializeEx(int initsigs)',
      Py_FinalizeEx: 'int Py_FinalizeEx(void)',
      Py_IsInitialized: 'int Py_IsInitialized(void)',
      Py_GetVersion: 'const char *Py_GetVersion(void)',
      PyRun_SimpleString: 'int PyRun_SimpleString(const char *command)',
      PyImport_AddModule: 'void *PyImport_AddModule(const char *name)',
      PyModule_GetDict: 'void *PyModule_GetDict(void *module)',
      PyRun_String: 'void *PyRun_String(const char *str, int start, void *globals, void *locals)',
      PyUnicode_AsUTF8: 'const char *PyUnicode_AsUTF8(void *unicode)',
      Py_DecRef: 'void Py_DecRef(void *o)',
      Py_DecodeLocale: 'void *Py_DecodeLocale(const char *arg, size_t *size)',
      Py_EncodeLocale: 'void *Py_EncodeLocale(const void *text, size_t *error_pos)',
      PyMem_RawFree: 'void PyMem_RawFree(void *ptr)',
      PyMem_Free: 'void PyMem_Free(void *ptr)',
    },
    // The interpreter lives on the JS thread: Py_InitializeEx leaves this thread holding the GIL,
    // so the sync checks may run Python code; the async check only calls what needs no GIL.
    init(fn) {
      fn.Py_InitializeEx(0); // 0: no signal handlers (node owns signals)
      eq('Py_IsInitialized', fn.Py_IsInitialized(), 1);
    },
    fini(fn) {
      eq('Py_FinalizeEx', fn.Py_FinalizeEx(), 0);
    },
    checks: {
      'Py_GetVersion = dpkg'(fn) {
        const v = fn.Py_GetVersion();
        check(
          'Py_GetVersion starts with the dpkg version',
          typeof v === 'string' && v.startsWith(`${upstreamVersion('libpython3.11')} `),
          v,
          `${upstreamVersion('libpython3.11')} ...`,
        );
      },
      'PyRun_SimpleString: import hashlib; assert sha256 = node'(fn) {
        const data = 'dlswap conformance: python';
        const code = `import hashlib\nassert hashlib.sha256(${JSON.stringify(data)}.encode()).hexdigest() == '${sha256hex(data)}'\n`;
        eq('PyRun_SimpleString (0: no exception)', fn.PyRun_SimpleString(code), 0);
      },
      'PyRun_String eval = node sha512'(fn) {
        const main = fn.PyImport_AddModule('__main__');
        nonNull('PyImport_AddModule', main);
        const globals = fn.PyModule_GetDict(main);
        const obj = fn.PyRun_String("__import__('hashlib').sha512(bytes(range(256))).hexdigest()", 258 /* Py_eval_input */, globals, globals);
        nonNull('PyRun_String', obj);
        try {
          eq('sha512(bytes(range(256)))', fn.PyUnicode_AsUTF8(obj), a.hash('sha512', Buffer.from([...Array(256).keys()])).toString('hex'));
        } finally {
          fn.Py_DecRef(obj);
        }
      },
    },
    async: {
      name: 'Py_DecodeLocale.async (no GIL needed) and back',
      async run(fn, ctx) {
        const text = 'dlswap-locale-42';
        const size = Buffer.alloc(8);
        const wide = await fn.Py_DecodeLocale.async(text, size);
        nonNull('Py_DecodeLocale.async', wide);
        try {
          eq('decoded length (wide characters)', size.readBigUInt64LE(0), BigInt(text.length));
          const back = fn.Py_EncodeLocale(wide, null); // on the JS thread, which holds the GIL
          nonNull('Py_EncodeLocale', back);
          const s = ctx.readCString(back);
          fn.PyMem_Free(back);
          eq('round trip', s, text);
        } finally {
          fn.PyMem_RawFree(wide);
        }
      },
    },
  },

  // ---- libgomp (GCC's OpenMP runtime) ------------------------------------------------------------
  {
    name: 'libgomp',
    package: 'libgomp1',
    soname: 'libgomp.so.1',
    functions: {
      omp_get_max_threads: 'int omp_get_max_threads(void)',
      omp_get_num_procs: 'int omp_get_num_procs(void)',
      GOMP_parallel: 'void GOMP_parallel(void *fn, void *data, unsigned num_threads, unsigned flags)',
    },
    // GOMP_parallel needs a C function to run on each thread of the team: the omp_callback fixture's.
    setup(cell) {
      const cb = cell.openFixture('libomp_callback.so');
      cell.shared.record = cb.symbol('omp_probe_record');
      cell.shared.probeSize = cb.func('uint32_t omp_probe_size(void)')();
      eq('omp_probe_size', cell.shared.probeSize, 8 + 64 * 8);
      cell.shared.poolThreads = new Map(); // generation -> thread ids libgomp started for it
    },
    checks: {
      'omp_get_max_threads = OMP_NUM_THREADS'(fn) {
        eq('omp_get_max_threads', fn.omp_get_max_threads(), Number(process.env.OMP_NUM_THREADS));
      },
      'omp_get_num_procs = CPUs this process may run on'(fn) {
        eq('omp_get_num_procs', fn.omp_get_num_procs(), os.availableParallelism());
      },
      'GOMP_parallel runs a team of 4 threads'(fn, ctx) {
        const { record, probeSize, poolThreads } = ctx.cell.shared;
        const probe = Buffer.alloc(probeSize);
        const before = threadIds();
        fn.GOMP_parallel(record, probe, 4, 0);
        const started = [...threadIds()].filter((t) => !before.has(t));
        const known = poolThreads.get(ctx.gen) ?? new Set();
        for (const t of started) known.add(t);
        poolThreads.set(ctx.gen, known);
        eq('threads in the team', probe.readInt32LE(0), 4);
        const ids = new Set([0, 1, 2, 3].map((i) => probe.readBigUInt64LE(8 + 8 * i)));
        eq('distinct threads in the team', ids.size, 4);
        check('libgomp started pool threads (3 besides this one)', known.size >= 3, known.size, '>= 3');
      },
    },
    async: {
      name: 'omp_get_max_threads.async',
      async run(fn) {
        eq('omp_get_max_threads.async', await fn.omp_get_max_threads.async(), Number(process.env.OMP_NUM_THREADS));
      },
    },
    // libgomp's pool threads wait inside libgomp for the next parallel region. A generation that was
    // unmapped must have no such thread left (they would run unmapped code); a generation that still
    // has them must not have been unmapped.
    async afterClose(cell, generations) {
      for (const g of generations) {
        const tids = [...(cell.shared.poolThreads.get(g.gen) ?? [])];
        if (!g.unloaded) continue;
        let alive = tids.filter((t) => fs.existsSync(`/proc/self/task/${t}`));
        for (let i = 0; i < 20 && alive.length; i++) {
          await sleep(50);
          alive = alive.filter((t) => fs.existsSync(`/proc/self/task/${t}`));
        }
        check(
          `generation ${g.gen}: libgomp pool threads gone once libgomp is unloaded`,
          alive.length === 0,
          `${alive.length} still alive 1 s after close`,
          'none',
        );
      }
    },
  },

  // ---- libuv -------------------------------------------------------------------------------------
  {
    name: 'libuv',
    package: 'libuv1',
    soname: 'libuv.so.1',
    functions: {
      uv_version: 'unsigned uv_version(void)',
      uv_version_string: 'const char *uv_version_string(void)',
      uv_err_name: 'const char *uv_err_name(int err)',
      uv_loop_size: 'size_t uv_loop_size(void)',
      uv_loop_init: 'int uv_loop_init(void *loop)',
      uv_run: 'int uv_run(void *loop, int mode)',
      uv_loop_close: 'int uv_loop_close(void *loop)',
      uv_hrtime: 'uint64_t uv_hrtime(void)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libuv1');
        eq('uv_version', fn.uv_version(), (M << 16) | (m << 8) | p); // UV_VERSION_HEX
        eq('uv_version_string', fn.uv_version_string(), upstreamVersion('libuv1'));
      },
      'uv_err_name(-errno) = errno names'(fn) {
        const { ENOENT, EACCES, ECONNRESET } = os.constants.errno;
        eq('uv_err_name(-ENOENT)', fn.uv_err_name(-ENOENT), 'ENOENT');
        eq('uv_err_name(-EACCES)', fn.uv_err_name(-EACCES), 'EACCES');
        eq('uv_err_name(-ECONNRESET)', fn.uv_err_name(-ECONNRESET), 'ECONNRESET');
      },
      'a loop of its own: init, run, close'(fn) {
        const loop = Buffer.alloc(Number(fn.uv_loop_size()));
        eq('uv_loop_init', fn.uv_loop_init(loop), 0);
        eq('uv_run(UV_RUN_NOWAIT) with no handles', fn.uv_run(loop, 2), 0);
        eq('uv_loop_close', fn.uv_loop_close(loop), 0);
      },
      'uv_hrtime = CLOCK_MONOTONIC (node hrtime)'(fn) {
        const before = process.hrtime.bigint();
        const t = fn.uv_hrtime();
        const after = process.hrtime.bigint();
        check('uv_hrtime within node hrtime before/after', t >= before && t <= after, t, `${before}..${after}`);
      },
    },
    async: {
      name: 'uv_err_name.async',
      async run(fn) {
        eq('uv_err_name.async(-EPIPE)', await fn.uv_err_name.async(-os.constants.errno.EPIPE), 'EPIPE');
      },
    },
  },

  // ---- libxml2 -----------------------------------------------------------------------------------
  {
    name: 'libxml2',
    package: 'libxml2',
    soname: 'libxml2.so.2',
    functions: {
      xmlInitParser: 'void xmlInitParser(void)',
      xmlReadMemory: 'void *xmlReadMemory(const char *buffer, int size, const char *URL, const char *encoding, int options)',
      xmlDocGetRootElement: 'void *xmlDocGetRootElement(const void *doc)',
      xmlGetProp: 'void *xmlGetProp(const void *node, const char *name)',
      xmlNodeGetContent: 'void *xmlNodeGetContent(const void *cur)',
      xmlChildElementCount: 'unsigned long xmlChildElementCount(void *parent)',
      xmlFreeDoc: 'void xmlFreeDoc(void *cur)',
      xmlUTF8Strlen: 'int xmlUTF8Strlen(const char *utf)',
    },
    init(fn) {
      fn.xmlInitParser(); // required before parsing from several threads
    },
    checks: {
      'parse a document: attribute, children, text'(fn, ctx) {
        eq('document', parseXml(fn, ctx, XML_DOC), XML_EXPECTED);
      },
      'malformed XML is refused (NULL)'(fn) {
        const bad = '<r><a></r>';
        // XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
        eq('xmlReadMemory(malformed)', fn.xmlReadMemory(bad, Buffer.byteLength(bad), 'bad.xml', null, 2048 | 32 | 64), 0n);
      },
      'xmlUTF8Strlen = code points'(fn) {
        const s = 'héllo wörld € 𝄞';
        eq('xmlUTF8Strlen', fn.xmlUTF8Strlen(s), [...s].length);
      },
    },
    async: {
      name: 'xmlReadMemory.async',
      async run(fn, ctx) {
        eq('document', await parseXml(fn, ctx, XML_DOC, true), XML_EXPECTED);
      },
    },
  },

  // ---- SQLite ------------------------------------------------------------------------------------
  {
    name: 'sqlite3',
    package: 'libsqlite3-0',
    soname: 'libsqlite3.so.0',
    functions: {
      sqlite3_libversion: 'const char *sqlite3_libversion(void)',
      sqlite3_libversion_number: 'int sqlite3_libversion_number(void)',
      sqlite3_complete: 'int sqlite3_complete(const char *sql)',
      sqlite3_open: 'int sqlite3_open(const char *filename, void *ppDb)',
      sqlite3_close: 'int sqlite3_close(void *db)',
      sqlite3_exec: 'int sqlite3_exec(void *db, const char *sql, void *callback, void *arg, void *errmsg)',
      sqlite3_prepare_v2: 'int sqlite3_prepare_v2(void *db, const char *sql, int nByte, void *ppStmt, void *pzTail)',
      sqlite3_step: 'int sqlite3_step(void *stmt)',
      sqlite3_column_int64: 'int64_t sqlite3_column_int64(void *stmt, int col)',
      sqlite3_column_text: 'const char *sqlite3_column_text(void *stmt, int col)',
      sqlite3_finalize: 'int sqlite3_finalize(void *stmt)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libsqlite3-0');
        eq('sqlite3_libversion', fn.sqlite3_libversion(), upstreamVersion('libsqlite3-0'));
        eq('sqlite3_libversion_number', fn.sqlite3_libversion_number(), M * 1000000 + m * 1000 + p);
      },
      sqlite3_complete(fn) {
        eq("complete('select 1;')", fn.sqlite3_complete('select 1;'), 1);
        eq("complete('select 1')", fn.sqlite3_complete('select 1'), 0);
        eq('complete("select \';\'")', fn.sqlite3_complete("select ';'"), 0);
      },
      'a query on an in-memory database'(fn) {
        const row = withDb(fn, (db) =>
          queryRow(fn, db, "select 6*7, upper('dlswap'), printf('%08.3f', 3.14159), length(x'00ff00')", ['int', 'text', 'text', 'int']),
        );
        // biome-ignore lint/suspicious/noApproximativeNumericConstant: the number the C side was given, not pi
        eq('row', row, [42n, 'DLSWAP', (3.14159).toFixed(3).padStart(8, '0'), 3n]);
      },
    },
    async: {
      name: 'sqlite3_exec.async',
      async run(fn) {
        const ppDb = Buffer.alloc(8);
        eq('sqlite3_open', fn.sqlite3_open(':memory:', ppDb), 0);
        const db = ptrAt(ppDb);
        try {
          const sql = 'create table t(x integer); insert into t values (1),(2),(3),(4),(5);';
          eq('sqlite3_exec.async', await fn.sqlite3_exec.async(db, sql, null, null, null), 0);
          eq('sum', queryRow(fn, db, 'select sum(x), count(*) from t', ['int', 'int']), [15n, 5n]);
        } finally {
          eq('sqlite3_close', fn.sqlite3_close(db), 0);
        }
      },
    },
  },

  // ---- libcurl -----------------------------------------------------------------------------------
  {
    name: 'libcurl',
    package: 'libcurl4',
    soname: 'libcurl.so.4',
    functions: {
      curl_global_init: 'int curl_global_init(long flags)',
      curl_global_cleanup: 'void curl_global_cleanup(void)',
      curl_version: 'const char *curl_version(void)',
      curl_easy_escape: 'void *curl_easy_escape(void *handle, const char *string, int length)',
      curl_free: 'void curl_free(void *p)',
      curl_getdate: 'int64_t curl_getdate(const char *datestring, void *now)',
    },
    init(fn) {
      eq('curl_global_init(CURL_GLOBAL_ALL)', fn.curl_global_init(3n), 0); // CURLE_OK
    },
    fini(fn) {
      fn.curl_global_cleanup();
    },
    checks: {
      'curl_version = dpkg'(fn) {
        const v = fn.curl_version();
        const want = `libcurl/${upstreamVersion('libcurl4')} `;
        check('curl_version starts with libcurl/<dpkg version>', typeof v === 'string' && v.startsWith(want), v, `${want}...`);
      },
      'curl_easy_escape = RFC 3986 percent-encoding'(fn, ctx) {
        const s = 'a b&c=d/é?x~y_z.';
        const p = fn.curl_easy_escape(null, s, 0);
        nonNull('curl_easy_escape', p);
        const escaped = ctx.readCString(p);
        fn.curl_free(p);
        eq('curl_easy_escape', escaped, percentEncode(s));
      },
      'curl_getdate: the three HTTP date formats = Date.parse'(fn) {
        // RFC 7231 7.1.1.1: IMF-fixdate, obsolete RFC 850 and asctime forms of one instant.
        const want = BigInt(Date.parse('1994-11-06T08:49:37Z') / 1000);
        eq('IMF-fixdate', fn.curl_getdate('Sun, 06 Nov 1994 08:49:37 GMT', null), want);
        eq('RFC 850', fn.curl_getdate('Sunday, 06-Nov-94 08:49:37 GMT', null), want);
        eq('unparseable', fn.curl_getdate('not a date', null), -1n);
      },
    },
    async: {
      name: 'curl_getdate.async',
      async run(fn) {
        const s = 'Tue, 29 Feb 2028 23:59:58 GMT';
        eq('curl_getdate.async', await fn.curl_getdate.async(s, null), BigInt(Date.parse(s) / 1000));
      },
    },
  },

  // ---- compression -------------------------------------------------------------------------------
  {
    name: 'zlib',
    package: 'zlib1g',
    soname: 'libz.so.1',
    functions: {
      zlibVersion: 'const char *zlibVersion(void)',
      crc32: 'unsigned long crc32(unsigned long crc, const uint8_t *buf, unsigned len)',
      adler32: 'unsigned long adler32(unsigned long adler, const uint8_t *buf, unsigned len)',
      compressBound: 'unsigned long compressBound(unsigned long sourceLen)',
      compress2: 'int compress2(uint8_t *dest, unsigned long *destLen, const uint8_t *source, unsigned long sourceLen, int level)',
      uncompress: 'int uncompress(uint8_t *dest, unsigned long *destLen, const uint8_t *source, unsigned long sourceLen)',
    },
    checks: {
      'zlibVersion = dpkg'(fn) {
        eq('zlibVersion', fn.zlibVersion(), upstreamVersion('zlib1g'));
      },
      'crc32 and adler32 = their specifications'(fn) {
        const d = bytes(5000, 17);
        eq('crc32', fn.crc32(0n, d, d.length), BigInt(a.crc32(d)));
        eq('adler32', fn.adler32(1n, d, d.length), BigInt(a.adler32(d)));
      },
      'compress2 -> node inflate, node deflate -> uncompress'(fn) {
        const src = Buffer.from('dlswap conformance zlib round trip. '.repeat(100));
        const dest = Buffer.alloc(Number(fn.compressBound(BigInt(src.length))));
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(dest.length));
        eq('compress2', fn.compress2(dest, len, src, BigInt(src.length), 9), 0);
        eq('node inflate of compress2', zlib.inflateSync(dest.subarray(0, Number(len.readBigUInt64LE(0)))), src);
        const z = zlib.deflateSync(src);
        const out = Buffer.alloc(src.length);
        len.writeBigUInt64LE(BigInt(out.length));
        eq('uncompress', fn.uncompress(out, len, z, BigInt(z.length)), 0);
        eq('uncompressed size', len.readBigUInt64LE(0), BigInt(src.length));
        eq('uncompress of node deflate', out, src);
      },
    },
    async: {
      name: 'crc32.async',
      async run(fn) {
        const d = bytes(65536, 23);
        eq('crc32.async', await fn.crc32.async(0n, d, d.length), BigInt(a.crc32(d)));
      },
    },
  },
  {
    name: 'zstd',
    package: 'libzstd1',
    soname: 'libzstd.so.1',
    functions: {
      ZSTD_versionNumber: 'unsigned ZSTD_versionNumber(void)',
      ZSTD_versionString: 'const char *ZSTD_versionString(void)',
      ZSTD_compressBound: 'size_t ZSTD_compressBound(size_t srcSize)',
      ZSTD_compress: 'size_t ZSTD_compress(void *dst, size_t dstCapacity, const void *src, size_t srcSize, int compressionLevel)',
      ZSTD_decompress: 'size_t ZSTD_decompress(void *dst, size_t dstCapacity, const void *src, size_t compressedSize)',
      ZSTD_getFrameContentSize: 'unsigned long long ZSTD_getFrameContentSize(const void *src, size_t srcSize)',
      ZSTD_isError: 'unsigned ZSTD_isError(size_t code)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libzstd1');
        eq('ZSTD_versionNumber', fn.ZSTD_versionNumber(), M * 10000 + m * 100 + p);
        eq('ZSTD_versionString', fn.ZSTD_versionString(), upstreamVersion('libzstd1'));
      },
      'decompress a frame built from RFC 8878'(fn) {
        const data = Buffer.from('raw block, written by hand from RFC 8878');
        const out = Buffer.alloc(100);
        const frame = a.zstdRawFrame(data);
        eq('ZSTD_decompress', fn.ZSTD_decompress(out, BigInt(out.length), frame, BigInt(frame.length)), BigInt(data.length));
        eq('content', out.subarray(0, data.length), data);
      },
      'compress: bound, magic, content size, round trip'(fn) {
        const src = Buffer.concat([Buffer.from('zstd '.repeat(400)), bytes(1000, 9)]);
        const bound = fn.ZSTD_compressBound(BigInt(src.length));
        eq('ZSTD_compressBound', bound, BigInt(a.zstdCompressBound(src.length)));
        const dst = Buffer.alloc(Number(bound));
        const n = fn.ZSTD_compress(dst, bound, src, BigInt(src.length), 3);
        eq('ZSTD_isError', fn.ZSTD_isError(n), 0);
        eq('frame magic (RFC 8878: 0xFD2FB528 LE)', dst.subarray(0, 4), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
        eq('ZSTD_getFrameContentSize', fn.ZSTD_getFrameContentSize(dst, n), BigInt(src.length));
        const back = Buffer.alloc(src.length);
        eq('ZSTD_decompress', fn.ZSTD_decompress(back, BigInt(back.length), dst, n), BigInt(src.length));
        eq('round trip', back, src);
      },
    },
    async: {
      name: 'ZSTD_decompress.async',
      async run(fn) {
        const data = bytes(200, 31);
        const frame = a.zstdRawFrame(data);
        const out = Buffer.alloc(256);
        eq('ZSTD_decompress.async', await fn.ZSTD_decompress.async(out, BigInt(out.length), frame, BigInt(frame.length)), 200n);
        eq('content', out.subarray(0, 200), data);
      },
    },
  },
  {
    name: 'bzip2',
    package: 'libbz2-1.0',
    soname: 'libbz2.so.1.0',
    functions: {
      BZ2_bzlibVersion: 'const char *BZ2_bzlibVersion(void)',
      BZ2_bzBuffToBuffCompress:
        'int BZ2_bzBuffToBuffCompress(char *dest, unsigned *destLen, char *source, unsigned sourceLen, int blockSize100k, int verbosity, int workFactor)',
      BZ2_bzBuffToBuffDecompress: 'int BZ2_bzBuffToBuffDecompress(char *dest, unsigned *destLen, char *source, unsigned sourceLen, int small, int verbosity)',
    },
    checks: {
      'BZ2_bzlibVersion = dpkg'(fn) {
        const v = fn.BZ2_bzlibVersion();
        check(
          'starts with the dpkg version',
          typeof v === 'string' && v.startsWith(`${upstreamVersion('libbz2-1.0')},`),
          v,
          `${upstreamVersion('libbz2-1.0')}, ...`,
        );
      },
      'compress: stream magic, then decompress round trip'(fn) {
        const src = Buffer.concat([Buffer.from('bzip2 '.repeat(300)), bytes(2000, 41)]);
        const { out, rc } = bzCompress(fn, src);
        eq('BZ2_bzBuffToBuffCompress', rc, 0); // BZ_OK
        // "BZh" + block size digit, then the block magic 0x314159265359 (pi).
        eq('stream header', out.subarray(0, 4).toString('latin1'), 'BZh9');
        eq('block magic', out.subarray(4, 10), Buffer.from('314159265359', 'hex'));
        const back = Buffer.alloc(src.length);
        const len = Buffer.alloc(4);
        len.writeUInt32LE(back.length);
        eq('BZ2_bzBuffToBuffDecompress', fn.BZ2_bzBuffToBuffDecompress(back, len, out, out.length, 0, 0), 0);
        eq('round trip', back.subarray(0, len.readUInt32LE(0)), src);
      },
      'not bzip2 data: BZ_DATA_ERROR_MAGIC'(fn) {
        const junk = Buffer.from('this is not a bzip2 stream at all');
        const out = Buffer.alloc(100);
        const len = Buffer.alloc(4);
        len.writeUInt32LE(out.length);
        eq('BZ2_bzBuffToBuffDecompress(junk)', fn.BZ2_bzBuffToBuffDecompress(out, len, junk, junk.length, 0, 0), -5);
      },
    },
    async: {
      name: 'BZ2_bzBuffToBuffCompress.async',
      async run(fn) {
        const src = bytes(20000, 43);
        const dest = Buffer.alloc(src.length + 1000);
        const len = Buffer.alloc(4);
        len.writeUInt32LE(dest.length);
        eq('BZ2_bzBuffToBuffCompress.async', await fn.BZ2_bzBuffToBuffCompress.async(dest, len, src, src.length, 9, 0, 0), 0);
        const back = Buffer.alloc(src.length);
        const blen = Buffer.alloc(4);
        blen.writeUInt32LE(back.length);
        eq('decompress', fn.BZ2_bzBuffToBuffDecompress(back, blen, dest, len.readUInt32LE(0), 0, 0), 0);
        eq('round trip', back, src);
      },
    },
  },
  {
    name: 'liblzma',
    package: 'liblzma5',
    soname: 'liblzma.so.5',
    functions: {
      lzma_version_number: 'uint32_t lzma_version_number(void)',
      lzma_version_string: 'const char *lzma_version_string(void)',
      lzma_crc32: 'uint32_t lzma_crc32(const uint8_t *buf, size_t size, uint32_t crc)',
      lzma_crc64: 'uint64_t lzma_crc64(const uint8_t *buf, size_t size, uint64_t crc)',
      lzma_easy_buffer_encode:
        'int lzma_easy_buffer_encode(uint32_t preset, int check, const void *allocator, const uint8_t *in, size_t in_size, uint8_t *out, size_t *out_pos, size_t out_size)',
      lzma_stream_buffer_decode:
        'int lzma_stream_buffer_decode(uint64_t *memlimit, uint32_t flags, const void *allocator, const uint8_t *in, size_t *in_pos, size_t in_size, uint8_t *out, size_t *out_pos, size_t out_size)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('liblzma5');
        eq('lzma_version_number', fn.lzma_version_number(), M * 10000000 + m * 10000 + p * 10 + 2); // 2: stable
        eq('lzma_version_string', fn.lzma_version_string(), upstreamVersion('liblzma5'));
      },
      'lzma_crc32 and lzma_crc64 = their specifications'(fn) {
        const d = bytes(3000, 47);
        eq('lzma_crc32', fn.lzma_crc32(d, BigInt(d.length), 0), a.crc32(d));
        eq('lzma_crc64', fn.lzma_crc64(d, BigInt(d.length), 0n), a.crc64xz(d));
        eq("lzma_crc64('123456789') check value", fn.lzma_crc64(Buffer.from('123456789'), 9n, 0n), 0x995dc9bbdf1939fan);
      },
      'xz encode: magic bytes, then decode round trip'(fn) {
        const src = Buffer.from('xz round trip through liblzma. '.repeat(200));
        const out = Buffer.alloc(src.length + 1024);
        const pos = Buffer.alloc(8);
        eq('lzma_easy_buffer_encode', fn.lzma_easy_buffer_encode(6, 4 /* CRC64 */, null, src, BigInt(src.length), out, pos, BigInt(out.length)), 0);
        const n = Number(pos.readBigUInt64LE(0));
        eq('stream header magic', out.subarray(0, 6), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
        eq('stream footer magic', out.subarray(n - 2, n).toString('latin1'), 'YZ');
        const memlimit = Buffer.alloc(8);
        memlimit.writeBigUInt64LE(1n << 30n);
        const inPos = Buffer.alloc(8);
        const back = Buffer.alloc(src.length);
        const outPos = Buffer.alloc(8);
        eq('lzma_stream_buffer_decode', fn.lzma_stream_buffer_decode(memlimit, 0, null, out, inPos, BigInt(n), back, outPos, BigInt(back.length)), 0);
        eq('decoded size', outPos.readBigUInt64LE(0), BigInt(src.length));
        eq('round trip', back, src);
      },
    },
    async: {
      name: 'lzma_crc64.async',
      async run(fn) {
        const d = bytes(50000, 53);
        eq('lzma_crc64.async', await fn.lzma_crc64.async(d, BigInt(d.length), 0n), a.crc64xz(d));
      },
    },
  },
  {
    name: 'lz4',
    package: 'liblz4-1',
    soname: 'liblz4.so.1',
    functions: {
      LZ4_versionNumber: 'int LZ4_versionNumber(void)',
      LZ4_versionString: 'const char *LZ4_versionString(void)',
      LZ4_compressBound: 'int LZ4_compressBound(int inputSize)',
      LZ4_compress_default: 'int LZ4_compress_default(const char *src, char *dst, int srcSize, int dstCapacity)',
      LZ4_decompress_safe: 'int LZ4_decompress_safe(const char *src, char *dst, int compressedSize, int dstCapacity)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('liblz4-1');
        eq('LZ4_versionNumber', fn.LZ4_versionNumber(), M * 10000 + m * 100 + p);
        eq('LZ4_versionString', fn.LZ4_versionString(), upstreamVersion('liblz4-1'));
      },
      'decompress a block built from the LZ4 block format'(fn) {
        const data = Buffer.from('hand-made lz');
        const block = a.lz4LiteralBlock(data);
        const out = Buffer.alloc(64);
        eq('LZ4_decompress_safe', fn.LZ4_decompress_safe(block, out, block.length, out.length), data.length);
        eq('content', out.subarray(0, data.length), data);
      },
      'compress: bound, ratio on repetitive input, round trip'(fn) {
        const src = Buffer.from('lz4 lz4 lz4 '.repeat(500));
        const bound = fn.LZ4_compressBound(src.length);
        eq('LZ4_compressBound', bound, a.lz4CompressBound(src.length));
        const dst = Buffer.alloc(bound);
        const n = fn.LZ4_compress_default(src, dst, src.length, bound);
        check('compresses repetitive input at least 10x', n > 0 && n * 10 < src.length, n, `0 < n < ${src.length / 10}`);
        const back = Buffer.alloc(src.length);
        eq('LZ4_decompress_safe', fn.LZ4_decompress_safe(dst, back, n, back.length), src.length);
        eq('round trip', back, src);
      },
    },
    async: {
      name: 'LZ4_decompress_safe.async',
      async run(fn) {
        const data = bytes(14, 59);
        const block = a.lz4LiteralBlock(data);
        const out = Buffer.alloc(32);
        eq('LZ4_decompress_safe.async', await fn.LZ4_decompress_safe.async(block, out, block.length, out.length), 14);
        eq('content', out.subarray(0, 14), data);
      },
    },
  },
  {
    name: 'brotlienc',
    package: 'libbrotli1',
    soname: 'libbrotlienc.so.1',
    functions: {
      BrotliEncoderVersion: 'uint32_t BrotliEncoderVersion(void)',
      BrotliEncoderMaxCompressedSize: 'size_t BrotliEncoderMaxCompressedSize(size_t input_size)',
      BrotliEncoderCompress:
        'int BrotliEncoderCompress(int quality, int lgwin, int mode, size_t input_size, const uint8_t *input_buffer, size_t *encoded_size, uint8_t *encoded_buffer)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libbrotli1');
        eq('BrotliEncoderVersion', fn.BrotliEncoderVersion(), ((M << 24) | (m << 12) | p) >>> 0);
      },
      'compress at quality 11 -> node brotli decompress'(fn) {
        eq('round trip', brotliCompress(fn, Buffer.from('brotli quality eleven. '.repeat(300)), 11), Buffer.from('brotli quality eleven. '.repeat(300)));
      },
      'compress at quality 1 -> node brotli decompress'(fn) {
        const src = bytes(5000, 61);
        eq('round trip', brotliCompress(fn, src, 1), src);
      },
    },
    async: {
      name: 'BrotliEncoderCompress.async',
      async run(fn) {
        const src = Buffer.concat([bytes(3000, 67), Buffer.from('async '.repeat(500))]);
        const out = Buffer.alloc(Number(fn.BrotliEncoderMaxCompressedSize(BigInt(src.length))));
        const size = Buffer.alloc(8);
        size.writeBigUInt64LE(BigInt(out.length));
        eq('BrotliEncoderCompress.async', await fn.BrotliEncoderCompress.async(5, 22, 0, BigInt(src.length), src, size, out), 1);
        eq('node brotli decompress', zlib.brotliDecompressSync(out.subarray(0, Number(size.readBigUInt64LE(0)))), src);
      },
    },
  },
  {
    name: 'brotlidec',
    package: 'libbrotli1',
    soname: 'libbrotlidec.so.1',
    functions: {
      BrotliDecoderVersion: 'uint32_t BrotliDecoderVersion(void)',
      BrotliDecoderDecompress: 'int BrotliDecoderDecompress(size_t encoded_size, const uint8_t *encoded_buffer, size_t *decoded_size, uint8_t *decoded_buffer)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libbrotli1');
        eq('BrotliDecoderVersion', fn.BrotliDecoderVersion(), ((M << 24) | (m << 12) | p) >>> 0);
      },
      'decompress what node brotli compressed'(fn) {
        const src = Buffer.from('node compressed this with brotli. '.repeat(100));
        eq('BrotliDecoderDecompress', brotliDecompress(fn, zlib.brotliCompressSync(src), src.length), { rc: 1, out: src });
      },
      'corrupt input: BROTLI_DECODER_RESULT_ERROR'(fn) {
        eq('BrotliDecoderDecompress(junk)', brotliDecompress(fn, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x11]), 100).rc, 0);
      },
    },
    async: {
      name: 'BrotliDecoderDecompress.async',
      async run(fn) {
        const src = bytes(30000, 71);
        const enc = zlib.brotliCompressSync(src);
        const out = Buffer.alloc(src.length);
        const size = Buffer.alloc(8);
        size.writeBigUInt64LE(BigInt(out.length));
        eq('BrotliDecoderDecompress.async', await fn.BrotliDecoderDecompress.async(BigInt(enc.length), enc, size, out), 1);
        eq('content', out, src);
      },
    },
  },
  {
    name: 'libarchive',
    package: 'libarchive13',
    soname: 'libarchive.so.13',
    functions: {
      archive_version_number: 'int archive_version_number(void)',
      archive_version_string: 'const char *archive_version_string(void)',
      archive_read_new: 'void *archive_read_new(void)',
      archive_read_support_filter_all: 'int archive_read_support_filter_all(void *a)',
      archive_read_support_format_all: 'int archive_read_support_format_all(void *a)',
      archive_read_open_memory: 'int archive_read_open_memory(void *a, const void *buff, size_t size)',
      archive_read_next_header: 'int archive_read_next_header(void *a, void *entry)',
      archive_entry_pathname: 'const char *archive_entry_pathname(void *entry)',
      archive_entry_size: 'int64_t archive_entry_size(void *entry)',
      archive_read_data: 'ssize_t archive_read_data(void *a, void *buff, size_t size)',
      archive_filter_code: 'int archive_filter_code(void *a, int n)',
      archive_format: 'int archive_format(void *a)',
      archive_read_free: 'int archive_read_free(void *a)',
      archive_error_string: 'const char *archive_error_string(void *a)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libarchive13');
        eq('archive_version_number', fn.archive_version_number(), M * 1000000 + m * 1000 + p);
        eq('archive_version_string', fn.archive_version_string(), `libarchive ${upstreamVersion('libarchive13')}`);
      },
      'read a .tar.gz made by node'(fn) {
        const { entries, filter, format } = readArchive(fn, zlib.gzipSync(a.makeTar(TAR_FILES)), false);
        eq(
          'entries',
          entries,
          TAR_FILES.map(([n, c]) => [n, BigInt(Buffer.byteLength(c)), c]),
        );
        eq('archive_filter_code (ARCHIVE_FILTER_GZIP)', filter, 1);
        eq('archive_format (ARCHIVE_FORMAT_TAR_USTAR)', format, 0x30001);
      },
    },
    async: {
      name: 'archive_read_next_header.async',
      async run(fn) {
        const { entries } = await readArchive(fn, a.makeTar(TAR_FILES), true);
        eq(
          'entries',
          entries,
          TAR_FILES.map(([n, c]) => [n, BigInt(Buffer.byteLength(c)), c]),
        );
      },
    },
  },

  // ---- ICU ---------------------------------------------------------------------------------------
  {
    name: 'icuuc',
    package: 'libicu72',
    soname: 'libicuuc.so.72',
    functions: {
      u_getVersion_72: 'void u_getVersion_72(uint8_t *versionArray)',
      u_toupper_72: 'int32_t u_toupper_72(int32_t c)',
      u_strToUpper_72:
        'int32_t u_strToUpper_72(uint16_t *dest, int32_t destCapacity, const uint16_t *src, int32_t srcLength, const char *locale, int32_t *pErrorCode)',
      u_errorName_72: 'const char *u_errorName_72(int32_t code)',
    },
    checks: {
      'u_getVersion = dpkg'(fn) {
        const v = Buffer.alloc(4);
        fn.u_getVersion_72(v);
        const [M, m] = upstreamParts('libicu72');
        eq('u_getVersion', [v[0], v[1]], [M, m]);
      },
      'u_toupper = String#toUpperCase'(fn) {
        for (const c of [0x61, 0xe9, 0x3b1, 0x10428]) {
          eq(`u_toupper(U+${c.toString(16)})`, fn.u_toupper_72(c), String.fromCodePoint(c).toUpperCase().codePointAt(0));
        }
      },
      'u_strToUpper (root locale) = String#toUpperCase'(fn) {
        const s = 'straße ǆ ﬁ ŉ';
        eq('u_strToUpper', icuUpper(fn, s), { rc: 0, text: s.toUpperCase() });
      },
      'u_errorName = utypes.h names'(fn) {
        eq('u_errorName(0)', fn.u_errorName_72(0), 'U_ZERO_ERROR');
        eq('u_errorName(15)', fn.u_errorName_72(15), 'U_BUFFER_OVERFLOW_ERROR');
      },
    },
    async: {
      name: 'u_strToUpper.async',
      async run(fn) {
        const s = 'async ﬀ große straße';
        const src = a.utf16z(s);
        const dest = Buffer.alloc(200);
        const err = Buffer.alloc(4);
        const n = await fn.u_strToUpper_72.async(dest, 100, src, -1, '', err);
        eq('error code', err.readInt32LE(0), 0);
        eq('u_strToUpper.async', dest.toString('utf16le', 0, n * 2), s.toUpperCase());
      },
    },
  },
  {
    name: 'icui18n',
    package: 'libicu72',
    soname: 'libicui18n.so.72',
    functions: {
      ucal_getNow_72: 'double ucal_getNow_72(void)',
      ucal_open_72: 'void *ucal_open_72(const uint16_t *zoneID, int32_t len, const char *locale, int32_t type, int32_t *status)',
      ucal_setMillis_72: 'void ucal_setMillis_72(void *cal, double dateTime, int32_t *status)',
      ucal_get_72: 'int32_t ucal_get_72(const void *cal, int32_t field, int32_t *status)',
      ucal_close_72: 'void ucal_close_72(void *cal)',
    },
    checks: {
      'ucal_getNow = Date.now'(fn) {
        const before = Date.now();
        const now = fn.ucal_getNow_72();
        const after = Date.now();
        check('ucal_getNow between two Date.now()', now >= before - 1 && now <= after + 1, now, `${before}..${after}`);
      },
      'Gregorian fields of an instant in UTC = Date'(fn) {
        const t = Date.UTC(2024, 1, 29, 13, 45, 30, 250);
        const d = new Date(t);
        // ucal.h: UCAL_YEAR 1, MONTH 2 (0-based), DATE 5, DAY_OF_WEEK 7 (Sunday = 1), HOUR_OF_DAY 11, MINUTE 12.
        eq('fields', calendarFields(fn, 'UTC', t, [1, 2, 5, 7, 11, 12]), [
          d.getUTCFullYear(),
          d.getUTCMonth(),
          d.getUTCDate(),
          d.getUTCDay() + 1,
          d.getUTCHours(),
          d.getUTCMinutes(),
        ]);
      },
      'Asia/Tokyo is UTC+9 without DST'(fn) {
        const t = Date.UTC(2024, 6, 1, 20, 0, 0);
        // UCAL_HOUR_OF_DAY 11, UCAL_ZONE_OFFSET 15, UCAL_DST_OFFSET 16.
        eq('fields', calendarFields(fn, 'Asia/Tokyo', t, [11, 15, 16]), [(20 + 9) % 24, 9 * 3600 * 1000, 0]);
      },
    },
    async: {
      name: 'ucal_open.async',
      async run(fn) {
        const status = Buffer.alloc(4);
        const cal = await fn.ucal_open_72.async(a.utf16z('UTC'), -1, 'en_US', 1, status);
        nonNull('ucal_open.async', cal);
        try {
          eq('status', status.readInt32LE(0), 0);
          const t = Date.UTC(1999, 11, 31, 23, 59, 59);
          fn.ucal_setMillis_72(cal, t, status);
          eq('year', fn.ucal_get_72(cal, 1, status), 1999);
          eq('status', status.readInt32LE(0), 0);
        } finally {
          fn.ucal_close_72(cal);
        }
      },
    },
  },

  // ---- LLVM --------------------------------------------------------------------------------------
  {
    name: 'llvm',
    package: 'libllvm15',
    soname: 'libLLVM-15.so.1',
    timeoutMs: 90_000, // 117 MB: each open copies and hashes it
    functions: {
      LLVMContextCreate: 'void *LLVMContextCreate(void)',
      LLVMContextDispose: 'void LLVMContextDispose(void *c)',
      LLVMModuleCreateWithNameInContext: 'void *LLVMModuleCreateWithNameInContext(const char *id, void *c)',
      LLVMDisposeModule: 'void LLVMDisposeModule(void *m)',
      LLVMGetModuleIdentifier: 'const char *LLVMGetModuleIdentifier(void *m, size_t *len)',
      LLVMPrintModuleToString: 'void *LLVMPrintModuleToString(void *m)',
      LLVMDisposeMessage: 'void LLVMDisposeMessage(void *message)',
      LLVMIntTypeInContext: 'void *LLVMIntTypeInContext(void *c, unsigned bits)',
      LLVMGetIntTypeWidth: 'unsigned LLVMGetIntTypeWidth(void *t)',
      LLVMConstInt: 'void *LLVMConstInt(void *t, unsigned long long n, int signExtend)',
      LLVMConstAdd: 'void *LLVMConstAdd(void *a, void *b)',
      LLVMConstMul: 'void *LLVMConstMul(void *a, void *b)',
      LLVMConstIntGetZExtValue: 'unsigned long long LLVMConstIntGetZExtValue(void *c)',
      LLVMConstIntGetSExtValue: 'long long LLVMConstIntGetSExtValue(void *c)',
    },
    checks: {
      'a module: identifier and textual IR header'(fn, ctx) {
        withLlvmContext(fn, (c) => {
          const m = fn.LLVMModuleCreateWithNameInContext('dlswap_module', c);
          nonNull('LLVMModuleCreateWithNameInContext', m);
          try {
            const len = Buffer.alloc(8);
            eq('LLVMGetModuleIdentifier', fn.LLVMGetModuleIdentifier(m, len), 'dlswap_module');
            eq('identifier length', len.readBigUInt64LE(0), BigInt('dlswap_module'.length));
            const p = fn.LLVMPrintModuleToString(m);
            const ir = ctx.readCString(p);
            fn.LLVMDisposeMessage(p);
            check('IR starts with "; ModuleID = \'dlswap_module\'"', ir.startsWith("; ModuleID = 'dlswap_module'"), ir, "; ModuleID = 'dlswap_module' ...");
          } finally {
            fn.LLVMDisposeModule(m);
          }
        });
      },
      'constant folding in i32 and i64 = two-complement arithmetic'(fn) {
        withLlvmContext(fn, (c) => {
          const i32 = fn.LLVMIntTypeInContext(c, 32);
          const i64 = fn.LLVMIntTypeInContext(c, 64);
          eq('i32 width', fn.LLVMGetIntTypeWidth(i32), 32);
          eq('i64 width', fn.LLVMGetIntTypeWidth(i64), 64);
          const k = (t, n) => fn.LLVMConstInt(t, BigInt.asUintN(64, n), n < 0n ? 1 : 0);
          eq('40000 * 50000 (i32)', fn.LLVMConstIntGetZExtValue(fn.LLVMConstMul(k(i32, 40000n), k(i32, 50000n))), 2000000000n);
          eq('0xffffffff + 2 wraps (i32)', fn.LLVMConstIntGetZExtValue(fn.LLVMConstAdd(k(i32, 0xffffffffn), k(i32, 2n))), BigInt.asUintN(32, 0xffffffffn + 2n));
          eq('-5 * 7 (i64)', fn.LLVMConstIntGetSExtValue(fn.LLVMConstMul(k(i64, -5n), k(i64, 7n))), -35n);
        });
      },
    },
    async: {
      name: 'LLVMPrintModuleToString.async',
      async run(fn, ctx) {
        const c = fn.LLVMContextCreate();
        nonNull('LLVMContextCreate', c);
        const m = fn.LLVMModuleCreateWithNameInContext('async_module', c);
        try {
          const p = await fn.LLVMPrintModuleToString.async(m);
          const ir = ctx.readCString(p);
          fn.LLVMDisposeMessage(p);
          check('IR starts with "; ModuleID = \'async_module\'"', ir.startsWith("; ModuleID = 'async_module'"), ir, "; ModuleID = 'async_module' ...");
        } finally {
          fn.LLVMDisposeModule(m);
          fn.LLVMContextDispose(c);
        }
      },
    },
  },

  // ---- parsers -----------------------------------------------------------------------------------
  {
    name: 'expat',
    package: 'libexpat1',
    soname: 'libexpat.so.1',
    functions: {
      XML_ExpatVersion: 'const char *XML_ExpatVersion(void)',
      XML_ParserCreate: 'void *XML_ParserCreate(const char *encoding)',
      XML_Parse: 'int XML_Parse(void *parser, const char *s, int len, int isFinal)',
      XML_GetErrorCode: 'int XML_GetErrorCode(void *parser)',
      XML_GetCurrentLineNumber: 'unsigned long XML_GetCurrentLineNumber(void *parser)',
      XML_ParserFree: 'void XML_ParserFree(void *parser)',
    },
    checks: {
      'XML_ExpatVersion = dpkg'(fn) {
        eq('XML_ExpatVersion', fn.XML_ExpatVersion(), `expat_${upstreamVersion('libexpat1')}`);
      },
      'a well-formed document parses (XML_STATUS_OK)'(fn) {
        eq('XML_Parse', expatParse(fn, XML_DOC), { status: 1, error: 0 });
      },
      'a mismatched tag: XML_ERROR_TAG_MISMATCH on line 3'(fn) {
        eq('XML_Parse', expatParse(fn, '<a>\n<b>\n</a>'), { status: 0, error: 7, line: 3n });
      },
    },
    async: {
      name: 'XML_Parse.async',
      async run(fn) {
        const p = fn.XML_ParserCreate(null);
        nonNull('XML_ParserCreate', p);
        try {
          const doc = `<list>${'<item n="1">text</item>'.repeat(500)}</list>`;
          eq('XML_Parse.async', await fn.XML_Parse.async(p, doc, Buffer.byteLength(doc), 1), 1);
        } finally {
          fn.XML_ParserFree(p);
        }
      },
    },
  },
  {
    name: 'pcre2',
    package: 'libpcre2-8-0',
    soname: 'libpcre2-8.so.0',
    functions: {
      pcre2_config_8: 'int pcre2_config_8(uint32_t what, void *where)',
      pcre2_compile_8: 'void *pcre2_compile_8(const char *pattern, size_t length, uint32_t options, int *errorcode, size_t *erroroffset, void *ccontext)',
      pcre2_match_data_create_from_pattern_8: 'void *pcre2_match_data_create_from_pattern_8(const void *code, void *gcontext)',
      pcre2_match_8:
        'int pcre2_match_8(const void *code, const char *subject, size_t length, size_t startoffset, uint32_t options, void *match_data, void *mcontext)',
      pcre2_substring_copy_bynumber_8: 'int pcre2_substring_copy_bynumber_8(void *match_data, uint32_t number, uint8_t *buffer, size_t *bufflen)',
      pcre2_match_data_free_8: 'void pcre2_match_data_free_8(void *match_data)',
      pcre2_code_free_8: 'void pcre2_code_free_8(void *code)',
    },
    checks: {
      'PCRE2_CONFIG_VERSION = dpkg'(fn) {
        const buf = Buffer.alloc(64);
        fn.pcre2_config_8(11 /* PCRE2_CONFIG_VERSION */, buf);
        const v = bufString(buf);
        check('starts with the dpkg version', v.startsWith(`${upstreamVersion('libpcre2-8-0')} `), v, `${upstreamVersion('libpcre2-8-0')} <date>`);
      },
      'capture groups = RegExp#exec'(fn) {
        const subject = 'released on 2022-12-11, patched 2023-01-05';
        const m = /(\d{4})-(\d{2})-(\d{2})/.exec(subject);
        eq('groups', pcreMatch(fn, '(\\d{4})-(\\d{2})-(\\d{2})', 0, subject), { rc: 4, groups: [...m] });
      },
      'UTF caseless = RegExp /iu, and no match = PCRE2_ERROR_NOMATCH'(fn) {
        eq('caseless UTF', pcreMatch(fn, 'été', 0x00080000 | 0x00000008, 'L’ÉTÉ INDIEN'), { rc: 1, groups: [/été/iu.exec('L’ÉTÉ INDIEN')[0]] });
        eq('no match', pcreMatch(fn, 'x{3}', 0, 'xx').rc, -1);
      },
    },
    async: {
      name: 'pcre2_match.async',
      async run(fn) {
        const subject = `${'abc '.repeat(1000)}key=value-42`;
        eq('match', await pcreMatch(fn, '(\\w+)=(\\w+)-(\\d+)', 0, subject, true), { rc: 4, groups: [.../(\w+)=(\w+)-(\d+)/.exec(subject)] });
      },
    },
  },
  {
    name: 'json-c',
    package: 'libjson-c5',
    soname: 'libjson-c.so.5',
    functions: {
      json_c_version: 'const char *json_c_version(void)',
      json_c_version_num: 'int json_c_version_num(void)',
      json_tokener_parse: 'void *json_tokener_parse(const char *str)',
      json_object_to_json_string_ext: 'const char *json_object_to_json_string_ext(void *obj, int flags)',
      json_object_put: 'int json_object_put(void *obj)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p = 0] = upstreamParts('libjson-c5');
        eq('json_c_version', fn.json_c_version(), upstreamVersion('libjson-c5'));
        eq('json_c_version_num', fn.json_c_version_num(), (M << 16) | (m << 8) | p);
      },
      'parse and print = JSON.stringify(JSON.parse())'(fn) {
        eq('round trip', jsonRoundTrip(fn, JSON_DOC), JSON.stringify(JSON.parse(JSON_DOC)));
      },
      'invalid JSON: NULL'(fn) {
        eq('json_tokener_parse(invalid)', fn.json_tokener_parse('{"a": [1, 2'), 0n);
      },
    },
    async: {
      name: 'json_tokener_parse.async',
      async run(fn) {
        const doc = JSON.stringify({ list: [...Array(300).keys()], text: 'async', nested: { ok: true, none: null } });
        const obj = await fn.json_tokener_parse.async(doc);
        nonNull('json_tokener_parse.async', obj);
        try {
          eq('printed', fn.json_object_to_json_string_ext(obj, 0), doc);
        } finally {
          fn.json_object_put(obj);
        }
      },
    },
  },
  {
    name: 'libyaml',
    package: 'libyaml-0-2',
    soname: 'libyaml-0.so.2',
    functions: {
      yaml_get_version_string: 'const char *yaml_get_version_string(void)',
      yaml_get_version: 'void yaml_get_version(int *major, int *minor, int *patch)',
      yaml_parser_initialize: 'int yaml_parser_initialize(void *parser)',
      yaml_parser_set_input_string: 'void yaml_parser_set_input_string(void *parser, const uint8_t *input, size_t size)',
      yaml_parser_parse: 'int yaml_parser_parse(void *parser, void *event)',
      yaml_event_delete: 'void yaml_event_delete(void *event)',
      yaml_parser_delete: 'void yaml_parser_delete(void *parser)',
    },
    checks: {
      'version = dpkg'(fn) {
        const v = Buffer.alloc(12);
        fn.yaml_get_version(v.subarray(0, 4), v.subarray(4, 8), v.subarray(8, 12));
        eq('yaml_get_version', [v.readInt32LE(0), v.readInt32LE(4), v.readInt32LE(8)], upstreamParts('libyaml-0-2'));
        eq('yaml_get_version_string', fn.yaml_get_version_string(), upstreamVersion('libyaml-0-2'));
      },
      'event stream of a document = the YAML grammar'(fn, ctx) {
        eq('events', yamlEvents(fn, ctx, YAML_DOC), YAML_EVENTS);
      },
    },
    async: {
      name: 'yaml_parser_parse.async',
      async run(fn, ctx) {
        eq('events', await yamlEvents(fn, ctx, YAML_DOC, true), YAML_EVENTS);
      },
    },
  },

  // ---- images and fonts --------------------------------------------------------------------------
  {
    name: 'libpng',
    package: 'libpng16-16',
    soname: 'libpng16.so.16',
    functions: {
      png_access_version_number: 'uint32_t png_access_version_number(void)',
      png_get_libpng_ver: 'const char *png_get_libpng_ver(const void *png_ptr)',
      png_sig_cmp: 'int png_sig_cmp(const uint8_t *sig, size_t start, size_t num_to_check)',
      png_image_begin_read_from_memory: 'int png_image_begin_read_from_memory(void *image, const void *memory, size_t size)',
      png_image_finish_read: 'int png_image_finish_read(void *image, const void *background, void *buffer, int32_t row_stride, void *colormap)',
      png_image_free: 'void png_image_free(void *image)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libpng16-16');
        eq('png_access_version_number', fn.png_access_version_number(), M * 10000 + m * 100 + p);
        eq('png_get_libpng_ver', fn.png_get_libpng_ver(null), upstreamVersion('libpng16-16'));
      },
      'png_sig_cmp: the PNG signature'(fn) {
        eq('png_sig_cmp(png)', fn.png_sig_cmp(PNG_FILE, 0n, 8n), 0);
        check('png_sig_cmp(gzip) != 0', fn.png_sig_cmp(zlib.gzipSync('x'), 0n, 8n) !== 0, 0, 'nonzero');
      },
      'decode a PNG made by node: size and pixels'(fn) {
        eq('decoded', pngDecode(fn, PNG_FILE), { width: PNG_W, height: PNG_H, pixels: PNG_PIXELS });
      },
    },
    async: {
      name: 'png_image_finish_read.async',
      async run(fn) {
        eq('decoded', await pngDecode(fn, PNG_FILE, true), { width: PNG_W, height: PNG_H, pixels: PNG_PIXELS });
      },
    },
  },
  {
    name: 'freetype',
    package: 'libfreetype6',
    soname: 'libfreetype.so.6',
    functions: {
      FT_Init_FreeType: 'int FT_Init_FreeType(void *alibrary)',
      FT_Done_FreeType: 'int FT_Done_FreeType(void *library)',
      FT_Library_Version: 'void FT_Library_Version(void *library, int *amajor, int *aminor, int *apatch)',
      FT_MulFix: 'long FT_MulFix(long a, long b)',
      FT_DivFix: 'long FT_DivFix(long a, long b)',
      FT_MulDiv: 'long FT_MulDiv(long a, long b, long c)',
    },
    init(fn) {
      const out = Buffer.alloc(8);
      eq('FT_Init_FreeType', fn.FT_Init_FreeType(out), 0);
      return { library: ptrAt(out) };
    },
    fini(fn, _ctx, state) {
      if (state) eq('FT_Done_FreeType', fn.FT_Done_FreeType(state.library), 0);
    },
    checks: {
      'FT_Library_Version = dpkg'(fn, ctx) {
        const v = Buffer.alloc(12);
        fn.FT_Library_Version(ctx.state.library, v.subarray(0, 4), v.subarray(4, 8), v.subarray(8, 12));
        eq('FT_Library_Version', [v.readInt32LE(0), v.readInt32LE(4), v.readInt32LE(8)], upstreamParts('libfreetype6'));
      },
      '16.16 fixed point = its definition'(fn) {
        eq('FT_MulFix(3.0, 0.5)', fn.FT_MulFix(3n << 16n, 1n << 15n), 0x18000n);
        eq('FT_DivFix(1.0, 4.0)', fn.FT_DivFix(1n << 16n, 4n << 16n), 0x4000n);
      },
      'FT_MulDiv = (a*b)/c rounded'(fn) {
        const [x, y, z] = [1000000n, 3000n, 7n];
        eq('FT_MulDiv', fn.FT_MulDiv(x, y, z), (x * y + z / 2n) / z);
      },
    },
    async: {
      name: 'FT_MulDiv.async',
      async run(fn) {
        const [x, y, z] = [123456789n, 1000n, 3n];
        eq('FT_MulDiv.async', await fn.FT_MulDiv.async(x, y, z), (x * y + z / 2n) / z);
      },
    },
  },

  // ---- crypto and hashing ------------------------------------------------------------------------
  {
    name: 'libsodium',
    package: 'libsodium23',
    soname: 'libsodium.so.23',
    functions: {
      sodium_init: 'int sodium_init(void)',
      sodium_version_string: 'const char *sodium_version_string(void)',
      crypto_hash_sha256: 'int crypto_hash_sha256(uint8_t *out, const uint8_t *in, unsigned long long inlen)',
      crypto_hash_sha512: 'int crypto_hash_sha512(uint8_t *out, const uint8_t *in, unsigned long long inlen)',
      crypto_generichash: 'int crypto_generichash(uint8_t *out, size_t outlen, const uint8_t *in, unsigned long long inlen, const uint8_t *key, size_t keylen)',
    },
    init(fn) {
      const rc = fn.sodium_init();
      check('sodium_init (0, or 1 when already initialised)', rc === 0 || rc === 1, rc, '0 or 1');
    },
    checks: {
      'sodium_version_string = dpkg'(fn) {
        eq('sodium_version_string', fn.sodium_version_string(), upstreamVersion('libsodium23'));
      },
      'crypto_hash_sha256/512 = node'(fn) {
        const d = bytes(777, 73);
        const out = Buffer.alloc(64);
        eq('crypto_hash_sha256', fn.crypto_hash_sha256(out, d, BigInt(d.length)), 0);
        eq('sha256', out.subarray(0, 32), sha256(d));
        eq('crypto_hash_sha512', fn.crypto_hash_sha512(out, d, BigInt(d.length)), 0);
        eq('sha512', out, a.hash('sha512', d));
      },
      'crypto_generichash (BLAKE2b-512, no key) = node blake2b512'(fn) {
        const d = Buffer.from('dlswap conformance: sodium generichash');
        const out = Buffer.alloc(64);
        eq('crypto_generichash', fn.crypto_generichash(out, 64n, d, BigInt(d.length), null, 0n), 0);
        eq('blake2b512', out, a.hash('blake2b512', d));
      },
    },
    async: {
      name: 'crypto_generichash.async',
      async run(fn) {
        const d = bytes(10000, 79);
        const out = Buffer.alloc(64);
        eq('crypto_generichash.async', await fn.crypto_generichash.async(out, 64n, d, BigInt(d.length), null, 0n), 0);
        eq('blake2b512', out, a.hash('blake2b512', d));
      },
    },
  },
  {
    name: 'libgcrypt',
    package: 'libgcrypt20',
    soname: 'libgcrypt.so.20',
    functions: {
      gcry_check_version: 'const char *gcry_check_version(const char *req_version)',
      gcry_control: 'int gcry_control(int cmd, ...)',
      gcry_md_map_name: 'int gcry_md_map_name(const char *name)',
      gcry_md_get_algo_dlen: 'unsigned gcry_md_get_algo_dlen(int algo)',
      gcry_md_hash_buffer: 'void gcry_md_hash_buffer(int algo, void *digest, const void *buffer, size_t length)',
    },
    // The initialisation libgcrypt's manual asks of an application: check the version, then declare
    // the initialisation finished (GCRYCTL_INITIALIZATION_FINISHED = 38, gcrypt.h).
    init(fn) {
      eq('gcry_check_version(NULL)', fn.gcry_check_version(null), upstreamVersion('libgcrypt20'));
      eq('gcry_control(GCRYCTL_INITIALIZATION_FINISHED)', fn.gcry_control(38, 'int', 0), 0);
    },
    checks: {
      'gcry_check_version: dpkg version accepted, a newer one refused'(fn) {
        eq('gcry_check_version(dpkg)', fn.gcry_check_version(upstreamVersion('libgcrypt20')), upstreamVersion('libgcrypt20'));
        eq('gcry_check_version(99.0.0)', fn.gcry_check_version('99.0.0'), null);
      },
      'SHA-256, SHA-512, SHA3-256 = node'(fn) {
        const d = bytes(1500, 83);
        for (const [name, node] of [
          ['SHA256', 'sha256'],
          ['SHA512', 'sha512'],
          ['SHA3-256', 'sha3-256'],
        ]) {
          const algo = fn.gcry_md_map_name(name);
          check(`gcry_md_map_name(${name})`, algo > 0, algo, '> 0');
          const want = a.hash(node, d);
          eq(`${name} length`, fn.gcry_md_get_algo_dlen(algo), want.length);
          const out = Buffer.alloc(want.length);
          fn.gcry_md_hash_buffer(algo, out, d, BigInt(d.length));
          eq(name, out, want);
        }
      },
    },
    async: {
      name: 'gcry_md_hash_buffer.async',
      async run(fn) {
        const d = bytes(20000, 89);
        const out = Buffer.alloc(32);
        await fn.gcry_md_hash_buffer.async(8 /* GCRY_MD_SHA256 */, out, d, BigInt(d.length));
        eq('SHA256', out, sha256(d));
      },
    },
  },
  {
    name: 'nettle',
    package: 'libnettle8',
    soname: 'libnettle.so.8',
    functions: {
      nettle_version_major: 'int nettle_version_major(void)',
      nettle_version_minor: 'int nettle_version_minor(void)',
      nettle_sha256_init: 'void nettle_sha256_init(void *ctx)',
      nettle_sha256_update: 'void nettle_sha256_update(void *ctx, size_t length, const uint8_t *data)',
      nettle_sha256_digest: 'void nettle_sha256_digest(void *ctx, size_t length, uint8_t *digest)',
    },
    checks: {
      'version = dpkg'(fn) {
        const [M, m] = upstreamParts('libnettle8');
        eq('nettle_version_major/minor', [fn.nettle_version_major(), fn.nettle_version_minor()], [M, m]);
      },
      'incremental SHA-256 = node'(fn) {
        const parts = [bytes(100, 97), bytes(64, 101), bytes(1000, 103)];
        const ctx = Buffer.alloc(256); // struct sha256_ctx is 112 bytes
        fn.nettle_sha256_init(ctx);
        for (const p of parts) fn.nettle_sha256_update(ctx, BigInt(p.length), p);
        const out = Buffer.alloc(32);
        fn.nettle_sha256_digest(ctx, 32n, out);
        eq('sha256', out, sha256(Buffer.concat(parts)));
      },
      'a truncated digest is the leading bytes (nettle manual)'(fn) {
        const d = Buffer.from('truncate me');
        const ctx = Buffer.alloc(256);
        fn.nettle_sha256_init(ctx);
        fn.nettle_sha256_update(ctx, BigInt(d.length), d);
        const out = Buffer.alloc(16);
        fn.nettle_sha256_digest(ctx, 16n, out);
        eq('sha256[0..16]', out, sha256(d).subarray(0, 16));
      },
    },
    async: {
      name: 'nettle_sha256_update.async',
      async run(fn) {
        const d = bytes(100000, 107);
        const ctx = Buffer.alloc(256);
        fn.nettle_sha256_init(ctx);
        await fn.nettle_sha256_update.async(ctx, BigInt(d.length), d);
        const out = Buffer.alloc(32);
        fn.nettle_sha256_digest(ctx, 32n, out);
        eq('sha256', out, sha256(d));
      },
    },
  },
  {
    name: 'xxhash',
    package: 'libxxhash0',
    soname: 'libxxhash.so.0',
    functions: {
      XXH_versionNumber: 'unsigned XXH_versionNumber(void)',
      XXH32: 'uint32_t XXH32(const void *input, size_t length, uint32_t seed)',
      XXH64: 'uint64_t XXH64(const void *input, size_t length, uint64_t seed)',
    },
    checks: {
      'XXH_versionNumber = dpkg'(fn) {
        const [M, m, p] = upstreamParts('libxxhash0');
        eq('XXH_versionNumber', fn.XXH_versionNumber(), M * 10000 + m * 100 + p);
      },
      'XXH32 = the xxHash specification'(fn) {
        for (const [d, seed] of [
          [Buffer.alloc(0), 0],
          [Buffer.from('abc'), 0],
          [bytes(1001, 109), 0x9747b28c],
        ]) {
          eq(`XXH32(${d.length} bytes, seed ${seed})`, fn.XXH32(d, BigInt(d.length), seed), a.xxh32(d, seed));
        }
      },
      'XXH64 = the xxHash specification'(fn) {
        for (const [d, seed] of [
          [Buffer.alloc(0), 0n],
          [Buffer.from('abc'), 0n],
          [bytes(1003, 113), 0x123456789abcdefn],
        ]) {
          eq(`XXH64(${d.length} bytes, seed ${seed})`, fn.XXH64(d, BigInt(d.length), seed), a.xxh64(d, seed));
        }
      },
    },
    async: {
      name: 'XXH64.async',
      async run(fn) {
        const d = bytes(65537, 127);
        eq('XXH64.async', await fn.XXH64.async(d, BigInt(d.length), 42n), a.xxh64(d, 42n));
      },
    },
  },

  // ---- numbers and identifiers -------------------------------------------------------------------
  {
    name: 'gmp',
    package: 'libgmp10',
    soname: 'libgmp.so.10',
    functions: {
      __gmpz_init: 'void __gmpz_init(void *x)',
      __gmpz_clear: 'void __gmpz_clear(void *x)',
      __gmpz_set_str: 'int __gmpz_set_str(void *rop, const char *str, int base)',
      __gmpz_mul: 'void __gmpz_mul(void *rop, const void *op1, const void *op2)',
      __gmpz_pow_ui: 'void __gmpz_pow_ui(void *rop, const void *base, unsigned long exp)',
      __gmpz_get_str: 'void *__gmpz_get_str(char *str, int base, const void *op)',
      __gmpz_probab_prime_p: 'int __gmpz_probab_prime_p(const void *n, int reps)',
    },
    checks: {
      'mpz_mul = BigInt'(fn, ctx) {
        const x = 123456789012345678901234567890123456789n;
        const y = 987654321098765432109876543210987654321n;
        eq(
          'x * y',
          withMpz(fn, 3, ([r, p, q]) => {
            eq('set_str', fn.__gmpz_set_str(p, x.toString(), 10), 0);
            eq('set_str', fn.__gmpz_set_str(q, y.toString(), 10), 0);
            fn.__gmpz_mul(r, p, q);
            return mpzString(fn, ctx, r, 10);
          }),
          (x * y).toString(),
        );
      },
      'mpz_pow_ui in base 16 = BigInt'(fn, ctx) {
        eq(
          '3^200',
          withMpz(fn, 2, ([r, b]) => {
            fn.__gmpz_set_str(b, '3', 10);
            fn.__gmpz_pow_ui(r, b, 200n);
            return mpzString(fn, ctx, r, 16);
          }),
          (3n ** 200n).toString(16),
        );
      },
      'mpz_probab_prime_p: 2^61-1 is prime, 2^61+1 is not'(fn) {
        withMpz(fn, 1, ([n]) => {
          fn.__gmpz_set_str(n, ((1n << 61n) - 1n).toString(), 10);
          check('2^61-1 (Mersenne prime)', fn.__gmpz_probab_prime_p(n, 25) > 0, 0, '1 or 2');
          fn.__gmpz_set_str(n, ((1n << 61n) + 1n).toString(), 10); // divisible by 3
          eq('2^61+1', fn.__gmpz_probab_prime_p(n, 25), 0);
        });
      },
    },
    async: {
      name: 'mpz_pow_ui.async',
      async run(fn, ctx) {
        const [r, b] = [Buffer.alloc(16), Buffer.alloc(16)];
        fn.__gmpz_init(r);
        fn.__gmpz_init(b);
        try {
          fn.__gmpz_set_str(b, '7', 10);
          await fn.__gmpz_pow_ui.async(r, b, 5000n);
          eq('7^5000', mpzString(fn, ctx, r, 36), (7n ** 5000n).toString(36));
        } finally {
          fn.__gmpz_clear(r);
          fn.__gmpz_clear(b);
        }
      },
    },
  },
  {
    name: 'libuuid',
    package: 'libuuid1',
    soname: 'libuuid.so.1',
    functions: {
      uuid_parse: 'int uuid_parse(const char *in, uint8_t *uu)',
      uuid_unparse_upper: 'void uuid_unparse_upper(const uint8_t *uu, char *out)',
      uuid_unparse_lower: 'void uuid_unparse_lower(const uint8_t *uu, char *out)',
      uuid_generate_random: 'void uuid_generate_random(uint8_t *out)',
      uuid_type: 'int uuid_type(const uint8_t *uu)',
      uuid_variant: 'int uuid_variant(const uint8_t *uu)',
    },
    checks: {
      'uuid_parse / unparse = RFC 4122 text form'(fn) {
        const text = '1b4e28ba-2fa1-11d2-883f-0016d3cca427';
        const uu = Buffer.alloc(16);
        eq('uuid_parse', fn.uuid_parse(text, uu), 0);
        eq('bytes', uu, Buffer.from(text.replace(/-/g, ''), 'hex'));
        const out = Buffer.alloc(37);
        fn.uuid_unparse_upper(uu, out);
        eq('uuid_unparse_upper', bufString(out), text.toUpperCase());
        eq('uuid_parse(invalid)', fn.uuid_parse('1b4e28ba-2fa1-11d2-883f-0016d3cca42', uu), -1);
      },
      'uuid_generate_random: version 4, RFC 4122 variant'(fn) {
        const uu = Buffer.alloc(16);
        fn.uuid_generate_random(uu);
        eq('version nibble', uu[6] >> 4, 4);
        eq('variant bits', uu[8] >> 6, 0b10);
        eq('uuid_type (UUID_TYPE_DCE_RANDOM)', fn.uuid_type(uu), 4);
        eq('uuid_variant (UUID_VARIANT_DCE)', fn.uuid_variant(uu), 1);
      },
    },
    async: {
      name: 'uuid_parse.async',
      async run(fn) {
        const text = crypto.randomUUID();
        const uu = Buffer.alloc(16);
        eq('uuid_parse.async', await fn.uuid_parse.async(text, uu), 0);
        eq('bytes', uu, Buffer.from(text.replace(/-/g, ''), 'hex'));
        const out = Buffer.alloc(37);
        fn.uuid_unparse_lower(uu, out);
        eq('uuid_unparse_lower', bufString(out), text);
      },
    },
  },
];

// ---- helpers of several entries -------------------------------------------------------------------

function openCookie(fn) {
  const cookie = fn.magic_open(0x10 /* MAGIC_MIME_TYPE */);
  nonNull('magic_open', cookie);
  const rc = fn.magic_load(cookie, null);
  if (rc !== 0) {
    const why = fn.magic_error(cookie);
    fn.magic_close(cookie);
    eq(`magic_load(NULL) (${why})`, rc, 0);
  }
  return { cookie };
}

const XML_DOC = '<?xml version="1.0"?>\n<r id="42" lang="fr"><a>un</a><b>deux</b><c/></r>\n';
const XML_EXPECTED = { id: '42', lang: 'fr', children: 3n, text: 'undeux' };

/** Parses XML_DOC-like documents with libxml2; `async` runs xmlReadMemory on the pool. */
function parseXml(fn, ctx, xml, async = false) {
  const args = [xml, Buffer.byteLength(xml), 'conformance.xml', null, 2048 /* XML_PARSE_NONET */];
  const inspect = (doc) => {
    nonNull('xmlReadMemory', doc);
    try {
      const root = fn.xmlDocGetRootElement(doc);
      nonNull('xmlDocGetRootElement', root);
      const take = (p) => {
        const s = ctx.readCString(p);
        ctx.free(p); // xmlFree is free() unless an application replaced it
        return s;
      };
      return {
        id: take(fn.xmlGetProp(root, 'id')),
        lang: take(fn.xmlGetProp(root, 'lang')),
        children: fn.xmlChildElementCount(root),
        text: take(fn.xmlNodeGetContent(root)),
      };
    } finally {
      fn.xmlFreeDoc(doc);
    }
  };
  return async ? fn.xmlReadMemory.async(...args).then(inspect) : inspect(fn.xmlReadMemory(...args));
}

function withDb(fn, body) {
  const ppDb = Buffer.alloc(8);
  eq('sqlite3_open', fn.sqlite3_open(':memory:', ppDb), 0);
  const db = ptrAt(ppDb);
  try {
    return body(db);
  } finally {
    eq('sqlite3_close', fn.sqlite3_close(db), 0);
  }
}

function queryRow(fn, db, sql, kinds) {
  const ppStmt = Buffer.alloc(8);
  eq(`sqlite3_prepare_v2(${sql})`, fn.sqlite3_prepare_v2(db, sql, -1, ppStmt, null), 0);
  const stmt = ptrAt(ppStmt);
  try {
    eq('sqlite3_step (SQLITE_ROW)', fn.sqlite3_step(stmt), 100);
    const row = kinds.map((k, i) => (k === 'int' ? fn.sqlite3_column_int64(stmt, i) : fn.sqlite3_column_text(stmt, i)));
    eq('sqlite3_step (SQLITE_DONE)', fn.sqlite3_step(stmt), 101);
    return row;
  } finally {
    fn.sqlite3_finalize(stmt);
  }
}

function bzCompress(fn, src) {
  const out = Buffer.alloc(src.length + Math.ceil(src.length / 100) + 600); // bzlib's documented bound
  const len = Buffer.alloc(4);
  len.writeUInt32LE(out.length);
  const rc = fn.BZ2_bzBuffToBuffCompress(out, len, src, src.length, 9, 0, 0);
  return { rc, out: out.subarray(0, len.readUInt32LE(0)) };
}

function brotliCompress(fn, src, quality) {
  const out = Buffer.alloc(Number(fn.BrotliEncoderMaxCompressedSize(BigInt(src.length))));
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(out.length));
  // lgwin 22 = BROTLI_DEFAULT_WINDOW, mode 0 = BROTLI_MODE_GENERIC; 1 = BROTLI_TRUE.
  eq(`BrotliEncoderCompress(quality ${quality})`, fn.BrotliEncoderCompress(quality, 22, 0, BigInt(src.length), src, size, out), 1);
  return zlib.brotliDecompressSync(out.subarray(0, Number(size.readBigUInt64LE(0))));
}

function brotliDecompress(fn, enc, capacity) {
  const out = Buffer.alloc(capacity);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(capacity));
  const rc = fn.BrotliDecoderDecompress(BigInt(enc.length), enc, size, out);
  return { rc, out: out.subarray(0, Number(size.readBigUInt64LE(0))) };
}

const TAR_FILES = [
  ['hello.txt', 'hello from a tar made by node\n'],
  ['dir/data.bin', 'x'.repeat(1000)],
  ['empty', ''],
];

/** Lists an archive in memory with libarchive: [[pathname, size, content], ...]. */
function readArchive(fn, data, async = false) {
  const ar = fn.archive_read_new();
  nonNull('archive_read_new', ar);
  const entries = [];
  let filter;
  let format;
  const entry = Buffer.alloc(8);
  const readOne = (rc) => {
    if (rc === 1) return false; // ARCHIVE_EOF
    if (rc !== 0) eq(`archive_read_next_header (${fn.archive_error_string(ar)})`, rc, 0);
    const e = ptrAt(entry);
    const size = fn.archive_entry_size(e);
    const buf = Buffer.alloc(Number(size) + 1);
    const n = fn.archive_read_data(ar, buf, BigInt(buf.length));
    entries.push([fn.archive_entry_pathname(e), size, buf.toString('utf8', 0, Number(n))]);
    if (format === undefined) format = fn.archive_format(ar);
    return true;
  };
  const finish = () => {
    filter = fn.archive_filter_code(ar, 0);
    eq('archive_read_free', fn.archive_read_free(ar), 0);
    // archive_read_open_memory reads `data` in place until the archive is freed: it must not be
    // collected before (this reference keeps it alive across the awaits of the async path).
    return { entries, filter, format, size: data.length };
  };
  try {
    eq('archive_read_support_filter_all', fn.archive_read_support_filter_all(ar), 0);
    eq('archive_read_support_format_all', fn.archive_read_support_format_all(ar), 0);
    eq('archive_read_open_memory', fn.archive_read_open_memory(ar, data, BigInt(data.length)), 0);
  } catch (e) {
    fn.archive_read_free(ar);
    throw e;
  }
  if (!async) {
    try {
      while (readOne(fn.archive_read_next_header(ar, entry)));
    } catch (e) {
      fn.archive_read_free(ar);
      throw e;
    }
    return finish();
  }
  const loop = async () => {
    try {
      while (readOne(await fn.archive_read_next_header.async(ar, entry)));
    } catch (e) {
      fn.archive_read_free(ar);
      throw e;
    }
    return finish();
  };
  return loop();
}

function icuUpper(fn, s) {
  const src = a.utf16z(s);
  const dest = Buffer.alloc(256);
  const err = Buffer.alloc(4);
  const n = fn.u_strToUpper_72(dest, 128, src, -1, '', err);
  return { rc: err.readInt32LE(0), text: dest.toString('utf16le', 0, n * 2) };
}

function calendarFields(fn, zone, millis, fields) {
  const status = Buffer.alloc(4);
  const cal = fn.ucal_open_72(a.utf16z(zone), -1, 'en_US', 1 /* UCAL_GREGORIAN */, status);
  nonNull(`ucal_open(${zone})`, cal);
  try {
    eq('ucal_open status', status.readInt32LE(0), 0);
    fn.ucal_setMillis_72(cal, millis, status);
    const out = fields.map((f) => fn.ucal_get_72(cal, f, status));
    eq('ucal_get status', status.readInt32LE(0), 0);
    return out;
  } finally {
    fn.ucal_close_72(cal);
  }
}

function withLlvmContext(fn, body) {
  const c = fn.LLVMContextCreate();
  nonNull('LLVMContextCreate', c);
  try {
    return body(c);
  } finally {
    fn.LLVMContextDispose(c);
  }
}

function expatParse(fn, doc) {
  const p = fn.XML_ParserCreate(null);
  nonNull('XML_ParserCreate', p);
  try {
    const status = fn.XML_Parse(p, doc, Buffer.byteLength(doc), 1);
    const error = fn.XML_GetErrorCode(p);
    return status === 1 ? { status, error } : { status, error, line: fn.XML_GetCurrentLineNumber(p) };
  } finally {
    fn.XML_ParserFree(p);
  }
}

/** Compiles `pattern`, matches `subject`, copies every group: { rc, groups }. */
function pcreMatch(fn, pattern, options, subject, async = false) {
  const err = Buffer.alloc(4);
  const off = Buffer.alloc(8);
  const code = fn.pcre2_compile_8(pattern, 0xffffffffffffffffn /* PCRE2_ZERO_TERMINATED */, options, err, off, null);
  nonNull(`pcre2_compile(${pattern}) (error ${err.readInt32LE(0)})`, code);
  const md = fn.pcre2_match_data_create_from_pattern_8(code, null);
  const groups = (rc) => {
    const out = [];
    for (let i = 0; i < rc; i++) {
      const buf = Buffer.alloc(256);
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(buf.length));
      eq(`pcre2_substring_copy_bynumber(${i})`, fn.pcre2_substring_copy_bynumber_8(md, i, buf, len), 0);
      out.push(buf.toString('utf8', 0, Number(len.readBigUInt64LE(0))));
    }
    return { rc, groups: out };
  };
  const done = () => {
    fn.pcre2_match_data_free_8(md);
    fn.pcre2_code_free_8(code);
  };
  // A Buffer, not a string: match_data points into the subject until it is freed, and a string
  // argument is a copy that lives only for the duration of the call.
  const text = cstr(subject);
  const len = BigInt(text.length - 1);
  if (!async) {
    try {
      const rc = fn.pcre2_match_8(code, text, len, 0n, 0, md, null);
      return rc < 0 ? { rc } : groups(rc);
    } finally {
      done();
    }
  }
  return fn.pcre2_match_8.async(code, text, len, 0n, 0, md, null).then(
    (rc) => {
      try {
        return rc < 0 ? { rc } : groups(rc);
      } finally {
        done();
      }
    },
    (e) => {
      done();
      throw e;
    },
  );
}

const JSON_DOC = '{"name":"dlswap","list":[1,2.5,true,null,"x"],"nested":{"k":"v","n":-7},"empty":[]}';

function jsonRoundTrip(fn, text) {
  const obj = fn.json_tokener_parse(text);
  nonNull('json_tokener_parse', obj);
  try {
    return fn.json_object_to_json_string_ext(obj, 0 /* JSON_C_TO_STRING_PLAIN */);
  } finally {
    fn.json_object_put(obj);
  }
}

const YAML_DOC = 'key: [1, two]\nother: {a: b}\n';
// yaml.h: STREAM_START 1, STREAM_END 2, DOCUMENT_START 3, DOCUMENT_END 4, SCALAR 6,
// SEQUENCE_START 7, SEQUENCE_END 8, MAPPING_START 9, MAPPING_END 10. Scalars with their value.
const YAML_EVENTS = ['1', '3', '9', '6:key', '7', '6:1', '6:two', '8', '6:other', '9', '6:a', '6:b', '10', '10', '4', '2'];

/** The event stream of a YAML document with libyaml: ['type' or 'type:scalar', ...]. */
function yamlEvents(fn, ctx, doc, async = false) {
  const parser = Buffer.alloc(1024); // yaml_parser_t is 480 bytes
  const event = Buffer.alloc(256); // yaml_event_t is 104: type at 0, data.scalar.value at 24, length at 32
  const input = Buffer.from(doc);
  eq('yaml_parser_initialize', fn.yaml_parser_initialize(parser), 1);
  fn.yaml_parser_set_input_string(parser, input, BigInt(input.length));
  const out = [];
  const take = (rc) => {
    eq('yaml_parser_parse', rc, 1);
    const type = event.readInt32LE(0);
    if (type === 6) {
      const len = Number(event.readBigUInt64LE(32));
      out.push(`6:${ctx.readCString(event.readBigUInt64LE(24), len)}`);
    } else {
      out.push(String(type));
    }
    fn.yaml_event_delete(event);
    return type !== 2; // until YAML_STREAM_END_EVENT
  };
  if (!async) {
    try {
      for (let i = 0; i < 100 && take(fn.yaml_parser_parse(parser, event)); i++);
    } finally {
      fn.yaml_parser_delete(parser);
    }
    return out;
  }
  return (async () => {
    try {
      for (let i = 0; i < 100 && take(await fn.yaml_parser_parse.async(parser, event)); i++);
    } finally {
      fn.yaml_parser_delete(parser);
    }
    // The parser reads `input` in place until it is deleted: keep it alive across the awaits.
    return input.length > 0 ? out : [];
  })();
}

const PNG_W = 3;
const PNG_H = 2;
const PNG_PIXELS = Buffer.from([255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 40, 200, 150, 100, 255, 1, 2, 3, 4]);
const PNG_FILE = a.makePng(PNG_W, PNG_H, PNG_PIXELS);

/** Decodes a PNG with libpng's simplified API into RGBA8: { width, height, pixels }. */
function pngDecode(fn, file, async = false) {
  const image = Buffer.alloc(104); // png_image: version at 8, width 12, height 16, format 20
  image.writeUInt32LE(1, 8); // PNG_IMAGE_VERSION
  const fail = (what) => {
    const msg = bufString(image.subarray(36, 100));
    fn.png_image_free(image);
    eq(`${what} (${msg})`, 0, 1);
  };
  if (fn.png_image_begin_read_from_memory(image, file, BigInt(file.length)) !== 1) fail('png_image_begin_read_from_memory');
  const width = image.readUInt32LE(12);
  const height = image.readUInt32LE(16);
  image.writeUInt32LE(3, 20); // PNG_FORMAT_RGBA
  const pixels = Buffer.alloc(width * height * 4);
  const done = (rc) => {
    if (rc !== 1) fail('png_image_finish_read');
    fn.png_image_free(image);
    return { width, height, pixels };
  };
  if (!async) return done(fn.png_image_finish_read(image, null, pixels, 0, null));
  return fn.png_image_finish_read.async(image, null, pixels, 0, null).then(done, (e) => {
    fn.png_image_free(image);
    throw e;
  });
}

/** Runs body with n initialised mpz_t (16-byte structs), cleared afterwards. */
function withMpz(fn, n, body) {
  const zs = Array.from({ length: n }, () => Buffer.alloc(16));
  for (const z of zs) fn.__gmpz_init(z);
  try {
    return body(zs);
  } finally {
    for (const z of zs) fn.__gmpz_clear(z);
  }
}

function mpzString(fn, ctx, z, base) {
  const p = fn.__gmpz_get_str(null, base, z);
  nonNull('mpz_get_str', p);
  const s = ctx.readCString(p);
  ctx.free(p); // GMP's default allocator is malloc
  return s;
}

// The libraries of issue 22's classes (thread pools, runtimes, registries, plugin loaders, signal
// handlers, static TLS), in a file of their own.
module.exports.push(...require('./libraries_process.cjs'));
