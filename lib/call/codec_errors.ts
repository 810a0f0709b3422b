/**
 * How encoding reports a value that does not fit: ERR_DLSWAP_ARG errors shaped like the native
 * argument errors, naming the member path inside the value (lib/call/codec.ts, lib/call/call_wrapper.ts and
 * lib/call/memory.ts all report through these).
 */
import type { Arena } from './codec_pointers';

/** Like the native argument errors: a RangeError for a value of the right JS type that does not fit. */
export function argError(range: boolean, message: string): Error {
  const e = range ? new RangeError(message) : new TypeError(message);
  (e as Error & { code: string }).code = 'ERR_DLSWAP_ARG';
  return e;
}

export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number':
    case 'boolean':
      return String(v);
    case 'bigint':
      return `${v}n`;
    case 'string':
      return `the string ${JSON.stringify(v.length > 32 ? `${v.slice(0, 32)}...` : v)}`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
  }
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (Buffer.isBuffer(v)) return 'a Buffer';
  if (ArrayBuffer.isView(v)) return 'a TypedArray';
  if (v instanceof ArrayBuffer) return 'an ArrayBuffer';
  return 'an object';
}

/** Context of one encoding: where it is (for messages) and where pointed-to values can live. */
export interface EncodeCtx {
  /** Prefix of messages: "area(): argument 'f' (#1, const struct frame *)". */
  label: string;
  /** Memory for strings, objects and callbacks that pointer members point to; null when there is none. */
  arena: Arena | null;
  /** Why there is no arena (for the message), when arena is null. */
  noArena?: string;
}

export function where(ctx: EncodeCtx, path: string): string {
  return path ? `${ctx.label}: member '${path}'` : ctx.label;
}
