/**
 * The compiled addon, found by node-gyp-build: a build from source (build/Release) if there is one,
 * else the prebuild for this machine (prebuilds/linux-<arch>/, made by scripts/prebuilds.mjs).
 * DLSWAP_ADDON_DIR points it at another build tree (the ASan build uses `build-asan`). A binary that
 * is missing or does not load is a coded error that says what to do (lib/platform.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DependencyInfo } from './load/dependencies';
import type { ElfInfo } from './elf/elf';
import type { ElfSummary } from './load/library';
import type { MappedImage } from './load/mapped_images';
import type { RegistryRuleWire } from './load/registries';
import type { AnyFunction } from './signature/prototype_types';
import nodeGypBuild = require('node-gyp-build');
import { debug } from './debug';
import type { DlswapError } from './errors';
import { addonLoadError, checkPlatform, damagedPrebuildError, packageRoot, prebuildDamage } from './platform';

export { packageRoot };

/** Numeric isolation codes shared with native/image/library_handle.h (test/package/wire_constants.test.ts). */
export enum IsolationCode {
  Local = 0,
  DeepBind = 1,
  Namespace = 2,
  FreshNamespace = 3,
}

export interface NativeLibraryInfo {
  /** The private copy's path (it was removed once mapped). */
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
  /** While a handover moves state: sync calls are refused as busy (true), or served again (false). */
  gate(on: boolean): void;
  errno(): number;
}

/** What lib/ asks the loader to do (native/loader/load_job.h LoadSpec). */
export interface LoadSpec {
  path: string;
  /** Where the private area is made (opened on the first load, after the source). */
  tempBase: string;
  /** The current directory, read on the JS thread: what a relative path resolves against (lib/load/process_state.ts). */
  cwd: string;
  /** The namespace modes: the environment the namespace's libc is given, read on the JS thread (frozen: the same array again is not parsed again). */
  environment?: readonly string[];
  /** DLSWAP_KEEP_COPIES: from this load on, no copy is removed (at unload, at exit, by a sweep). */
  keepCopies: boolean;
  isolation: IsolationCode;
  sha256?: string;
  /** The copy's digest is read (a pin, info.sha256 at once): taken while copying. False: only if the copy is rewritten (else lib/load/copy_digest.ts). */
  hash?: boolean;
  refuseImports: string[];
  refuseNodeInitFini: boolean;
  refuseNodeInterposition: boolean;
  functions: string[];
  plugin: boolean;
  abiMin: number;
  abiMax: number;
  pluginHost?: bigint;
  /** The PluginHost object: the job keeps its dlswap_host alive while plugin code may run. */
  pluginHostObject?: unknown;
  /** The bound on the library's code a load runs on the loader thread: constructors, version and init calls (0: none). */
  initTimeoutMs?: number;
  /** The bound on what the undo of a failed load runs: dlswap_fini, destructors (0: none). */
  finiTimeoutMs?: number;
  /** Dependencies (needed names, sonames or file names) loaded as they are and shared by every generation. */
  shareDependencies: string[];
  /** Process-wide registries a generation gets its own copy of when it registers in one (lib/load/registries.ts); empty in fresh-namespace. */
  registries: readonly RegistryRuleWire[];
  /** Load even from files another user could replace (the user's `force`). */
  allowReplaceable: boolean;
}

/** One dependency as the loader planned it (native/loader/dependency_plan.h DependencyNode). */
export type NativeDependency = DependencyInfo & {
  /** How many STB_GNU_UNIQUE symbols it defines. */
  uniqueSymbols: number;
  /** Index into LoadResult.deps of its loaded image (private and shared ones), or null. */
  image: number | null;
};

/** What the loader did (native/loader/load_job.h LoadResult). */
export interface LoadResult {
  ok: boolean;
  phase: 'loading' | 'verifying';
  copyMs: number;
  openMs: number;
  verifyMs: number;
  depsMs: number;
  size: number;
  // failure
  code?: string;
  message?: string;
  /** code ERR_DLSWAP_FAULT: the fault a plugin entry point (dlswap_init...) raised; the image is quarantined. */
  fault?: import('./containment').FaultInfo;
  dlerror?: string;
  symbols: string[];
  loaderPath?: string;
  /** The image had been mapped before the failure, and the undo unmapped it (or not). */
  opened?: boolean;
  unloaded?: boolean;
  /** A refusal is about this private dependency of the library, not the library itself. */
  refusedIn?: string;
  /** That dependency is a system library copied per generation because it holds this registry ('' otherwise). */
  refusedInRegistry?: string;
  /**
   * ERR_DLSWAP_EXIT_DURING_LOAD: library code of the load tried to end the process. `call` is what it
   * called ("exit(1)"), `by` the file name of the object whose code called it, `in` the entry it was
   * in ('constructor', 'dlswap_init'...), `image` the file being loaded (the library or a dependency).
   */
  ended?: { call: string; by: string; in: string; image: string };
  // success
  lib?: NativeLibrary;
  deps?: NativeLibrary[];
  /** Made from `details` on first read. */
  dependencies?: NativeDependency[];
  /** Why the generation must stay mapped when retired ('' when it may be unmapped). */
  keepMapped?: string;
  /** Why what it asks about where it lives gets its private copy's answers ('' when it gets its source's). */
  originNote?: string;
  realPath?: string;
  sha256?: string;
  mtimeMs?: number;
  hasVersion?: boolean;
  version?: string;
  initialized?: boolean;
  abi?: number;
  /** The mapped copy's SONAME and build-id: what the Library's info and fault reports name at once. */
  soname?: string | null;
  buildId?: string | null;
  /** A dependency's file was hidden by LD_LIBRARY_PATH (lib/load/dependencies.ts warnShadowed). */
  shadowed?: boolean;
  /** Holds `elf` and `dependencies` until they are read (lib/load/load_details.ts). */
  details?: LoadDetailsHolder;
  /** Made from `details` on first read. */
  elf?: ElfSummary;
}

/** A successful load's ELF summary and dependency plan, kept natively until read (addon.loadDetails). */
export type LoadDetailsHolder = { readonly __loadDetails: unique symbol };

/** What a retirement did (native/loader/load_job.h RetireResult). */
export interface RetireResult {
  ok: boolean;
  code?: string;
  message?: string;
  step?: 'fini' | 'destructors' | 'dlclose' | 'after-dlclose';
  finalized: boolean;
  /** Its ELF destructors were run before dlclose, because only threads it started held it. */
  destructorsRan: boolean;
  /** Why they could not be ('' when they could, or were not tried). */
  destructorsError: string;
  closed: boolean;
  rc: number;
  dlcloseError: string;
  threads: { tid: number; name: string; why: string }[];
  /** Not closed: a library loaded while its handler for these signals was installed may call it. */
  heldSignals: number[];
  /** Kept mapped for good: node's libc's thread-specific data keys whose destructor is in its code (local, deepbind). */
  heldKeys: number[];
  /** Dispositions that pointed into its code, set back before dlclose. */
  restoredSignals: number[];
  /** Locale categories of its namespace it had changed, set back ('LC_NUMERIC'...). */
  restoredLocale: string[];
  /** A thread's alternate signal stack was in its memory, and was disabled. */
  altstackDisabled: boolean;
  stillLoaded: boolean;
  /** Not closed on purpose (keepMapped). */
  keptMapped: boolean;
  /** Per dependency image handed to the retirement: still mapped afterwards. */
  depsMapped: boolean[];
  namespaceFreed: boolean;
  finiMs: number;
  closeMs: number;
  /** Not finalized nor closed: the image is quarantined after a fault (native/signals/fault_record.h). */
  quarantined: boolean;
  /** The fault that dlswap_fini raised (code ERR_DLSWAP_FAULT). */
  fault?: import('./containment').FaultInfo;
}

/** What the handover's state transfer did. */
export interface HandoverResult {
  ok: boolean;
  code?: string;
  message?: string;
  step?: 'export' | 'import';
  /** code ERR_DLSWAP_FAULT: the fault the export or import raised. */
  fault?: import('./containment').FaultInfo;
  bytes: number;
  transferred: boolean;
  ms: number;
}

/** A job on the loader thread. */
export interface LoaderJob<T> {
  promise: Promise<T>;
  id: number;
}

/** A native callable made by makeFunction (the sync or the async entry point). */
export type NativeCallable = (...args: unknown[]) => unknown;

/** libffi's view of a struct: sizes, alignment and members (arrays expanded). */
export interface FfiShape {
  size: number;
  align: number;
  elements: (number | FfiShape)[];
}

/** What makeFunction builds a call from (native/call/make_function.cc). */
export interface NativeFunctionSpec {
  name: string;
  returns: number;
  params: number[];
  names: (string | null)[];
  types: string[];
  variadic: boolean;
  errno: boolean;
  /** Structs by value: the shape of each such parameter (null for the others) and of the result. */
  paramShapes?: (FfiShape | null)[];
  returnShape?: FfiShape;
}

/** What makeCallback builds a trampoline from (native/callback/callbacks_js.cc). */
export interface NativeCallbackSpec {
  key: string;
  returns: number;
  params: number[];
  returnShape?: FfiShape;
  paramShapes?: (FfiShape | null)[];
}

export interface NativeCallbackOptions {
  state: 'live' | 'idle';
  label: string;
  /** How long a call from another thread waits for the JS thread (1 .. 2^31 - 1). */
  timeoutMs: number;
  fallback?: bigint;
  onError?: (error: unknown) => void;
}

/** The numbers the addon shares with lib/ (native/wire.cc); test/package/wire_constants.test.ts compares them. */
export interface NativeWire {
  kinds: Readonly<Record<string, number>>;
  kindCount: number;
  /** What a JS number may carry into each integer kind (native/call/int_ranges.h). */
  intRanges: Readonly<Record<string, { lo: number; hi: number }>>;
  isolation: Readonly<Record<string, number>>;
  maxParams: number;
  maxNamespaces: number;
  /** The bound of a plugin's log lines waiting for the JS thread (native/plugin/plugin_host.h). */
  logQueue: { lines: number; bytes: number };
  maxDependencies: number;
}

/** The native dlswap_host of one generation (native/plugin/plugin_host.h). */
export interface PluginHostHandle {
  readonly address: bigint;
  /** Lines never delivered: over the queue's bound, or logged after the channel closed. */
  readonly dropped: number;
  /** Whether dlswap_init succeeded and dlswap_fini has not run yet (and the host would run it at teardown). */
  readonly finiOwed: boolean;
  /**
   * dlswap_init returned 0: dlswap_fini is owed, by the host if the environment goes first or the host
   * is collected (then on the loader thread, bounded by `finiTimeoutMs`).
   */
  adopt(lib: NativeLibrary, finiTimeoutMs?: number): void;
  /** The retirement takes fini over; whether it was owed. */
  disown(): boolean;
  release(): void;
  /** Settles once every line logged before this call was handed to onLog (at once if none waits). */
  delivered(): Promise<void>;
}

export type PluginHostConstructor = new (
  generation: bigint,
  abi: number,
  userData: bigint,
  /** A line the plugin logged; or, with `dropped`, how many lines were dropped over the queue's bound since the last such call. */
  onLog: (level: number, message: string, dropped?: number) => void,
) => PluginHostHandle;

/**
 * Everything the addon exports (native/addon.cc registers them all), the one place lib/ types them.
 * ADDON_EXPORTS below lists the same keys at run time, so that a test can hold the addon to it.
 */
export interface Addon {
  WIRE: NativeWire;
  NativeLibrary: unknown;
  PluginHost: PluginHostConstructor;
  /** include/dlswap.h DLSWAP_ABI_VERSION, the plugin ABI this build speaks. */
  PLUGIN_ABI_VERSION: number;
  loadSync(spec: LoadSpec): LoadResult;
  loadAsync(spec: LoadSpec): LoaderJob<LoadResult>;
  /** Marks the image closed (no call can start), then runs the retirement. */
  retireSync(lib: NativeLibrary, deps: NativeLibrary[], runFini: boolean, finiTimeoutMs?: number, host?: unknown, keepMapped?: boolean): RetireResult;
  retireAsync(
    lib: NativeLibrary,
    deps: NativeLibrary[],
    runFini: boolean,
    finiTimeoutMs?: number,
    host?: unknown,
    keepMapped?: boolean,
  ): LoaderJob<RetireResult>;
  /** The handover's state transfer: old generation's export into the new one's import. */
  handoverSync(
    from: NativeLibrary,
    to: NativeLibrary,
    path: string,
    exportTimeoutMs: number,
    importTimeoutMs: number,
    fromHost?: unknown,
    toHost?: unknown,
  ): HandoverResult;
  handoverAsync(
    from: NativeLibrary,
    to: NativeLibrary,
    path: string,
    exportTimeoutMs: number,
    importTimeoutMs: number,
    fromHost?: unknown,
    toHost?: unknown,
  ): LoaderJob<HandoverResult>;
  /** Gives a loader job up (its thread, if it is running, is never reused). */
  abandonJob(id: number): boolean;
  /** Loader threads given up that are still running their job. */
  abandonedLoaderThreads(): number;
  /**
   * Images a retirement left mapped because threads held them, looked at again together (one look
   * at the threads for all): one result per entry. Does not keep the event loop alive.
   */
  retireHeldAsync(entries: [lib: NativeLibrary, deps: NativeLibrary[], keepMapped: boolean][], finiTimeoutMs: number): LoaderJob<RetireResult[]>;
  /** What the scans for threads in an image cost so far: calls, threads looked at, threads asked with the signal, threads skipped as not run since the image was loaded. */
  threadScanStats(): { scans: number; threads: number; sampled: number; quiet: number };
  /**
   * Timings of the loader jobs that ended since the last call, recorded only while on (`on` turns them
   * on or off): for bench/reload.mjs's breakdown of a reload. Times are ms of process.hrtime's clock.
   */
  jobTimings(on?: boolean): { kind: string; queuedAt: number; startedAt: number; endedAt: number; steps: [string, number][] }[];
  /** What a successful load's `details` holds, made into objects (lib/load/load_details.ts). */
  loadDetails(holder: LoadDetailsHolder): { elf: ElfSummary; dependencies: NativeDependency[] };
  /** Opens (creating) the private area under `base`; the first success fixes it for the process. */
  privateArea(base: string): { root: string; dir: string };
  privateFiles(): string[];
  sweepStale(): string[];
  /** The copy step alone, for tests: the copy stays in the private directory. */
  copyForTest(path: string): { name: string; path: string; sha256: string; size: number };
  removePrivateFile(name: string): void;
  /** The main thread's 'exit': copies of images unloaded from now on stay, for profilers (private_area.h). */
  processExiting(): void;
  /** Why copies are loaded through /proc/self/fd rather than their real path ('' when they are not). */
  loaderPathNote(): string;
  /** Every image mapped from a copy, and where it came from (native/image/image_origins.h). */
  mappedImages(): MappedImage[];
  /** What a load of `path` would copy, share or leave to the system; loads nothing. */
  planDependencies(
    path: string,
    share: string[],
    followSystem: boolean,
    registries?: readonly RegistryRuleWire[],
  ): { dependencies: NativeDependency[]; truncated: boolean; systemDirs: string[]; keepMapped: string };
  /** The private-copy rename alone, on a file a test made. */
  renameForTest(file: string, renames: Record<string, string>, searchOwnDirectory: boolean): void;
  armFault(point: string, action: 'throw' | 'kill' | 'hang' | 'terminate', skip: number, times: number): void;
  clearFaults(): void;
  /** What the 'terminate' fault does in this environment when a loader job reaches it. */
  setTerminator(fn: () => void): void;
  armedFaults(): string[];
  /** A point reached on the JS thread: what to do here ('' for nothing); kill and hang act natively. */
  hitFault(point: string): '' | 'throw' | 'terminate';
  /** For the tests: the run of mappings of the file at `address`, as the ioctl (or the text) says. */
  mappingRun(address: bigint, source: 'best' | 'text'): { queried: boolean; run: { start: bigint; end: bigint; exec: boolean; file: string }[] };
  /** Where libdlswap_runtime.so is: the first object of every namespace dlswap makes. */
  configureRuntime(runtimePath: string): void;
  /** Creates the long-lived anchor namespace (runtime first) once; returns its lmid. */
  anchorNamespace(): bigint;
  /** What the runtime of namespace `lmid` tracks: live keys and threads created through it. */
  runtimeStats(lmid: bigint): { keys: number; threads: number };
  /** Live namespaces created by fresh-namespace opens (the anchor's not counted). */
  freshNamespaceCount(): number;
  /** Namespaces dlswap made in this process (the anchor included, freed or not), and the static TLS each new one's libc takes. */
  namespacesCreated(): { created: number; libcStaticTls: number };
  /** Whether namespace `lmid` still holds objects. */
  namespaceAlive(lmid: bigint): boolean;
  /** What the namespace runtime did on libraries' behalf since the last call (lib/load/runtime_notes.ts). */
  takeRuntimeNotes(): { notes: string[]; dropped: number };
  /** Images kept mapped because library code of their load tried to end the process. */
  interruptedImages(): number;
  /** How many namespaces this process can still create, by creating them: only ever in a throwaway child. */
  probeNamespaces(path: string, max: number): { opened: number; error: string | null };

  readElf(path: string): ElfInfo;
  readElfBytes(bytes: Uint8Array, name: string): ElfInfo;

  /** The sync and the async entry point of one C function. */
  makeFunction(lib: NativeLibrary, address: bigint, spec: NativeFunctionSpec): [NativeCallable, NativeCallable];
  rebindFunction(fn: NativeCallable, lib: NativeLibrary, address: bigint): void;
  functionAddress(fn: NativeCallable): bigint;
  /** The id of the cached call shape for these variadic argument kinds. */
  prepareVariadic(fn: NativeCallable, kinds: number[]): number;

  addressOf(buffer: ArrayBuffer | ArrayBufferView): bigint;
  copyFromAddress(address: bigint, target: ArrayBuffer | ArrayBufferView, offset: number, length: number): void;
  copyToAddress(address: bigint, source: ArrayBuffer | ArrayBufferView, offset: number, length: number): void;
  readCString(address: bigint, maxBytes?: number): string | null;
  /** Zeroed memory from the library's own allocator (its namespace's libc). */
  allocIn(lib: NativeLibrary, count: number, size: number): bigint;
  /** Gives the whole pages inside [address, address + length) back to the system (their content is lost); the block stays allocated. */
  discardPages(address: bigint, length: number): void;

  makeCallback(target: object, spec: NativeCallbackSpec, fn: AnyFunction, options: NativeCallbackOptions): bigint;
  setCallbackState(target: object, state: 0 | 1 | 2): void;
  releaseCallback(target: object): number;
  callbackInfo(target: object): { address: bigint; state: string; running: number; refused: number; timedOut: number; deadlocked: number };
  callbackStats(): { slots: number; live: number; refused: number; timedOut: number; deadlocked: number };
  /** This environment's JS thread is exiting (the whole process, on the main thread): every call waiting for it gets its fallback now. */
  releaseCallbacksAtExit(processExits: boolean): void;
  /** process.exit(code), before node joins its thread pool: waits at most 2 s for dlswap's `.async` calls in library code, then ends the process with `code` (native/common/pool_exit.cc). */
  endStuckPoolCallsAtExit(code: number): void;

  /** Makes `target` the handle of `address`, a pointer the image of `lib` made (native/call/handle_args.cc). */
  tagHandle(target: object, lib: NativeLibrary, address: bigint): void;
  /** A handle that is not live is refused by every call; returns whether it was live. */
  setHandleLive(target: object, live: boolean): boolean;

  /** What fault reports call this image; returns the id the fault listener names it by (native/signals/fault_js.cc). */
  describeLibrary(lib: NativeLibrary, path: string, generation: number, buildId: string | null, label?: string): bigint;
  /** This environment's listener of contained faults: (the ERR_DLSWAP_FAULT error, the image's id). */
  setFaultListener(fn: (error: Error, library: bigint) => void): void;
  /** The first fault of a quarantined image, or null. */
  libraryFault(lib: NativeLibrary): (import('./containment').FaultInfo & { message: string }) | null;
  /** Whether dlswap's fault handler is each signal's disposition now. */
  faultHandlers(): { installed: Record<string, boolean> };
}

/** The keys of Addon at run time: test/package/addon_exports.test.ts checks the addon exports exactly these. */
export const ADDON_EXPORTS = [
  'WIRE',
  'NativeLibrary',
  'PluginHost',
  'PLUGIN_ABI_VERSION',
  'loadSync',
  'loadAsync',
  'retireSync',
  'retireAsync',
  'handoverSync',
  'handoverAsync',
  'abandonJob',
  'abandonedLoaderThreads',
  'retireHeldAsync',
  'threadScanStats',
  'jobTimings',
  'loadDetails',
  'privateArea',
  'privateFiles',
  'sweepStale',
  'copyForTest',
  'removePrivateFile',
  'processExiting',
  'loaderPathNote',
  'mappedImages',
  'planDependencies',
  'renameForTest',
  'armFault',
  'clearFaults',
  'setTerminator',
  'armedFaults',
  'hitFault',
  'mappingRun',
  'configureRuntime',
  'anchorNamespace',
  'runtimeStats',
  'freshNamespaceCount',
  'namespacesCreated',
  'namespaceAlive',
  'takeRuntimeNotes',
  'interruptedImages',
  'probeNamespaces',
  'readElf',
  'readElfBytes',
  'makeFunction',
  'rebindFunction',
  'functionAddress',
  'prepareVariadic',
  'addressOf',
  'copyFromAddress',
  'copyToAddress',
  'readCString',
  'allocIn',
  'discardPages',
  'makeCallback',
  'setCallbackState',
  'releaseCallback',
  'callbackInfo',
  'callbackStats',
  'releaseCallbacksAtExit',
  'endStuckPoolCallsAtExit',
  'tagHandle',
  'setHandleLive',
  'describeLibrary',
  'setFaultListener',
  'libraryFault',
  'faultHandlers',
] as const satisfies readonly (keyof Addon)[];

// A key declared in Addon but missing from ADDON_EXPORTS fails to compile here.
const everyKeyListed: [Exclude<keyof Addon, (typeof ADDON_EXPORTS)[number]>] extends [never] ? true : never = true;
void everyKeyListed;

/** The prebuild for this machine, where scripts/prebuilds.mjs puts it. */
function prebuildFile(): string {
  return path.join(packageRoot, 'prebuilds', `linux-${process.arch}`, 'node.napi.glibc.node');
}

/**
 * The addon binaries to try, best first: DLSWAP_ADDON_DIR's alone when set; else what node-gyp-build
 * finds (a build from source, then the prebuild), then the prebuild if that was not it, so that a
 * build from source that no longer loads (node_modules copied from another machine) falls back to
 * a prebuild that does.
 */
function addonCandidates(): string[] {
  const dir = process.env.DLSWAP_ADDON_DIR;
  if (dir) return [path.resolve(dir, 'dlswap.node')];
  const first = (nodeGypBuild as unknown as { resolve(dir: string): string }).resolve(packageRoot);
  const prebuild = prebuildFile();
  return first !== prebuild && fs.existsSync(prebuild) ? [first, prebuild] : [first];
}

let loadedFile: string | undefined;

/** Loads `file`, refusing a damaged prebuild before it is mapped. */
function loadFile(file: string): Addon {
  const damage = prebuildDamage(path.dirname(file), false);
  if (damage !== null) throw damagedPrebuildError(damage);
  try {
    return require(file) as Addon;
  } catch (e) {
    throw addonLoadError(e, file);
  }
}

function load(): Addon {
  checkPlatform();
  let candidates: string[];
  try {
    candidates = addonCandidates();
  } catch (e) {
    throw addonLoadError(e, undefined);
  }
  const failures: DlswapError[] = [];
  for (const file of candidates) {
    try {
      const loaded = loadFile(file);
      loadedFile = file;
      if (failures.length) debug('addon: %s does not load (%s); using %s', candidates[0], failures[0].message, file);
      return loaded;
    } catch (e) {
      failures.push(e as DlswapError);
    }
  }
  throw failures[0];
}

export const addon: Addon = load();

/** The addon binary that was loaded: a build from source, or the prebuild for this machine. */
export function addonFile(): string {
  return loadedFile!;
}

/** Directory of the loaded addon binary: the namespace runtime is built beside it. */
export function addonDir(): string {
  return path.dirname(addonFile());
}
