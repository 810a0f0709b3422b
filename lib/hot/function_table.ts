/**
 * One generation's declared functions (HotOptions.functions), made once, while it is verified: each
 * prototype parsed and each symbol resolved there, once. The swap repoints `hot.fn` at the addresses
 * recorded here (no second lookup), and leases and the setup hook call the functions bound here.
 */
import type { BoundFunction, Prototype } from '../call/func';
import type { Library } from '../load/library';

type AnyBound = BoundFunction<(...a: unknown[]) => unknown>;

export class FunctionTable {
  /** Bound to this generation for good (never rebound): what leases and `setup` get. */
  readonly fns: Readonly<Record<string, AnyBound>>;

  constructor(lib: Library, functions: Readonly<Record<string, Prototype>>) {
    const made: Record<string, AnyBound> = {};
    for (const [name, proto] of Object.entries(functions)) made[name] = lib.func(proto) as AnyBound;
    this.fns = Object.freeze(made);
  }

  /** The address `name` resolved to in this generation. */
  address(name: string): bigint {
    return this.fns[name].address;
  }
}
