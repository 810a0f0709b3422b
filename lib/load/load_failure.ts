/**
 * What a failed load means to the user: the loader's result turned into a coded error that says
 * what to do. The open side of a library; what a close comes to is lib/load/close_reasons.ts.
 */
import path from 'node:path';
import { DlswapError, type DlswapErrorCode } from '../errors';
import { classifyLoadError, type Isolation, TUNABLES_FIX } from './isolation';
import type { LoadResult } from '../native';
import { noteExhausted, staticTlsFigure } from './namespace_budget';
import { shownName } from './runtime_notes';
import { staticTlsFailure } from './static_tls';

/** The error a failed load means to the user. */
export function loadFailure(r: LoadResult, file: string, mode: Isolation): DlswapError {
  const err = loadFailureOf(r, file, mode);
  // A refusal found in a private dependency is about that file: the library itself was fine.
  if (r.refusedIn) {
    const why = r.refusedInRegistry
      ? ` (a system library each generation gets its own copy of: it holds ${r.refusedInRegistry}, which the library registers in; docs/isolation.md, "Process-wide registries")`
      : '';
    err.message = `its private dependency ${r.refusedIn}${why} is refused: ${err.message.split(file).join(r.refusedIn)}`;
  }
  return err;
}

/**
 * Whose copy a copy-relocated import binds to under RTLD_DEEPBIND: libstdc++'s for the C++ objects
 * (std::cout, std::cerr: mangled names), libc's for the C variables (environ, tzname, timezone).
 */
function copyOwners(symbols: string[]): string {
  const cxx = symbols.filter((s) => s.startsWith('_Z'));
  const c = symbols.filter((s) => !s.startsWith('_Z'));
  const parts: string[] = [];
  if (cxx.length) parts.push(`${cxx.join(', ')} to libstdc++'s own ${cxx.length === 1 ? 'copy' : 'copies'}`);
  if (c.length) parts.push(`${c.join(', ')} to libc's own ${c.length === 1 ? 'copy' : 'copies'}`);
  return parts.join(' and ');
}

/**
 * ERR_DLSWAP_EXIT_DURING_LOAD: library code of the load called exit(), abort() or the like, and the
 * namespace runtime unwound it (native/namespace/runtime_exit.h).
 */
function endedFailure(r: LoadResult, file: string, mode: Isolation): DlswapError {
  const e = r.ended!;
  // The object that called it, as the user knows it: the library under its own path, not its copy's.
  const copy = r.loaderPath ? path.basename(r.loaderPath) : '';
  const by = !e.by || e.by === copy ? file : shownName(e.by);
  const image = e.image === r.loaderPath ? file : e.image;
  const entry = e.in === 'constructor' ? 'a constructor' : e.in;
  const what = by === image ? `${entry} of ${image} called ${e.call}` : `${by} called ${e.call} in ${entry} of ${image}`;
  const whileLoading = image === file ? 'while it was being loaded' : `while ${file} was being loaded`;
  const advice =
    mode === 'namespace'
      ? 'A library that ends the process when it is loaded a second time has usually found itself already registered in a process-wide registry that a dependency keeps, shared by every generation in the namespace (gflags: "flag ... defined more than once"; GObject: "cannot register existing type"; protobuf descriptors). dlswap gives each generation its own copy of the registries it knows (docs/isolation.md, "Process-wide registries"), unless the dependency is listed in shareDependencies: take it out of that list, or open the library with isolation \'fresh-namespace\', which gives each generation its own copy of every dependency. A lock that code held stays held: the serving generation\'s calls that take it wait for ever (gflags\' registry: GetCommandLineOption). Its own message, on stderr, says why.'
      : 'Its own message, on stderr, says why.';
  return new DlswapError(
    'ERR_DLSWAP_EXIT_DURING_LOAD',
    `${what} ${whileLoading} (isolation '${mode}'): dlswap stopped the call and failed the load instead of ending the process. What that code had done stays as it left it: the half-initialised image stays mapped, unused, until the process exits. ${advice}`,
  );
}

function loadFailureOf(r: LoadResult, file: string, mode: Isolation): DlswapError {
  let err: DlswapError;
  if (r.code === 'ERR_DLSWAP_UNSAFE_MODE' && r.message === 'refused-imports') {
    err = new DlswapError(
      'ERR_DLSWAP_UNSAFE_MODE',
      `${file} imports ${r.symbols.join(', ')}, which node copy-relocates: under RTLD_DEEPBIND the library binds ${copyOwners(r.symbols)}, which the process never initialised (it uses node's copy), and crashes or reads stale values. Use isolation 'namespace' (or pass { force: true } to open it anyway).`,
    );
  } else if (r.code === 'ERR_DLSWAP_EXIT_DURING_LOAD' && r.ended) {
    err = endedFailure(r, file, mode);
  } else if (r.code === 'ERR_DLSWAP_UNSAFE_MODE' && r.message === 'node-init-fini') {
    err = new DlswapError(
      'ERR_DLSWAP_UNSAFE_MODE',
      `${file} has constructor or destructor entries bound by name to ${r.symbols.join(', ')}, which node exports: in isolation 'local' they would run node's function instead of the library's (libuv's would shut node's thread pool down when the library is closed). Use isolation 'namespace' (or 'deepbind'), or pass { force: true } to open it anyway.`,
    );
  } else if (r.code === 'ERR_DLSWAP_UNSAFE_MODE' && r.message === 'node-interposition') {
    const shown = r.symbols.slice(0, 5).join(', ') + (r.symbols.length > 5 ? ` and ${r.symbols.length - 5} more` : '');
    err = new DlswapError(
      'ERR_DLSWAP_UNSAFE_MODE',
      `${file} calls its own ${shown} through the dynamic linker, and node exports the same names (it bundles OpenSSL, zlib, brotli, libuv...): in isolation 'local' those calls would run node's copy, another version of the code, which may misbehave or crash. Use isolation 'namespace' (or 'deepbind'), or pass { force: true } to open it anyway.`,
    );
  } else if (r.code === 'ERR_DLSWAP_SYMBOL_NOT_FOUND' && r.message === 'missing-functions') {
    err = new DlswapError(
      'ERR_DLSWAP_SYMBOL_NOT_FOUND',
      `${file} does not export ${r.symbols.join(', ')}. Check the name (C++ names are mangled unless declared extern "C") and that it is exported; the generation was rejected.`,
    );
  } else if (r.code === 'ERR_DLSWAP_LOAD_FAILED' && r.dlerror) {
    // The dynamic loader's words, with dlswap's private names replaced by the user's path.
    const shown = r.loaderPath ? r.dlerror.split(r.loaderPath).join(file) : r.dlerror;
    // A static-TLS refusal is about the library first (lib/load/static_tls.ts); the rest, or a fresh
    // namespace's own C library finding no room, is the loader's words classified.
    err = staticTlsFailure(shown, file, mode) ?? classifyLoadError(shown, file, r.loaderPath || file, mode);
  } else {
    err = new DlswapError(r.code as DlswapErrorCode, r.message ?? r.code ?? 'the load failed');
    // A plugin entry point faulted (docs/faults.md): the fault, as a call's ERR_DLSWAP_FAULT has it.
    if (r.fault) Object.assign(err, { fault: r.fault });
  }
  if (err.code === 'ERR_DLSWAP_NAMESPACE_EXHAUSTED') {
    noteExhausted();
    if (mode === 'fresh-namespace' && /static TLS/.test(err.message)) err.message += ` ${staticTlsFigure()}`;
    if (!/GLIBC_TUNABLES/.test(err.message)) err.message += ` Raise the budget with ${TUNABLES_FIX}.`;
  }
  return err;
}
