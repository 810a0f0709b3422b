/**
 * The shapes of one loaded library: open()'s options, what it reports about the image, and what
 * close() comes to. lib/load/library.ts re-exports them.
 */
import type { Isolation } from './isolation';
import type { DependencyCloseResult, DependencyInfo } from './dependencies';
import type { TypeDefs } from '../signature/ctypes_types';
import type { TypeRegistry } from '../signature/ctypes';
import type { Library } from './library';
import type { RestoredHooks } from './process_hooks';
import type { FaultInfo } from '../containment';

export interface OpenOptions<D extends TypeDefs = TypeDefs> {
  /** How the library is isolated from node and from other libraries. Default `'namespace'`. */
  isolation?: Isolation;
  /**
   * Open even when dlswap would refuse: in `deepbind` or `local` when the library is known to break
   * there, and from a file another user could replace (the library or a dependency in a directory
   * others can write without the sticky bit; docs/isolation.md, "Files other users can replace").
   */
  force?: boolean;
  /**
   * Dependencies to load as they are and share between generations (DT_NEEDED names, sonames or
   * file names). Every other dependency found outside the system library directories gets a
   * private copy per open: docs/isolation.md, "Private dependencies per generation".
   */
  shareDependencies?: string[];
  /** Refuse the file unless its content has this sha256 (hex). */
  sha256?: string;
  /**
   * `openAsync` only: how long the library's constructors (and its dependencies') may run on the
   * loader thread. Past it the open rejects with ERR_DLSWAP_TIMEOUT; since constructors run inside
   * the dynamic loader, holding its lock, every later load and close is then refused at once with
   * ERR_DLSWAP_LOADER_HUNG until they return. Default 30,000 ms. (`open()` runs them on the calling
   * thread, which nothing can take over: no bound.)
   */
  initTimeoutMs?: number;
  /**
   * How long `close()` lets the library's destructors (run by dlclose, on the loader thread) run.
   * Past it close() resolves `{ unloaded: false }` with the reason, and as for initTimeoutMs every
   * later load and close is refused until they return. Default 10,000 ms.
   */
  finiTimeoutMs?: number;
  /**
   * The structs, unions, enums and typedefs its prototypes name (a registry made by `types()`):
   * `lib.func`, `lib.callback` and `lib.decode` resolve type names in it. docs/types.md.
   */
  types?: TypeRegistry<D>;
}

/** `openAsync(path, options)`: open()'s options, and a signal that aborts the open. */
export interface OpenAsyncOptions<D extends TypeDefs = TypeDefs> extends OpenOptions<D> {
  /**
   * Aborts the open: openAsync() rejects at once with ERR_DLSWAP_ABORTED (its `cause` the signal's
   * reason). Aborted before the call, nothing is loaded; aborted while the load runs on the loader
   * thread (which is never interrupted half-way), the library is closed and its copy removed as
   * soon as the load returns. docs/conventions.md#abortsignal.
   */
  signal?: AbortSignal;
}

// The default of teardownTimeoutMs lives in lib/options.ts (LIBRARY_CLOSE_DEFAULTS), with its check.

/** `lib.close(options)`. */
export interface LibraryCloseOptions<D extends TypeDefs = TypeDefs> {
  /**
   * Runs once the library's async calls have returned and before dlswap closes it, while it still
   * takes calls: where the library's own cleanup goes when nothing else stops its threads (a
   * thread pool only its ELF destructor would stop). docs/isolation.md, "Threads and unloading".
   */
  teardown?: (lib: Library<D>) => void | Promise<void>;
  /** How long `teardown` may take to settle, in ms. Default 10,000. */
  teardownTimeoutMs?: number;
}

/** What the loader reports of the ELF it mapped: what close() needs to explain a pinned image. */
export interface ElfSummary {
  soname: string | null;
  needed: string[];
  rpath: string | null;
  runpath: string | null;
  buildId: string | null;
  nodelete: boolean;
  uniqueSymbols: string[];
  threadLocalDestructors: boolean;
}

export interface LibraryInfo {
  /** The path given to open. */
  path: string;
  /** realpath of the source file. */
  realPath: string;
  /**
   * The file the dynamic loader mapped: the private copy, which stays as long as it is mapped
   * (debuggers and profilers read it: docs/debugging.md).
   */
  mappedPath: string;
  /** Link-map namespace id: 0 for the base namespace (local, deepbind). */
  lmid: number;
  isolation: Isolation;
  /** GNU build-id, hex, or null when the library has none. */
  buildId: string | null;
  /** Size in bytes of the file that was loaded. */
  size: number;
  /**
   * sha256 of the bytes that were loaded, hex. A HotLibrary generation that nothing read it of at
   * load (no pin, watch or hook) has it taken from its mapped copy on first read (docs/isolation.md).
   */
  sha256: string;
  soname: string | null;
  /**
   * What it needs, found as the dynamic loader would find it: private copies (with their new names),
   * shared and system libraries, and the file each was bound to.
   */
  dependencies: readonly DependencyInfo[];
}

/** A thread that keeps an image mapped (see docs/isolation.md, "Threads and unloading"). */
export interface HoldingThread {
  tid: number;
  /** The thread's name (/proc comm). */
  name: string;
  /** 'started by libx.so' (a thread the library started through dlswap's namespace runtime) or 'running its code'. */
  why: string;
}

export interface CloseResult {
  /** True when the image is gone from the process (no RTLD_NOLOAD hit, no mapping left). */
  unloaded: boolean;
  /** Why it is still mapped, when `unloaded` is false. */
  reason?: string;
  /** fresh-namespace only: whether glibc freed the namespace itself. */
  namespaceFreed?: boolean;
  /** Per private or shared dependency image of this open: unmapped, or why not. */
  dependencies?: DependencyCloseResult[];
  /**
   * Set when threads kept the image mapped: dlclose was not called, because unmapping code a thread
   * runs or will return to crashes the process. dlswap looks again, with backoff, and closes the
   * image once they are gone.
   */
  threads?: HoldingThread[];
  /**
   * With `threads` (or a hold by signal handlers): settles with the final result once the image was
   * closed after they let it go.
   */
  unmapped?: Promise<CloseResult>;
  /**
   * Process-wide hooks it left pointing into itself, undone before it was unmapped (docs/isolation.md,
   * "Process-wide hooks"); also announced once per library as a `DLSWAP_PROCESS_HOOKS` warning.
   */
  restored?: RestoredHooks;
  /**
   * Set when a call faulted (docs/faults.md): the image is quarantined, so it was neither finalized
   * nor unmapped (its locks and memory may be inconsistent), and `reason` names the first fault.
   */
  quarantined?: boolean;
  /** With `quarantined`: the first fault. */
  fault?: FaultInfo;
}
