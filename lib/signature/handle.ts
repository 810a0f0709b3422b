/**
 * A handle: a pointer a generation of a HotLibrary made (a `sqlite3 *`), together with that
 * generation (docs/hot-reload.md#handles-and-generations). Made by lib/hot/handles.ts only, when a
 * declared function returns one; what it may be passed to is decided there (routing, the checks)
 * and natively for every other call (native/call/handle_args.cc).
 *
 * It lives with the types because the type level (lib/signature/ctypes_defs_types.ts) names
 * `Handle`, and it imports nothing: the type level must compile without the rest of lib/ or node's
 * types.
 */

/** @internal What lib/hot/handles.ts keeps about a handle (it narrows `gen` and `type` to its own types). */
export interface HandleCore {
  /** The registry that made it (another HotLibrary's handle is refused). */
  readonly owner: object;
  readonly gen: { readonly id: number };
  readonly type: { readonly name: string };
  /** The pointer (also the handle's `address`). */
  readonly address: bigint;
  /** 'releasing' while its destructor runs (an async one may take a while): it takes no other call. */
  status: 'live' | 'releasing' | 'released';
  /** Once not live: what happened to it, for messages ("was released by sqlite3_close()"). */
  why: string;
  /** Drops its pin on the generation (once). */
  unpin: () => void;
}

// Only this module makes handles: a constructor call without it is refused.
const MAKE = Symbol('dlswap handle');
let stateOf: (v: unknown) => HandleCore | undefined;

export class Handle<T extends string = string> {
  /** The handle type, as the `handles` option names it ('sqlite3'). */
  readonly type: T;
  /** The generation that made it, the one every call that takes it runs on. */
  readonly generation: number;
  /** The pointer, for logs and debuggers. Passing it instead of the handle is refused: an address does not say which generation made it. */
  readonly address: bigint;
  readonly #state: HandleCore;

  /** @internal Handles come from the functions of a HotLibrary (docs/hot-reload.md#handles-and-generations). */
  constructor(token: symbol, state: HandleCore, address: bigint) {
    if (token !== MAKE) throw new TypeError('a Handle is made by a HotLibrary function that returns one; it cannot be constructed');
    this.type = state.type.name as T;
    this.generation = state.gen.id;
    this.address = address;
    this.#state = state;
  }

  /** Its destructor ran, or its generation was closed or quarantined: no call takes it any more. */
  get released(): boolean {
    return this.#state.status !== 'live';
  }

  /** What util.inspect and console.log show: `Handle<sqlite3> 0x55d0c3a8 (generation 2)`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const state = this.#state.status === 'live' ? '' : `, ${this.#state.status}`;
    return `Handle<${this.type}> 0x${this.address.toString(16)} (generation ${this.generation}${state})`;
  }

  static {
    stateOf = (v) => (typeof v === 'object' && v !== null && #state in v ? (v as Handle).#state : undefined);
  }
}

/** @internal A new handle (lib/hot/handles.ts); `tag` marks it natively before it is frozen. */
export function makeHandle<S extends HandleCore>(state: S, address: bigint, tag: (h: Handle) => void): Handle {
  const h = new Handle(MAKE, state, address);
  tag(h);
  Object.freeze(h);
  return h;
}

/** @internal The state of `v` if it is a handle, else undefined (a look-alike is not one). */
export function handleState(v: unknown): HandleCore | undefined {
  return stateOf(v);
}
