/**
 * The compiled addon, loaded through node-gyp-build so that prebuildify prebuilds can be dropped into
 * `prebuilds/` without changing this loader. DLSWAP_ADDON_DIR points it at another build tree (the
 * ASan build uses `build-asan`).
 */
import path from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
import nodeGypBuild = require('node-gyp-build');

export const packageRoot = path.resolve(__dirname, '..');

/** Numeric isolation codes shared with native/library_handle.h. */
export const enum IsolationCode {
  Local = 0,
  DeepBind = 1,
  Namespace = 2,
  FreshNamespace = 3,
}

export interface NativeLibraryInfo {
  mappedPath: string;
  lmid: bigint;
}

export interface NativeCloseResult {
  /** dlclose's return value (0 on success). */
  rc: number;
  error?: string;
}

export interface NativeLibrary {
  info(): NativeLibraryInfo;
  /** Address of a symbol, or undefined with dlerror text left for `lastError`. */
  symbol(name: string): bigint | undefined;
  free(ptr: bigint): void;
  flush(): number;
  close(): NativeCloseResult;
  stats(): { calls: number; errors: number; inFlight: number; closed: boolean };
  /** Threads that closing the image now could pull code from under (see library_handle.h). */
  holders(): { tid: number; name: string; why: string }[];
  errno(): number;
}

export interface NativeLibraryCtor {
  /**
   * Opens `file` in the given mode. For the namespace modes, `lmid` (namespace mode) is the anchor's
   * namespace; fresh-namespace passes -1n for LM_ID_NEWLM, or an lmid to join one this open created.
   */
  new (file: string, isolation: IsolationCode, lmid: bigint): NativeLibrary;
}

export interface Addon {
  NativeLibrary: NativeLibraryCtor;
  /** Where libdlswap_runtime.so is: the first object of every namespace dlswap makes. */
  configureRuntime(runtimePath: string): void;
  /** Creates the long-lived anchor namespace (runtime first) once; returns its lmid. */
  anchorNamespace(): bigint;
  /** What the runtime of namespace `lmid` tracks: live keys and threads created through it. */
  runtimeStats(lmid: bigint): { keys: number; threads: number };
  /** RTLD_NOLOAD probe: is an object with this path loaded in namespace `lmid` (-1n: base)? */
  isLoaded(file: string, lmid: bigint): boolean;
  /** Live namespaces created by fresh-namespace opens (the anchor's not counted). */
  freshNamespaceCount(): number;
  /** Whether namespace `lmid` still holds objects. */
  namespaceAlive(lmid: bigint): boolean;
  /** gnu_get_libc_version(). */
  glibcVersion(): string;
  // ELF reader and calls add their exports here (see elf.ts, func.ts).
  [key: string]: unknown;
}

function load(): Addon {
  const dir = process.env.DLSWAP_ADDON_DIR;
  if (dir) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.resolve(dir, 'dlswap.node')) as Addon;
  }
  return nodeGypBuild(packageRoot) as Addon;
}

export const addon: Addon = load();

/** Directory of the loaded addon binary: the namespace runtime is built beside it. */
export function addonDir(): string {
  if (process.env.DLSWAP_ADDON_DIR) return path.resolve(process.env.DLSWAP_ADDON_DIR);
  return path.dirname((nodeGypBuild as unknown as { resolve(dir: string): string }).resolve(packageRoot));
}
