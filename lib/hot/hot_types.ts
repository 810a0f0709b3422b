/**
 * The public shapes of hot reload: HotLibrary's options, its reports, leases and the setup hook's
 * context. lib/hot/hot_library.ts re-exports them; the machinery that fills them is in lib/hot_*.ts.
 */
import type { BoundFunctions } from '../call/func';
import type { Library } from '../load/library';
import type { DependencyCloseResult } from '../load/dependencies';
import type { Isolation } from '../load/isolation';
import type { WatchOptions } from '../watch/watch';
import type { BuildStepOptions } from '../watch/rebuilder';
import type { TypeRegistry } from '../signature/ctypes';
import type { TypeDefs, CallbackOf } from '../signature/ctypes_types';
import type { Def, HandleDef, PtrDef } from '../signature/ctypes_defs_types';
import type { Callback, CallbackOptions } from '../call/callbacks';
import type { FaultInfo } from '../containment';
import type { FaultPolicy } from './fault_policy';

// The defaults of these options live in lib/options.ts (HOT_DEFAULTS, RELOAD_DEFAULTS), with their checks.

export type SwapPolicy = 'overlap' | 'handover';

/** HotOptions.handles: each handle type, by name, with the key of `functions` that releases one. */
export type HandleDeclarations = { readonly [type: string]: string };

/**
 * The declarations a HotLibrary's functions are typed with once its handle types are known: a
 * pointer to one (`sqlite3 *`) is a `Handle<'sqlite3'>`, a pointer to that pointer (`sqlite3 **`)
 * an array its handle comes back in. D itself when there is none.
 */
export type WithHandles<D extends TypeDefs, H> = [keyof H] extends [never]
  ? D
  : Omit<D, keyof H> & {
      readonly [K in keyof H & string]: K extends keyof D ? (D[K] extends PtrDef<Def, boolean> ? PtrDef<HandleDef<K>, false> : HandleDef<K>) : HandleDef<K>;
    };

export interface HotOptions<F extends Record<string, string>, D extends TypeDefs = {}, H extends HandleDeclarations = {}> {
  isolation?: Isolation;
  /** The functions `hot.fn` exposes, by name: C prototypes. Each must exist in every generation. */
  functions?: F;
  /**
   * Handle types, each with the function of `functions` that releases one: `{ sqlite3: 'close' }`.
   * A handle type is an opaque struct `types` declares (`typedef struct sqlite3 sqlite3;`), or a
   * pointer typedef to one. A function that returns one (or fills a `sqlite3 **`) gives back a
   * `Handle` that carries the generation that made it; `hot.fn` runs every call that takes it on
   * that generation, which is not retired while it is live. docs/hot-reload.md#handles-and-generations.
   */
  handles?: H & { readonly [K in keyof H]: keyof F & string };
  /** 'overlap' (default): old and new serve side by side while the old drains. 'handover': see docs. */
  policy?: SwapPolicy;
  /**
   * What a fault in a call of the current generation does (docs/faults.md). Either way the call
   * fails with ERR_DLSWAP_FAULT and the faulted generation is quarantined (never called again, never
   * unmapped). 'rollback' (default): `hot.fn` goes back to the previous generation when it is still
   * draining (mapped, not finalized), with the events 'fault' then 'rollback'. 'quarantine': the
   * faulted generation stays current and refuses calls (ERR_DLSWAP_FAULTED) until a reload.
   */
  onFault?: FaultPolicy;
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
   * 10,000 ms. Not enforced with `loadOn: 'main'`. The `teardown` hook has the same bound (on every
   * `loadOn`: it is JavaScript on the JS thread).
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
   * With `build` and `sources`, dlswap also runs the build when a source changes (docs/watch.md#a-build-step).
   */
  watch?: boolean | HotWatchOptions;
  /** The structs, enums, typedefs and callback types the prototypes name (docs/types.md), for every generation. */
  types?: TypeRegistry<D>;
  /**
   * Runs for every generation while it is verified, before it serves: the place to hand it the
   * callbacks it keeps (`gen.fn.set_logger(gen.callback('log_fn', log))`). A reload registers nothing
   * by itself. Callbacks made with `gen.callback` belong to that generation: released when it
   * retires, after its drain. Throwing (or rejecting) rejects the generation (rollback).
   */
  setup?: (gen: GenerationSetup<F, D, H>) => void | Promise<void>;
  /**
   * Runs for every generation once it has drained (no async call, no lease left), before
   * dlswap_fini and the check for threads that precedes dlclose: the place to call the library's
   * own cleanup when nothing else stops its threads (OpenBLAS: `gen.lib.func('void
   * blas_thread_shutdown_(void)')()`). Bounded by `finiTimeoutMs`. Throwing, rejecting or not
   * settling in time emits 'error' (ERR_DLSWAP_TEARDOWN_FAILED) and keeps the generation mapped,
   * reported pinned with the reason (its threads may still be in its code).
   */
  teardown?: (gen: GenerationTeardown<F, D, H>) => void | Promise<void>;
  /**
   * Aborts the open: open() rejects at once with ERR_DLSWAP_ABORTED, and the generation being
   * loaded is undone (fini, close) as soon as its load returns. docs/conventions.md#abortsignal.
   */
  signal?: AbortSignal;
}

/** HotLibrary's `watch` option: the watcher's options, and an optional build step. */
export interface HotWatchOptions extends WatchOptions, BuildStepOptions {}

/** What `setup` gets: one generation, before it serves. */
export interface GenerationSetup<F extends Record<string, string>, D extends TypeDefs = {}, H extends HandleDeclarations = {}> {
  /** The generation's number. */
  readonly id: number;
  /** Its library (for functions beyond `functions`). */
  readonly lib: Library<D>;
  /** The functions of `functions`, bound to this generation. */
  readonly fn: HotFunctions<F, WithHandles<D, H>>;
  /** A callback owned by this generation: released when it retires. */
  callback<const T extends string>(type: T, fn: CallbackOf<T, D>, options?: CallbackOptions): Callback<CallbackOf<T, D>>;
}

/** What `teardown` gets: one generation, drained, before it is finalized and closed. */
export interface GenerationTeardown<F extends Record<string, string>, D extends TypeDefs = {}, H extends HandleDeclarations = {}> {
  /** The generation's number. */
  readonly id: number;
  /** Its library (for the library's own cleanup function: `lib.func('void shutdown(void)')`). */
  readonly lib: Library<D>;
  /** The functions of `functions`, bound to this generation. */
  readonly fn: HotFunctions<F, WithHandles<D, H>>;
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

export type ReloadPhase = 'loading' | 'verifying' | 'swap' | 'draining' | 'teardown' | 'finalizing' | 'closing';

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
  /**
   * Set on a 'rollback' after a fault (`onFault: 'rollback'`): generation `to` faulted in a call and
   * generation `from` serves again.
   */
  fault?: FaultInfo;
  /** Once the old generation is closed: whether its image is gone, and why not. */
  unloaded?: boolean;
  pinnedReason?: string;
  /** Once the old generation is closed: what happened to each of its private (and shared) dependencies. */
  dependencies?: DependencyCloseResult[];
  drainTimedOut?: boolean;
  /**
   * Set when the old generation's calls and leases were done but handles it made were still open
   * (docs/hot-reload.md#handles-and-generations): how many. A reload does not wait for handles:
   * with `wait: 'closed'` it resolved then, and `retired` resolves once the last one is released.
   */
  heldByHandles?: number;
  /**
   * Resolves when the old generation is closed (immediately when `wait` was 'closed'), or when a
   * rollback after a fault of the new one brought it back to serve.
   */
  retired: Promise<void>;
}

export interface LogEvent {
  generation: number;
  level: number;
  message: string;
}

/**
 * 'log-dropped': a plugin logged faster than the JS thread took its lines. At most 10,000 lines (and
 * 4 MiB of text) wait for JS per generation; past that, lines are dropped. The event comes after
 * the lines queued before the drop: `dropped` lines were lost since the previous 'log-dropped' of
 * this generation, `total` since it was loaded.
 */
export interface LogDroppedEvent {
  generation: number;
  dropped: number;
  total: number;
}

/** What a generation's host reports, by event name (HotLibrary emits each as is). */
export type PluginLogEvent = { name: 'log'; event: LogEvent } | { name: 'log-dropped'; event: LogDroppedEvent };

/** `hot.fn`, `lease.fn` and `setup`'s `fn`: the declared functions, typed from their prototypes (as `lib.bind` types them). */
export type HotFunctions<F extends Record<string, string>, D extends TypeDefs = {}> = BoundFunctions<F, D>;

export interface Lease<F extends Record<string, string>, D extends TypeDefs = {}> extends Disposable {
  readonly generation: number;
  readonly fn: HotFunctions<F, D>;
  release(): void;
}
