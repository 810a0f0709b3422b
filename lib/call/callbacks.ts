/**
 * JS functions as C function pointers (docs/callbacks.md).
 *
 * Two lifetimes:
 * - a JS function passed straight to a call (`qsort(buf, n, 4n, (a, b) => ...)`, or as a member of a
 *   struct argument) is a *temporary* callback: callable while that call runs, refused afterwards.
 * - `lib.callback(type, fn)` makes a *registered* callback, for pointers C keeps (log handlers,
 *   curl's write function): callable until `release()`, or until its library closes (for a
 *   HotLibrary generation: when the generation retires, after its drain). A reload registers
 *   nothing anew: the `setup` hook of HotLibrary hands callbacks to each new generation.
 *
 * The native side (native/callback/) never frees a trampoline, so a call through a pointer C kept
 * after the release is refused (logged, fallback value returned), never a jump into freed memory.
 */
import { DlswapError } from '../errors';
import { addon as native, type FfiShape, type NativeCallbackSpec as CallbackSpec } from '../native';
import { callbackSignature, type CType, type RecordCType } from '../signature/ctype_model';
import { kindCode, parsePrototype, parseType, type Signature, type TypeInfo } from '../signature/signature';
import type { TypeScope } from '../signature/ctype_model';
import type { CallbackRef } from '../signature/ctypes_types';
import type { AnyFunction } from '../signature/prototype_types';
import { INT_RANGES, type IntKind } from '../signature/int_ranges';
import { checkByValue, checkCallable } from '../signature/value_limits';
import { CALLBACK_DEFAULTS, resolveCallbackOptions } from '../options';

/** The libffi shape of a struct passed by value: built only for one checkByValue allows (lib/signature/value_limits.ts). */
export function ffiShape(t: CType): FfiShape | number {
  switch (t.tag) {
    case 'scalar':
    case 'enum':
      return kindCode(t.kind);
    case 'pointer':
    case 'function':
      return kindCode('pointer');
    case 'array': {
      const e = ffiShape(t.of);
      return { size: t.size, align: t.align, elements: Array.from({ length: t.length }, () => e) };
    }
    case 'struct':
    case 'union': {
      checkByValue(t, `'${t.c}'`);
      return { size: t.size, align: t.align, elements: t.fields!.map((f) => ffiShape(f.type)) };
    }
    default:
      throw new DlswapError('ERR_DLSWAP_SIGNATURE', `'${t.c}' has no value to pass`);
  }
}

export function recordShape(t: CType): FfiShape {
  const s = ffiShape(t);
  if (typeof s === 'number') throw new DlswapError('ERR_DLSWAP_INTERNAL', `'${t.c}' is not a struct`);
  return s;
}

/** What a callback of signature `sig` sends to makeCallback, plus how to wrap the JS function. */
export interface PreparedCallback {
  sig: Signature;
  spec: CallbackSpec;
  /** The C spelling of the function pointer type, for messages. */
  c: string;
  /** Wraps the user's function when values need more than the native conversions (structs by value). */
  wrap(fn: AnyFunction): AnyFunction;
  /** The fallback value as the bits the native side returns. */
  fallbackBits(value: unknown, where: string): bigint | undefined;
}

const prepared = new WeakMap<Signature, PreparedCallback>();

/** Decoders for structs by value, filled in by lib/call/codec.ts (which imports this module). */
export const structCodecHooks: {
  decodeValue?: (t: RecordCType, bytes: ArrayBuffer) => unknown;
  encodeValue?: (t: RecordCType, value: unknown, where: string) => Uint8Array;
} = {};

export function prepareCallback(sig: Signature): PreparedCallback {
  const cached = prepared.get(sig);
  if (cached) return cached;
  const c = `${sig.returns.c} (*)(${sig.params.map((p) => p.type.c).join(', ') || 'void'}${sig.variadic ? ', ...' : ''})`;
  if (sig.variadic) {
    throw new DlswapError('ERR_DLSWAP_SIGNATURE', `a callback cannot be variadic ('${c}'): JS cannot read C's variable arguments`);
  }
  if (sig.returns.kind === 'string') {
    throw new DlswapError(
      'ERR_DLSWAP_SIGNATURE',
      `a callback cannot return a string ('${sig.returns.c}' in '${c}'): the memory would have to outlive the call. Declare the result 'void *' and return an address`,
    );
  }
  checkCallable(sig, `callback ${c}`);
  const paramShapes = sig.params.map((p) => (p.type.kind === 'aggregate' ? recordShape(p.type.ctype!) : null));
  const returnShape = sig.returns.kind === 'aggregate' ? recordShape(sig.returns.ctype!) : undefined;
  const spec: CallbackSpec = {
    key: '',
    returns: kindCode(sig.returns.kind),
    params: sig.params.map((p) => kindCode(p.type.kind)),
  };
  if (paramShapes.some((s) => s !== null)) spec.paramShapes = paramShapes;
  if (returnShape) spec.returnShape = returnShape;
  spec.key = JSON.stringify([spec.returns, spec.params, spec.returnShape ?? null, spec.paramShapes ?? null]);
  const structParams = sig.params.map((p, i) => (p.type.kind === 'aggregate' ? { i, t: p.type.ctype as RecordCType } : null)).filter((x) => x !== null);
  const structReturn = sig.returns.kind === 'aggregate' ? (sig.returns.ctype as RecordCType) : null;
  const out: PreparedCallback = {
    sig,
    spec,
    c,
    wrap(fn) {
      if (structParams.length === 0 && !structReturn) return fn;
      return function (this: unknown, ...args: unknown[]) {
        for (const p of structParams) args[p!.i] = structCodecHooks.decodeValue!(p!.t, args[p!.i] as ArrayBuffer);
        const r = Reflect.apply(fn, this, args);
        return structReturn ? structCodecHooks.encodeValue!(structReturn, r, `the result of callback ${c}`) : r;
      };
    },
    fallbackBits(value, where) {
      if (value === undefined) return undefined;
      return fallbackToBits(sig.returns, value, where);
    },
  };
  prepared.set(sig, out);
  return out;
}

function fallbackToBits(t: TypeInfo, v: unknown, where: string): bigint {
  const bad = (): never => {
    throw new DlswapError(
      'ERR_DLSWAP_ARG',
      `${where}: fallback ${typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v))} does not fit the callback's return type '${t.c}'`,
    );
  };
  const buf = new DataView(new ArrayBuffer(8));
  switch (t.kind) {
    case 'void':
    case 'aggregate':
      return bad();
    case 'bool':
      if (typeof v !== 'boolean') bad();
      return v ? 1n : 0n;
    case 'f32':
      if (typeof v !== 'number') bad();
      buf.setFloat32(0, v as number, true);
      return BigInt(buf.getUint32(0, true));
    case 'f64':
      if (typeof v !== 'number') bad();
      buf.setFloat64(0, v as number, true);
      return buf.getBigUint64(0, true);
    case 'pointer':
      if (v === null) return 0n;
      if (typeof v !== 'bigint' || v < 0n || v >= 2n ** 64n) bad();
      return v as bigint;
    default: {
      const { lo, hi } = INT_RANGES[t.kind as IntKind];
      let b: bigint;
      if (typeof v === 'bigint') b = v;
      else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
      else return bad();
      if (b < lo || b > hi) bad();
      return BigInt.asUintN(64, b);
    }
  }
}

/** Resolves what `lib.callback(type, ...)` was given: a function pointer type, a typedef name, or a prototype. */
export function callbackSignatureOf(type: string | CType, scope: TypeScope | undefined, lookupType?: (t: string) => CType): Signature {
  if (typeof type !== 'string') {
    const sig = callbackSignature(type);
    if (!sig) throw new DlswapError('ERR_DLSWAP_SIGNATURE', `'${type.c}' is not a function pointer type`);
    return sig;
  }
  let firstError: unknown;
  // A type: 'int (*)(int)', 'cmp_fn', 'int (int)'.
  try {
    const t = lookupType ? lookupType(type) : parseType(type, 'param', scope).ctype;
    const sig = callbackSignature(t);
    if (sig) return sig;
    firstError = new DlswapError(
      'ERR_DLSWAP_SIGNATURE',
      `'${type}' is not a function pointer type; write one as 'int (*)(int)', a typedef of one, or a prototype 'int cb(int x)'`,
    );
  } catch (e) {
    firstError = e;
  }
  // A prototype: 'int compare(const void *a, const void *b)'.
  try {
    return parsePrototype(type, scope);
  } catch {
    throw firstError;
  }
}

// ---------------------------------------------------------------------------------------------------
// Callback objects

/** Base of every JS object the native side accepts as a function pointer. @internal */
export class CallbackObject {}

export type CallbackState = 'live' | 'sync' | 'async' | 'idle' | 'released';

export interface CallbackOptions {
  /**
   * What C gets back when the function throws, returns a value of the wrong type, or the callback
   * is called after its release. Default: zero of the return type (0, 0n, false, NULL).
   */
  fallback?: number | bigint | boolean | null;
  /**
   * Called with what the function threw when it ran on behalf of another thread (nothing on the JS
   * thread is waiting for it). Without it, such an error is an uncaught exception, as one thrown by
   * a timer is. On the JS thread, errors are thrown by the call that made C call back.
   */
  onError?: (error: unknown) => void;
  /** A name for messages (default: the function's name). */
  name?: string;
  /**
   * How long C, calling from another thread, waits for the JS thread to run the function (it waits
   * while the JS thread is busy). After it, C gets the fallback value, the call is counted
   * (`cb.timedOut`, `callbackStats().timedOut`) and logged to stderr. 1 to 2^31 - 1 ms; default
   * 30,000. docs/callbacks.md#deadlines.
   */
  timeoutMs?: number;
}

/**
 * A registered callback: `lib.callback('int (*)(int)', fn)`. Pass it (or its `address`) wherever C
 * expects a function pointer. Release it with `release()`; it is released anyway when its owner
 * (library, HotLibrary generation) closes.
 */
export class Callback<F = AnyFunction> extends CallbackObject implements CallbackRef<F> {
  /** The C spelling of its type, e.g. 'int (*)(const void *, const void *)'. */
  readonly type: string;
  /** The code address C calls. Stays valid (and refuses calls) after the release. */
  readonly address: bigint;
  readonly #owner: Set<Callback<AnyFunction>> | null;
  #release: Promise<void> | null = null;
  /** @internal */ declare readonly __fn?: F;

  /** @internal use lib.callback() */
  constructor(type: string, make: (target: object) => bigint, owner: Set<Callback<AnyFunction>> | null) {
    super();
    this.type = type;
    this.address = make(this);
    this.#owner = owner;
    owner?.add(this as unknown as Callback<AnyFunction>);
  }

  /** 'live' until released. */
  get state(): CallbackState {
    return native.callbackInfo(this).state as CallbackState;
  }

  /** Calls running on it now (from any thread). */
  get running(): number {
    return native.callbackInfo(this).running;
  }

  /** Calls refused since it was made: made after the release (and logged to stderr). */
  get refused(): number {
    return native.callbackInfo(this).refused;
  }

  /** Calls from other threads that gave up waiting for the JS thread after `timeoutMs` (C got the fallback). */
  get timedOut(): number {
    return native.callbackInfo(this).timedOut;
  }

  /** Calls from another thread given up at once because the JS thread was joining that thread (a deadlock). */
  get deadlocked(): number {
    return native.callbackInfo(this).deadlocked;
  }

  get released(): boolean {
    return this.#release !== null;
  }

  /**
   * Releases it: from now on C's calls are refused. Resolves once no call that had started is
   * still running. Idempotent.
   */
  release(): Promise<void> {
    if (!this.#release) {
      this.#owner?.delete(this as unknown as Callback<AnyFunction>);
      native.releaseCallback(this);
      this.#release = waitIdle([this]);
    }
    return this.#release;
  }
}

/** Resolves once none of these callbacks has a call running. */
async function waitIdle(handles: CallbackObject[]): Promise<void> {
  for (let round = 0; handles.some((h) => native.callbackInfo(h).running > 0); round++) {
    // Calls from other threads run when the JS thread gets to them: let it.
    await new Promise<void>((resolve) => (round < 8 ? setImmediate(resolve) : setTimeout(resolve, 5)));
  }
}

function describeFn(fn: AnyFunction, name?: string): string {
  return name ?? (fn.name ? fn.name : 'anonymous');
}

/**
 * Makes a registered callback of signature `sig` for `fn`, owned by `owner` (released with it).
 * `context` says whose it is, for messages.
 */
export function makeRegisteredCallback<F>(
  sig: Signature,
  fn: AnyFunction,
  options: CallbackOptions | undefined,
  owner: Set<Callback<AnyFunction>> | null,
  context: string,
  typeName?: string,
): Callback<F> {
  if (typeof fn !== 'function') throw new DlswapError('ERR_DLSWAP_ARG', `callback(type, fn): fn must be a function, got ${fn === null ? 'null' : typeof fn}`);
  const o = resolveCallbackOptions(options);
  const p = prepareCallback(sig);
  // Named after the function, else after the type it was made as when that is a name ('log_fn').
  const name = o.name ?? (fn.name || (typeName && /^[A-Za-z_]\w*$/.test(typeName) ? typeName : undefined) || (sig.name ? sig.name : undefined));
  const label = `'${describeFn(fn, name)}' (${p.c}) ${context}`;
  const fallback = p.fallbackBits(o.fallback, `callback ${label}`);
  return new Callback<F>(
    p.c,
    (target) => native.makeCallback(target, p.spec, p.wrap(fn), { state: 'live', label, timeoutMs: o.timeoutMs, fallback, onError: o.onError }),
    owner,
  );
}

// ---------------------------------------------------------------------------------------------------
// Temporary callbacks: a JS function passed straight to a call

/** A JS function made callable from C for the duration of one call (or of each call of a cache). @internal */
export class TempCallback extends CallbackObject {
  readonly fn: AnyFunction;
  readonly address: bigint;
  error: unknown = undefined;
  failed = false;

  constructor(sig: Signature, fn: AnyFunction, label: string, sink: boolean) {
    super();
    if (typeof fn !== 'function') throw new DlswapError('ERR_DLSWAP_INTERNAL', 'temporary callback without a function');
    const p = prepareCallback(sig);
    this.fn = fn;
    this.address = native.makeCallback(this, p.spec, p.wrap(fn), {
      state: 'idle',
      label: `'${describeFn(fn)}' (${p.c}) ${label}`,
      timeoutMs: CALLBACK_DEFAULTS.timeoutMs,
      onError: sink
        ? (e: unknown) => {
            if (!this.failed) {
              this.failed = true;
              this.error = e;
            }
          }
        : undefined,
    });
  }

  /** 1: callable on the JS thread during a sync call; 2: from any thread during an async call; 0: refused. */
  setState(state: 0 | 1 | 2): void {
    native.setCallbackState(this, state);
  }

  release(): void {
    native.releaseCallback(this);
  }
}

/** Callbacks a library owns (released when it closes). */
const owned = new WeakMap<object, Set<Callback<AnyFunction>>>();

export function ownedCallbacks(owner: object): Set<Callback<AnyFunction>> {
  let set = owned.get(owner);
  if (!set) {
    set = new Set();
    owned.set(owner, set);
  }
  return set;
}

/**
 * Releases every callback `owner` made and resolves once none has a call running: part of closing a
 * library (after its async calls drained and, for a generation, after dlswap_fini).
 */
export async function releaseOwnedCallbacks(owner: object): Promise<void> {
  const set = owned.get(owner);
  if (!set || set.size === 0) return;
  const list = [...set];
  await Promise.all(list.map((cb) => cb.release()));
}

/**
 * This environment's callback slots: how many exist, how many are callable, and the calls C made
 * that got the fallback value instead of running: refused (after a release...), timed out (the JS
 * thread did not run them within their timeoutMs) and deadlocked (the JS thread was joining the
 * calling thread).
 */
export function callbackStats(): { slots: number; live: number; refused: number; timedOut: number; deadlocked: number } {
  return native.callbackStats();
}

// process.exit(): node joins the thread pool right after the 'exit' event, and a pool thread (or a
// library thread) waiting for this JS thread to run a callback would hold that join for ever. Every
// such wait gets its fallback value here; exit() from C is covered natively (an atexit handler).
// (node:worker_threads is loaded there, not with the package: bench/startup.mjs.)
process.on('exit', () => native.releaseCallbacksAtExit((require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread));
