/**
 * HotLibrary: a library that can be replaced while it serves calls.
 *
 * Policy lives here; the mechanism (load, call, count, unload) is native. A reload goes through the
 * phases of docs/hot-reload.md. Everything before the swap can fail without the current generation
 * noticing: the new one is closed and the old one was never touched (rollback never re-opens a path).
 * After the swap the old generation drains: it is closed only once its async calls and leases are gone.
 *
 * The phases are functions of their own (lib/hot/hot_phases.ts, the swap in lib/hot/swap.ts, the
 * retirement in lib/hot/hot_retire.ts); this class owns what they act on: the generations, the
 * reload queue, the watcher; `hot.fn` and which generation it calls are its Switchboard's (swap.ts).
 */
import { DlswapError, asDlswapError } from '../errors';
import { Generation, type GenerationInfo } from './generation';
import type { CheckFunctions } from '../signature/prototype_types';
import { TypedEventEmitter } from '../typed_events';
import type { HotLibraryEvents } from './events';
import { faultPoint } from '../faults';
import { LibraryWatcher } from '../watch/watch';
import { Rebuilder, resolveBuildStep, type ResolvedBuildStep } from '../watch/rebuilder';
import {
  checkPath,
  resolveCloseOptions,
  resolveHotOptions,
  resolveReloadOptions,
  type ResolvedHotOptions,
  type ResolvedHotWatchOptions,
  type ResolvedReloadOptions,
} from '../options';
import { abortedError, raceAbort } from '../abort';
import { debug } from '../debug';
import { resolveLibrary } from '../load/search';
import type { Library } from '../load/library';
import type { TypeDefs } from '../signature/ctypes_types';
import type { Callback, CallbackOptions } from '../call/callbacks';
import type { AnyCallback, CallbackOf } from '../signature/ctypes_types';
import { HOST_ABI_VERSION } from './plugin_abi';
import { PhaseTimer } from './phase_timer';
import { loadGeneration, verifyGeneration, type PhaseEvents } from './hot_phases';
import { Switchboard } from './swap';
import { guardGeneration, type GenerationGuard } from './generation_guard';
import { retireGeneration, type RetireHooks } from './hot_retire';
import { DEFAULT_FAULT_POLICY, onGenerationFault, type FaultPolicyHost } from './fault_policy';
import { HandleRegistry } from './handles';
import type { FaultError } from '../containment';
import type {
  HotFunctions,
  HotOptions,
  PluginLogEvent,
  ReloadOptions,
  ReloadReport,
  SwapPolicy,
  CloseOptions,
  Lease,
  HandleDeclarations,
  WithHandles,
} from './hot_types';

export { Handle } from '../signature/handle';
export type { HandleDeclarations, WithHandles } from './hot_types';
export type {
  SwapPolicy,
  HotOptions,
  HotWatchOptions,
  GenerationSetup,
  GenerationTeardown,
  ReloadOptions,
  CloseOptions,
  ReloadPhase,
  ReloadReport,
  LogEvent,
  LogDroppedEvent,
  Lease,
  HotFunctions,
} from './hot_types';

// A service that reloads for months must not keep every generation it ever loaded: finished ones
// are kept as their final GenerationInfo only (their Library and ELF tables dropped), and only the
// most recent of them.
const FINISHED_HISTORY = 1_000;

export class HotLibrary<
  F extends Record<string, string> = Record<string, string>,
  D extends TypeDefs = {},
  H extends HandleDeclarations = {},
> extends TypedEventEmitter<HotLibraryEvents> {
  /** The declared functions, on the current generation; a call given a handle runs on the handle's (docs/hot-reload.md#handles-and-generations). */
  readonly fn: HotFunctions<F, WithHandles<D, H>>;
  /** The options in force, checked once and with every default filled in (lib/options.ts). */
  readonly #options: ResolvedHotOptions;
  /** Its handles (lib/hot/handles.ts): every live one, and the hot.fn entries that route them. */
  readonly #handles: HandleRegistry;
  /** `hot.fn` and the generation it calls (lib/hot/swap.ts): the swap's one owner. */
  readonly #board: Switchboard;
  #path: string;
  /** Generations not yet retired (loading, verifying, active, draining, finalizing). */
  #all: Generation[] = [];
  /** Final info of retired and rejected generations, oldest first, at most FINISHED_HISTORY. */
  #finished: GenerationInfo[] = [];
  /** Retired generations whose final info is not taken yet (#recordFinished): on a later turn. */
  #unrecorded: Generation[] = [];
  #nextId = 1;
  #chain: Promise<unknown> = Promise.resolve();
  #queued: { path: string; promise: Promise<ReloadReport> } | null = null;
  #closing: Promise<void> | null = null;
  #watcher: LibraryWatcher | null = null;
  #rebuilder: Rebuilder | null = null;
  // Reloads past their swap, by their options: what an abort of the wait says.
  #swappedBy = new WeakMap<ResolvedReloadOptions, ReloadReport>();

  /** Binds `hot.fn` to the first generation, which is verified and not yet active (its guard is on). */
  private constructor(path: string, options: ResolvedHotOptions, first: Generation, handles: HandleRegistry) {
    super();
    this.#path = path;
    this.#options = options;
    this.#handles = handles;
    this.#track(first);
    this.#faultPolicyHost.policy = options.onFault;
    this.#faultPolicyHost.swapPolicy = options.policy;
    this.#board = new Switchboard(first, options, handles, this.#events, () => this.#closing !== null);
    this.fn = this.#board.fn as unknown as HotFunctions<F, WithHandles<D, H>>;
  }

  /** Loads the first generation. Rejects (nothing left loaded) if it fails verification. */
  static async open<const F extends Record<string, string> = Record<string, string>, D extends TypeDefs = {}, const H extends HandleDeclarations = {}>(
    path: string,
    options: HotOptions<F, D, H> & CheckFunctions<F, D> = {} as HotOptions<F, D, H> & CheckFunctions<F, D>,
  ): Promise<HotLibrary<F, D, H>> {
    // Everything is checked (and read once) before anything is loaded: an invalid watch option or
    // userData found after dlswap_init would leave an initialised generation nobody can close.
    path = checkPath(path, 'HotLibrary.open(path, options)');
    const o = resolveHotOptions(options, HOST_ABI_VERSION);
    // The build step's source directories must exist: checked before anything is loaded.
    const buildStep = o.watch ? resolveBuildStep(o.watch) : null;
    const signal = o.signal;
    if (signal?.aborted) throw abortedError(signal, `HotLibrary.open(${path}) was aborted before it started`);
    const handles = new HandleRegistry(o.handles);
    let hot: HotLibrary<F, D, H> | undefined;
    const gen: Generation = new Generation(1, path, (e) => {
      if (hot) hot.#onFault(gen, e);
      else handles.drop(gen, 'was dropped when its generation was quarantined after a fault');
    });
    const report: ReloadReport = { from: 0, to: 1, path, policy: o.policy, durations: {}, retired: gen.retired };
    // The plugin may log from dlswap_init, before there is a HotLibrary to emit on: those lines are
    // kept and emitted on a later turn, once the caller had the chance to listen.
    // Lines that arrive after the open but before those are emitted queue behind them: the plugin's
    // order is kept.
    const early: PluginLogEvent[] = [];
    const onLog = (e: PluginLogEvent) => (hot && early.length === 0 ? hot.#emit(e.name, e.event) : early.push(e));
    const opening = HotLibrary.#bringUp(gen, o, o.sha256, report, onLog, handles, async (guard) => {
      // An abort while the load ran: the generation is undone by its guard, never half-served.
      if (signal?.aborted) throw abortedError(signal, `HotLibrary.open(${path}) was aborted`);
      const made = new HotLibrary<F, D, H>(path, o, gen, handles);
      gen.transition('active');
      guard.release();
      return made;
    });
    hot = await raceAbort(opening, signal, () =>
      abortedError(signal!, `HotLibrary.open(${path}) was aborted; the generation being loaded is undone once its load returns`),
    );
    const opened = hot;
    if (early.length) {
      setImmediate(() => {
        // Emitting may make more lines arrive (a listener calling the plugin): all in order.
        for (let e = early.shift(); e; e = early.shift()) opened.emit(e.name, e.event);
      });
    }
    opened.#nextId = 2;
    if (o.watch) {
      try {
        opened.#startWatch(gen.lib!.info.sha256, o.watch, buildStep);
      } catch (e) {
        // Not left half-open: the generation is finalized and closed before the error is reported.
        await opened.close();
        throw asDlswapError(e, 'ERR_DLSWAP_ARG', `HotLibrary.open(${path}): the watch could not start`);
      }
    }
    return opened;
  }

  /** The generation that new calls go to. */
  get current(): number {
    return this.#board.current.id;
  }

  /**
   * A callback owned by the current generation: released when that generation retires (after its
   * drain). To give each generation its own, use the `setup` option.
   */
  callback<const T extends string>(type: T, fn: CallbackOf<T, D>, options?: CallbackOptions): Callback<CallbackOf<T, D>> {
    if (this.#closing) throw new DlswapError('ERR_DLSWAP_CLOSED', 'this HotLibrary is closed');
    return (this.#board.current.lib as Library).callback(type as string, fn as AnyCallback, options) as Callback<CallbackOf<T, D>>;
  }

  get policy(): SwapPolicy {
    return this.#options.policy;
  }

  /** Every live generation, and the last 1,000 this HotLibrary closed or rejected, oldest first. */
  generations(): GenerationInfo[] {
    this.#recordFinished();
    return [...this.#finished, ...this.#all.map((g) => g.info())].sort((a, b) => a.id - b.id);
  }

  /** Lists `gen` until it is retired, then keeps only its final info. */
  #track(gen: Generation): void {
    this.#all.push(gen);
    void gen.retired.then(() => {
      // Handles kept past its close (made by a teardown hook, or before it was rejected) go with it.
      this.#handles.drop(gen, 'was dropped when its generation closed');
      this.#all = this.#all.filter((g) => g !== gen);
      // Its final info is taken on a later turn (or by generations() before it), not between the
      // retirement's end and report.retired: a retired generation's info no longer changes, but for
      // the unmapping that threads delayed, which the entry follows.
      if (this.#unrecorded.push(gen) === 1) setImmediate(() => this.#recordFinished()).unref();
    });
  }

  /** Takes the final info of the generations retired since the last call into the history. */
  #recordFinished(): void {
    for (const gen of this.#unrecorded.splice(0)) {
      const info = gen.info();
      this.#finished.push(info);
      if (this.#finished.length > FINISHED_HISTORY) this.#finished.shift();
      // Held for now (threads in its code, a later library that may call its signal handlers):
      // unloaded later, and its entry says so then.
      void gen.closeResult?.unmapped?.then((final) => {
        info.unloaded = final.unloaded;
        if (final.unloaded) delete info.pinnedReason;
      });
    }
  }

  /**
   * Loads `path` (default: the path last loaded) as a new generation and swaps to it. Concurrent
   * reloads run one after the other; a request for the same path as one already waiting joins it.
   */
  reload(path?: string, options?: ReloadOptions): Promise<ReloadReport> {
    // Checked synchronously, before any generation exists: a bad argument is an ERR_DLSWAP_ARG
    // rejection and nothing else happens.
    let o: ResolvedReloadOptions;
    try {
      path = path === undefined ? this.#path : checkPath(path, 'reload(path, options)');
      o = resolveReloadOptions(options);
    } catch (e) {
      return Promise.reject(e);
    }
    const signal = o.signal;
    const target = path;
    return raceAbort(this.#enqueue(path, o), signal, () => {
      const swapped = this.#swappedBy.get(o);
      return abortedError(
        signal!,
        swapped
          ? `reload of ${target} was aborted after its swap: generation ${swapped.to} serves, and generation ${swapped.from} goes on draining and closing`
          : `reload of ${target} was aborted before its swap: it is rolled back and generation ${this.#board.current.id} keeps serving`,
      );
    });
  }

  #enqueue(path: string, options: ResolvedReloadOptions): Promise<ReloadReport> {
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
  pin(): Lease<F, WithHandles<D, H>> {
    if (this.#closing) throw new DlswapError('ERR_DLSWAP_CLOSED', 'this HotLibrary is closed');
    const gen = this.#board.current;
    const release = gen.pin('lease');
    const fns = gen.functions!.fns as unknown as HotFunctions<F, WithHandles<D, H>>;
    return { generation: gen.id, fn: fns, release, [Symbol.dispose]: release };
  }

  #startWatch(initialSha256: string, options: ResolvedHotWatchOptions, buildStep: ResolvedBuildStep | null): void {
    // A bare soname is watched where it was found (lib/load/search.ts), not in the current directory.
    const file = resolveLibrary(this.#path);
    const { build: _b, sources: _s, cwd: _c, buildTimeoutMs: _t, ...watchOptions } = options;
    const w = new LibraryWatcher(file, { ...watchOptions, initialSha256 });
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
          w.forget(change.sha256, this.#board.current.lib?.info.sha256 ?? null);
          const error = asDlswapError(err, 'ERR_DLSWAP_RELOAD', `reload of ${this.#path} failed`);
          this.#emit('watch-skip', { reason: 'reload-failed', path: w.path, message: error.message, error });
        },
      );
    });
    w.on('skip', (skip: unknown) => this.#emit('watch-skip', skip));
    this.#watcher = w;
    if (!buildStep) return;
    this.#rebuilder = new Rebuilder(
      w.path,
      buildStep,
      w,
      { debounceMs: w.options.debounceMs, persistent: w.options.persistent },
      {
        start: (e) => this.#emit('watch-build-start', e),
        success: (e) => this.#emit('watch-build', e),
        failure: (e) => this.#emit('watch-skip', e),
        watchError: (message) => this.#emit('watch-skip', { path: w.path, reason: 'watch-error', message }),
        // The reload a change asked for is on the chain by the time the watcher is idle.
        settled: () => this.#chain.then(() => undefined),
      },
    );
  }

  /**
   * Closes every generation once drained. Safe during a reload: the reload is rolled back. An abort
   * (`signal`) only stops the wait: the closing goes on, and a later close() returns it.
   */
  close(options?: CloseOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = resolveCloseOptions(options).signal;
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.#closing) this.#closing = this.#close();
    return raceAbort(this.#closing, signal, () =>
      abortedError(signal!, 'close() was aborted: it stopped waiting, and the generations go on draining and closing'),
    );
  }

  /** `await using hot = await HotLibrary.open(...)`: close() at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = null;
    // A build still running is stopped with its process group before the generations close.
    await this.#rebuilder?.close();
    this.#rebuilder = null;
    await this.#chain;
    const live = this.#all.filter((g) => g.isIn('active', 'draining'));
    for (const g of live) if (g.isIn('active')) g.transition('draining');
    const retiring = live.map((g) => this.#retire(g, undefined));
    // The handles still open are released through their destructors, once their generation's
    // calls and leases are done: nothing else would, and each generation waits for its handles.
    await Promise.all(live.map((g) => this.#handles.releaseAll(g, (e) => this.#reportError(e))));
    await Promise.all(retiring);
    await Promise.all(this.#all.map((g) => g.retired));
  }

  // ---- phases (lib/hot/hot_phases.ts, the swap: lib/hot/swap.ts) ----------------------------------

  /**
   * loading, then (under the generation's guard, lib/hot/generation_guard.ts) verifying and `activate`:
   * whatever fails after the load returned, the generation is discarded and the failure is an
   * ERR_DLSWAP_RELOAD naming the phase. `activate` releases the guard when the generation serves.
   */
  static async #bringUp<T>(
    gen: Generation,
    options: ResolvedHotOptions,
    sha256: string | undefined,
    report: ReloadReport,
    onLog: (e: PluginLogEvent) => void,
    handles: HandleRegistry,
    activate: (guard: GenerationGuard, timer: PhaseTimer) => Promise<T>,
  ): Promise<T> {
    const timer = new PhaseTimer(report.durations);
    const loaded = await loadGeneration(gen, options, sha256, report, timer, onLog);
    return guardGeneration(gen, loaded, report, timer, options.finiTimeoutMs, async (guard) => {
      await verifyGeneration(gen, loaded, options, report, timer, handles);
      guard.enter('swap');
      return activate(guard, timer);
    });
  }

  // The closures a generation keeps for its life (its fault listener, its plugin's log) are made
  // here and in #emitPluginLog, never in #reload: there they would share #reload's context, which
  // holds the generation being replaced, and every generation would keep its predecessor alive.

  /** Generation `#nextId` of `path`, with its fault listener, listed until it is retired. */
  #newGeneration(path: string): Generation {
    const gen: Generation = new Generation(this.#nextId++, path, (e) => this.#onFault(gen, e));
    this.#track(gen);
    return gen;
  }

  /** Where a generation's plugin log lines (and drop notes) go once the HotLibrary exists. */
  readonly #emitPluginLog = (e: PluginLogEvent): void => {
    this.#emit(e.name, e.event);
  };

  /**
   * One reload, in its named steps: loading (`loadGeneration`, one loader job), then under the new
   * generation's guard verifying (`verifyGeneration`) and the swap (`Switchboard.swapIn`), then the
   * old generation's retirement (`retireGeneration`: draining, teardown, finalizing, closing), which
   * the reload waits for only with `wait: 'closed'`. Fails before the swap with ERR_DLSWAP_RELOAD and
   * a 'rollback' event; leaves behind then: the old generation serving, the new one discarded.
   */
  async #reload(path: string, options: ResolvedReloadOptions): Promise<ReloadReport> {
    if (this.#closing) throw new DlswapError('ERR_DLSWAP_CLOSED', 'this HotLibrary was closed before the reload started');
    if (options.signal?.aborted) throw abortedError(options.signal, `reload of ${path} was aborted before it started`);
    const old = this.#board.current;
    const gen = this.#newGeneration(path);
    debug('reload %s: generation %d loading (generation %d serves)', path, gen.id, old.id);
    const report: ReloadReport = { from: old.id, to: gen.id, path, policy: this.policy, durations: {}, retired: old.retired };
    try {
      await HotLibrary.#bringUp(gen, this.#options, options.sha256, report, this.#emitPluginLog, this.#handles, (guard, timer) =>
        this.#board.swapIn(old, gen, options, report, guard, timer),
      );
    } catch (e) {
      debug('reload %s: generation %d rejected while %s, rolled back', path, gen.id, report.failedPhase);
      this.#emit('rollback', report);
      throw e;
    }
    this.#swappedBy.set(options, report);
    debug('reload %s: swapped, generation %d serves (%s ms); generation %d drains', path, gen.id, report.durations.swap?.toFixed(3), old.id);
    this.#path = path;
    this.#emit('reload', report);
    const retired = this.#retire(old, report);
    report.retired = retired;
    // Not for handles: a pool keeps its connections on the old generation for as long as it likes.
    if (options.wait === 'closed') await Promise.race([retired, old.onlyHandlesLeft]);
    return report;
  }

  // ---- faults (lib/hot/fault_policy.ts) -----------------------------------------------------------

  /** A call into `gen` faulted: the `onFault` policy decides (called before the caller sees the error). */
  #onFault(gen: Generation, error: FaultError): void {
    // Its code is never called again: its handles are released without calling their destructors.
    this.#handles.drop(gen, 'was dropped when its generation was quarantined after a fault');
    onGenerationFault(gen, error, this.#faultPolicyHost);
  }

  /**
   * The rollback after a fault: `hot.fn` calls `to` again (lib/hot/swap.ts), and `from`, the faulted
   * current generation, is retired (quarantined: neither finalized nor unmapped).
   */
  #swapBack(from: Generation, to: Generation): void {
    this.#board.swapBack(from, to);
    this.#path = to.path;
    void this.#retire(from, undefined);
  }

  /** The old generation's way out (lib/hot/hot_retire.ts): once per generation, joined by close(). */
  #retire(gen: Generation, report: ReloadReport | undefined): Promise<void> {
    return retireGeneration(gen, report, this.#options, this.#events, { teardown: this.#options.teardown as RetireHooks['teardown'] });
  }

  /** What the phases emit through: guarded, so that a throwing listener stops nothing. */
  readonly #events: PhaseEvents = {
    emit: (event, ...payload) => this.#emit(event, payload[0]),
    reportError: (e) => this.#reportError(e),
  };

  /** What the fault policy acts on (declared after #events, which it uses). */
  readonly #faultPolicyHost: FaultPolicyHost = {
    policy: DEFAULT_FAULT_POLICY,
    swapPolicy: 'overlap',
    current: () => this.#board.current,
    live: () => this.#all,
    swapBack: (from, to) => this.#swapBack(from, to),
    events: this.#events,
  };

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
