/**
 * One generation's declared functions (HotOptions.functions), from the signatures its HotLibrary
 * parsed once for all its generations (ResolvedHotOptions.signatures). Each symbol's address is
 * resolved while the generation is verified, once: the swap repoints `hot.fn` at those addresses (no
 * second lookup). The functions bound to the generation for good (what leases, the setup and
 * teardown hooks and the routing of handles call) are made on first use: a reload that nothing
 * pins or hooks into, the usual one, never makes them (binding one costs about as much as the
 * rest of a small plugin's adoption).
 */
import { bindSignature, type BoundFunction } from '../call/func';
import { DlswapError } from '../errors';
import type { Library } from '../load/library';
import type { Signature } from '../signature/signature';

type AnyBound = BoundFunction<(...a: unknown[]) => unknown>;

export class FunctionTable {
  readonly #lib: Library;
  readonly #signatures: Readonly<Record<string, Signature>>;
  readonly #wrap: (name: string, fn: AnyBound) => AnyBound;
  /** Where each declared function is in this generation's image. */
  readonly #addresses = new Map<string, bigint>();
  #fns: Readonly<Record<string, AnyBound>> | null = null;

  /**
   * Resolves every declared function in `lib` (the loader checked that each one resolves; one that
   * does not now is ERR_DLSWAP_SYMBOL_NOT_FOUND). Binds nothing yet.
   */
  constructor(lib: Library, signatures: Readonly<Record<string, Signature>>, wrap: (name: string, fn: AnyBound) => AnyBound = (_, fn) => fn) {
    this.#lib = lib;
    this.#signatures = signatures;
    this.#wrap = wrap;
    for (const [name, sig] of Object.entries(signatures)) {
      const address = lib.native.symbol(sig.name);
      if (address === undefined) throw new DlswapError('ERR_DLSWAP_SYMBOL_NOT_FOUND', `function '${sig.name}' (${name}) is not in ${lib.info.path}`);
      this.#addresses.set(name, address);
    }
  }

  /**
   * Bound to this generation for good (never rebound): what leases, `setup`, `teardown` and the
   * routing of handles (lib/hot/handles.ts) call. Those that meet a handle are wrapped by `wrap`.
   * Made on the first read, all at once, while the generation's image is open (whoever reads it
   * holds the generation: a lease, a handle, its own hooks).
   */
  get fns(): Readonly<Record<string, AnyBound>> {
    if (this.#fns) return this.#fns;
    const made: Record<string, AnyBound> = {};
    for (const [name, sig] of Object.entries(this.#signatures)) made[name] = this.#wrap(name, bindSignature(this.#lib, sig) as AnyBound);
    this.#fns = Object.freeze(made);
    return this.#fns;
  }

  /** The address `name` resolved to in this generation. */
  address(name: string): bigint {
    return this.#addresses.get(name)!;
  }
}
