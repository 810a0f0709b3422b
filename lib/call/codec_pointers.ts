/**
 * Pointer members of encoded values: addresses pass as they are, while strings, objects and JS
 * functions get memory that lives as long as the value (an Arena), and their address is written.
 */
import { CallbackObject, TempCallback } from './callbacks';
import { codecOf, H } from './codec';
import { argError, type EncodeCtx, where } from './codec_errors';
import { callbackSignature, type CType, type PointerCType } from '../signature/ctype_model';
import { addon } from '../native';
import { checkValueSize } from '../signature/value_limits';

interface Chunk {
  dv: DataView;
  /** The address of byte 0 of dv, split: lo 32 bits, hi 32 bits. */
  lo: number;
  hi: number;
  used: number;
  end: number;
}

const CHUNK = 4096;

/**
 * Memory dlswap owns for the duration of an encoded value: strings, nested structs and callbacks that
 * pointer members point to. For a call argument it lives until the call returns (sync) or completes
 * (async); for encode() into a Buffer, as long as that Buffer.
 */
export class Arena {
  chunks: Chunk[] = [];
  temps: TempCallback[] = [];
  /** Buffers whose addresses were written into the value: kept alive with it. */
  keep: unknown[] = [];

  /**
   * @param callbacks what a JS function becomes: a temporary callback active during a sync call (1)
   * or an async one (2); 0 refuses functions (there is no call for them to live in).
   */
  constructor(
    readonly callbacks: 0 | 1 | 2,
    readonly callLabel: string,
    private readonly first?: Chunk,
  ) {
    if (first) this.chunks.push(first);
  }

  /** A region of `size` bytes aligned to `align`, with its address (within MAX_VALUE_SIZE, or ERR_DLSWAP_TOO_LARGE). */
  alloc(size: number, align: number): { chunk: Chunk; off: number } {
    checkValueSize(size + align - 1, `memory for a value ${this.callLabel}`);
    for (const c of this.chunks) {
      const off = Math.ceil(c.used / align) * align;
      if (off + size <= c.end) {
        c.used = off + size;
        return { chunk: c, off };
      }
    }
    const bytes = Math.max(CHUNK, size + align);
    const ab = new ArrayBuffer(bytes);
    const a = addon.addressOf(ab);
    const c: Chunk = { dv: new DataView(ab), lo: Number(a & 0xffffffffn), hi: Number(a >> 32n), used: 0, end: bytes };
    this.chunks.push(c);
    const off = (align - (c.lo % align)) % align;
    c.used = off + size;
    return { chunk: c, off };
  }

  /** A JS function as a temporary callback of this call. */
  temp(t: PointerCType, fn: (...a: unknown[]) => unknown): TempCallback {
    const sig = callbackSignature(t)!;
    const cb = new TempCallback(sig, fn, this.callLabel, this.callbacks === 2);
    cb.setState(this.callbacks as 1 | 2);
    this.temps.push(cb);
    return cb;
  }

  /** The sync frame's arena is reused: forget what the last call put in it. */
  reset(): void {
    if (this.first) {
      this.first.used = 0;
      this.chunks.length = 1;
    } else {
      this.chunks.length = 0;
    }
    this.keep.length = 0;
  }

  /** Ends the life of the temporary callbacks made for the call. */
  releaseTemps(): void {
    for (const t of this.temps) t.release();
    this.temps.length = 0;
  }

  /** The first error a temporary callback's function threw on another thread, if any. */
  callbackError(): { error: unknown } | null {
    for (const t of this.temps) if (t.failed) return { error: t.error };
    return null;
  }
}

/** Writes the address `chunk + off` at dv[o]. */
function writeAddress(dv: DataView, o: number, c: Chunk, off: number): void {
  const a = c.lo + off;
  dv.setUint32(o, a % 4294967296, true);
  dv.setUint32(o + 4, c.hi + Math.floor(a / 4294967296), true);
}

function needArena(ctx: EncodeCtx, path: string, t: CType, what: string): Arena {
  if (ctx.arena) return ctx.arena;
  throw argError(
    false,
    `${where(ctx, path)} (${t.c}) got ${what}, which needs memory that lives as long as the value; ${ctx.noArena ?? 'pass an address (bigint) instead'}`,
  );
}

export function encodePointer(ctx: EncodeCtx, path: string, t: PointerCType, v: unknown, dv: DataView, o: number): void {
  if (v === null) {
    dv.setBigUint64(o, 0n, true);
    return;
  }
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 2n ** 64n) H.bad(ctx, path, t.c, 'an address in [0n, 2n ** 64n - 1n]', v, true);
    dv.setBigUint64(o, v, true);
    return;
  }
  if (v instanceof CallbackObject) {
    const cb = v as unknown as { address: bigint };
    if (v instanceof TempCallback || (v as { released?: boolean }).released !== true) {
      dv.setBigUint64(o, cb.address, true);
      return;
    }
    throw argError(false, `${where(ctx, path)} (${t.c}) got a callback that was released`);
  }
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
    dv.setBigUint64(o, addon.addressOf(v), true);
    ctx.arena?.keep.push(v);
    if (!ctx.arena) throw argError(false, `${where(ctx, path)} (${t.c}) got a buffer, whose memory JS may move or free; pass its address (bigint) instead`);
    return;
  }
  const to = t.to;
  if (typeof v === 'function') {
    if (to.tag !== 'function') H.bad(ctx, path, t.c, 'a bigint address or null', v, false);
    const arena = needArena(ctx, path, t, 'a JS function');
    if (arena.callbacks === 0) {
      throw argError(false, `${where(ctx, path)} (${t.c}) got a JS function, which needs a lifetime: make it with lib.callback() and pass that`);
    }
    dv.setBigUint64(o, arena.temp(t, v as (...a: unknown[]) => unknown).address, true);
    return;
  }
  if (typeof v === 'string' && to.tag === 'scalar' && to.plainChar) {
    if (v.includes('\0')) throw argError(true, `${where(ctx, path)} (${t.c}) is a string containing a NUL character; C would see only the text before it`);
    const bytes = Buffer.from(v, 'utf8');
    const { chunk, off } = needArena(ctx, path, t, 'a string').alloc(bytes.length + 1, 1);
    new Uint8Array(chunk.dv.buffer, chunk.dv.byteOffset + off, bytes.length + 1).set(bytes);
    chunk.dv.setUint8(off + bytes.length, 0);
    writeAddress(dv, o, chunk, off);
    return;
  }
  if (typeof v === 'object' && (to.tag === 'struct' || to.tag === 'union') && to.fields !== null) {
    const c = codecOf(to);
    const items = Array.isArray(v) ? v : [v];
    if (items.length === 0) H.bad(ctx, path, t.c, 'an object (or a non-empty array of them)', v, true);
    const { chunk, off } = needArena(ctx, path, t, 'an object').alloc(to.size * items.length, to.align);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const p = Array.isArray(v) ? `${path}[${i}]` : path;
      if (typeof item !== 'object' || item === null) H.notObject(ctx, p, to.c, item);
      c.enc(item, chunk.dv, off + i * to.size, ctx, p);
    }
    writeAddress(dv, o, chunk, off);
    return;
  }
  H.bad(ctx, path, t.c, pointerExpectation(t), v, false);
}

function pointerExpectation(t: PointerCType): string {
  const to = t.to;
  if (to.tag === 'function') return 'a function, a callback, a bigint address or null';
  if (to.tag === 'scalar' && to.plainChar) return 'a string, a bigint address or null';
  if ((to.tag === 'struct' || to.tag === 'union') && to.fields) return `an object (${to.c}), an array of them, a bigint address or null`;
  return 'a bigint address or null';
}
