// One cell of test/load/beside.test.ts, in a process of its own (what is loaded under a name in
// node's namespace is process-wide): a library that finds a module, a data file and its bundled
// libz.so.1 beside itself, asked each way such libraries ask.
//
//   node beside_app.cjs <isolation|plain-dlopen> <open|hot> <dir> [force]
// force: open with { force: true } (a directory other users can write is refused otherwise).
//
// plain-dlopen: the same calls through koffi, which loads the file itself with dlopen: the control.
// Prints one JSON line per generation asked.
const path = require('node:path');
const dist = path.join(__dirname, '..', '..', 'dist', 'index.js');
const [mode, how, dir, force] = process.argv.slice(2);
const lib = (v) => path.join(dir, `libbeside_v${v}.so`);

const PROTOTYPES = {
  version: 'int beside_version(void)',
  moduleOrigin: 'int beside_module_origin(void)',
  moduleDladdr: 'int beside_module_dladdr(void)',
  data: 'int beside_data(void *out, size_t cap)',
  zlibOrigin: 'const char *beside_zlib_origin(void)',
  zlibSoname: 'const char *beside_zlib_soname(void)',
  dlinfo: 'int beside_dlinfo_origin(void *out, size_t cap)',
  iterate: 'int beside_iterate_name(void *out, size_t cap)',
  dlerror: 'const char *beside_dlerror(void)',
};

// What the library found, each way (strings, or the negative code it returned).
function ask(fn) {
  const text = (f) => {
    const b = Buffer.alloc(4096);
    const n = f(b, b.length);
    return n < 0 ? n : b.toString('utf8', 0, n);
  };
  const zlibOrigin = fn.zlibOrigin();
  const zlibOriginError = zlibOrigin ? null : fn.dlerror();
  const zlibSoname = fn.zlibSoname();
  const zlibSonameError = zlibSoname ? null : fn.dlerror();
  return {
    version: fn.version(),
    moduleOrigin: fn.moduleOrigin(),
    moduleDladdr: fn.moduleDladdr(),
    data: text(fn.data),
    zlibOrigin,
    zlibOriginError,
    zlibSoname,
    zlibSonameError,
    dlinfo: text(fn.dlinfo),
    iterate: text(fn.iterate),
  };
}

(async () => {
  if (mode === 'plain-dlopen') {
    const koffi = require('koffi');
    const k = koffi.load(lib(1));
    const fn = {};
    for (const [name, proto] of Object.entries(PROTOTYPES)) fn[name] = k.func(proto.replace('void *out', 'uint8_t *out'));
    console.log(JSON.stringify(ask(fn)));
    return;
  }
  const dlswap = require(dist);
  if (how === 'open') {
    const l = dlswap.open(lib(1), { isolation: mode, force: force === 'force' });
    const fn = Object.fromEntries(Object.entries(PROTOTYPES).map(([name, proto]) => [name, l.func(proto)]));
    console.log(JSON.stringify(ask(fn)));
    return;
  }
  // hot: generation 1, then generation 2 while a lease keeps generation 1 mapped and answering.
  const hot = await dlswap.HotLibrary.open(lib(1), { isolation: mode, functions: PROTOTYPES });
  const lease = hot.pin();
  console.log(JSON.stringify(ask(hot.fn)));
  await hot.reload(lib(2), { wait: 'swap' });
  console.log(JSON.stringify(ask(hot.fn)));
  console.log(JSON.stringify(ask(lease.fn)));
  lease.release();
  await hot.close();
})();
