/**
 * What a failed load means to the user: the loader's result turned into a coded error that says
 * what to do. The open side of a library; what a close comes to is lib/load/close_reasons.ts.
 */
import { DlswapError, type DlswapErrorCode } from '../errors';
import { classifyLoadError, type Isolation, TUNABLES_FIX } from './isolation';
import type { LoadResult } from '../native';
import { noteExhausted } from './namespace_budget';

/** The error a failed load means to the user. */
export function loadFailure(r: LoadResult, file: string, mode: Isolation): DlswapError {
  const err = loadFailureOf(r, file, mode);
  // A refusal found in a private dependency is about that file: the library itself was fine.
  if (r.refusedIn) err.message = `its private dependency ${r.refusedIn} is refused: ${err.message.split(file).join(r.refusedIn)}`;
  return err;
}

function loadFailureOf(r: LoadResult, file: string, mode: Isolation): DlswapError {
  let err: DlswapError;
  if (r.code === 'ERR_DLSWAP_UNSAFE_MODE' && r.message === 'refused-imports') {
    err = new DlswapError(
      'ERR_DLSWAP_UNSAFE_MODE',
      `${file} imports ${r.symbols.join(', ')}, which node copy-relocates: under RTLD_DEEPBIND it binds to libstdc++'s uninitialised copy and crashes. Use isolation 'namespace' (or pass { force: true } to open it anyway).`,
    );
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
    err = classifyLoadError(shown, file, r.loaderPath || file, mode);
  } else {
    err = new DlswapError(r.code as DlswapErrorCode, r.message ?? r.code ?? 'the load failed');
    // A plugin entry point faulted (docs/faults.md): the fault, as a call's ERR_DLSWAP_FAULT has it.
    if (r.fault) Object.assign(err, { fault: r.fault });
  }
  if (err.code === 'ERR_DLSWAP_NAMESPACE_EXHAUSTED') {
    noteExhausted();
    if (!/GLIBC_TUNABLES/.test(err.message)) err.message += ` Raise the budget with ${TUNABLES_FIX}.`;
  }
  return err;
}
