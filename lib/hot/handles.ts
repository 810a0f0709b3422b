/**
 * Handles that follow their generation (docs/hot-reload.md#handles-and-generations): the policy.
 *
 * A declared function that returns a handle type (or fills a `T **` out-parameter) gives back a
 * Handle that carries the generation whose code made it, and pins that generation as a lease does
 * (Generation.pin('handle')): it is not retired while the handle is live. `hot.fn` runs a call that
 * takes a handle on that generation (`route`), whatever generation is current; a call that takes
 * no handle runs on the current one, so new handles come from it. A handle's destructor, called
 * through the generation that made it, releases it (and its pin). A generation that is closed or
 * quarantined releases its handles without calling anything.
 *
 * Every function of a generation that meets a handle (`wrap`) refuses, before any C runs, a handle
 * it cannot take: another generation's (what a lease of another generation, or setup's `gen.fn`,
 * would be given), another library's, or a released one, so that a destructor never runs twice
 * (ERR_DLSWAP_STALE_HANDLE); and an address given instead of a handle, or a handle of another type
 * (ERR_DLSWAP_ARG). Calls that do not go through these functions (`lib.func` of any library) are
 * checked natively (native/call/handle_args.cc).
 *
 * Functions that meet no handle are not wrapped: `hot.fn` calls them natively, as before.
 */
import { DlswapError, isDlswapError } from '../errors';
import { addon } from '../native';
import { describeValue } from '../option_values';
import type { BoundFunction } from '../call/func';
import type { Signature } from '../signature/signature';
import type { Generation } from './generation';
import { handleState as coreOf, makeHandle, type Handle, type HandleCore } from '../signature/handle';
import type { HandlePlan, HandleType, ResolvedHandles } from '../signature/handle_plan';

type AnyBound = BoundFunction<(...a: unknown[]) => unknown>;

/** What this registry keeps about each handle it made. */
interface HandleState extends HandleCore {
  readonly gen: Generation;
  readonly type: HandleType;
}

/** The state of `v` if it is a handle (of any registry: `owner` says whose). */
function handleState(v: unknown): HandleState | undefined {
  return coreOf(v) as HandleState | undefined;
}

function argLabel(sig: Signature, i: number): string {
  const p = sig.params[i];
  return `${sig.name}(): argument ${p.name ? `'${p.name}' ` : ''}(#${i + 1}, ${p.type.c})`;
}

/** A live handle's key in its generation's list: one handle per type and pointer. */
function keyOf(type: HandleType, address: bigint): string {
  return `${type.name}\u0000${address}`;
}

function stale(message: string): DlswapError {
  return new DlswapError('ERR_DLSWAP_STALE_HANDLE', message);
}

function argError(message: string): DlswapError {
  return new DlswapError('ERR_DLSWAP_ARG', message);
}

/** A function object shaped as lib.func's (`async`, `signature`, `address`), calling `call`. */
function boundShape(
  name: string,
  sig: () => Signature,
  address: () => bigint,
  call: (args: unknown[]) => unknown,
  callAsync: (args: unknown[]) => Promise<unknown>,
  length: number,
): AnyBound {
  const f = {
    [name](...args: unknown[]): unknown {
      return call(args);
    },
  }[name];
  Object.defineProperties(f, {
    length: { value: length, configurable: true },
    async: {
      value: (...args: unknown[]): Promise<unknown> => {
        try {
          return callAsync(args);
        } catch (e) {
          return Promise.reject(e);
        }
      },
      configurable: true,
    },
    signature: { get: sig, configurable: true },
    address: { get: address, configurable: true },
  });
  return f as unknown as AnyBound;
}

/** One HotLibrary's handles: every live one, by generation, and the functions that make and take them. */
export class HandleRegistry {
  readonly #plans: Readonly<Record<string, HandlePlan>>;
  /** Live handles by generation, in the order they were made (close() releases the newest first). */
  readonly #live = new Map<Generation, Map<string, Handle>>();

  constructor(resolved: ResolvedHandles) {
    this.#plans = resolved.plans;
  }

  /** Whether declared function `name` takes, returns or releases a handle (hot.fn routes it). */
  meets(name: string): boolean {
    return Object.hasOwn(this.#plans, name);
  }

  /**
   * `raw`, generation `gen`'s function `name`, as the generation's function table offers it: if it
   * meets a handle, wrapped so that it takes only `gen`'s own live handles, makes a Handle of what
   * it returns, and releases what it destroys. Other functions are returned as they are.
   */
  wrap(gen: Generation, name: string, raw: AnyBound): AnyBound {
    const plan = this.#plans[name];
    if (!plan) return raw;
    const sig = raw.signature;
    return boundShape(
      name,
      () => sig,
      () => raw.address,
      (args) => this.#call(gen, plan, sig, raw, args, false),
      (args) => this.#call(gen, plan, sig, raw, args, true) as Promise<unknown>,
      sig.params.length,
    );
  }

  /**
   * `hot.fn[name]` for a function that meets a handle: each call runs on the generation of the
   * handles it is given (all must be of one), or on `current()` when it is given none; async calls
   * wait at `gate()` first (a handover in progress).
   */
  route(name: string, current: () => Generation, gate: () => Promise<void> | null): AnyBound {
    const plan = this.#plans[name];
    const on = (args: unknown[]): AnyBound => this.#pick(name, plan, args, current).functions!.fns[name];
    const sig = current().functions!.fns[name].signature;
    return boundShape(
      name,
      () => current().functions!.fns[name].signature,
      () => current().functions!.address(name),
      (args) => on(args)(...args),
      (args) => {
        const g = gate();
        return g ? g.then(() => on(args).async(...args)) : on(args).async(...args);
      },
      sig.params.length,
    );
  }

  /**
   * close(): once `gen` has no call in flight and no lease, releases each of its live handles
   * through its destructor on `gen`, newest first (a statement before the connection it came
   * from). Never throws: a destructor that fails is reported to `onError`, and its handle is
   * released anyway (its generation is going).
   */
  async releaseAll(gen: Generation, onError: (e: unknown) => void): Promise<void> {
    await gen.whenIdle(false);
    const handles = [...(this.#live.get(gen)?.values() ?? [])].reverse();
    for (const h of handles) {
      const state = handleState(h)!;
      if (state.status !== 'live') continue;
      try {
        gen.functions!.fns[state.type.destructor](h);
      } catch (e) {
        onError(e);
      }
      this.#end(state, `was released by close()`);
    }
  }

  /** Releases every handle of `gen` without calling anything (closed or quarantined: its code is not called again). */
  drop(gen: Generation, why: string): void {
    for (const h of [...(this.#live.get(gen)?.values() ?? [])]) this.#end(handleState(h)!, why);
  }

  // ---- one call ---------------------------------------------------------------------------------

  /** The generation a hot.fn call runs on: its handles', or the current one. */
  #pick(name: string, plan: HandlePlan, args: unknown[], current: () => Generation): Generation {
    let gen: Generation | null = null;
    for (const i of plan.inputs) {
      const state = handleState(args[i]);
      if (!state || state.owner !== this || state.status !== 'live') continue; // refused by the call, with the reason
      if (gen && state.gen !== gen) {
        throw stale(
          `hot.fn.${name}(): given handles of generations ${gen.id} and ${state.gen.id}; one call runs on one generation, and each generation's handles go only to its own code`,
        );
      }
      gen = state.gen;
    }
    return gen ?? current();
  }

  #call(gen: Generation, plan: HandlePlan, sig: Signature, raw: AnyBound, args: unknown[], async: boolean): unknown {
    const out = args.slice();
    const slots: { slot: BigUint64Array; into: unknown[]; type: HandleType }[] = [];
    let releasing: HandleState | null = null;
    const n = Math.min(plan.params.length, args.length);
    for (let i = 0; i < n; i++) {
      const p = plan.params[i];
      const v = args[i];
      if (p === null || v === null) continue; // NULL goes to C as NULL
      if (p.out) {
        if (!Array.isArray(v)) {
          throw argError(
            `${argLabel(sig, i)} is where a ${p.type.name} handle comes back: pass an array (its element 0 is set to the handle, or to null), or null; got ${describeValue(v)}`,
          );
        }
        const slot = new BigUint64Array(1);
        out[i] = slot;
        slots.push({ slot, into: v, type: p.type });
        continue;
      }
      const state = this.#check(gen, p.type, sig, i, v);
      out[i] = state.address;
      if (i === plan.releases) releasing = state.self;
    }
    if (releasing) this.#begin(releasing);
    const finish = (r: unknown): unknown => {
      if (releasing) this.#end(releasing, `was released by ${sig.name}()`);
      for (const s of slots) s.into[0] = s.slot[0] === 0n ? null : this.#adopt(gen, s.type, s.slot[0]);
      if (plan.returns === null) return r;
      return typeof r === 'bigint' && r !== 0n ? this.#adopt(gen, plan.returns, r) : null;
    };
    const failed = (e: unknown): never => {
      if (releasing) this.#undo(releasing, e, sig);
      throw e;
    };
    if (!async) {
      let r: unknown;
      try {
        r = raw(...out);
      } catch (e) {
        failed(e);
      }
      return finish(r);
    }
    let p: Promise<unknown>;
    try {
      p = raw.async(...out);
    } catch (e) {
      failed(e);
    }
    return p!.then(finish, failed);
  }

  /** Argument `i` of a call on `gen`: a live handle of `type` that `gen` made, or the error that says what it is. */
  #check(gen: Generation, type: HandleType, sig: Signature, i: number, v: unknown): { address: bigint; self: HandleState } {
    const state = handleState(v);
    const label = argLabel(sig, i);
    if (!state) {
      if (typeof v === 'bigint') {
        throw argError(
          `${label} expects a ${type.name} handle (or null); got the address ${describeValue(v)}. An address does not say which generation made it: pass the Handle the function that made it returned`,
        );
      }
      throw argError(`${label} expects a ${type.name} handle (or null); got ${describeValue(v)}`);
    }
    if (state.owner !== this) throw stale(`${label} is a ${state.type.name} handle of another HotLibrary; a handle goes only to the library that made it`);
    if (state.type !== type) throw argError(`${label} expects a ${type.name} handle; got a ${state.type.name} handle`);
    if (state.status !== 'live') {
      throw stale(
        `${label} is a ${type.name} handle of generation ${state.gen.id} that ${state.status === 'releasing' ? `is being released (its destructor, ${type.destructor}, is running)` : state.why}: what it pointed to is gone, and it takes no call; open a new one`,
      );
    }
    if (state.gen !== gen) {
      throw stale(
        `${label} is a handle made by generation ${state.gen.id} of ${state.gen.path}, and this function is generation ${gen.id}'s (a lease's, or the setup or teardown hook's): a handle goes only to the generation that made it. Call it through hot.fn, which runs it on generation ${state.gen.id}`,
      );
    }
    return { address: state.address, self: state };
  }

  /** The handle for `address`, which `gen` just returned: the live one it already is, or a new one. */
  #adopt(gen: Generation, type: HandleType, address: bigint): Handle {
    let live = this.#live.get(gen);
    if (!live) {
      live = new Map();
      this.#live.set(gen, live);
    }
    const key = keyOf(type, address);
    // A function that hands back a handle it already gave (sqlite3_db_handle) gives the same one:
    // one handle per live pointer, so that it is released once.
    const known = live.get(key);
    if (known) return known;
    const state: HandleState = { owner: this, gen, type, address, status: 'live', why: '', unpin: gen.pin('handle') };
    let h: Handle;
    try {
      h = makeHandle(state, address, (made) => addon.tagHandle(made, gen.lib!.native, address));
    } catch (e) {
      state.unpin();
      throw e;
    }
    live.set(key, h);
    return h;
  }

  /** Its destructor starts: no other call takes it from here (natively neither). */
  #begin(state: HandleState): void {
    state.status = 'releasing';
    addon.setHandleLive(this.#handleOf(state), false);
  }

  /** Its destructor did not run after all (refused before C: a closed or busy generation, an argument error). A fault did run it, part way: the handle is gone. */
  #undo(state: HandleState, e: unknown, sig: Signature): void {
    if (state.status !== 'releasing') return; // dropped meanwhile (its generation was quarantined)
    if (isDlswapError(e, 'ERR_DLSWAP_FAULT')) {
      this.#end(state, `was being released by ${sig.name}() when it faulted`);
      return;
    }
    state.status = 'live';
    addon.setHandleLive(this.#handleOf(state), true);
  }

  /** Released: refused by every call from now on, no longer pinning its generation. */
  #end(state: HandleState, why: string): void {
    if (state.status === 'released') return;
    const h = this.#handleOf(state);
    state.status = 'released';
    state.why = why;
    addon.setHandleLive(h, false);
    this.#live.get(state.gen)?.delete(keyOf(state.type, state.address));
    if (this.#live.get(state.gen)?.size === 0) this.#live.delete(state.gen);
    state.unpin();
  }

  /** The handle of a state that is not released yet (a released one is no longer listed). */
  #handleOf(state: HandleState): Handle {
    const h = this.#live.get(state.gen)?.get(keyOf(state.type, state.address));
    if (!h) throw new DlswapError('ERR_DLSWAP_INTERNAL', `a ${state.type.name} handle of generation ${state.gen.id} is not in its registry`);
    return h;
  }
}
