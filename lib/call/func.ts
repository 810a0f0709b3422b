/**
 * `lib.func(prototype)`: a JS function that calls a C function of a loaded library.
 *
 * The function returned for a non-variadic prototype IS the native callback: no JS wrapper sits
 * between the caller and the conversions, which is what keeps a call within a few nanoseconds of a
 * hand-written Node-API binding. Its extra properties (`async`, `signature`, `address`) live on the
 * function object. Variadic functions need a thin JS wrapper that turns the `(type, value)` pairs
 * into a cached call shape.
 *
 * See docs/calls.md for the type mapping, strings, pointers, errno and async semantics.
 */
import { DlswapError, isDlswapError } from '../errors';
import type { Library } from '../load/library';
import { addon, type NativeCallable, type NativeFunctionSpec } from '../native';
import { FUNC_DEFAULTS, describeValue, resolveFuncOptions, type ResolvedFuncOptions } from '../options';
import { checkCallable } from '../signature/value_limits';
import type { AnyFunction, FunctionOf } from '../signature/prototype_types';
import type { TypeDefs } from '../signature/ctypes_types';
import type { TypeScope } from '../signature/ctype_model';
import { kindCode, parsePrototype, parseType, signatureFromObject, type Signature, type SignatureObject } from '../signature/signature';
import { needsWrapper, wrapRich } from './call_wrapper';
import { recordShape, TempCallback } from './callbacks';
import { armPoolExit } from './pool_exit';
import { callbackSignature } from '../signature/ctype_model';
import { typesOf } from '../signature/ctypes';

export interface FuncOptions {
  /** Bind the prototype to this exported symbol instead of the prototype's function name. */
  symbol?: string;
  /**
   * Deliver errno with every call: errno is set to 0 right before the call, and each call returns
   * (or its promise resolves with) `{ value, errno }`. Without it, `lib.errno()` still reports the
   * errno left by the last call.
   */
  errno?: boolean;
}

/** What a function made with `{ errno: true }` returns. */
export interface ErrnoResult<R> {
  value: R;
  errno: number;
}

interface FunctionExtras {
  /** The parsed prototype. */
  readonly signature: Signature;
  /** Address of the C function this JS function calls now (changes when it is rebound). */
  readonly address: bigint;
}

type ArgsOf<F> = F extends (...args: infer A) => unknown ? A : never;
type ResultOf<F> = F extends (...args: never[]) => infer R ? R : never;

/** A C function as returned by `lib.func()`: F is the function type inferred from the prototype. */
export type BoundFunction<F> = F &
  FunctionExtras & {
    /** Runs the call on a worker thread; the promise settles with the result. */
    async(...args: ArgsOf<F>): Promise<ResultOf<F>>;
  };

/**
 * A table of C functions bound at once (`lib.bind(functions)`, `hot.fn`, `lease.fn`): each entry
 * typed from its prototype string, as `lib.func` types it. D is the declarations of the library's
 * type registry (docs/types.md).
 */
export type BoundFunctions<F extends Record<string, string>, D extends TypeDefs = {}> = { readonly [K in keyof F]: BoundFunction<FunctionOf<F[K], D>> };

/** A C function made with `{ errno: true }`. */
export type ErrnoFunction<F> = ((...args: ArgsOf<F>) => ErrnoResult<ResultOf<F>>) &
  FunctionExtras & {
    async(...args: ArgsOf<F>): Promise<ErrnoResult<ResultOf<F>>>;
  };

/** What `lib.func()` accepts as its prototype. */
export type Prototype = string | SignatureObject;

/**
 * @internal per-function state the TS side needs (the native record holds the rest). The signature
 * is not kept here: its one owner is the function's own `signature` property.
 */
interface FunctionState {
  readonly symbol: string;
  /**
   * The Library async calls are counted on and checked against (`closed`). The native record keeps
   * its own pointer to the image with another role, the target calls run in; rebind() is the one
   * writer of both, in the same step.
   */
  trackedOn: Library;
  /** Sync native entry point (rebindFunction and functionAddress take it). */
  readonly native: NativeCallable;
}

const states = new WeakMap<object, FunctionState>();

function rangeArgError(message: string): Error {
  const e = new RangeError(message);
  (e as Error & { code: string }).code = 'ERR_DLSWAP_ARG';
  return e;
}

function argError(message: string, cause?: unknown): DlswapError {
  return new DlswapError('ERR_DLSWAP_ARG', message, cause === undefined ? undefined : { cause });
}

function closedError(sig: Signature, lib: Library): DlswapError {
  return new DlswapError('ERR_DLSWAP_CLOSED', `${sig.name}(): ${lib.info.path} is closed (or closing); open it again to call it.`);
}

/**
 * Makes a callable for a C function of `lib`. Prefer `lib.func(...)`, which is this with better
 * types.
 */
/** `lib` is a Library (func() and rebind() are exported on their own too). */
function requireLibrary(lib: unknown, where: string): asserts lib is Library {
  const l = lib as Partial<Library> | null;
  if (l === null || typeof l !== 'object' || typeof l.symbol !== 'function' || !l.native || !l.info) {
    throw argError(`${where}: expected a Library returned by open(), not ${lib === null ? 'null' : typeof lib}`);
  }
}

export function func(lib: Library, prototype: Prototype, options?: FuncOptions): BoundFunction<AnyFunction> {
  requireLibrary(lib, 'func(lib, prototype, options)');
  const opts = resolveFuncOptions(options);
  // The types the library was opened with: their names resolve in the prototype (docs/types.md).
  const scope = typesOf(lib)?.scope;
  let sig: Signature;
  if (typeof prototype === 'string') sig = parsePrototype(prototype, scope);
  else if (prototype !== null && typeof prototype === 'object') sig = signatureFromObject(prototype, scope);
  else throw new DlswapError('ERR_DLSWAP_SIGNATURE', 'func(prototype): prototype must be a C prototype string or { name, returns, args }');
  checkCallable(sig);
  return bindSignature(lib, sig, opts);
}

/**
 * @internal `func` for a prototype already parsed and checked (`checkPrototype`, lib/options.ts) in
 * `lib`'s type scope: what a table of functions (HotLibrary's, `lib.bind`) binds once per library
 * without parsing each prototype again. Resolves the symbol and makes the native function.
 */
export function bindSignature(lib: Library, sig: Signature, opts: ResolvedFuncOptions = FUNC_DEFAULTS): BoundFunction<AnyFunction> {
  const symbol = opts.symbol ?? sig.name;
  const address = lib.symbol(symbol);
  const spec: NativeFunctionSpec = {
    name: sig.name,
    returns: kindCode(sig.returns.kind),
    params: sig.params.map((p) => kindCode(p.type.kind)),
    names: sig.params.map((p) => p.name),
    types: sig.params.map((p) => p.type.c),
    variadic: sig.variadic,
    errno: opts.errno,
  };
  if (sig.params.some((p) => p.type.kind === 'aggregate')) {
    spec.paramShapes = sig.params.map((p) => (p.type.kind === 'aggregate' ? recordShape(p.type.ctype!) : null));
  }
  if (sig.returns.kind === 'aggregate') spec.returnShape = recordShape(sig.returns.ctype!);
  const [nativeSync, nativeAsync] = addon.makeFunction(lib.native, address, spec);

  const fnState: FunctionState = { symbol, trackedOn: lib, native: nativeSync };
  const shape = sig.variadic ? variadicShapes(sig, nativeSync, typesOf(lib)?.scope) : null;
  // Structs, callbacks and enum names: converted in JS around the native call (lib/call/call_wrapper.ts).
  const rich = !sig.variadic && needsWrapper(sig) ? wrapRich(sig, nativeSync, nativeAsync, opts.errno) : null;
  let fn: NativeCallable;
  if (shape) {
    fn = {
      [sig.name](...args: unknown[]): unknown {
        const call = shape(args);
        if (call.temps.length === 0) return Reflect.apply(nativeSync, undefined, call.args);
        for (const t of call.temps) t.setState(1);
        try {
          return Reflect.apply(nativeSync, undefined, call.args);
        } finally {
          for (const t of call.temps) t.release();
        }
      },
    }[sig.name];
  } else if (rich) {
    fn = rich.sync;
  } else {
    fn = nativeSync;
    // Function.length as for a JS function of the same arity (native callbacks report 0).
    Object.defineProperty(fn, 'length', { value: sig.params.length, configurable: true });
  }
  // Rejects rather than throws, like node's promise APIs. Checking `closed` here (not only the native
  // "unmapped" flag) refuses new calls once close() has started waiting for the ones in flight.
  const asyncCall = (...args: unknown[]): Promise<unknown> => {
    const current = fnState.trackedOn;
    if (current.closed) return Promise.reject(closedError(sig, current));
    armPoolExit();
    let p: Promise<unknown>;
    try {
      if (rich) {
        p = rich.async(args);
      } else if (shape) {
        const call = shape(args);
        for (const t of call.temps) t.setState(2);
        try {
          p = Reflect.apply(nativeAsync, undefined, call.args) as Promise<unknown>;
        } catch (e) {
          for (const t of call.temps) t.release();
          throw e;
        }
        if (call.temps.length) {
          p = p.then(
            (v) => {
              for (const t of call.temps) t.release();
              const failed = call.temps.find((t) => t.failed);
              if (failed) throw failed.error;
              return v;
            },
            (e) => {
              for (const t of call.temps) t.release();
              throw e;
            },
          );
        }
      } else {
        p = Reflect.apply(nativeAsync, undefined, args) as Promise<unknown>;
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return current.trackAsync(p);
  };
  // Configurable so that wrappers (hot reload's handover gate) can redefine `async`.
  Object.defineProperties(fn, {
    async: { value: asyncCall, configurable: true, writable: false, enumerable: false },
    signature: { value: sig, configurable: true, writable: false, enumerable: false },
    address: {
      get: () => addon.functionAddress(nativeSync),
      configurable: true,
      enumerable: false,
    },
  });
  states.set(fn, fnState);
  return fn as BoundFunction<AnyFunction>;
}

/**
 * For variadic functions: splits `(fixed..., type, value, type, value...)` into the native call's
 * `(shape id, fixed..., value...)`, preparing (once per distinct type list) a libffi call shape.
 */
function variadicShapes(
  sig: Signature,
  nativeSync: NativeCallable,
  scope: TypeScope | undefined,
): (args: unknown[]) => { args: unknown[]; temps: TempCallback[] } {
  const fixed = sig.params.length;
  const ids = new Map<string, number>();
  // Per type list: which values are function pointers (a JS function there is a temporary callback).
  const callbackSigs = new Map<string, (Signature | null)[]>();
  // Fixed parameters that take an enumerator's name, or a JS function for a callback.
  const fixedEnums = sig.params.map((p) => (p.type.ctype?.tag === 'enum' ? p.type.ctype : null));
  const fixedCallbacks = sig.params.map((p) => callbackSignature(p.type.ctype));
  return (args) => {
    if (args.length < fixed) {
      throw argError(`${sig.name}() takes at least ${fixed} argument${fixed === 1 ? '' : 's'}, got ${args.length}`);
    }
    if ((args.length - fixed) % 2 !== 0) {
      throw argError(
        `${sig.name}(): after the ${fixed} fixed argument${fixed === 1 ? '' : 's'}, variadic values come in (type, value) pairs, e.g. ${sig.name}(..., 'int', 1, 'double', 2.5); got an odd number`,
      );
    }
    const out: unknown[] = new Array(1 + fixed + (args.length - fixed) / 2);
    let key = '';
    for (let i = 0; i < fixed; i++) out[1 + i] = args[i];
    for (let i = fixed, j = 1 + fixed; i < args.length; i += 2, j++) {
      const t = args[i];
      if (typeof t !== 'string') {
        throw argError(`${sig.name}(): variadic value #${j - fixed} needs a C type string before it (like 'int' or 'const char *'); got ${typeof t}`);
      }
      key += `${t}\u0000`;
      out[j] = args[i + 1];
    }
    let id = ids.get(key);
    if (id === undefined) {
      const kinds: number[] = [];
      const fps: (Signature | null)[] = [];
      for (let i = fixed, k = 1; i < args.length; i += 2, k++) {
        const t = args[i] as string;
        try {
          // Parsed as a parameter type: the value is range-checked against the declared type, and
          // the native side applies C's default argument promotions (float -> double, small -> int).
          const info = parseType(t, 'param', scope);
          if (info.kind === 'aggregate')
            throw new DlswapError('ERR_DLSWAP_SIGNATURE', `'${t}' is a struct: structs cannot be passed through '...'; pass a pointer`);
          kinds.push(kindCode(info.kind));
          fps.push(callbackSignature(info.ctype));
        } catch (e) {
          if (isDlswapError(e, 'ERR_DLSWAP_SIGNATURE')) throw argError(`${sig.name}(): variadic value #${k}: ${e.message}`, e);
          throw e;
        }
      }
      id = addon.prepareVariadic(nativeSync, kinds);
      ids.set(key, id);
      callbackSigs.set(key, fps);
    }
    out[0] = id;
    const temps: TempCallback[] = [];
    try {
      convertFixed(out, temps);
    } catch (e) {
      for (const t of temps) t.release();
      throw e;
    }
    const fps = callbackSigs.get(key)!;
    for (let k = 0; k < fps.length; k++) {
      const v = out[1 + fixed + k];
      if (typeof v === 'function' && fps[k]) {
        const cb = new TempCallback(fps[k]!, v as AnyFunction, `passed to ${sig.name}()`, true);
        temps.push(cb);
        out[1 + fixed + k] = cb;
      }
    }
    return { args: out, temps };
  };

  function convertFixed(out: unknown[], temps: TempCallback[]): void {
    for (let i = 0; i < fixed; i++) {
      const v = out[1 + i];
      const e = fixedEnums[i];
      if (e && typeof v === 'string') {
        const value = e.members.get(v);
        if (value === undefined) {
          const p = sig.params[i];
          const names = [...e.members.keys()];
          throw rangeArgError(
            `${sig.name}(): argument ${p.name ? `'${p.name}' ` : ''}(#${i + 1}, ${p.type.c}) expects a number or one of ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}; got the string ${JSON.stringify(v)}`,
          );
        }
        out[1 + i] = e.kind === 'i64' || e.kind === 'u64' ? value : Number(value);
      } else if (fixedCallbacks[i] && typeof v === 'function') {
        const cb = new TempCallback(fixedCallbacks[i]!, v as AnyFunction, `passed to ${sig.name}()`, true);
        temps.push(cb);
        out[1 + i] = cb;
      }
    }
  }
}

function stateOf(fn: unknown): FunctionState {
  const found = typeof fn === 'function' ? states.get(fn) : undefined;
  if (!found) throw argError('expected a function made by lib.func()');
  return found;
}

/**
 * Repoints `fn` at the same-named symbol (or `address`) of another library, keeping its signature.
 * Sync calls use the new target from the next call on; async calls already running finish on the
 * library they started on (and keep it open until they do). Hot reload is built on this.
 */
export function rebind(fn: (...args: never[]) => unknown, lib: Library, address?: bigint): void {
  const bound = stateOf(fn);
  requireLibrary(lib, 'rebind(fn, lib, address)');
  if (address !== undefined && (typeof address !== 'bigint' || address <= 0n)) throw argError('rebind(fn, lib, address): address must be a non-zero bigint');
  const target = address ?? lib.symbol(bound.symbol);
  if (lib.closed) throw closedError((fn as unknown as FunctionExtras).signature, lib);
  addon.rebindFunction(bound.native, lib.native, target);
  bound.trackedOn = lib;
}

/** The library a function made by `lib.func()` currently calls into. */
export function libraryOf(fn: (...args: never[]) => unknown): Library {
  return stateOf(fn).trackedOn;
}

/**
 * Decodes the NUL-terminated UTF-8 string at `address` (for a `char *` result declared as
 * `void *` so that it can be freed afterwards with `lib.free`). `null`/`0n` gives null. Reads at most
 * `maxBytes` bytes when given. Like any C pointer, an invalid address crashes the process.
 */
export function readCString(address: bigint | null, maxBytes?: number): string | null {
  if (address === null) return null;
  if (typeof address !== 'bigint') throw argError('readCString(address): address must be a bigint');
  if (maxBytes !== undefined && !(typeof maxBytes === 'number' && Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
    throw argError(`readCString(address, maxBytes): maxBytes must be a non-negative integer, not ${describeValue(maxBytes)}`);
  }
  return addon.readCString(address, maxBytes);
}
