/**
 * One generation of a hot library: one `Library` (one loaded image) plus what the reload machinery
 * needs to know about it. State machine (docs/hot-reload.md), enforced by `transition`:
 *
 *   loading -> verifying -> active -> draining -> finalizing -> closed
 *      \-----------\-> rejected (the current generation keeps serving, untouched)
 */
import type { DependencyCloseResult } from '../load/dependencies';
import { DlswapError } from '../errors';
import type { Library, CloseResult } from '../load/library';
import type { FunctionTable } from './function_table';
import type { PluginAbi } from './plugin_abi';
import type { PluginHostHandle } from '../native';
import type { FaultError, FaultInfo } from '../containment';

export type GenerationState = 'loading' | 'verifying' | 'active' | 'draining' | 'finalizing' | 'closed' | 'rejected';

/**
 * The legal moves. A drain whose retirement failed twice closes without finalizing (the image stays
 * mapped, reported pinned); nothing leaves 'closed' or 'rejected'. Everything else is a bug in the
 * reload machinery, and is thrown as one rather than recorded.
 */
const TRANSITIONS: Readonly<Record<GenerationState, readonly GenerationState[]>> = {
  loading: ['verifying', 'rejected'],
  verifying: ['active', 'rejected'],
  active: ['draining'],
  // 'active' again: a rollback after a fault of the generation that replaced it (fault_policy.ts).
  draining: ['finalizing', 'closed', 'active'],
  finalizing: ['closed'],
  closed: [],
  rejected: [],
};

export interface GenerationInfo {
  id: number;
  state: GenerationState;
  path: string;
  buildId: string | null;
  /**
   * The private copy this generation's code is mapped from (what gdb, perf and core files name),
   * or null before it is loaded (docs/debugging.md).
   */
  mappedPath: string | null;
  /** What the plugin's dlswap_version() returned, or null. */
  version: string | null;
  loadedAt: Date;
  /** Completed calls (sync and async) on this generation. */
  calls: number;
  /** Async calls running on it now. */
  inFlight: number;
  /** Leases (hot.pin()) still held on it. */
  leases: number;
  /**
   * Handles it made that are not released yet (docs/hot-reload.md#handles-and-generations). A
   * draining generation with no call in flight and no lease, but handles, is held by them alone:
   * it retires once the last one is released.
   */
  handles: number;
  /** Calls that failed inside the call machinery (not argument errors). */
  errors: number;
  /** Set once closed: whether the image is gone from the process. */
  unloaded?: boolean;
  /** Set when closed but still mapped: why (unique symbols, NODELETE, ...). */
  pinnedReason?: string;
  /** Set once closed: what happened to each of its private (and shared) dependencies. */
  dependencies?: DependencyCloseResult[];
  /** Set when rejected: why. */
  rejectedReason?: string;
  /** Set when a call into it faulted: the first fault. It is quarantined (docs/faults.md). */
  fault?: FaultInfo;
}

/**
 * A generation's state changes only through its own methods, each saying when it may be called:
 * the phases (lib/hot/hot_phases.ts), the swap (lib/hot/swap.ts) and the retirement
 * (lib/hot/hot_retire.ts) read its fields and ask it to change.
 */
export class Generation {
  readonly id: number;
  readonly path: string;
  readonly loadedAt = new Date();
  #state: GenerationState = 'loading';
  #lib: Library | null = null;
  #plugin: PluginAbi | null = null;
  #functions: FunctionTable | null = null;
  #host: PluginHostHandle | null = null;
  #quarantined = false;
  /** Told of a fault in a call into this generation (HotLibrary's fault policy, lib/hot/fault_policy.ts). */
  readonly #onFault: ((error: FaultError) => void) | null;
  #leases = 0;
  #handles = 0;
  #closeResult: CloseResult | null = null;
  #rejectedReason: string | undefined;
  #retiring: Promise<void> | null = null;
  readonly #retired: Promise<void>;
  #retire!: () => void;
  #pinWaiters: (() => void)[] = [];
  #revivalWaiters: (() => void)[] = [];
  #heldByHandles!: () => void;
  #onlyHandlesLeft!: Promise<void>;

  /** `onFault`: told of a fault in a call into it, for its whole life (its HotLibrary's fault policy). */
  constructor(id: number, path: string, onFault: ((error: FaultError) => void) | null = null) {
    this.id = id;
    this.path = path;
    this.#onFault = onFault;
    this.#retired = new Promise<void>((r) => (this.#retire = r));
    this.#newDrain();
  }

  #newDrain(): void {
    this.#onlyHandlesLeft = new Promise<void>((r) => (this.#heldByHandles = r));
  }

  /** Resolves once the generation is closed (or rejected): markRetired(). */
  get retired(): Promise<void> {
    return this.#retired;
  }

  // ---- what it is made of: each adopted once, while it is verified (lib/hot/hot_phases.ts) --------

  /** Its Library (one loaded image), once verifying adopted it; null before (and if it never was). */
  get lib(): Library | null {
    return this.#lib;
  }

  /** What its plugin entry points said while it was verified: the one record of whether init ran. */
  get plugin(): PluginAbi | null {
    return this.#plugin;
  }

  /** Its declared functions, bound once while it was verified (swap, leases, setup). */
  get functions(): FunctionTable | null {
    return this.#functions;
  }

  /**
   * Its dlswap_host, once init ran. The host's own `finiOwed` is a second record with another role:
   * who runs dlswap_fini if the environment goes first (native/plugin/plugin_host.h).
   */
  get host(): PluginHostHandle | null {
    return this.#host;
  }

  /**
   * Records what the loader found of its plugin ABI (resolvePluginAbi). Once, while it is loaded and
   * not yet verified; a second call is a bug of the reload machinery (ERR_DLSWAP_INTERNAL).
   */
  recordPlugin(plugin: PluginAbi): void {
    this.#once(this.#plugin, 'its plugin ABI');
    this.#plugin = plugin;
  }

  /** Adopts the Library made of its image. Once, before it is verified (else ERR_DLSWAP_INTERNAL). */
  adoptLibrary(lib: Library): void {
    this.#once(this.#lib, 'its Library');
    this.#lib = lib;
  }

  /**
   * Keeps its dlswap_host: its init ran, so fini is owed, and its retirement hands the host to the
   * fini. Once, after adoptLibrary (else ERR_DLSWAP_INTERNAL).
   */
  adoptHost(host: PluginHostHandle): void {
    this.#once(this.#host, 'its host');
    this.#host = host;
  }

  /** Keeps its function table, bound from its Library. Once (else ERR_DLSWAP_INTERNAL). */
  bindFunctions(table: FunctionTable): void {
    this.#once(this.#functions, 'its function table');
    this.#functions = table;
  }

  #once(current: unknown, what: string): void {
    if (current !== null) throw new DlswapError('ERR_DLSWAP_INTERNAL', `generation ${this.id} was given ${what} twice`);
  }

  // ---- faults --------------------------------------------------------------------------------------

  /** Plugin code of this generation overran its timeout: it is never called or unmapped again. */
  get quarantined(): boolean {
    return this.#quarantined;
  }

  /** Its plugin code overran (a state import): from now on it is never called or unmapped. For good. */
  quarantine(): void {
    this.#quarantined = true;
  }

  /** A call into it (or one of its plugin entry points) faulted: tells its HotLibrary's fault policy. */
  reportFault(error: FaultError): void {
    this.#onFault?.(error);
  }

  // ---- its close ---------------------------------------------------------------------------------

  /** What its close came to, once known: unloaded, or mapped and why; null before. */
  get closeResult(): CloseResult | null {
    return this.#closeResult;
  }

  /**
   * Records what its close (or the undoing of its load) came to. The latest word wins: an image held
   * by threads when it was closed is recorded again once they let it go.
   */
  recordClose(result: CloseResult): void {
    this.#closeResult = result;
  }

  /** Why it was rejected, if it was. */
  get rejectedReason(): string | undefined {
    return this.#rejectedReason;
  }

  /**
   * Its one retirement (drain, fini, close: lib/hot/hot_retire.ts): started with `start` unless one
   * is already running, which is then joined (close() during a drain). A rollback that revives it
   * ends that retirement (revive()), and its next one starts afresh.
   */
  retireWith(start: () => Promise<void>): Promise<void> {
    this.#retiring ??= start();
    return this.#retiring;
  }

  // ---- what references it --------------------------------------------------------------------------

  /** Pins held by leases (hot.pin()). */
  get leases(): number {
    return this.#leases;
  }

  /** Pins held by live handles it made (lib/hot/handles.ts). */
  get handles(): number {
    return this.#handles;
  }

  /**
   * Resolves when its drain has only handles left to wait for (calls and leases are gone): what a
   * reload with `wait: 'closed'` waits for instead of the close (it does not wait for handles).
   * Made anew when a rollback revives it, for its next drain.
   */
  get onlyHandlesLeft(): Promise<void> {
    return this.#onlyHandlesLeft;
  }

  /** dlswap_init returned 0 (or there was none): dlswap_fini is due before the image goes. */
  get initialized(): boolean {
    return this.plugin?.initialized ?? false;
  }

  /** What the plugin's dlswap_version() returned, or null. */
  get version(): string | null {
    return this.plugin?.version ?? null;
  }

  get state(): GenerationState {
    return this.#state;
  }

  /** Whether the generation is in one of `states`. */
  isIn(...states: GenerationState[]): boolean {
    return states.includes(this.#state);
  }

  /** The one writer of the state: moves along TRANSITIONS or throws ERR_DLSWAP_INTERNAL. */
  transition(to: GenerationState): void {
    if (!TRANSITIONS[this.#state].includes(to)) {
      throw new DlswapError('ERR_DLSWAP_INTERNAL', `generation ${this.id} cannot go from '${this.#state}' to '${to}'`);
    }
    this.#state = to;
  }

  /** Rejected before it served: why, for generations(). */
  reject(reason: string): void {
    this.transition('rejected');
    this.#rejectedReason = reason;
  }

  /** Whether an async call, a lease or (with `handles`) a live handle still references it. */
  busy(handles = true): boolean {
    return this.#leases > 0 || (handles && this.#handles > 0) || (this.#lib !== null && this.#lib.inFlight > 0);
  }

  /**
   * Resolves when nothing references the generation any more: no async call, no lease, and unless
   * `handles` is false, no live handle.
   */
  async whenIdle(handles = true): Promise<void> {
    while (this.busy(handles)) {
      if (this.#lib && this.#lib.inFlight > 0) await this.#lib.whenIdle();
      if (this.#leases > 0 || (handles && this.#handles > 0)) await new Promise<void>((resolve) => this.#pinWaiters.push(resolve));
    }
  }

  /**
   * Pins the generation: it is not retired while a pin is held. A lease (hot.pin()) is a pin, and so
   * is each live handle the generation made; they differ only in who waits for them (a reload waits
   * for leases, not for handles). Returns the release, which acts once.
   */
  pin(kind: 'lease' | 'handle'): () => void {
    if (kind === 'lease') this.#leases++;
    else this.#handles++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (kind === 'lease') this.#leases--;
      else this.#handles--;
      // Both kinds share the waiters: each rechecks what it waits for (whenIdle's loop).
      for (const f of this.#pinWaiters.splice(0)) f();
    };
  }

  /** Its drain is down to handles (see onlyHandlesLeft). */
  markHeldByHandles(): void {
    this.#heldByHandles();
  }

  /** Its retirement (or its rejection's undoing) is over, whatever it came to: `retired` resolves. Idempotent. */
  markRetired(): void {
    this.#retire();
  }

  /** A draining generation serves again (a rollback): its retirement, waiting on its drain, stops. */
  revive(): void {
    this.transition('active');
    this.#retiring = null;
    this.#newDrain();
    for (const f of this.#revivalWaiters.splice(0)) f();
  }

  /** Resolves when the generation is revived (see revive()). */
  whenRevived(): Promise<void> {
    return new Promise<void>((resolve) => this.#revivalWaiters.push(resolve));
  }

  info(): GenerationInfo {
    // Counters only: the in-flight count users see is the Library's (lib/load/library.ts says why).
    const stats = this.lib ? this.lib.native.stats() : { calls: 0, errors: 0 };
    const out: GenerationInfo = {
      id: this.id,
      state: this.state,
      path: this.path,
      buildId: this.lib?.info.buildId ?? null,
      mappedPath: this.lib?.info.mappedPath ?? null,
      version: this.version,
      loadedAt: this.loadedAt,
      calls: stats.calls,
      inFlight: this.lib ? this.lib.inFlight : 0,
      leases: this.leases,
      handles: this.handles,
      errors: stats.errors,
    };
    if (this.closeResult) {
      out.unloaded = this.closeResult.unloaded;
      if (!this.closeResult.unloaded) out.pinnedReason = this.closeResult.reason;
      if (this.closeResult.dependencies) out.dependencies = this.closeResult.dependencies;
    }
    if (this.rejectedReason) out.rejectedReason = this.rejectedReason;
    const fault = this.lib?.fault;
    if (fault) out.fault = fault;
    return out;
  }
}
