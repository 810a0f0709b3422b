/**
 * Hazards of what a library changes in the whole process, beyond its own image: libraries it loads
 * at run time, signal dispositions, exit handlers, the locale. Each is found from the imports that
 * do it; whether the library really does it (and with which flags) is decided at run time, so each
 * message says what the import makes possible and what happens if it is used.
 */
import type { ElfInfo } from '../elf/elf';
import { list, type Hazard } from './hazard';
import { ISOLATION_MODES } from '../load/isolation';
import { runtimeInterposes } from './runtime_support';

const MODULE_LOADERS =
  /^(dlopen|dlmopen|g_module_open|g_module_open_full|lt_dlopen|lt_dlopenext|lt_dlopenadvise|uv_dlopen|PR_LoadLibrary|PR_LoadLibraryWithFlags|SDL_LoadObject|apr_dso_load)$/;
// Imports that ask for RTLD_GLOBAL: GModule opens with it unless G_MODULE_BIND_LOCAL is passed (and
// its callers rarely pass it); libltdl only when advised to.
const GLOBAL_REQUESTS = /^(g_module_open|lt_dladvise_global)$/;
// Libraries that dlopen with RTLD_GLOBAL on their own (byItself), or offer it to their callers as a
// documented option, and how (the offers measured: a SIGSEGV in the namespace modes,
// test/conformance). An offer counts when the library is the one opened (its caller is the
// user); as a dependency, the library above it asks for RTLD_GLOBAL or not (GLOBAL_REQUESTS).
const GLOBAL_LOADERS: { soname: RegExp; what: string; byItself: boolean }[] = [
  { soname: /^libtbb\.so/, what: 'oneTBB loads libtbbmalloc with RTLD_GLOBAL on first use', byItself: true },
  { soname: /^libgmodule-2\.0\.so/, what: 'GModule opens with RTLD_GLOBAL unless its caller passes G_MODULE_BIND_LOCAL', byItself: false },
  { soname: /^libltdl\.so/, what: 'libltdl opens with RTLD_GLOBAL for a caller that advises lt_dladvise_global', byItself: false },
  { soname: /^liblua5\.\d+(-c\+\+)?\.so/, what: "Lua's package.loadlib(path, '*') opens with RTLD_GLOBAL", byItself: false },
];

const SIGNAL_SETTERS = /^(sigaction|__sigaction|signal|sysv_signal|__sysv_signal|bsd_signal|sigset|sigvec|sigaltstack)$/;
// Not __cxa_atexit: dlclose runs the entries an image registered with it (its C++ static
// destructors, and atexit from libc_nonshared.a, which passes the image's __dso_handle).
const EXIT_HOOKS = /^(atexit|on_exit|at_quick_exit|__cxa_at_quick_exit)$/;
const LOCALE_SETTERS = /^(setlocale|uselocale)$/;

const CRASH =
  'glibc (2.36, measured) crashes with SIGSEGV in add_to_global_resize when code inside a dlmopen namespace calls dlopen with RTLD_GLOBAL (the same call with RTLD_LOCAL works)';

/** What a library that loads libraries at run time meets in each mode; `dependency`: it is one of the closure's. */
function moduleHazard(info: ElfInfo, dependency: boolean): Hazard | null {
  const loaders = info.imports.filter((s) => MODULE_LOADERS.test(s));
  if (!loaders.length) return null;
  const global = [
    ...info.imports
      .filter((s) => GLOBAL_REQUESTS.test(s))
      .map((s) => (s === 'g_module_open' ? 'g_module_open (RTLD_GLOBAL unless G_MODULE_BIND_LOCAL)' : `${s} (RTLD_GLOBAL)`)),
    ...GLOBAL_LOADERS.filter((l) => info.soname && l.soname.test(info.soname) && (l.byItself || !dependency)).map((l) => l.what),
  ];
  const symbols = [...new Set([...loaders, ...info.imports.filter((s) => GLOBAL_REQUESTS.test(s))])];
  const base = `loads libraries at run time (${list(loaders)})`;
  const global_ =
    "In local and deepbind a module loaded with RTLD_GLOBAL joins node's global scope, where every later lookup of the process finds its symbols.";
  // dlswap's namespace runtime (the first object of every namespace) serves dlopen when it defines it.
  if (runtimeInterposes('dlopen')) {
    return {
      id: 'loads-modules',
      severity: 'info',
      message: `${base}. ${CRASH}; in the namespace modes dlswap's runtime serves these calls so that RTLD_GLOBAL never reaches that code, and the module's symbols are still found in the library's namespace (NODE_DEBUG=dlswap says what it did). ${global_}`,
      symbols,
      affects: ['namespace', 'fresh-namespace'],
    };
  }
  if (global.length) {
    return {
      id: 'loads-modules',
      severity: 'error',
      message: `${base}, with RTLD_GLOBAL: ${list(global, 3)}. ${CRASH}: it crashes in namespace and fresh-namespace. Use local or deepbind. ${global_}`,
      symbols,
      affects: ['namespace', 'fresh-namespace'],
    };
  }
  return {
    id: 'loads-modules',
    severity: 'warn',
    message: `${base}. ${CRASH}: if it passes RTLD_GLOBAL (GModule without G_MODULE_BIND_LOCAL, libltdl advised lt_dladvise_global, a plugin system that wants its modules to see each other), it crashes in namespace and fresh-namespace; then use local or deepbind. ${global_}`,
    symbols,
    affects: ['namespace', 'fresh-namespace'],
  };
}

export function processHazards(info: ElfInfo, dependency = false): Hazard[] {
  const hazards: Hazard[] = [];
  const modules = moduleHazard(info, dependency);
  if (modules) hazards.push(modules);

  const signals = info.imports.filter((s) => SIGNAL_SETTERS.test(s));
  if (signals.length) {
    hazards.push({
      id: 'signal-handlers',
      severity: 'warn',
      message: `can install signal handlers or an alternate signal stack (${list(signals)}): dispositions belong to the process, in every mode. A handler the library leaves installed points into its code: once close() unmaps it, the next such signal runs unmapped code (SIGSEGV, where SIGHUP would have ended node with 129), and a SIGSEGV or SIGBUS handler replaces the one V8 traps WebAssembly out-of-bounds accesses with. Tell the library not to install them where it can (Py_InitializeEx(0), MagickCoreGenesis(path, MagickFalse)), or have its own cleanup restore them before close() (with HotLibrary, in the teardown hook), or keep it open.`,
      symbols: signals,
      affects: [...ISOLATION_MODES],
    });
  }

  const exits = info.imports.filter((s) => EXIT_HOOKS.test(s));
  if (exits.length) {
    hazards.push({
      id: 'exit-handlers',
      severity: 'error',
      message: `registers exit handlers not tied to its image (${list(exits)}): in local and deepbind node's libc runs them when the process exits, also after close() unmapped the library (SIGSEGV at process.exit()). In the namespace modes they belong to the namespace's libc, which node's exit does not run: they never run. Use a namespace mode, or keep the library open until the process exits.`,
      symbols: exits,
      affects: ['local', 'deepbind'],
    });
  }

  const locale = info.imports.filter((s) => LOCALE_SETTERS.test(s));
  if (locale.length) {
    hazards.push({
      id: 'global-locale',
      severity: 'warn',
      message: `can change the C locale (${list(locale)}: setlocale for the whole process, uselocale for the calling thread, which for .async calls is a libuv pool thread that serves later calls too): in local and deepbind that is node's libc, whose printf, strtod and ctype every native library of the process uses (node's own JavaScript formatting does not); in namespace, every library in the anchor namespace shares it. fresh-namespace keeps it to the generation's own libc. Have the library restore it (setlocale(LC_ALL, "C")) or use fresh-namespace.`,
      symbols: locale,
      affects: ['local', 'deepbind', 'namespace'],
    });
  }
  return hazards;
}
