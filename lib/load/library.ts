/**
 * `open(path, options)`, `openAsync(path, options)` and `Library`: one loaded image of a native
 * library, in one isolation mode.
 *
 * The pipeline itself is native (native/loader/load_job.h): open the source without blocking, copy
 * and hash it into the private area, read the copy's ELF headers (not the source's, which could
 * change under us), check them against the host and the mode, and only then hand the copy to the
 * dynamic loader. Every failure path undoes what it made; a successful open removes the copy right
 * after the mapping exists. `openAsync` runs it on dlswap's loader thread, `open` on this one. What
 * is checked is decided here; what a failure means to the user, in lib/load/load_failure.ts; why a closed
 * image stays mapped, in lib/load/close_reasons.ts.
 */
import path from 'node:path';
import { DlswapError, asDlswapError } from '../errors';
import { deepbindUnsafeSymbols } from '../elf/node_symbols';
import { isolationCode, preloadedRuntime, type Isolation } from './isolation';
import { addon, addonDir, type LoadResult, type LoadSpec, type NativeDependency, type NativeLibrary, type RetireResult } from '../native';
import { dependencyCloseResults, dependencyInfos, warnShadowed, type DependencyInfo } from './dependencies';
import { withLoadDetails } from './load_details';
import { baseForLoad, notePrivateAreaOpen } from './temp_area';
import { currentDirectory, environmentEntries } from './process_state';
import { keepCopiesRequested, warnOriginNote, watchProcessExit } from './mapped_images';
import {
  checkFunctionTable,
  checkPath,
  checkSymbolName,
  resolveLibraryCloseOptions,
  resolveOpenAsyncOptions,
  resolveOpenOptions,
  type ResolvedLibraryCloseOptions,
  type ResolvedOpenOptions,
} from '../options';
import { rtldTunables } from './tunables';
import { registryRules } from './registries';
import { loadFailure } from './load_failure';
import { holdersReason, keyHoldReason, pinReason } from './close_reasons';
import { runTeardown, teardownPinReason, type TeardownFailure } from './teardown';
import { restoredHooks, signalHoldReason, warnRestored } from './process_hooks';
import { liveNamespaces, noteAnchor } from './namespace_budget';
import type { CloseResult, ElfSummary, HoldingThread, LibraryCloseOptions, LibraryInfo, OpenAsyncOptions, OpenOptions } from './library_types';
import { abortedError, raceAbort } from '../abort';
import { resolveLibrary } from './search';
import { lazyCopyDigest } from './copy_digest';
import { watchHeldImage } from './pinned_images';
import { debug } from '../debug';
import { traceRuntimeNotes } from './runtime_notes';
import { MAX_CREATED_NAMESPACES } from '../wire';
import { describeImage, forgetImage, imageFault, type FaultError, type FaultInfo } from '../containment';

import { bindSignature, func as makeFunc, type BoundFunction, type BoundFunctions, type ErrnoFunction, type FuncOptions, type Prototype } from '../call/func';
import type { AnyFunction, CheckedPrototype, CheckFunctions, FunctionOf, FunctionOfObject } from '../signature/prototype_types';
import type { AnyCallback, CallbackOf, Decoded, Encodable, TypeDefs } from '../signature/ctypes_types';
import type { SignatureObject } from '../signature/signature';
// Types beyond scalars, callbacks and typed memory (docs/types.md, docs/callbacks.md).
import { attachTypes, typesOf, type TypeRegistry } from '../signature/ctypes';
import { callbackSignatureOf, makeRegisteredCallback, ownedCallbacks, releaseOwnedCallbacks, type Callback, type CallbackOptions } from '../call/callbacks';
import { allocIn, Allocations, decodeValue, encodeValue, type MemorySource } from '../call/memory';

export { rtldTunables };
export { namespaceBudget } from './namespace_budget';
export type { NamespaceBudget } from './namespace_budget';
export type { OpenOptions, OpenAsyncOptions, ElfSummary, LibraryInfo, HoldingThread, CloseResult, LibraryCloseOptions } from './library_types';

let runtimeConfigured = false;
/** Tells the addon where the namespace runtime is (beside it), once, before the first load. */
function configureRuntime(): void {
  if (runtimeConfigured) return;
  addon.configureRuntime(path.join(addonDir(), 'libdlswap_runtime.so'));
  runtimeConfigured = true;
}

/** What the loader needs for a plugin generation (HotLibrary). */
export interface PluginLoad {
  /** Names that must all resolve, or the load fails in 'verifying'. */
  functions: string[];
  abiMin: number;
  abiMax: number;
  /** Address of the dlswap_host handed to dlswap_init. */
  host: bigint;
  /** The PluginHost itself: the loader keeps it alive while plugin code may run. */
  hostObject?: unknown;
  /** dlswap_init's bound on the loader thread (0 or absent: none). */
  initTimeoutMs?: number;
  /**
   * Whether anything reads the digest of the copy (a pin, the watcher, a hook that sees the Library):
   * false leaves `info.sha256` to be taken on first read (lib/load/copy_digest.ts). Default true.
   */
  hash?: boolean;
}

/**
 * Checks what the options (already resolved: lib/options.ts) say against this process, and builds
 * the loader's spec. Throws ERR_DLSWAP_MODE_UNSUPPORTED / _NAMESPACE_EXHAUSTED before anything is
 * copied.
 */
function loadSpec(file: string, options: ResolvedOpenOptions, plugin?: PluginLoad): { spec: LoadSpec; mode: Isolation } {
  const mode = options.isolation;
  if (mode === 'deepbind' && preloadedRuntime()) {
    throw new DlswapError(
      'ERR_DLSWAP_MODE_UNSUPPORTED',
      "isolation 'deepbind' does not work under AddressSanitizer or an LD_PRELOADed allocator; use 'namespace'.",
    );
  }
  if (mode === 'fresh-namespace') {
    const live = liveNamespaces();
    if (live >= MAX_CREATED_NAMESPACES) {
      throw new DlswapError(
        'ERR_DLSWAP_NAMESPACE_EXHAUSTED',
        `cannot open ${file} in a new namespace: ${live} namespaces are in use and glibc allows ${MAX_CREATED_NAMESPACES} besides the base one. Close libraries opened with 'fresh-namespace', or use isolation 'namespace'.`,
      );
    }
  }
  configureRuntime();
  watchProcessExit();
  const spec: LoadSpec = {
    path: resolveLibrary(file), // a bare soname is searched for, as dlopen does (lib/load/search.ts)
    tempBase: baseForLoad(),
    // What the loader thread needs of process-wide state, read here (lib/load/process_state.ts).
    cwd: currentDirectory(),
    environment: mode === 'namespace' || mode === 'fresh-namespace' ? environmentEntries() : undefined,
    keepCopies: keepCopiesRequested(),
    isolation: isolationCode(mode),
    sha256: options.sha256,
    hash: plugin?.hash ?? true,
    // deepbind: node's copy-relocated state that a library would bind to its own, never-initialised
    // copy of (std::cerr...). local: constructors and destructors that would run node's code.
    refuseImports: mode === 'deepbind' && !options.force ? deepbindUnsafeSymbols() : [],
    refuseNodeInitFini: mode === 'local' && !options.force,
    // local: the library's own calls that node's exports would take over.
    refuseNodeInterposition: mode === 'local' && !options.force,
    functions: plugin?.functions ?? [],
    plugin: plugin !== undefined,
    abiMin: plugin?.abiMin ?? 0,
    abiMax: plugin?.abiMax ?? 0,
    pluginHost: plugin?.host,
    pluginHostObject: plugin?.hostObject,
    // Bounds on the loader thread only (a synchronous load runs on this thread: nothing can bound it).
    initTimeoutMs: plugin?.initTimeoutMs ?? options.initTimeoutMs,
    finiTimeoutMs: options.finiTimeoutMs,
    shareDependencies: [...options.shareDependencies],
    // Where generations share system libraries, a registry they register in is copied per generation
    // (lib/load/registries.ts); a fresh namespace loads every dependency anew anyway.
    registries: mode === 'fresh-namespace' ? [] : registryRules(),
    // A file another user could replace (a directory others can write, not sticky): refused unless forced.
    allowReplaceable: options.force,
  };
  return { spec, mode };
}

/**
 * @internal The Library of a successful load, with the type registry its prototypes resolve names
 * in; `generation`: its HotLibrary generation, what fault reports call it (0: a plain library).
 */
export function libraryFromResult<D extends TypeDefs = {}>(
  r: LoadResult,
  file: string,
  mode: Isolation,
  types: TypeRegistry<D> | undefined,
  finiTimeoutMs: number,
  generation = 0,
): Library<D> {
  notePrivateAreaOpen();
  withLoadDetails(r);
  const ninfo = r.lib!.info();
  if (mode === 'namespace') noteAnchor(Number(ninfo.lmid));
  // A load that took no digest (PluginLoad.hash false) leaves it to be taken on first read.
  const digest = r.sha256 ? () => r.sha256! : lazyCopyDigest(ninfo.mappedPath, file);
  // The plan is made into objects on first read (lib/load/load_details.ts), and frozen then.
  let dependencies: readonly DependencyInfo[] | undefined;
  const info: LibraryInfo = Object.freeze({
    path: file,
    realPath: r.realPath!,
    mappedPath: ninfo.mappedPath,
    lmid: Number(ninfo.lmid),
    isolation: mode,
    buildId: r.buildId ?? null,
    size: r.size,
    get sha256() {
      return digest();
    },
    soname: r.soname ?? null,
    get dependencies() {
      dependencies ??= Object.freeze(dependencyInfos(r.dependencies!));
      return dependencies;
    },
  });
  if (r.shadowed) warnShadowed(file, info.dependencies);
  warnOriginNote(r.originNote);
  const lib = new Library<D>(r.lib!, info, r, r.deps!, r.keepMapped ?? '', finiTimeoutMs, generation);
  attachTypes(lib, types as TypeRegistry<TypeDefs> | undefined);
  return lib;
}

/** NODE_DEBUG=dlswap: the phases of one load, or where it failed. */
function traceLoad(file: string, r: LoadResult): void {
  traceRuntimeNotes();
  if (!debug.enabled) return;
  if (!r.ok) {
    debug('open %s: failed while %s: %s %s', file, r.phase, r.code, r.message ?? r.dlerror ?? '');
    return;
  }
  debug('open %s: copied %d bytes in %s ms, opened in %s ms, verified in %s ms', file, r.size, r.copyMs.toFixed(2), r.openMs.toFixed(2), r.verifyMs.toFixed(2));
  const why = addon.loaderPathNote();
  debug('open %s: mapped from %s%s', file, r.loaderPath, why ? ` (not its real path, which debuggers could open: ${why})` : '');
}

/** @internal Runs the load pipeline on this thread; throws the coded error of a failure. */
export function loadNow(file: string, options: ResolvedOpenOptions, plugin?: PluginLoad): { result: LoadResult; mode: Isolation } {
  const { spec, mode } = loadSpec(file, options, plugin);
  debug('open %s (%s) on the JS thread', spec.path, mode);
  const result = withLoadDetails(addon.loadSync(spec));
  traceLoad(file, result);
  if (!result.ok) throw Object.assign(loadFailure(result, file, mode), { phase: result.phase, opened: result.opened, unloaded: result.unloaded });
  return { result, mode };
}

/** @internal A load on the loader thread: `promise` settles with the result, `abandon` gives the job up. */
export function loadLater(
  file: string,
  options: ResolvedOpenOptions,
  plugin?: PluginLoad,
): { promise: Promise<{ result: LoadResult; mode: Isolation }>; abandon(): void } {
  const { spec, mode } = loadSpec(file, options, plugin);
  debug('open %s (%s) on the loader thread', spec.path, mode);
  const job = addon.loadAsync(spec);
  return {
    promise: job.promise.then((answer) => {
      const result = withLoadDetails(answer);
      traceLoad(file, result);
      if (!result.ok) throw Object.assign(loadFailure(result, file, mode), { phase: result.phase, opened: result.opened, unloaded: result.unloaded });
      return { result, mode };
    }),
    abandon: () => void addon.abandonJob(job.id),
  };
}

/**
 * @internal Undoes a successful load that nothing adopted (a plain library: no plugin init ran),
 * on the loader thread (`async`) or this one: the image is closed and its copy is gone.
 */
export function undoLoad(r: LoadResult, async: boolean): Promise<unknown> | undefined {
  const keepMapped = (r.keepMapped ?? '') !== '';
  if (async) return addon.retireAsync(r.lib!, r.deps!, false, 0, undefined, keepMapped).promise;
  addon.retireSync(r.lib!, r.deps!, false, 0, undefined, keepMapped);
}

function adoptionError(e: unknown, file: string): DlswapError {
  return asDlswapError(e, 'ERR_DLSWAP_INTERNAL', `${file} was loaded, but could not be made a Library (it was closed again)`);
}

/** Opens a library on this thread. Throws a `DlswapError` with a stable code on any bad input. */
export function open<D extends TypeDefs = {}>(file: string, options: OpenOptions<D> = {}): Library<D> {
  file = checkPath(file, 'open(path, options)');
  const o = resolveOpenOptions(options); // every option checked before anything is copied
  const { result, mode } = loadNow(file, o);
  try {
    return libraryFromResult(result, file, mode, o.types as TypeRegistry<D> | undefined, o.finiTimeoutMs);
  } catch (e) {
    undoLoad(result, false);
    throw adoptionError(e, file);
  }
}

/**
 * Opens a library on dlswap's loader thread: the copy, the checks, the dynamic loader and the
 * library's constructors all run there, and the event loop keeps going. Resolves to the same
 * `Library` as `open()`; rejects with the same coded errors.
 *
 * `signal` aborts it: rejected at once with ERR_DLSWAP_ABORTED. Aborted before the call, nothing is
 * loaded. Aborted while the load runs, the load goes on (the loader thread is never interrupted
 * inside the dynamic loader) and is undone as soon as it returns: closed, its copy removed.
 */
export async function openAsync<D extends TypeDefs = {}>(file: string, options: OpenAsyncOptions<D> = {}): Promise<Library<D>> {
  file = checkPath(file, 'openAsync(path, options)');
  const o = resolveOpenAsyncOptions(options);
  const signal = o.signal;
  if (signal?.aborted) throw abortedError(signal, `openAsync(${file}) was aborted before it started; nothing was loaded`);
  const loading = loadLater(file, o).promise;
  const { result, mode } = await raceAbort(
    loading,
    signal,
    () => abortedError(signal!, `openAsync(${file}) was aborted; the library being loaded is closed as soon as its load returns`),
    // Loaded for nobody: closed on the loader thread (a failure to close is only worth a trace).
    ({ result: late }) =>
      void Promise.resolve(undoLoad(late, true)).catch((e) => debug('openAsync %s: closing the library loaded after the abort failed: %s', file, e)),
  );
  try {
    return libraryFromResult(result, file, mode, o.types as TypeRegistry<D> | undefined, o.finiTimeoutMs);
  } catch (e) {
    await undoLoad(result, true);
    throw adoptionError(e, file);
  }
}

export class Library<D extends TypeDefs = {}> {
  readonly info: LibraryInfo;
  /** @internal */ readonly native: NativeLibrary;
  /** The load's answer: its ELF summary and dependency plan, made on first read (lib/load/load_details.ts). */
  readonly #loaded: Pick<LoadResult, 'elf' | 'dependencies'>;
  readonly #deps: NativeLibrary[];
  /** Why a retirement must leave it mapped ('' when it may be unmapped). */
  #keepMapped: string;
  /** close()'s teardown hook is running: the library still takes calls (the hook's). */
  #tearingDown = false;
  /** The bound on its destructors when close() (or a later look at a pinned image) unloads it. */
  readonly #finiTimeoutMs: number;
  // "Closed" has three records, each with its own role. This one (`closed`): close() was called, so
  // new calls are refused while the ones in flight finish. The native handle's `closed` flag: no call
  // may start (set when the retirement job starts, or by a handover's gate). A hot generation's state
  // 'closed': its retirement has finished.
  #closing: Promise<CloseResult> | null = null;
  // The drain scheduler's count: async calls whose promise has not settled, what close() and a hot
  // generation's drain wait for (whenIdle), and the `inFlight` users see. The native `in_flight`
  // count is the dlclose interlock: a native close or retirement refuses while it is above zero. It
  // falls first (at the native completion, before this promise settles), so it is never read here.
  #unsettledAsync = 0;
  #idle: (() => void)[] = [];
  /** Its id for the fault listener (lib/containment.ts), and who hears of a fault in its calls. */
  readonly #faultId: bigint;
  #faultListener: ((error: FaultError) => void) | null = null;
  /** What fault reports call it: its HotLibrary generation, or 0. */
  #generation: number;

  /** @internal use open() */
  constructor(
    native: NativeLibrary,
    info: LibraryInfo,
    loaded: Pick<LoadResult, 'elf' | 'dependencies'>,
    deps: NativeLibrary[],
    keepMapped: string,
    finiTimeoutMs: number,
    generation = 0,
  ) {
    this.native = native;
    this.info = info;
    this.#loaded = loaded;
    this.#deps = deps;
    this.#keepMapped = keepMapped;
    this.#finiTimeoutMs = finiTimeoutMs;
    this.#generation = generation;
    this.#faultId = describeImage(native, info.path, generation, info.buildId, undefined, { owner: this, onFault: Library.#hearFault });
    this.#describeDependencies(generation);
  }

  /** @internal What the loader read of the mapped copy's ELF (what close() explains a pinned image with). */
  get elf(): ElfSummary {
    return this.#loaded.elf!;
  }

  get #plan(): NativeDependency[] {
    return this.#loaded.dependencies!;
  }

  // Static, so that the fault listener's registry does not keep this library alive (lib/containment.ts).
  static #hearFault(lib: Library<TypeDefs>, error: FaultError): void {
    lib.#faultListener?.(error);
  }

  /** Fault reports name a dependency dlswap loaded by its DT_NEEDED name and the library it serves. */
  #describeDependencies(generation: number): void {
    this.#deps.forEach((d, i) => {
      const name = this.#plan.find((p) => p.image === i)?.name ?? 'a dependency';
      describeImage(d, this.info.path, generation, null, `${name} (a dependency of ${this.info.path})`);
    });
  }

  /**
   * @internal What fault reports call this library (its HotLibrary generation), and who hears of a
   * fault in one of its calls, before the caller gets the error (lib/hot/fault_policy.ts).
   */
  describeGeneration(generation: number, onFault: ((error: FaultError) => void) | null): void {
    this.#faultListener = onFault;
    if (generation === this.#generation) return; // described so when it was made
    this.#generation = generation;
    describeImage(this.native, this.info.path, generation, this.info.buildId);
    this.#describeDependencies(generation);
  }

  /**
   * The first fault contained in one of its calls, or null. Once set, the library is quarantined:
   * every call is refused with ERR_DLSWAP_FAULTED and it is never unmapped (docs/faults.md).
   */
  get fault(): (FaultInfo & { message: string }) | null {
    return imageFault(this.native);
  }

  /** True once close() has been called (and its teardown hook, if any, has returned). */
  get closed(): boolean {
    return this.#closing !== null && !this.#tearingDown;
  }

  #requireOpen(): void {
    if (this.closed) {
      throw new DlswapError('ERR_DLSWAP_CLOSED', `${this.info.path} is closed; open it again to use it.`);
    }
  }

  /** Address of an exported symbol. */
  symbol(name: string): bigint {
    this.#requireOpen();
    checkSymbolName(name, 'symbol(name): name');
    const addr = this.native.symbol(name);
    if (addr === undefined) {
      throw new DlswapError(
        'ERR_DLSWAP_SYMBOL_NOT_FOUND',
        `symbol '${name}' not found in ${this.info.path}. Check the name (C++ names are mangled unless declared extern "C") and that it is exported.`,
      );
    }
    return addr;
  }

  /**
   * Frees memory the library allocated (lib.alloc, or its own malloc), with the allocator of the
   * library's own namespace. A lib.alloc block freed twice, or an address inside one, is refused
   * (ERR_DLSWAP_FREED, ERR_DLSWAP_ARG) rather than abort the process in glibc: see Allocations.
   */
  free(ptr: bigint | null): void {
    this.#requireOpen();
    if (ptr === null || ptr === 0n) return;
    if (typeof ptr !== 'bigint') throw new DlswapError('ERR_DLSWAP_ARG', 'free(ptr): ptr must be a bigint address');
    this.#allocations.free(ptr, (p) => this.native.free(p));
  }

  /** Gives the lib.alloc blocks lib.free held back to the allocator, while the image is still mapped. */
  #releaseHeld(): void {
    try {
      this.#allocations.release((p) => this.native.free(p));
    } catch {
      // Already closed natively: the namespace's heap, and the blocks with it, are gone.
    }
  }

  // ---- types, callbacks and typed memory (lib/signature/ctypes.ts, lib/call/callbacks.ts, lib/call/memory.ts) ----

  readonly #allocations = new Allocations();

  /** The type registry given to open(), if any. */
  get types(): TypeRegistry<D> | undefined {
    return typesOf(this) as TypeRegistry<D> | undefined;
  }

  /**
   * A callback C can keep: `lib.callback('int (*)(int)', fn)`, or with a typedef name or a prototype
   * as its type. Callable from any thread until `release()` or until this library closes (after its
   * async calls drained). docs/callbacks.md.
   */
  callback<const T extends string>(type: T, fn: CallbackOf<T, D>, options?: CallbackOptions): Callback<CallbackOf<T, D>>;
  callback(type: string, fn: AnyCallback, options?: CallbackOptions): Callback<AnyCallback> {
    this.#requireOpen();
    const registry = typesOf(this);
    const sig = callbackSignatureOf(type, registry?.scope, registry ? (t) => registry.type(t) : undefined);
    return makeRegisteredCallback(sig, fn as AnyFunction, options, ownedCallbacks(this), `of ${path.basename(this.info.path)}`, type);
  }

  /**
   * Zeroed memory from the library's own allocator (its namespace's libc), for `count` values of a C
   * type (`'struct frame'`) or `count` blocks of a size in bytes. Free it with `lib.free`. Decoding
   * and encoding inside it are bounds-checked.
   */
  alloc(typeOrSize: string | number, count?: number): bigint {
    this.#requireOpen();
    return allocIn(this.native, typesOf(this), typeOrSize, count, this.#allocations);
  }

  /** Reads a value of a C type at an address or in a buffer (see docs/types.md). */
  decode<const T extends string>(source: MemorySource, type: T): Decoded<T, D>;
  decode<const T extends string>(source: MemorySource, type: T, count: number): Decoded<T, D>[];
  decode(source: MemorySource, type: string, count?: number): unknown {
    return decodeValue(typesOf(this), source, type, count, this.#allocations);
  }

  /** Writes a value of a C type at an address or into a buffer (see docs/types.md). */
  encode<const T extends string>(target: MemorySource, type: T, value: Encodable<T, D>): void;
  encode(target: MemorySource, type: string, value: unknown): void {
    encodeValue(typesOf(this), target, type, value, this.#allocations);
  }

  /** fflush(NULL) in the library's own libc (its namespace's, in the namespace modes). */
  flush(): void {
    this.#requireOpen();
    this.native.flush();
  }

  /**
   * A JS function that calls the C function named by `prototype` (`'int add(int a, int b)'` or
   * `{ name, returns, args, variadic? }`), typed from the prototype. See docs/calls.md.
   */
  func<const P extends string>(prototype: CheckedPrototype<P, D>, options?: FuncOptions & { errno?: false }): BoundFunction<FunctionOf<P, D>>;
  func<const P extends string>(prototype: CheckedPrototype<P, D>, options: FuncOptions & { errno: true }): ErrnoFunction<FunctionOf<P, D>>;
  func<const O extends SignatureObject>(prototype: O, options?: FuncOptions & { errno?: false }): BoundFunction<FunctionOfObject<O, D>>;
  func<const O extends SignatureObject>(prototype: O, options: FuncOptions & { errno: true }): ErrnoFunction<FunctionOfObject<O, D>>;
  // A prototype whose text is not known at compile time (a `string`, or a Prototype union); a
  // literal with an unknown type name is refused by the first overload and not let through here.
  func<const Q extends Prototype>(
    prototype: string extends Q ? Q : Q extends string ? never : Q,
    options?: FuncOptions,
  ): BoundFunction<AnyFunction> | ErrnoFunction<AnyFunction>;
  func(prototype: Prototype, options?: FuncOptions): BoundFunction<AnyFunction> | ErrnoFunction<AnyFunction> {
    return makeFunc(this, prototype, options);
  }

  /**
   * A table of functions at once: `lib.bind({ add: 'int add(int a, int b)', ... })` returns
   * `{ add, ... }`, each typed from its prototype as `lib.func` types it (`BoundFunctions<F, D>`).
   * Every prototype is parsed before any symbol is looked up; an error names the entry.
   */
  bind<const F extends Record<string, string>>(functions: F & CheckFunctions<F, D>): BoundFunctions<F, D>;
  bind(functions: Record<string, Prototype>): Readonly<Record<string, BoundFunction<AnyFunction>>> {
    this.#requireOpen();
    const table = checkFunctionTable(functions, this.types, 'bind(functions)');
    const out: Record<string, BoundFunction<AnyFunction>> = {};
    for (const [name, sig] of Object.entries(table)) {
      try {
        out[name] = bindSignature(this, sig);
      } catch (e) {
        const err = e as DlswapError;
        throw new DlswapError(err.code ?? 'ERR_DLSWAP_INTERNAL', `bind(functions): functions.${name}: ${err.message}`, { cause: e });
      }
    }
    return Object.freeze(out);
  }

  /** errno as the library's libc left it after the last call made on this thread. */
  errno(): number {
    return this.native.errno();
  }

  /** @internal counts an async call as a reference; close() waits for these. */
  trackAsync<T>(p: Promise<T>): Promise<T> {
    this.#unsettledAsync++;
    const done = () => {
      if (--this.#unsettledAsync === 0) for (const f of this.#idle.splice(0)) f();
    };
    return p.then(
      (v) => {
        done();
        return v;
      },
      (e) => {
        done();
        throw e;
      },
    );
  }

  /** Async calls in flight. */
  get inFlight(): number {
    return this.#unsettledAsync;
  }

  /** Resolves when no async call is in flight. */
  whenIdle(): Promise<void> {
    if (this.#unsettledAsync === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /**
   * Closes the library once its async calls have returned, then checks that the image is really
   * gone. Resolves `{ unloaded: true }` or `{ unloaded: false, reason }`. Idempotent: a later call
   * returns the first one's promise (its options are not read).
   *
   * `teardown(lib)` runs first, once the async calls have returned, while the library still takes
   * calls: the place for the library's own cleanup, when nothing else stops its threads (OpenBLAS:
   * `lib.func('void blas_thread_shutdown_(void)')()`). It is bounded by `teardownTimeoutMs`
   * (default 10,000). If it throws, rejects or does not settle in time, close() rejects with
   * ERR_DLSWAP_TEARDOWN_FAILED, whose `result` is the close's outcome: closed to calls, kept mapped.
   */
  close(options?: LibraryCloseOptions<D>): Promise<CloseResult> {
    if (this.#closing) return this.#closing;
    let checked: ResolvedLibraryCloseOptions;
    try {
      checked = resolveLibraryCloseOptions(options);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#closing = this.#close(checked.teardown as LibraryCloseOptions<D>['teardown'], checked.teardownTimeoutMs);
    return this.#closing;
  }

  /** `await using lib = open(...)`: close() at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(teardown: LibraryCloseOptions<D>['teardown'], teardownTimeoutMs: number): Promise<CloseResult> {
    await this.whenIdle();
    let failure: TeardownFailure | null = null;
    // Quarantined after a fault (docs/faults.md): the hook's calls would be refused; it is skipped,
    // and the close says why the image stays.
    if (teardown && !this.fault) {
      this.#tearingDown = true;
      try {
        failure = await runTeardown(() => teardown(this), teardownTimeoutMs, `the teardown hook of ${this.info.path}`);
      } finally {
        this.#tearingDown = false;
      }
      await this.whenIdle(); // the hook's own async calls
      if (failure) this.keepMappedFor(teardownPinReason(failure));
    }
    const result = this.closeResultOf(await this.retire(false).promise);
    if (failure) throw Object.assign(failure, { result });
    return result;
  }

  /** @internal From now on a retirement leaves the image mapped (finalised, closed to calls), for `reason`. */
  keepMappedFor(reason: string): void {
    if (!this.#keepMapped) this.#keepMapped = reason;
  }

  /**
   * @internal The retirement pipeline on the loader thread: dlswap_fini if `runFini`, the check for
   * threads (and signal handlers, keys) that hold the image, the process-wide hooks it left set back,
   * the stdio flush and dlclose, and the check that it is gone (native RunRetire). From the first
   * call on, no call of this library can start.
   */
  retire(runFini: boolean, finiTimeoutMs = this.#finiTimeoutMs, host?: unknown): { promise: Promise<RetireResult>; abandon(): void } {
    this.#releaseHeld();
    let id: number | null = null;
    let abandoned = false;
    const submit = () => {
      const job = addon.retireAsync(this.native, this.#deps, runFini, finiTimeoutMs, host, this.#keepMapped !== '');
      id = job.id;
      if (abandoned) addon.abandonJob(job.id);
      return job.promise;
    };
    // Callbacks it owns first: refused from now on, and waited for while one still runs (its caller
    // returns into this image's code). Owning none (the usual retirement), the job is queued now,
    // not a turn later; a refusal still rejects the promise.
    let promise: Promise<RetireResult>;
    if (ownedCallbacks(this).size > 0) promise = releaseOwnedCallbacks(this).then(submit);
    else {
      try {
        promise = submit();
      } catch (e) {
        promise = Promise.reject(e);
      }
    }
    return {
      promise,
      abandon: () => {
        abandoned = true;
        if (id !== null) addon.abandonJob(id);
      },
    };
  }

  /**
   * @internal What a retirement means to the user. Threads that hold the image leave it mapped:
   * dlswap looks again with a backoff and closes it once they are gone (`unmapped`).
   */
  closeResultOf(r: RetireResult): CloseResult {
    traceRuntimeNotes();
    forgetImage(this.#faultId);
    if (r.quarantined) {
      const fault = this.fault;
      return {
        unloaded: false,
        quarantined: true,
        reason: `quarantined after a fault, so never unmapped: ${fault?.message ?? 'a call faulted'}`,
        ...(fault ? { fault } : {}),
      };
    }
    if (!r.ok && !r.closed && r.threads.length === 0 && r.heldSignals.length === 0) {
      // A step overran (its code may still run in the image) or could not start: it stays mapped.
      return { unloaded: false, reason: `${r.message ?? `its retirement failed at ${r.step}`}; the image stays mapped` };
    }
    if (r.threads.length > 0 || r.heldSignals.length > 0) {
      const threads = this.#named(r.threads);
      const unmapped = new Promise<CloseResult>((resolve) => this.#closeWhenReleased(resolve, threads));
      const reason = r.threads.length > 0 ? holdersReason(threads, r.destructorsRan) : signalHoldReason(r.heldSignals);
      return { unloaded: false, reason, threads, unmapped };
    }
    const result: CloseResult = r.stillLoaded ? { unloaded: false, reason: this.#stillLoadedReason(r) } : { unloaded: true };
    const restored = restoredHooks(r.restoredSignals, r.altstackDisabled, r.restoredLocale);
    if (restored) {
      result.restored = restored;
      warnRestored(this.info.path, restored);
    }
    if (r.rc !== 0) result.reason = `dlclose failed: ${r.dlcloseError}`;
    if (this.#deps.length > 0) result.dependencies = dependencyCloseResults(this.#plan, r.depsMapped, r.keptMapped);
    if (this.info.isolation === 'fresh-namespace') result.namespaceFreed = r.namespaceFreed;
    return result;
  }

  /** Why a retirement that ran dlclose left the image mapped. */
  #stillLoadedReason(r: RetireResult): string {
    if (r.heldKeys.length > 0) return keyHoldReason(r.heldKeys);
    return r.keptMapped ? `kept mapped on purpose: ${this.#keepMapped}` : pinReason(this.elf);
  }

  #named(threads: HoldingThread[]): HoldingThread[] {
    const copy = path.basename(this.info.mappedPath);
    const mine = path.basename(this.info.path);
    return threads.map((t) => ({ ...t, why: t.why.split(copy).join(mine) }));
  }

  // Looks again rather than waits on the threads: most holders are threads found running the code,
  // whose end nothing announces. One watcher looks at every held image together, each with its own
  // backoff, and never keeps node alive (lib/load/pinned_images.ts).
  #closeWhenReleased(resolve: (r: CloseResult) => void, threads: HoldingThread[]): void {
    watchHeldImage({
      native: this.native,
      deps: this.#deps,
      keepMapped: this.#keepMapped !== '',
      finiTimeoutMs: this.#finiTimeoutMs,
      holders: threads.map((t) => t.tid),
      settle: (r) => resolve(this.closeResultOf(r)),
    });
  }

  /** @internal synchronous close, on this thread, for callers that know nothing is in flight. */
  closeNow(): CloseResult {
    if (!this.#closing) this.#closing = Promise.resolve(undefined as unknown as CloseResult);
    this.#releaseHeld();
    const result = this.closeResultOf(addon.retireSync(this.native, this.#deps, false, 0, undefined, this.#keepMapped !== ''));
    this.#closing = Promise.resolve(result);
    return result;
  }
}
