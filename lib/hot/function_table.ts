/**
 * One generation's declared functions (HotOptions.functions), made once, while it is verified: each
 * symbol resolved there, once, from the signatures its HotLibrary parsed once for all its
 * generations (ResolvedHotOptions.signatures). The swap repoints `hot.fn` at the addresses recorded
 * here (no second lookup), and leases and the setup hook call the functions bound here.
 */
import { bindSignature, type BoundFunction } from '../call/func';
import type { Library } from '../load/library';
import type { Signature } from '../signature/signature';

type AnyBound = BoundFunction<(...a: unknown[]) => unknown>;

export class FunctionTable {
  /**
   * Bound to this generation for good (never rebound): what leases, `setup`, `teardown` and the
   * routing of handles (lib/hot/handles.ts) call. Those that meet a handle are wrapped by `wrap`.
   */
  readonly fns: Readonly<Record<string, AnyBound>>;
  /** As lib.func made them: their addresses are what the swap repoints `hot.fn` at. */
  readonly #bound: Readonly<Record<string, AnyBound>>;

  constructor(lib: Library, signatures: Readonly<Record<string, Signature>>, wrap: (name: string, fn: AnyBound) => AnyBound = (_, fn) => fn) {
    const bound: Record<string, AnyBound> = {};
    const made: Record<string, AnyBound> = {};
    for (const [name, sig] of Object.entries(signatures)) {
      bound[name] = bindSignature(lib, sig) as AnyBound;
      made[name] = wrap(name, bound[name]);
    }
    this.#bound = Object.freeze(bound);
    this.fns = Object.freeze(made);
  }

  /** The address `name` resolved to in this generation. */
  address(name: string): bigint {
    return this.#bound[name].address;
  }
}
