/**
 * HotLibrary: a library that can be replaced while it serves calls.
 *
 * Policy lives here; the mechanism (load, call, count, unload) is native. A reload goes through the
 * phases of docs/hot-reload.md. Everything before the swap can fail without the current generation
 * noticing: the new one is closed and the old one was never touched (rollback never re-opens a path).
 * After the swap the old generation drains: it is closed only once its async calls and leases are gone.
 */
import { EventEmitter } from 'node:events';
import { DlswapError } from './errors';
import { rebind, type BoundFunction } from './func';
import { Generation, type GenerationInfo } from './generation';
import { open, type Library } from './library';
import type { Isolation } from './isolation';
import { addon } from './native';
import type { FunctionOf } from './prototype_types';
import { faultPoint, type FaultPoint } from './faults';
import { LibraryWatcher, type WatchOptions } from './watch';
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
  /** Accepted range of the plugin's dlswap_abi_version(). Default: exactly this host's ABI version. */
  abi?: { min?: number; max?: number };
  /** Passed to the plugin as dlswap_host.user_data. */
  userData?: bigint;
  /** Passed to open(): open even when the mode is known to crash the library. */
  force?: boolean;
  /** Refuse the initial file unless its sha256 matches (reload takes its own). */
  sha256?: string;
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
}

export type ReloadPhase = 'loading' | 'verifying' | 'swap' | 'draining' | 'finalizing' | 'closing';

export interface ReloadReport {
  /** The generation that served before. */
  from: number;
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
// A service that reloads for months must not keep every generation it ever loaded: finished ones
// are kept as their final GenerationInfo only (their Library and ELF tables dropped), and only the
// most recent of them.
const FINISHED_HISTORY = 1_000;

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
    options: HotOptions<F, D> = {},
  ): Promise<HotLibrary<F, D>> {
    if (options.policy !== undefined && options.policy !== 'overlap' && options.policy !== 'handover') {
      throw new DlswapError('ERR_DLSWAP_ARG', `policy must be 'overlap' or 'handover', not ${JSON.stringify(options.policy)}`);
    }
    const gen = new Generation(1, path);
    const report: ReloadReport = { from: 0, to: 1, path, policy: options.policy ?? 'overlap', durations: {}, retired: gen.retired };
    const onLog = (e: LogEvent) => hot?.emit('log', e);
    let hot: HotLibrary<F, D> | undefined;
    await HotLibrary.#load(gen, path, options, options.sha256, report, onLog);
    gen.state = 'active';
    hot = new HotLibrary(path, options, gen);
    hot.#nextId = 2;
    if (options.watch) hot.#startWatch(gen.lib!.info.sha256, options.watch === true ? {} : options.watch);
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
  reload(path: string = this.#path, options: ReloadOptions = {}): Promise<ReloadReport> {
    if (this.#closing) return Promise.reject(new DlswapError('ERR_DLSWAP_CLOSED', 'this HotLibrary is closed'));
    if (this.#queued && this.#queued.path === path && options.sha256 === undefined) return this.#queued.promise;
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
    const w = new LibraryWatcher(this.#path, { ...options, initialSha256 });
    w.on('change', (change: { sha256: string }) => {
      // Resolve at the swap: a long-held lease on the old build must not delay the next rebuild.
      this.reload(this.#path, { sha256: change.sha256, wait: 'swap' }).then(
        (report) => this.emit('watch-reload', report),
        (err) => this.emit('watch-skip', { reason: 'reload-failed', error: err }),
      );
    });
    w.on('skip', (skip: unknown) => this.emit('watch-skip', skip));
    this.#watcher = w;
  }

  /** Closes every generation once drained. Safe during a reload: the reload is rolled back. */
  close(): Promise<void> {
    if (!this.#closing) this.#closing = this.#close();
    return this.#closing;
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

  static async #load<G extends Record<string, string>, DD extends TypeDefs>(
    gen: Generation,
    path: string,
    options: HotOptions<G, DD>,
    sha256: string | undefined,
    report: ReloadReport,
    onLog: (e: LogEvent) => void,
    fault: (p: FaultPoint) => void = faultPoint,
  ): Promise<void> {
    let phase: ReloadPhase = 'loading';
    let t = performance.now();
    const lap = (next: ReloadPhase) => {
      const now = performance.now();
      report.durations[phase] = now - t;
      t = now;
      phase = next;
    };
    let initialized = false;
    try {
      gen.lib = open(path, { isolation: options.isolation, force: options.force, sha256, types: options.types });
      fault('after-open');
      lap('verifying');
      gen.state = 'verifying';
      HotLibrary.#verifyAbi(gen.lib, options);
      for (const proto of Object.values(options.functions ?? {})) gen.lib.func(proto);
      if (has(gen.lib, 'dlswap_version')) gen.version = gen.lib.func('const char *dlswap_version(void)')() as string | null;
      if (has(gen.lib, 'dlswap_init')) {
        const host = new (addon.PluginHost as PluginHostCtor)(BigInt(gen.id), addon.PLUGIN_ABI_VERSION as number, options.userData ?? 0n, (level, message) =>
          onLog({ generation: gen.id, level, message }),
        );
        gen.host = host;
        const rc = gen.lib.func('int dlswap_init(void *host)')(host.address) as number;
        if (rc !== 0) {
          throw new DlswapError('ERR_DLSWAP_INIT_FAILED', `dlswap_init of ${path} returned ${rc}; the generation was rejected and the previous one keeps serving.`);
        }
        initialized = true;
      }
      if (options.setup) await HotLibrary.#setup(gen, options);
      fault('in-verify');
      report.durations.verifying = performance.now() - t;
    } catch (e) {
      report.durations[phase] = performance.now() - t;
      report.failedPhase = phase;
      report.error = e as Error;
      gen.state = 'rejected';
      gen.rejectedReason = (e as Error).message;
      await HotLibrary.#discard(gen, initialized);
      throw reloadError(report);
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

  static #verifyAbi(lib: Library, options: { abi?: { min?: number; max?: number } }): void {
    if (!has(lib, 'dlswap_abi_version')) return;
    const host = addon.PLUGIN_ABI_VERSION as number;
    const min = options.abi?.min ?? host;
    const max = options.abi?.max ?? host;
    const v = lib.func('uint32_t dlswap_abi_version(void)')() as number;
    if (v < min || v > max) {
      throw new DlswapError(
        'ERR_DLSWAP_ABI_VERSION',
        `${lib.info.path} speaks plugin ABI version ${v}; this host accepts ${min === max ? min : `${min} to ${max}`}. Rebuild the plugin against this dlswap's include/dlswap.h.`,
      );
    }
  }

  /** Undoes a generation that never served: fini if init ran, release the host, close. */
  static async #discard(gen: Generation, initialized: boolean): Promise<void> {
    try {
      if (initialized && gen.lib && has(gen.lib, 'dlswap_fini')) gen.lib.func('void dlswap_fini(void)')();
    } finally {
      gen.host?.release();
      if (gen.lib) gen.closeResult = await gen.lib.close();
      gen.markRetired();
    }
  }

  async #reload(path: string, options: ReloadOptions): Promise<ReloadReport> {
    if (this.#closing) throw new DlswapError('ERR_DLSWAP_CLOSED', 'this HotLibrary was closed before the reload started');
    const old = this.#current;
    const gen = new Generation(this.#nextId++, path);
    this.#track(gen);
    const report: ReloadReport = { from: old.id, to: gen.id, path, policy: this.policy, durations: {}, retired: old.retired };
    try {
      await HotLibrary.#load(gen, path, this.#options, options.sha256, report, (e) => this.emit('log', e));
    } catch (e) {
      this.emit('rollback', report);
      throw e;
    }
    const t = performance.now();
    try {
      faultPoint('before-swap');
      if (this.#closing) throw new DlswapError('ERR_DLSWAP_CLOSED', 'the HotLibrary was closed during the reload');
      if (this.policy === 'handover') await this.#handover(old, gen);
      else this.#swap(old, gen);
    } catch (e) {
      report.durations.swap = performance.now() - t;
      report.failedPhase = 'swap';
      report.error = e as Error;
      gen.state = 'rejected';
      gen.rejectedReason = (e as Error).message;
      await HotLibrary.#discard(gen, gen.host !== null);
      this.emit('rollback', report);
      throw reloadError(report);
    }
    report.durations.swap = performance.now() - t;
    this.#path = path;
    this.emit('reload', report);
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
   * imported into the new one and the swap happens in one synchronous step, so no sync call sees a
   * half-moved state. If the import fails, the gate opens on the old generation (rollback).
   */
  async #handover(old: Generation, gen: Generation): Promise<void> {
    let open!: () => void;
    this.#gate = new Promise<void>((r) => (open = r));
    try {
      await this.#drain(old, undefined);
      const oldLib = old.lib!;
      const newLib = gen.lib!;
      if (has(oldLib, 'dlswap_state_export') && has(newLib, 'dlswap_state_import')) {
        const exp = oldLib.func('size_t dlswap_state_export(void *buf, size_t cap)');
        const size = Number(exp(null, 0n));
        const buf = Buffer.alloc(size);
        const written = Number(exp(buf, BigInt(size)));
        if (written !== size) throw new DlswapError('ERR_DLSWAP_RELOAD', `dlswap_state_export wrote ${written} bytes after announcing ${size}`);
        const rc = newLib.func('int dlswap_state_import(const void *buf, size_t len)')(buf, BigInt(size)) as number;
        if (rc !== 0) throw new DlswapError('ERR_DLSWAP_RELOAD', `dlswap_state_import of the new generation returned ${rc}; rolled back to the old generation.`);
      }
      this.#swap(old, gen);
    } finally {
      this.#gate = null;
      open();
    }
  }

  async #drain(gen: Generation, report: ReloadReport | undefined): Promise<void> {
    const timeoutMs = this.#options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    const timer = setTimeout(() => {
      if (report) report.drainTimedOut = true;
      this.emit('drain-timeout', { generation: gen.id, inFlight: gen.lib?.inFlight ?? 0, leases: gen.leases, timeoutMs });
    }, timeoutMs);
    timer.unref();
    try {
      await gen.whenIdle();
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Drain, finalize, close: the old generation's way out. Never unmaps code that is still running:
   * not under an async call or a lease, and not before dlswap_fini has stopped the plugin's threads.
   */
  async #retire(gen: Generation, report: ReloadReport | undefined): Promise<void> {
    let t = performance.now();
    const lap = (phase: ReloadPhase) => {
      const now = performance.now();
      if (report) report.durations[phase] = now - t;
      t = now;
    };
    const lib = gen.lib!;
    let drained = false;
    let finalized = false;
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
        lap('draining');
        this.emit('drained', { generation: gen.id });
      }
      if (!finalized) {
        gen.state = 'finalizing';
        if (has(lib, 'dlswap_fini')) {
          faultPoint('in-fini');
          const fini = lib.func('void dlswap_fini(void)');
          finalized = true; // entered: a C function cannot fail half-way, so it is never run twice
          fini();
        }
        finalized = true;
        gen.host?.release();
        lap('finalizing');
      }
      if (!lib.closed) {
        faultPoint('before-dlclose');
        gen.closeResult = await lib.close();
        faultPoint('after-dlclose');
        lap('closing');
      }
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
        if (!lib.closed) {
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
      if (report) {
        report.unloaded = result.unloaded;
        if (!result.unloaded) report.pinnedReason = result.reason;
      }
      if (result.unloaded) this.emit('unloaded', { generation: gen.id });
      else this.emit('pinned', { generation: gen.id, reason: result.reason, threads: result.threads });
      // Held by threads: closed once they exit, and announced then.
      void result.unmapped?.then((final) => {
        gen.closeResult = final;
        if (final.unloaded) this.emit('unloaded', { generation: gen.id, afterThreads: true });
      });
    } catch (e) {
      this.#reportError(e);
    } finally {
      gen.markRetired();
    }
  }

  /** 'error' is emitted only if listened to; a listener that throws must not stop a retirement. */
  #reportError(e: unknown): void {
    if (this.listenerCount('error') === 0) return;
    try {
      this.emit('error', e);
    } catch (thrown) {
      process.nextTick(() => {
        throw thrown;
      });
    }
  }
}

/** Whether the (open) library exports `name`; the plugin ABI's entry points are all optional. */
function has(lib: Library, name: string): boolean {
  return lib.native.symbol(name) !== undefined;
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

type PluginHostCtor = new (
  generation: bigint,
  abi: number,
  userData: bigint,
  onLog: (level: number, message: string) => void,
) => { address: bigint; dropped: number; release(): void };
