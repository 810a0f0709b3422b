/**
 * The swap: which generation `hot.fn` calls, and the one place that changes it.
 *
 * A `Switchboard` owns `hot.fn`, the generation it calls (`current`) and the handover's gate, and is
 * their only writer: the swap phase of a reload (`swapIn`: 'overlap' at once, 'handover' after the
 * state moved) and the rollback after a fault (`swapBack`, lib/hot/fault_policy.ts). Each repoints
 * every `hot.fn` entry that meets no handle natively (`rebind`), moves the two generations' states
 * and sets `current` in one synchronous step, so no call can interleave. Entries that meet a handle
 * route each call (lib/hot/handles.ts) and follow `current` with no repointing.
 */
import { DlswapError, type DlswapErrorCode } from '../errors';
import { bindSignature, rebind, type BoundFunction } from '../call/func';
import { addon } from '../native';
import { faultPoint } from '../faults';
import { abortedError } from '../abort';
import { debug } from '../debug';
import type { ResolvedHotOptions, ResolvedReloadOptions } from '../options';
import type { Signature } from '../signature/signature';
import type { Generation } from './generation';
import type { GenerationGuard } from './generation_guard';
import type { HandleRegistry } from './handles';
import { waitIdle, type PhaseEvents } from './hot_phases';
import type { PhaseTimer } from './phase_timer';
import type { ReloadReport } from './hot_types';

type AnyBound = BoundFunction<(...a: unknown[]) => unknown>;

export class Switchboard {
  /** `hot.fn`: frozen, its entries repointed in place. */
  readonly fn: Readonly<Record<string, AnyBound>>;
  /** The entries the swap repoints natively: those that meet no handle (the others route each call). */
  readonly #direct: [string, AnyBound][] = [];
  #current: Generation;
  /** Up while a handover moves the state: new async calls wait on it, then run on `current`. */
  #gate: Promise<void> | null = null;
  readonly #options: ResolvedHotOptions;
  readonly #events: PhaseEvents;
  readonly #closing: () => boolean;

  /**
   * Binds `hot.fn` to `first` (verified, not yet active: its guard is on), from the signatures its
   * HotLibrary parsed once. `closing`: whether close() was called (a swap then fails).
   */
  constructor(first: Generation, options: ResolvedHotOptions, handles: HandleRegistry, events: PhaseEvents, closing: () => boolean) {
    this.#current = first;
    this.#options = options;
    this.#events = events;
    this.#closing = closing;
    const fns: Record<string, AnyBound> = {};
    for (const [name, sig] of Object.entries(options.signatures)) {
      fns[name] = handles.meets(name)
        ? handles.route(
            name,
            () => this.#current,
            () => this.#gate,
          )
        : this.#bindDirect(first, name, sig);
    }
    this.fn = Object.freeze(fns);
  }

  /** A `hot.fn` entry that meets no handle: `first`'s function, its async calls held at the gate. */
  #bindDirect(first: Generation, name: string, sig: Signature): AnyBound {
    const f = bindSignature(first.lib!, sig) as AnyBound;
    const direct = f.async;
    // Async calls wait while a handover is in progress, then run on whatever is current.
    Object.defineProperty(f, 'async', {
      value: (...args: unknown[]) => (this.#gate ? this.#gate.then(() => direct(...args)) : direct(...args)),
    });
    this.#direct.push([name, f]);
    return f;
  }

  /** The generation new calls go to. */
  get current(): Generation {
    return this.#current;
  }

  /**
   * swap: from here new calls go to `gen` ('overlap': at once; 'handover': after the state moved).
   * Runs under `gen`'s guard, which it releases in the step that makes `gen` serve. Fails (and the
   * guard discards `gen`) on the fault point 'before-swap', an abort, close(), or the handover's
   * drain or state transfer. Leaves behind: the old generation serving as before.
   */
  async swapIn(
    old: Generation,
    gen: Generation,
    reload: ResolvedReloadOptions,
    report: ReloadReport,
    guard: GenerationGuard,
    timer: PhaseTimer,
  ): Promise<void> {
    const d = report.durations;
    debug('reload %s: generation %d verified (%s ms loading, %s ms verifying)', gen.path, gen.id, d.loading?.toFixed(2), d.verifying?.toFixed(2));
    faultPoint('before-swap');
    if (reload.signal?.aborted) throw abortedError(reload.signal, `reload of ${gen.path} was aborted before its swap`);
    if (this.#closing()) throw new DlswapError('ERR_DLSWAP_CLOSED', 'the HotLibrary was closed during the reload');
    if (this.#options.policy === 'handover') {
      await this.#handover(old, gen, guard);
    } else {
      this.#repoint(old, gen);
      guard.release();
    }
    timer.lap('swap');
  }

  /**
   * The atomic part: from here new calls go to `gen`, at the addresses its function table recorded;
   * `old` drains. Synchronous, so no call can interleave. All or nothing: a rebind that fails puts
   * back the ones done, so that no `hot.fn` is left calling into a generation that its guard is
   * about to discard, and throws.
   */
  #repoint(old: Generation, gen: Generation): void {
    const table = gen.functions!;
    const fns = this.#direct;
    let done = 0;
    try {
      for (const [name, f] of fns) {
        rebind(f, gen.lib!, table.address(name));
        done++;
      }
    } catch (e) {
      const back = old.functions!;
      for (const [name, f] of fns.slice(0, done)) rebind(f, old.lib!, back.address(name));
      throw e;
    }
    old.transition('draining');
    gen.transition('active');
    this.#current = gen;
  }

  /**
   * The rollback after a fault (lib/hot/fault_policy.ts): `hot.fn` calls `to` again (revived from its
   * drain), and `from`, the faulted current generation, starts draining (its HotLibrary retires it).
   * Synchronous, as the swap is: no call can interleave.
   */
  swapBack(from: Generation, to: Generation): void {
    const table = to.functions!;
    for (const [name, f] of this.#direct) rebind(f, to.lib!, table.address(name));
    to.revive();
    from.transition('draining');
    this.#current = to;
  }

  /**
   * Handover: new async calls wait at the gate; the old generation drains; its exported state is
   * imported into the new one (transferState), and the swap follows in the same tick. If the drain
   * times out (handoverTimeout 'rollback'), or the transfer fails or overruns, the gate opens on the
   * old generation (rollback) and the waiting calls run there. The gate always opens.
   */
  async #handover(old: Generation, gen: Generation, guard: GenerationGuard): Promise<void> {
    let open!: () => void;
    this.#gate = new Promise<void>((r) => (open = r));
    try {
      await transferState(old, gen, this.#options, this.#events, () => {
        this.#repoint(old, gen);
        guard.release();
      });
    } finally {
      this.#gate = null;
      open();
    }
  }
}

/**
 * swap under 'handover': the old generation drains (new async calls wait at the Switchboard's gate),
 * then its dlswap_state_export is imported by the new one's dlswap_state_import, on the loader thread
 * and bounded by the timeouts (fault points 'in-state-export', 'in-state-import'), and `swap` runs in
 * the same tick as the transfer's end; with `loadOn: 'main'`, all in one synchronous step. While the
 * state moves, sync calls on the old generation are refused with ERR_DLSWAP_BUSY (they would change
 * state already exported). Fails with ERR_DLSWAP_DRAIN_TIMEOUT (handoverTimeout 'rollback') or the
 * transfer's code. Leaves behind: the old generation serving again, ungated; an import that overran
 * quarantines the new generation (its code may still run).
 */
export async function transferState(old: Generation, gen: Generation, options: ResolvedHotOptions, events: PhaseEvents, swap: () => void): Promise<void> {
  const oldLib = old.lib!;
  const drained = await waitIdle(old, options.drainTimeoutMs, events, undefined, true);
  if (!drained && options.handoverTimeout !== 'proceed') {
    throw new DlswapError(
      'ERR_DLSWAP_DRAIN_TIMEOUT',
      `generation ${old.id} still had ${old.lib?.inFlight ?? 0} async call(s) and ${old.leases} lease(s) after ${options.drainTimeoutMs} ms, so its state could not be handed over; the reload was rolled back and generation ${old.id} keeps serving. Release leases (lease.release()) and let calls return before reloading, raise drainTimeoutMs, or pass handoverTimeout: 'proceed' to hand the state over without waiting.`,
    );
  }
  if (options.loadOn === 'main') {
    // Export, import and swap in one synchronous step: no call can interleave.
    const r = addon.handoverSync(oldLib.native, gen.lib!.native, gen.path, 0, 0, old.host, gen.host);
    if (!r.ok) throw new DlswapError(r.code as DlswapErrorCode, r.message ?? 'the state transfer failed');
    swap();
    return;
  }
  oldLib.native.gate(true);
  try {
    const job = addon.handoverAsync(oldLib.native, gen.lib!.native, gen.path, options.finiTimeoutMs, options.initTimeoutMs, old.host, gen.host);
    const r = await job.promise;
    if (!r.ok) {
      // An import that overran leaves the new generation's code running: never touch it again.
      if (r.code === 'ERR_DLSWAP_TIMEOUT' && r.step === 'import') gen.quarantine();
      throw new DlswapError(r.code as DlswapErrorCode, r.message ?? 'the state transfer failed');
    }
  } finally {
    oldLib.native.gate(false);
  }
  // Ungated and swapped in one tick: no sync call reaches the old generation after its export.
  swap();
}
