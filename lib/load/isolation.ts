/**
 * The isolation modes at load: each one's code for the native side, and what the dynamic loader's
 * errors mean in each of them. The modes themselves are lib/isolation_modes.ts's (re-exported here
 * for the loader's users). See docs/isolation.md for what each mode isolates and what it breaks.
 */
import { DlswapError } from '../errors';
import { IsolationCode } from '../native';
import type { Isolation } from '../isolation_modes';
import { RECOMMENDED_TUNABLES } from './tunables';

export { ISOLATION_MODES, type Isolation } from '../isolation_modes';

export function isolationCode(mode: Isolation): IsolationCode {
  switch (mode) {
    case 'local':
      return IsolationCode.Local;
    case 'deepbind':
      return IsolationCode.DeepBind;
    case 'namespace':
      return IsolationCode.Namespace;
    case 'fresh-namespace':
      return IsolationCode.FreshNamespace;
  }
}

/**
 * A sanitizer runtime or replacement allocator preloaded into node. RTLD_DEEPBIND makes a library
 * bind to its own libc first, past such a runtime's interceptors (malloc from one allocator, free to
 * the other), so 'deepbind' is not available while one is active.
 */
export function preloadedRuntime(): boolean {
  return /libasan|libtsan|jemalloc|tcmalloc|mimalloc/.test(process.env.LD_PRELOAD ?? '');
}

export const TUNABLES_FIX = `${RECOMMENDED_TUNABLES} (set it in the environment before node starts), or use isolation 'namespace', which loads every library into one shared namespace`;

/** A dlmopen failure that means glibc's namespace or static-TLS budget is used up. */
export function isNamespaceExhaustion(dlerror: string): boolean {
  return /cannot allocate memory in static TLS block|no more namespaces available/.test(dlerror);
}

/**
 * Turns a dlerror() text into a coded error. `copyPath` is replaced by the user's path: the user
 * never asked for our private copy and should see the file they named.
 */
export function classifyLoadError(dlerror: string, userPath: string, copyPath: string, mode: Isolation): DlswapError {
  const text = dlerror.split(copyPath).join(userPath);
  if (isNamespaceExhaustion(text)) {
    return new DlswapError(
      'ERR_DLSWAP_NAMESPACE_EXHAUSTED',
      `cannot open ${userPath} in a new link-map namespace: ${text}. glibc's namespace or static-TLS budget is used up; raise it with ${TUNABLES_FIX}.`,
    );
  }
  const undef = /undefined symbol: ([^\s,]+)/.exec(text);
  if (undef) {
    return new DlswapError(
      'ERR_DLSWAP_UNRESOLVED_SYMBOL',
      `cannot load ${userPath}: it needs the symbol ${undef[1]}, which no loaded library defines (${text}). Link the library that defines it, or check the library was built against the right version.`,
    );
  }
  const missing = /([^\s:]+): cannot open shared object file/.exec(text);
  if (missing && missing[1] !== userPath) {
    return new DlswapError(
      'ERR_DLSWAP_DEPENDENCY_NOT_FOUND',
      `cannot load ${userPath}: its dependency ${missing[1]} was not found (${text}). Install it, add its directory to the library's RUNPATH, or to LD_LIBRARY_PATH before node starts.`,
    );
  }
  if (/failed to map segment|cannot apply additional memory protection|operation not permitted/i.test(text)) {
    return new DlswapError(
      'ERR_DLSWAP_LOAD_FAILED',
      `cannot map ${userPath}: ${text}. If the temp directory is mounted noexec, set DLSWAP_TMPDIR to a directory that allows executables.`,
    );
  }
  if (/file too short|invalid ELF header|ELF load command|wrong ELF class|ELF file|not a dynamic object/i.test(text)) {
    return new DlswapError('ERR_DLSWAP_BAD_ELF', `${userPath} is not a loadable shared library: ${text}. Rebuild it (a truncated or half-written file?).`);
  }
  if (/invalid mode|invalid target namespace/.test(text)) {
    return new DlswapError('ERR_DLSWAP_MODE_UNSUPPORTED', `isolation '${mode}' cannot open ${userPath}: ${text}`);
  }
  return new DlswapError('ERR_DLSWAP_LOAD_FAILED', `cannot load ${userPath} (isolation '${mode}'): ${text}`);
}
