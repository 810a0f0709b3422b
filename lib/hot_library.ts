/**
 * HotLibrary: a library that can be replaced while it serves calls.
 *
 * Policy lives here; the mechanism (load, call, count, unload) is native. A reload goes through the
 * phases of docs/hot-reload.md. Everything before the swap can fail without the current generation
 * noticing: the new one is closed and the old one was never touched (rollback never re-opens a path).
 * After the swap the old generation drains: it is closed only once its async calls and leases are gone.
 */
import { EventEmitter } from 'node:events';
import { DlswapError, asDlswapError, type DlswapErrorCode } from './errors';
import { rebind, type BoundFunction } from './func';
import { Generation, type GenerationInfo, type PluginHostHandle } from './generation';
import { libraryFromResult, loadLater, loadNow, type Library, type OpenOptions } from './library';
import type { DependencyCloseResult } from './dependencies';
import type { Isolation } from './isolation';
import { addon, type LoadResult, type RetireResult } from './native';
import type { Isolation as IsolationMode } from './isolation';
import type { CheckFunctions, FunctionOf } from './prototype_types';
import type { HotLibraryEvents, Listener } from './events';
import { faultPoint, type FaultPoint } from './faults';
import { LibraryWatcher, type WatchOptions } from './watch';
import { checkCloseOptions, checkHotOptions, checkPath, checkReloadOptions, parseFunctions } from './options';
import { abortedError, raceAbort } from './abort';
import { debug } from './debug';
import { resolveLibrary } from './search';
import type { TypeRegistry } from './ctypes';
import type { TypeDefs } from './ctypes_types';
import type { Callback, CallbackOptions } from './callbacks';
import type { AnyCallback, CallbackOf } from './ctypes_types';

export type SwapPolicy = 'overlap' | 'handover';

export interface HotOptions<F extends Record<string, string>, D extends TypeDefs = {}> {
  isolation?: Isolation;
  /** The functions `hot.fn` exposes, by name: C prototypes. Each must exist in every generation. */
  functions?: F;
  /** 'overlap' (default): old and new serve side by side while the old drains. 'handover': see docs. */
  policy?: SwapPolicy;
  /** After this long, a drain that is still waiting emits 'drain-timeout' (and keeps waiting). */
  drainTimeoutMs?: number;
  /**
   * 'handover' only: what a reload does when the old generation has not drained after
   * `drainTimeoutMs` (a lease never released, a call that never returns). 'rollback' (default): the
   * reload rejects with ERR_DLSWAP_RELOAD (cause ERR_DLSWAP_DRAIN_TIMEOUT), the waiting calls run on
   * the old generation, which keeps serving. 'proceed': the state is handed over anyway and the swap
   * happens; the old generation then drains as in 'overlap'.
   */
  handoverTimeout?: 'rollback' | 'proceed';
  /** Accepted range of the plugin's dlswap_abi_version(). Default: exactly this host's ABI version. */
  abi?: { min?: number; max?: number };
  /** Passed to the plugin as dlswap_host.user_data. */
  userData?: bigint;
  /** Passed to open(): open even when the mode is known to crash the library. */
  force?: boolean;
  /**
   * How long the plugin's dlswap_init (and dlswap_state_import under handover) may run. Past it the
   * load is rejected with ERR_DLSWAP_RELOAD, cause ERR_DLSWAP_TIMEOUT, the current generation keeps
   * serving, and the stuck one is quarantined: never called, never unmapped while init may run.
   * Default 30,000 ms. Not enforced with `loadOn: 'main'`.
   */
  initTimeoutMs?: number;
  /**
   * How long dlswap_fini (and dlswap_state_export under handover) may run. Past it the old
   * generation is reported pinned: it stays mapped, since fini may still be running in it. Default
   * 10,000 ms. Not enforced with `loadOn: 'main'`.
   */
  finiTimeoutMs?: number;
  /**
   * Where loading, constructors, dlswap_init, dlswap_fini and the state transfer run: on dlswap's
   * loader thread (default: the event loop only does the swap), or on the main JS thread for the rare
   * library that must initialise there (then the event loop stops for as long as they take, and the
   * timeouts cannot be enforced).
   */
  loadOn?: 'loader' | 'main';
  /** Refuse the initial file unless its sha256 matches (reload takes its own). */
  sha256?: string;
  /**
   * Dependencies every generation shares, loaded as they are (see `open`'s option). By default each
   * generation gets private copies of the dependencies it ships (docs/isolation.md).
   */
  shareDependencies?: string[];
  /**
   * Reload whenever the file is rebuilt (see docs/watch.md): once the write has finished, the file
   * is a valid ELF and its content changed. Invalid builds are reported ('watch-skip') and skipped.
   */
  watch?: boolean | WatchOptions;
  /** The structs, enums, typedefs and callback types the prototypes name (docs/types.md), for every generation. */
  types?: TypeRegistry<D>;
  /**
   * Runs for every generation while it is verified, before it serves: the place to hand it the
   * callbacks it keeps (`gen.fn.set_logger(gen.callback('log_fn', log))`). A reload registers nothing
   * by itself. Callbacks made with `gen.callback` belong to that generation: released when it
   * retires, after its drain. Throwing (or rejecting) rejects the generation (rollback).
   */
  setup?: (gen: GenerationSetup<F, D>) => void | Promise<void>;
  /**
   * Aborts the open: open() rejects at once with ERR_DLSWAP_ABORTED, and the generation being
   * loaded is undone (fini, close) as soon as its load returns. docs/conventions.md#abortsignal.
   */
  signal?: AbortSignal;
}

/** What `setup` gets: one generation, before it serves. */
export interface GenerationSetup<F extends Record<string, string>, D extends TypeDefs = {}> {
  /** The generation's number. */
  readonly id: number;
  /** Its library (for functions beyond `functions`). */
  readonly lib: Library<D>;
  /** The functions of `functions`, bound to this generation. */
  readonly fn: HotFunctions<F, D>;
  /** A callback owned by this generation: released when it retires. */
  callback<const T extends string>(type: T, fn: CallbackOf<T, D>, options?: CallbackOptions): Callback<CallbackOf<T, D>>;
}

export interface ReloadOptions {
  /** Resolve once the new generation serves ('swap'), or once the old one is closed ('closed', default). */
  wait?: 'swap' | 'closed';
  /** Refuse the new file unless its sha256 matches. */
  sha256?: string;
  /**
   * Aborts the reload: it rejects at once with ERR_DLSWAP_ABORTED. Before the swap that is a
   * rollback (the new generation is undone, 'rollback' is emitted, the current one keeps serving);
   * after the swap it only stops the wait for the old generation's retirement, which goes on.
   */
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** Stops waiting: close() rejects with ERR_DLSWAP_ABORTED, and the closing goes on (it cannot be undone). */
  signal?: AbortSignal;
}

export type ReloadPhase = 'loading' | 'verifying' | 'swap' | 'draining' | 'finalizing' | 'closing';

export interface ReloadReport {
  /** The generation that served before. */
  from: number;
  /** Bytes copied for the new generation (0 if the load failed before the copy). */
  size?: number;
  /** The new generation (also set on failure: the id the attempt had). */
  to: number;
  path: string;
  policy: SwapPolicy;
  /** Milliseconds spent in each phase that ran. */
  durations: Partial<Record<ReloadPhase, number>>;
  /** Set on failure: the phase that failed. The previous generation kept serving. */
  failedPhase?: ReloadPhase;
  error?: Error;
  /** Once the old generation is closed: whether its image is gone, and why not. */
  unloaded?: boolean;
  pinnedReason?: string;
  /** Once the old generation is closed: what happened to each of its private (and shared) dependencies. */
  dependencies?: DependencyCloseResult[];
  drainTimedOut?: boolean;
  /** Resolves when the old generation is closed (immediately when `wait` was 'closed'). */
  retired: Promise<void>;
}

export interface LogEvent {
  generation: number;
  level: number;
  message: string;
}

type HotFunctions<F extends Record<string, string>, D extends TypeDefs = {}> = { readonly [K in keyof F]: BoundFunction<FunctionOf<F[K], D>> };

export interface Lease<F extends Record<string, string>, D extends TypeDefs = {}> extends Disposable {
  readonly generation: number;
  readonly fn: HotFunctions<F, D>;
  release(): void;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
const DEFAULT_INIT_TIMEOUT_MS = 30_000;
const DEFAULT_FINI_TIMEOUT_MS = 10_000;
// Hosts of plugins whose init or fini overran: the plugin may still hold and use the struct from the
// thread it is stuck on, so it is never freed.
const quarantinedHosts: PluginHostHandle[] = [];
// A service that reloads for months must not keep every generation it ever loaded: finished ones
// are kept as their final GenerationInfo only (their Library and ELF tables dropped), and only the
// most recent of them.
const FINISHED_HISTORY = 1_000;

// Typed listeners (lib/events.ts): `hot.on('relaod', ...)` does not compile.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface HotLibrary<F extends Record<string, string> = Record<string, string>, D extends TypeDefs = {}> {
  on<K extends keyof HotLibraryEvents>(event: K, listener: Listener<HotLibraryEvents, K>): this;
  once<K extends keyof HotLibraryEvents>(event: K, listener: Listener<HotLibraryEvents, K>): this;
  off<K extends keyof HotLibraryEvents>(event: K, listener: Listener<HotLibraryEvents, K>): this;
  addListener<K extends keyof HotLibraryEvents>(event: K, listener: Listener<HotLibraryEvents, K>): this;
  removeListener<K extends keyof HotLibraryEvents>(event: K, listener: Listener<HotLibraryEvents, K>): this;
  prependListener<K extends keyof HotLibraryEvents>(event: K, listener: Listener<HotLibraryEvents, K>): this;
  prependOnceListener<K extends keyof HotLibraryEvents>(event: K, listener: Listener<HotLibraryEvents, K>): this;
}

export class HotLibrary<F extends Record<string, string> = Record<string, string>, D extends TypeDefs = {}> extends EventEmitter {
  readonly fn: HotFunctions<F, D>;
  readonly #options: HotOptions<F, D>;
  readonly #functions: F;
  #path: string;
  #current: Generation;
  /** Generations not yet retired (loading, verifying, active, draining, finalizing). */
  #all: Generation[] = [];
  /** Final info of retired and rejected generations, oldest first, at most FINISHED_HISTORY. */
  #finished: GenerationInfo[] = [];
  #nextId = 1;
  #chain: Promise<unknown> = Promise.resolve();
  #queued: { path: string; promise: Promise<ReloadReport> } | null = null;
  #gate: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  #watcher: LibraryWatcher | null = null;
  // Per generation, functions bound to it for leases (hot.fn itself is rebound on every swap).
  #leaseFns = new WeakMap<Generation, HotFunctions<F, D>>();
  // Reloads past their swap, by their options: what an abort of the wait says.
  #swappedBy = new WeakMap<ReloadOptions, ReloadReport>();

  private constructor(path: string, options: HotOptions<F, D>, first: Generation) {
    super();
    this.#path = path;
    this.#options = options;
    this.#functions = (options.functions ?? {}) as F;
    this.#current = first;
    this.#track(first);
    const fns: Record<string, BoundFunction<(...a: unknown[]) => unknown>> = {};
    for (const [name, proto] of Object.entries(this.#functions)) {
      const f = first.lib!.func(proto) as BoundFunction<(...a: unknown[]) => unknown>;
      const direct = f.async;
      // Async calls wait while a handover is in progress, then run on whatever is current.
      Object.defineProperty(f, 'async', {
        value: (...args: unknown[]) => (this.#gate ? this.#gate.then(() => direct(...args)) : direct(...args)),
      });
      fns[name] = f;
    }
    this.fn = Object.freeze(fns) as unknown as HotFunctions<F, D>;
  }

  /** Loads the first generation. Rejects (nothing left loaded) if it fails verification. */
  static async open<const F extends Record<string, string> = Record<string, string>, D extends TypeDefs = {}>(
    path: string,
    options: HotOptions<F, D> & CheckFunctions<F, D> = {} as HotOptions<F, D> & CheckFunctions<F, D>,
  ): Promise<HotLibrary<F, D>> {
    // Everything is checked (and read once) before anything is loaded: an invalid watch option or
    // userData found after dlswap_init would leave an initialised generation nobody can close.
    path = checkPath(path, 'HotLibrary.open(path, options)');
    options = checkHotOptions(options, addon.PLUGIN_ABI_VERSION) as HotOptions<F, D>;
    if (options.signal?.aborted) throw abortedError(options.signal, `HotLibrary.open(${path}) was aborted before it started`);
    const gen = new Generation(1, path);
    const report: ReloadReport = { from: 0, to: 1, path, policy: options.policy ?? 'overlap', durations: {}, retired: gen.retired };
    // The plugin may log from dlswap_init, before there is a HotLibrary to emit on: those lines are
    // kept and emitted on a later turn, once the caller had the chance to listen.
    const early: LogEvent[] = [];
    const onLog = (e: LogEvent) => (hot ? hot.#emit('log', e) : early.push(e));
    let hot: HotLibrary<F, D> | undefined;
    const signal = options.signal;
    const loading = HotLibrary.#load(gen, path, options, options.sha256, report, onLog);
    await raceAbort(loading, signal, () => {
      // Rolled back: the generation is undone once its load returns (never interrupted half-way).
      void loading.then(() => HotLibrary.#discard(gen, options.finiTimeoutMs ?? DEFAULT_FINI_TIMEOUT_MS), () => undefined);
      return abortedError(signal!, `HotLibrary.open(${path}) was aborted; the generation being loaded is undone once its load returns`);
    });
    gen.state = 'active';
    hot = new HotLibrary(path, options, gen);
    if (early.length) setImmediate(() => early.splice(0).forEach((e) => hot!.emit('log', e)));
    hot.#nextId = 2;
    if (options.watch) {
      try {
        hot.#startWatch(gen.lib!.info.sha256, options.watch === true ? {} : options.watch);
      } catch (e) {
        // Not left half-open: the generation is finalized and closed before the error is reported.
        await hot.close();
        throw e;
      }
    }
    return hot;
  }

  /** The generation that new calls go to. */
  get current(): number {
    return this.#current.id;
  }

  /**
   * A callback owned by the current generation: released when that generation retires (after its
   * drain). To give each generation its own, use the `setup` option.
   */
  callback<const T extends string>(type: T, fn: CallbackOf<T, D>, options?: CallbackOptions): Callback<CallbackOf<T, D>> {
    if (this.#closing) throw new DlswapError('ERR_DLSWAP_CLOSED', 'this HotLibrary is closed');
    return (this.#current.lib as Library).callback(type as string, fn as AnyCallback, options) as Callback<CallbackOf<T, D>>;
  }

  get policy(): SwapPolicy {
    return this.#options.policy ?? 'overlap';
  }

  /** Every live generation, and the last 1,000 this HotLibrary closed or rejected, oldest first. */
  generations(): GenerationInfo[] {
    return [...this.#finished, ...this.#all.map((g) => g.info())].sort((a, b) => a.id - b.id);
  }

  /** Lists `gen` until it is retired, then keeps only its final info. */
  #track(gen: Generation): void {
    this.#all.push(gen);
    void gen.retired.then(() => {
      this.#finished.push(gen.info());
      if (this.#finished.length > FINISHED_HISTORY) this.#finished.shift();
      this.#all = this.#all.filter((g) => g !== gen);
    });
  }

  /**
   * Loads `path` (default: the path last loaded) as a new generation and swaps to it. Concurrent
   * reloads run one after the other; a request for the same path as one already waiting joins it.
   */
  reload(path?: string, options?: ReloadOptions): Promise<ReloadReport> {
    // Checked synchronously, before any generation exists: a bad argument is an ERR_DLSWAP_ARG
    // rejection and nothing else happens.
    try {
      path = path === undefined ? this.#path : checkPath(path, 'reload(path, options)');
      options = checkReloadOptions(options);
    } catch (e) {
      return Promise.reject(e);
    }
    const signal = options.signal;
    const target = path;
    return raceAbort(this.#enqueue(path, options), signal, () => {
      const swapped = this.#swappedBy.get(options!);
      return abortedError(
        signal!,
        swapped
          ? `reload of ${target} was aborted after its swap: generation ${swapped.to} serves, and generation ${swapped.from} goes on draining and closing`
          : `reload of ${target} was aborted before its swap: it is rolled back and generation ${this.#current.id} keeps serving`,
      );
    });
  }

  #enqueue(path: string, options: ReloadOptions): Promise<ReloadReport> {
    if (this.#closing) return Promise.reject(new DlswapError('ERR_DLSWAP_CLOSED', 'this HotLibrary is closed'));
    if (this.#queued && this.#queued.path === path && options.sha256 === undefined && options.signal === undefined) return this.#queued.promise;
    const entry = { path, promise: undefined as unknown as Promise<ReloadReport> };
    entry.promise = this.#chain.then(() => {
      if (this.#queued === entry) this.#queued = null;
      return this.#reload(path, options);
    });
    this.#queued = entry;
    this.#chain = entry.promise.then(
      () => undefined,
      () => undefined,
    );
    return entry.promise;
  }

  /** Pins the current generation: `lease.fn` calls it until `release()` (or `using`). */
  pin(): Lease<F, D> {
    if (this.#closing) throw new DlswapError('ERR_DLSWAP_CLOSED', 'this HotLibrary is closed');
    const gen = this.#current;
    gen.leases++;
    let fns = this.#leaseFns.get(gen);
    if (!fns) {
      const made: Record<string, unknown> = {};
      for (const [name, proto] of Object.entries(this.#functions)) made[name] = gen.lib!.func(proto);
      fns = Object.freeze(made) as unknown as HotFunctions<F, D>;
      this.#leaseFns.set(gen, fns);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      gen.releaseLease();
    };
    return { generation: gen.id, fn: fns, release, [Symbol.dispose]: release };
  }

  #startWatch(initialSha256: string, options: WatchOptions): void {
    // A bare soname is watched where it was found (lib/search.ts), not in the current directory.
    const w = new LibraryWatcher(resolveLibrary(this.#path), { ...options, initialSha256 });
    w.on('change', (change: { sha256: string }) => {
      let reloading: Promise<ReloadReport>;
      try {
        faultPoint('watch-reload');
        // Resolve at the swap: a long-held lease on the old build must not delay the next rebuild.
        reloading = this.reload(this.#path, { sha256: change.sha256, wait: 'swap' });
      } catch (e) {
        reloading = Promise.reject(e);
      }
      reloading.then(
        (report) => this.#emit('watch-reload', report),
        (err) => {
          // A build that did not load is not the baseline: publishing the same bytes again retries it.
          w.forget(change.sha256, this.#current.lib?.info.sha256 ?? null);
          this.#emit('watch-skip', { reason: 'reload-failed', error: asDlswapError(err, 'ERR_DLSWAP_RELOAD', `reload of ${this.#path} failed`) });
        },
      );
    });
    w.on('skip', (skip: unknown) => this.#emit('watch-skip', skip));
    this.#watcher = w;
  }

  /**
   * Closes every generation once drained. Safe during a reload: the reload is rolled back. An abort
   * (`signal`) only stops the wait: the closing goes on, and a later close() returns it.
   */
  close(options?: CloseOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = checkCloseOptions(options).signal;
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.#closing) this.#closing = this.#close();
    return raceAbort(this.#closing, signal, () => abortedError(signal!, 'close() was aborted: it stopped waiting, and the generations go on draining and closing'));
  }

  /** `await using hot = await HotLibrary.open(...)`: close() at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = null;
    await this.#chain;
    const live = this.#all.filter((g) => g.state === 'active' || g.state === 'draining');
    for (const g of live) if (g.state === 'active') g.state = 'draining';
    await Promise.all(live.map((g) => this.#retire(g, undefined)));
    await Promise.all(this.#all.map((g) => g.retired));
  }

  // ---- phases -------------------------------------------------------------------------------

  /**
   * Loading and verifying, on the loader thread: copy, checks, open, every declared function
   * resolved, the plugin's ABI version, version and init (bounded by initTimeoutMs). Fills `gen`.
   * On failure `gen` is rejected and nothing of it is left: no copy, no mapping, fini run if init
   * had succeeded; an init that overran is quarantined instead (its thread may still be in it).
   */
  static async #load<G extends Record<string, string>, DD extends TypeDefs>(
    gen: Generation,
    path: string,
    options: HotOptions<G, DD>,
    sha256: string | undefined,
    report: ReloadReport,
    onLog: (e: LogEvent) => void,
  ): Promise<void> {
    const t = performance.now();
    const host = new addon.PluginHost(BigInt(gen.id), addon.PLUGIN_ABI_VERSION, options.userData ?? 0n, (level, message) =>
      onLog({ generation: gen.id, level, message }),
    );
    const abi = addon.PLUGIN_ABI_VERSION;
    let loaded: { result: LoadResult; mode: IsolationMode };
    try {
      const functions = parseFunctions(options.functions, options.types, 'HotLibrary');
      const plugin = { functions, abiMin: options.abi?.min ?? abi, abiMax: options.abi?.max ?? abi, host: host.address, hostObject: host };
      const open: OpenOptions = { isolation: options.isolation, force: options.force, sha256, shareDependencies: options.shareDependencies };
      if (options.loadOn === 'main') {
        loaded = loadNow(path, open, plugin);
      } else {
        const spec = { ...plugin, initTimeoutMs: options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS };
        loaded = await loadLater(path, open, spec).promise;
      }
    } catch (e) {
      const err = asDlswapError(e, 'ERR_DLSWAP_LOAD_FAILED', `cannot load ${path}`) as DlswapError & { phase?: ReloadPhase; opened?: boolean; unloaded?: boolean };
      if (err.opened) gen.closeResult = err.unloaded ? { unloaded: true } : { unloaded: false, reason: 'its image stayed mapped after the failed load was undone' };
      report.failedPhase = err.phase === 'verifying' ? 'verifying' : 'loading';
      report.durations[report.failedPhase] = performance.now() - t;
      report.error = err;
      gen.state = 'rejected';
      gen.rejectedReason = err.message;
      if (err.code === 'ERR_DLSWAP_TIMEOUT') quarantinedHosts.push(host);
      else host.release();
      gen.markRetired();
      throw reloadError(report);
    }
    const { result, mode } = loaded;
    report.size = result.size;
    report.durations.loading = result.copyMs + result.openMs;
    report.durations.verifying = result.verifyMs;
    gen.lib = libraryFromResult(result, path, mode, options.types);
    gen.version = result.hasVersion ? (result.version ?? null) : null;
    gen.initialized = result.initialized === true;
    // The plugin holds the host only if its init ran; otherwise nothing will log through it. From
    // here fini is owed, and the host runs it if the environment goes first (a terminated worker).
    if (gen.initialized) {
      gen.host = host;
      host.adopt(gen.lib.native);
    } else {
      host.release();
    }
    gen.state = 'verifying';
    if (options.setup) {
      // The user's hook for the new generation (callbacks it keeps, configuration), on this thread.
      const ts = performance.now();
      try {
        await HotLibrary.#setup(gen, options);
      } catch (e) {
        report.durations.verifying = (report.durations.verifying ?? 0) + performance.now() - ts;
        report.failedPhase = 'verifying';
        report.error = asDlswapError(e, 'ERR_DLSWAP_INIT_FAILED', `the setup hook of generation ${gen.id} failed`);
        gen.state = 'rejected';
        gen.rejectedReason = report.error.message;
        await HotLibrary.#discard(gen, options.finiTimeoutMs ?? DEFAULT_FINI_TIMEOUT_MS);
        throw reloadError(report);
      }
      report.durations.verifying = (report.durations.verifying ?? 0) + performance.now() - ts;
    }
  }

  /** The user's hook for a new generation (callbacks it keeps, configuration). */
  static async #setup<G extends Record<string, string>, DD extends TypeDefs>(gen: Generation, options: HotOptions<G, DD>): Promise<void> {
    const lib = gen.lib!;
    const fns: Record<string, unknown> = {};
    for (const [name, proto] of Object.entries(options.functions ?? {})) fns[name] = lib.func(proto);
    const context = {
      id: gen.id,
      lib,
      fn: Object.freeze(fns),
      callback: (type: string, fn: AnyCallback, opts?: CallbackOptions) => lib.callback(type, fn, opts),
    } as unknown as GenerationSetup<G, DD>;
    await options.setup!(context);
  }


  /**
   * Undoes a generation that was loaded but never served (its swap failed): fini if init ran, then
   * close, on the loader thread.
   */
  static async #discard(gen: Generation, finiTimeoutMs: number): Promise<void> {
    try {
      if (gen.lib) {
        gen.host?.disown(); // the retirement runs fini now
        const r = await gen.lib.retire(gen.initialized, finiTimeoutMs, gen.host).promise;
        if (r.finalized) gen.host?.release();
        else if (gen.host) quarantinedHosts.push(gen.host);
        gen.closeResult = r.ok ? gen.lib.closeResultOf(r) : { unloaded: false, reason: r.message ?? 'its retirement failed' };
      }
    } finally {
      gen.markRetired();
    }
  }

  get #finiTimeoutMs(): number {
    return this.#options.finiTimeoutMs ?? DEFAULT_FINI_TIMEOUT_MS;
  }

  async #reload(path: string, options: ReloadOptions): Promise<ReloadReport> {
    if (this.#closing) throw new DlswapError('ERR_DLSWAP_CLOSED', 'this HotLibrary was closed before the reload started');
    if (options.signal?.aborted) throw abortedError(options.signal, `reload of ${path} was aborted before it started`);
    const old = this.#current;
    const gen = new Generation(this.#nextId++, path);
    this.#track(gen);
    debug('reload %s: generation %d loading (generation %d serves)', path, gen.id, old.id);
    const report: ReloadReport = { from: old.id, to: gen.id, path, policy: this.policy, durations: {}, retired: old.retired };
    try {
      await HotLibrary.#load(gen, path, this.#options, options.sha256, report, (e) => this.#emit('log', e));
    } catch (e) {
      // #load retires the generation on every failure; this is the net under it (close() waits for it).
      if (gen.state === 'loading' || gen.state === 'verifying') {
        gen.state = 'rejected';
        gen.markRetired();
      }
      debug('reload %s: generation %d rejected while %s, rolled back', path, gen.id, report.failedPhase);
      this.#emit('rollback', report);
      throw e;
    }
    debug('reload %s: generation %d verified (%s ms loading, %s ms verifying)', path, gen.id, report.durations.loading?.toFixed(2), report.durations.verifying?.toFixed(2));
    const t = performance.now();
    try {
      faultPoint('before-swap');
      if (options.signal?.aborted) throw abortedError(options.signal, `reload of ${path} was aborted before its swap`);
      if (this.#closing) throw new DlswapError('ERR_DLSWAP_CLOSED', 'the HotLibrary was closed during the reload');
      if (this.policy === 'handover') await this.#handover(old, gen);
      else this.#swap(old, gen);
    } catch (e) {
      const err = asDlswapError(e, 'ERR_DLSWAP_INTERNAL', 'the swap failed');
      report.durations.swap = performance.now() - t;
      report.failedPhase = 'swap';
      report.error = err;
      gen.state = 'rejected';
      gen.rejectedReason = err.message;
      await HotLibrary.#discard(gen, this.#finiTimeoutMs);
      debug('reload %s: swap to generation %d failed (%s), rolled back', path, gen.id, err.code);
      this.#emit('rollback', report);
      throw reloadError(report);
    }
    report.durations.swap = performance.now() - t;
    this.#swappedBy.set(options, report);
    debug('reload %s: swapped, generation %d serves (%s ms); generation %d drains', path, gen.id, report.durations.swap.toFixed(3), old.id);
    this.#path = path;
    this.#emit('reload', report);
    const retired = this.#retire(old, report);
    report.retired = retired;
    if ((options.wait ?? 'closed') === 'closed') await retired;
    return report;
  }

  /** The atomic part: from here new calls go to `gen`. Synchronous, so no call can interleave. */
  #swap(old: Generation, gen: Generation): void {
    for (const f of Object.values(this.fn) as BoundFunction<(...a: unknown[]) => unknown>[]) rebind(f, gen.lib!);
    old.state = 'draining';
    gen.state = 'active';
    this.#current = gen;
  }

  /**
   * Handover: new async calls wait at the gate; the old generation drains; its exported state is
   * imported into the new one (on the loader thread, bounded by the timeouts), and the swap follows.
   * While the state moves, sync calls are refused with ERR_DLSWAP_BUSY (they would change state that
   * was already exported). If the drain times out (handoverTimeout 'rollback'), or the transfer fails
   * or overruns, the gate opens on the old generation (rollback) and the waiting calls run there. The
   * gate always opens.
   */
  async #handover(old: Generation, gen: Generation): Promise<void> {
    let open!: () => void;
    this.#gate = new Promise<void>((r) => (open = r));
    const oldLib = old.lib!;
    try {
      const drained = await this.#drain(old, undefined, true);
      if (!drained && this.#options.handoverTimeout !== 'proceed') {
        throw new DlswapError(
          'ERR_DLSWAP_DRAIN_TIMEOUT',
          `generation ${old.id} still had ${old.lib?.inFlight ?? 0} async call(s) and ${old.leases} lease(s) after ${this.#drainTimeoutMs} ms, so its state could not be handed over; the reload was rolled back and generation ${old.id} keeps serving. Release leases (lease.release()) and let calls return before reloading, raise drainTimeoutMs, or pass handoverTimeout: 'proceed' to hand the state over without waiting.`,
        );
      }
      if (this.#options.loadOn === 'main') {
        // Export, import and swap in one synchronous step: no call can interleave.
        const r = addon.handoverSync(oldLib.native, gen.lib!.native, gen.path, 0, 0, old.host, gen.host);
        if (!r.ok) throw new DlswapError(r.code as DlswapErrorCode, r.message ?? 'the state transfer failed');
      } else {
        oldLib.native.gate(true);
        try {
          const job = addon.handoverAsync(oldLib.native, gen.lib!.native, gen.path, this.#finiTimeoutMs, this.#options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS, old.host, gen.host);
          const r = await job.promise;
          if (!r.ok) {
            // An import that overran leaves the new generation's code running: never touch it again.
            if (r.code === 'ERR_DLSWAP_TIMEOUT' && r.step === 'import') gen.quarantined = true;
            throw new DlswapError(r.code as DlswapErrorCode, r.message ?? 'the state transfer failed');
          }
        } finally {
          oldLib.native.gate(false);
        }
      }
      this.#swap(old, gen);
    } finally {
      this.#gate = null;
      open();
    }
  }

  get #drainTimeoutMs(): number {
    return this.#options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  }

  /**
   * Waits until `gen` has no async call or lease left. After drainTimeoutMs, 'drain-timeout' is
   * emitted (once) and the wait goes on, unless `giveUp`: then it resolves false at that moment.
   */
  async #drain(gen: Generation, report: ReloadReport | undefined, giveUp = false): Promise<boolean> {
    const timeoutMs = this.#drainTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => {
        if (report) report.drainTimedOut = true;
        this.#emit('drain-timeout', { generation: gen.id, inFlight: gen.lib?.inFlight ?? 0, leases: gen.leases, timeoutMs });
        if (giveUp) resolve(false);
      }, timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([gen.whenIdle().then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Drain, finalize, close: the old generation's way out. Never unmaps code that is still running:
   * not under an async call or a lease, and not before dlswap_fini has stopped the plugin's threads.
   */
  #retire(gen: Generation, report: ReloadReport | undefined): Promise<void> {
    // Once per generation: close() during a drain joins the retirement in progress.
    gen.retiring ??= this.#retireOnce(gen, report);
    return gen.retiring;
  }

  async #retireOnce(gen: Generation, report: ReloadReport | undefined): Promise<void> {
    let t = performance.now();
    const lap = (phase: ReloadPhase) => {
      const now = performance.now();
      if (report) report.durations[phase] = now - t;
      t = now;
    };
    const lib = gen.lib!;
    let drained = false;
    let finalized = !gen.initialized;
    let closed = false;
    // Each step runs at most once; a failed pass is followed by one more pass that resumes at the
    // step that failed (a transient failure). Skipping a step is never the answer: closing without
    // the drain would fail the calls and leases still on this generation, closing without fini
    // would unmap code the plugin's threads may be running. If the second pass fails too, the
    // image stays mapped and is reported as pinned.
    const steps = async () => {
      if (!drained) {
        faultPoint('during-drain');
        await this.#drain(gen, report);
        drained = true;
        debug('generation %d drained', gen.id);
        lap('draining');
        this.#emit('drained', { generation: gen.id });
      }
      if (closed) return;
      gen.state = 'finalizing';
      // fini, the stdio flush, the threads check, dlclose: on the loader thread.
      if (!finalized) gen.host?.disown(); // the retirement runs fini now
      const r: RetireResult = await lib.retire(!finalized, this.#finiTimeoutMs, gen.host).promise;
      if (r.finalized && !finalized) {
        finalized = true;
        gen.host?.release();
      }
      if (report) {
        report.durations.finalizing = r.finiMs;
        report.durations.closing = r.closeMs;
      }
      if (r.code === 'ERR_DLSWAP_TIMEOUT') {
        // fini did not return: its code may run for good. Never closed, never retried.
        closed = true;
        if (gen.host) quarantinedHosts.push(gen.host);
        gen.closeResult = { unloaded: false, reason: `${r.message}; the image stays mapped because the plugin may still be running in it` };
        return;
      }
      if (r.closed || r.keptMapped || r.threads.length > 0) {
        closed = true;
        gen.closeResult = lib.closeResultOf(r);
      }
      if (!r.ok) throw new DlswapError(r.code as DlswapErrorCode, r.message ?? `retirement failed at ${r.step}`);
    };
    try {
      await steps();
    } catch (e) {
      // A failure past the swap cannot roll back (new calls already run on the new generation).
      // Said at once: the second pass may wait long for a lease or a slow call.
      this.#reportError(e);
      try {
        await steps();
      } catch (again) {
        if (!closed) {
          gen.closeResult = {
            unloaded: false,
            reason: `its retirement failed (${(again as Error).message}); the image stays mapped because ${
              !drained
                ? 'calls or leases may still be using it'
                : !finalized
                  ? "dlswap_fini did not run, so the plugin's threads may still be running"
                  : 'dlclose was not reached'
            }`,
          };
        }
      }
    }
    gen.state = 'closed';
    try {
      const result = gen.closeResult ?? { unloaded: false, reason: 'it was not closed' };
      debug('generation %d finalized and closed: %s', gen.id, result.unloaded ? 'unloaded' : `pinned (${result.reason})`);
      if (report) {
        report.unloaded = result.unloaded;
        if (!result.unloaded) report.pinnedReason = result.reason;
        if (result.dependencies) report.dependencies = result.dependencies;
      }
      if (result.unloaded) this.#emit('unloaded', { generation: gen.id });
      else this.#emit('pinned', { generation: gen.id, reason: result.reason, threads: result.threads });
      // Held by threads: closed once they exit, and announced then.
      void result.unmapped?.then((final) => {
        gen.closeResult = final;
        if (final.unloaded) this.#emit('unloaded', { generation: gen.id, afterThreads: true });
      });
    } catch (e) {
      this.#reportError(e);
    } finally {
      gen.markRetired();
    }
  }

  /**
   * Emits an event whose listeners are the application's: one that throws must not stop a reload
   * or a retirement half-way (an old generation never closed, a reload rejected after its swap).
   * The exception is rethrown on its own tick, as it would be from any other event source.
   */
  #emit(event: string, payload: unknown): void {
    try {
      this.emit(event, payload);
    } catch (thrown) {
      process.nextTick(() => {
        throw thrown;
      });
    }
  }

  /** 'error' is emitted only if listened to; a listener that throws must not stop a retirement. */
  #reportError(e: unknown): void {
    if (this.listenerCount('error') === 0) return;
    try {
      this.emit('error', asDlswapError(e, 'ERR_DLSWAP_INTERNAL', 'retiring a generation failed'));
    } catch (thrown) {
      process.nextTick(() => {
        throw thrown;
      });
    }
  }
}

function reloadError(report: ReloadReport): DlswapError {
  const cause = report.error as DlswapError | undefined;
  const err = new DlswapError(
    'ERR_DLSWAP_RELOAD',
    `reload of ${report.path} failed in phase '${report.failedPhase}': ${cause?.message ?? 'unknown error'}`,
    { cause },
  );
  (err as DlswapError & { report: ReloadReport; causeCode?: string }).report = report;
  (err as DlswapError & { causeCode?: string }).causeCode = cause?.code;
  return err;
}

