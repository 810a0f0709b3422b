/**
 * Calls whose arguments need more than the native conversions of lib/call/func.ts: structs (by pointer or
 * by value), callbacks, enums given by name. The native function still does the call (the register
 * trampoline when every argument fits a register, libffi otherwise); this layer turns objects into
 * bytes and functions into code addresses first, and bytes back into objects afterwards.
 *
 * - `const struct T *p` given an object: the object is encoded into memory dlswap owns for the call,
 *   and p points to it. Without `const`, the object is also updated from that memory after the call
 *   (an in/out or out parameter). An array of objects is encoded contiguously (and updated likewise).
 *   Anything else a pointer takes (bigint, null, Buffer) is passed as it is.
 * - `struct T v` (by value) given an object: encoded and passed through libffi; a struct result is
 *   decoded into a new object.
 * - `R (*cb)(...)` given a JS function: a temporary callback, callable while the call runs
 *   (lib/call/callbacks.ts). A `Callback`, a bigint or null are passed as they are.
 * - an enum parameter given an enumerator's name: its value.
 *
 * Sync calls encode into a frame allocated once per function, at addresses computed once, so that a
 * struct argument costs its encoding and little else. A sync call made while the same function is
 * already running (C -> JS -> C), and every async call, gets a frame of its own.
 */
import { codecOf, type Codec } from './codec';
import { argError, describe, type EncodeCtx } from './codec_errors';
import { Arena } from './codec_pointers';
import { addon } from '../native';
import { CallbackObject, TempCallback } from './callbacks';
import { callbackSignature, type CType, type EnumCType, type PointerCType, type RecordCType } from '../signature/ctype_model';
import type { Signature, TypeInfo } from '../signature/signature';
import { MAX_VALUE_SIZE } from '../signature/value_limits';

type NativeCallable = (...args: unknown[]) => unknown;

type ParamPlan =
  | { cls: 'plain' }
  | { cls: 'enum'; t: EnumCType }
  | { cls: 'record'; t: RecordCType; ptr: PointerCType; writeBack: boolean; off: number; codec: Codec }
  | { cls: 'callback'; ptr: PointerCType }
  | { cls: 'aggregate'; t: RecordCType; off: number; codec: Codec };

interface Plan {
  sig: Signature;
  params: ParamPlan[];
  labels: string[];
  ret: { t: RecordCType; off: number; codec: Codec } | null;
  /** Bytes of the fixed regions (struct arguments and the struct result). */
  fixed: number;
  /** Made with { errno: true }: the native result is { value, errno }. */
  errno: boolean;
}

/** Whether calls of `sig` need this layer. */
export function needsWrapper(sig: Signature): boolean {
  return sig.returns.kind === 'aggregate' || sig.params.some((p) => classify(p.type).cls !== 'plain');
}

function classify(t: TypeInfo): { cls: ParamPlan['cls'] } {
  const ct = t.ctype;
  if (!ct) return { cls: 'plain' };
  if (t.kind === 'aggregate') return { cls: 'aggregate' };
  if (ct.tag === 'enum') return { cls: 'enum' };
  if (ct.tag === 'pointer') {
    if (ct.to.tag === 'function') return { cls: 'callback' };
    // A struct an object can be encoded into for the call; one beyond MAX_VALUE_SIZE takes addresses
    // only (its region would be part of every call's frame).
    if ((ct.to.tag === 'struct' || ct.to.tag === 'union') && ct.to.fields && ct.to.size + ct.to.align <= MAX_VALUE_SIZE) return { cls: 'record' };
  }
  return { cls: 'plain' };
}

function argLabel(sig: Signature, i: number): string {
  const p = sig.params[i];
  return p.name ? `${sig.name}(): argument '${p.name}' (#${i + 1}, ${p.type.c})` : `${sig.name}(): argument #${i + 1} (${p.type.c})`;
}

function makePlan(sig: Signature): Plan {
  let fixed = 0;
  const region = (t: CType) => {
    const off = Math.ceil(fixed / Math.max(t.align, 8)) * Math.max(t.align, 8);
    fixed = off + t.size;
    return off;
  };
  const params: ParamPlan[] = sig.params.map((p) => {
    const ct = p.type.ctype;
    switch (classify(p.type).cls) {
      case 'enum':
        return { cls: 'enum', t: ct as EnumCType };
      case 'record': {
        const ptr = ct as PointerCType;
        const t = ptr.to as RecordCType;
        return { cls: 'record', t, ptr, writeBack: !ptr.constTo, off: region(t), codec: codecOf(t) };
      }
      case 'callback':
        return { cls: 'callback', ptr: ct as PointerCType };
      case 'aggregate': {
        const t = ct as RecordCType;
        return { cls: 'aggregate', t, off: region(t), codec: codecOf(t) };
      }
      default:
        return { cls: 'plain' };
    }
  });
  let ret: Plan['ret'] = null;
  if (sig.returns.kind === 'aggregate') {
    const t = sig.returns.ctype as RecordCType;
    // libffi may store a small struct result as whole registers: room for two of them at least.
    const off = Math.ceil(fixed / 16) * 16;
    fixed = off + Math.max(t.size, 16);
    ret = { t, off, codec: codecOf(t) };
  }
  return { sig, params, labels: sig.params.map((_, i) => argLabel(sig, i)), ret, fixed, errno: false };
}

/** Memory one call encodes into: the fixed regions, then the arena's first chunk. */
interface Frame {
  dv: DataView;
  /** Address of each fixed region (0n for parameters without one), and of the struct result. */
  addr: bigint[];
  ret: bigint;
  busy: boolean;
  arena: Arena;
  ctx: EncodeCtx[];
  /** Cached temporary callbacks activated for this call (sync frames). */
  active: TempCallback[];
}

const ARENA_BYTES = 1024;

function newFrame(plan: Plan, mode: 1 | 2): Frame {
  const arenaBytes = mode === 1 ? ARENA_BYTES : 0;
  const fixed = Math.ceil(plan.fixed / 16) * 16;
  const ab = new ArrayBuffer(Math.max(16, fixed + arenaBytes));
  const base = addon.addressOf(ab);
  const dv = new DataView(ab);
  const first = arenaBytes
    ? (() => {
        const a = base + BigInt(fixed);
        return { dv: new DataView(ab, fixed), lo: Number(a & 0xffffffffn), hi: Number(a >> 32n), used: 0, end: arenaBytes };
      })()
    : undefined;
  const arena = new Arena(mode, `passed to ${plan.sig.name}()`, first);
  const addr = plan.params.map((p) => (p.cls === 'record' || p.cls === 'aggregate' ? base + BigInt(p.off) : 0n));
  return {
    dv,
    addr,
    ret: plan.ret ? base + BigInt(plan.ret.off) : 0n,
    busy: false,
    arena,
    ctx: plan.labels.map((label) => ({ label, arena })),
    active: [],
  };
}

function isPlainObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer) && !(v instanceof CallbackObject);
}

/** Helpers the generated sync wrapper calls. */
class Runtime {
  /** Per parameter, the last JS function passed and its temporary callback (sync calls). */
  readonly cache: ({ fn: unknown; cb: TempCallback } | undefined)[];

  constructor(readonly plan: Plan) {
    this.cache = plan.params.map(() => undefined);
  }

  count(got: number): never {
    const n = this.plan.params.length;
    throw argError(false, `${this.plan.sig.name}() takes ${n} argument${n === 1 ? '' : 's'}, got ${got}`);
  }

  enumArg(i: number, v: string): number | bigint {
    const p = this.plan.params[i] as Extract<ParamPlan, { cls: 'enum' }>;
    const value = p.t.members.get(v);
    if (value === undefined) {
      const names = [...p.t.members.keys()];
      throw argError(
        true,
        `${this.plan.labels[i]} expects a number or one of ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}; got ${describe(v)}`,
      );
    }
    return p.t.kind === 'i64' || p.t.kind === 'u64' ? value : Number(value);
  }

  /** An array of objects for a struct pointer: encoded contiguously in the arena. */
  arrayArg(F: Frame, i: number, v: unknown[]): { address: bigint; dv: DataView; off: number } {
    const p = this.plan.params[i] as Extract<ParamPlan, { cls: 'record' }>;
    const ctx = F.ctx[i];
    if (v.length === 0) throw argError(true, `${ctx.label} expects an object or a non-empty array of them; got an empty array`);
    const { chunk, off } = F.arena.alloc(p.t.size * v.length, p.t.align);
    for (let k = 0; k < v.length; k++) {
      const item = v[k];
      if (typeof item !== 'object' || item === null) {
        throw argError(false, `${ctx.label}: element [${k}] (${p.t.c}) expects an object with its members; got ${describe(item)}`);
      }
      p.codec.enc(item, chunk.dv, off + k * p.t.size, ctx, `[${k}]`);
    }
    const a = chunk.lo + off;
    const address = (BigInt(chunk.hi + Math.floor(a / 4294967296)) << 32n) | BigInt(a % 4294967296);
    return { address, dv: chunk.dv, off };
  }

  arrayBack(i: number, v: unknown[], w: { dv: DataView; off: number }): void {
    const p = this.plan.params[i] as Extract<ParamPlan, { cls: 'record' }>;
    for (let k = 0; k < v.length; k++) v[k] = p.codec.upd(v[k], w.dv, w.off + k * p.t.size);
  }

  /** A struct by value given as something other than an object: the address of its bytes. */
  aggregateArg(i: number, v: unknown): unknown {
    const p = this.plan.params[i] as Extract<ParamPlan, { cls: 'aggregate' }>;
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      if (v.byteLength < p.t.size) throw argError(true, `${this.plan.labels[i]} got a buffer of ${v.byteLength} bytes; '${p.t.c}' is ${p.t.size}`);
      return v;
    }
    if (typeof v === 'bigint' && v !== 0n) return v;
    throw argError(false, `${this.plan.labels[i]} expects an object with the members of '${p.t.c}' (or the address of its bytes); got ${describe(v)}`);
  }

  /** A JS function for a callback parameter of a sync call: its temporary callback, active now. */
  temp(F: Frame, i: number, fn: (...a: unknown[]) => unknown): bigint {
    let c = this.cache[i];
    if (c === undefined || c.fn !== fn) {
      c?.cb.release();
      const sig = callbackSignature((this.plan.params[i] as Extract<ParamPlan, { cls: 'callback' }>).ptr)!;
      c = { fn, cb: new TempCallback(sig, fn, `passed to ${this.plan.sig.name}()`, false) };
      this.cache[i] = c;
    }
    c.cb.setState(1);
    F.active.push(c.cb);
    return c.cb.address;
  }

  deactivate(F: Frame): void {
    for (const cb of F.active) cb.setState(0);
    F.active.length = 0;
  }

  finish(F: Frame): void {
    F.busy = false;
    if (F.active.length !== 0) this.deactivate(F);
    if (F.arena.temps.length !== 0) F.arena.releaseTemps();
    F.arena.reset();
  }
}

/** Converts the arguments of one call into what the native function takes. Returns after-call work. */
function convertGeneric(plan: Plan, rt: Runtime, F: Frame, args: unknown[], mode: 1 | 2, out: unknown[]): (() => void)[] {
  const after: (() => void)[] = [];
  plan.params.forEach((p, i) => {
    const a = args[i];
    switch (p.cls) {
      case 'plain':
        out[i] = a;
        break;
      case 'enum':
        out[i] = typeof a === 'string' ? rt.enumArg(i, a) : a;
        break;
      case 'record':
        if (isPlainObject(a)) {
          if (Array.isArray(a)) {
            const w = rt.arrayArg(F, i, a);
            out[i] = w.address;
            if (p.writeBack) after.push(() => rt.arrayBack(i, a, w));
          } else {
            p.codec.enc(a, F.dv, p.off, F.ctx[i], '');
            out[i] = F.addr[i];
            if (p.writeBack) after.push(() => p.codec.upd(a, F.dv, p.off));
          }
        } else {
          out[i] = a;
        }
        break;
      case 'callback':
        out[i] = typeof a === 'function' ? F.arena.temp(p.ptr, a as (...x: unknown[]) => unknown).address : a;
        break;
      case 'aggregate':
        if (isPlainObject(a)) {
          p.codec.enc(a, F.dv, p.off, F.ctx[i], '');
          out[i] = F.addr[i];
        } else {
          out[i] = rt.aggregateArg(i, a);
        }
        break;
    }
  });
  if (plan.ret) out[plan.params.length] = F.ret;
  void mode;
  return after;
}

/** The call's result: the native one, or the struct result decoded from the frame. */
function result(plan: Plan, F: Frame, r: unknown): unknown {
  if (!plan.ret) return r;
  const value = plan.ret.codec.dec(F.dv, plan.ret.off);
  if (plan.errno) {
    (r as { value: unknown }).value = value;
    return r;
  }
  return value;
}

export interface RichFunction {
  /** The sync function JS calls. */
  sync: NativeCallable;
  /** An async call with these arguments (the promise of the converted result). */
  async(args: unknown[]): Promise<unknown>;
}

/** The sync and async entry points of a function with struct, callback or enum parameters. */
export function wrapRich(sig: Signature, nativeSync: NativeCallable, nativeAsync: NativeCallable, errno = false): RichFunction {
  const plan = makePlan(sig);
  plan.errno = errno;
  const rt = new Runtime(plan);

  // Reentrant sync calls: a frame of their own, generic conversions.
  const slow = (args: ArrayLike<unknown>): unknown => {
    const F = newFrame(plan, 1);
    F.busy = true;
    const out: unknown[] = [];
    try {
      const after = convertGeneric(plan, rt, F, Array.from(args), 1, out);
      for (const cb of F.arena.temps) cb.setState(1);
      const r = Reflect.apply(nativeSync, undefined, out);
      for (const f of after) f();
      return result(plan, F, r);
    } finally {
      F.arena.releaseTemps();
    }
  };

  const async = (args: unknown[]): Promise<unknown> => {
    if (args.length !== plan.params.length) rt.count(args.length);
    const F = newFrame(plan, 2);
    const out: unknown[] = [];
    let after: (() => void)[];
    let p: Promise<unknown>;
    try {
      after = convertGeneric(plan, rt, F, args, 2, out);
      p = Reflect.apply(nativeAsync, undefined, out) as Promise<unknown>;
    } catch (e) {
      F.arena.releaseTemps();
      throw e;
    }
    return p.then(
      (r) => {
        const failed = F.arena.callbackError();
        F.arena.releaseTemps();
        if (failed) throw failed.error;
        for (const f of after) f();
        // Keep the frame's memory alive until here: the C call used it.
        void F.arena.keep;
        return result(plan, F, r);
      },
      (e) => {
        F.arena.releaseTemps();
        throw e;
      },
    );
  };

  return { sync: generateSync(plan, rt, nativeSync, slow), async };
}

/**
 * The sync entry point, generated for the signature: one branch per parameter that needs converting,
 * straight-line, with the frame's addresses as constants.
 */
function generateSync(plan: Plan, rt: Runtime, nativeSync: NativeCallable, slow: (args: ArrayLike<unknown>) => unknown): NativeCallable {
  const n = plan.params.length;
  const a = (i: number) => `a${i}`;
  const lines: string[] = [];
  lines.push(`if (arguments.length !== ${n}) R.count(arguments.length);`);
  lines.push(`let F = S.frame;`);
  lines.push(`if (F === null) F = S.frame = S.newFrame(); else if (F.busy) return S.slow(arguments);`);
  lines.push(`F.busy = true;`);
  lines.push(`try {`);
  plan.params.forEach((p, i) => {
    switch (p.cls) {
      case 'plain':
        lines.push(`const p${i} = ${a(i)};`);
        break;
      case 'enum':
        lines.push(`const p${i} = typeof ${a(i)} === 'string' ? R.enumArg(${i}, ${a(i)}) : ${a(i)};`);
        break;
      case 'record':
        lines.push(`let p${i} = ${a(i)}, w${i} = null;`);
        lines.push(
          `if (typeof ${a(i)} === 'object' && ${a(i)} !== null && !ArrayBuffer.isView(${a(i)}) && !(${a(i)} instanceof ArrayBuffer) && !(${a(i)} instanceof CB)) {`,
        );
        lines.push(`  if (Array.isArray(${a(i)})) { w${i} = R.arrayArg(F, ${i}, ${a(i)}); p${i} = w${i}.address; }`);
        lines.push(`  else { C[${i}].enc(${a(i)}, F.dv, ${p.off}, F.ctx[${i}], ''); p${i} = F.addr[${i}]; w${i} = F; }`);
        lines.push(`}`);
        break;
      case 'callback':
        lines.push(`const p${i} = typeof ${a(i)} === 'function' ? R.temp(F, ${i}, ${a(i)}) : ${a(i)};`);
        break;
      case 'aggregate':
        lines.push(
          `const p${i} = (typeof ${a(i)} === 'object' && ${a(i)} !== null && !ArrayBuffer.isView(${a(i)}) && !(${a(i)} instanceof ArrayBuffer) && !(${a(i)} instanceof CB))` +
            ` ? (C[${i}].enc(${a(i)}, F.dv, ${p.off}, F.ctx[${i}], ''), F.addr[${i}]) : R.aggregateArg(${i}, ${a(i)});`,
        );
        break;
    }
  });
  const callArgs = plan.params.map((_, i) => `p${i}`);
  if (plan.ret) callArgs.push('F.ret');
  lines.push(`const r = N(${callArgs.join(', ')});`);
  plan.params.forEach((p, i) => {
    if (p.cls === 'record' && p.writeBack) {
      lines.push(`if (w${i} === F) C[${i}].upd(${a(i)}, F.dv, ${p.off}); else if (w${i} !== null) R.arrayBack(${i}, ${a(i)}, w${i});`);
    }
  });
  if (plan.ret && plan.errno) lines.push(`r.value = RC.dec(F.dv, ${plan.ret.off}); return r;`);
  else lines.push(plan.ret ? `return RC.dec(F.dv, ${plan.ret.off});` : `return r;`);
  lines.push(`} finally { R.finish(F); }`);
  const params = plan.params.map((_, i) => a(i)).join(', ');
  const name = /^[A-Za-z_$][\w$]*$/.test(plan.sig.name) ? plan.sig.name : 'call';
  const source = `return function ${name}(${params}) {\n${lines.join('\n')}\n};`;
  const S = { frame: null as Frame | null, newFrame: () => newFrame(plan, 1), slow };
  const C = plan.params.map((p) => (p.cls === 'record' || p.cls === 'aggregate' ? p.codec : null));
  return new Function('R', 'S', 'C', 'RC', 'N', 'CB', source)(rt, S, C, plan.ret?.codec, nativeSync, CallbackObject) as NativeCallable;
}
