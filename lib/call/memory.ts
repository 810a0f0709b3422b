/**
 * Typed memory: read (decode) and write (encode) values of C types at an address or in a buffer, and
 * allocate with a library's own allocator. docs/types.md.
 *
 * Bounds: a buffer's length is always checked; an address inside memory allocated with `lib.alloc`
 * is checked against that allocation (ERR_DLSWAP_OUT_OF_BOUNDS), and one inside a block lib.free has
 * freed is refused (ERR_DLSWAP_FREED); any other address is trusted, as in C, and a bad one crashes
 * the process. Sizes: at most MAX_VALUE_SIZE bytes are converted at once (lib/signature/value_limits.ts).
 */
import { DlswapError } from '../errors';
import { codecOf } from './codec';
import { argError, type EncodeCtx } from './codec_errors';
import { Arena } from './codec_pointers';
import type { CType } from '../signature/ctype_model';
import { TypeRegistry } from '../signature/ctypes';
import { addon, type NativeLibrary } from '../native';
import { checkValueSize } from '../signature/value_limits';
import { describeValue } from '../options';

export type MemorySource = bigint | ArrayBuffer | ArrayBufferView;

const builtins = new TypeRegistry();

/** `decode("uint32_t")`: how a call names its type in messages (any value, never throwing). */
function label(fn: string, type: unknown): string {
  if (typeof type === 'string') return `${fn}(${JSON.stringify(type.length > 60 ? `${type.slice(0, 60)}...` : type)})`;
  const c = type !== null && typeof type === 'object' ? (type as { c?: unknown }).c : undefined;
  return `${fn}(${typeof c === 'string' ? c : describeValue(type)})`;
}

function resolve(registry: TypeRegistry | undefined, type: string | CType, what: string): CType {
  if (typeof type !== 'string' && (type === null || typeof type !== 'object' || typeof (type as CType).tag !== 'string')) {
    throw argError(false, `${what}: the type must be a C type name (a string), not ${describeValue(type)}`);
  }
  const t = typeof type === 'string' ? (registry ?? builtins).type(type) : type;
  if (t.tag === 'void' || t.tag === 'function' || ((t.tag === 'struct' || t.tag === 'union') && t.fields === null)) {
    throw new DlswapError(
      'ERR_DLSWAP_ARG',
      `${what}: '${t.c}' has no size (${t.tag === 'void' ? 'void' : t.tag === 'function' ? 'a function type' : 'declared without its members'})`,
    );
  }
  return t;
}

function checkCount(count: number | undefined, what: string): number {
  if (count === undefined) return 1;
  if (!Number.isSafeInteger(count) || count < 1) throw argError(typeof count === 'number', `${what}: count must be a positive integer; got ${String(count)}`);
  return count;
}

function outOfBounds(message: string): DlswapError {
  return new DlswapError('ERR_DLSWAP_OUT_OF_BOUNDS', message);
}

/** Blocks from this size on give their whole pages back while held (smaller ones have none, or one). */
const DISCARD_FROM = 2 * 4096;

function freedError(message: string): DlswapError {
  return new DlswapError('ERR_DLSWAP_FREED', message);
}

/** Blocks of memory sorted by address: which one holds an address, in O(log n). */
class Blocks {
  readonly #starts: bigint[] = [];
  readonly #sizes: number[] = [];

  add(start: bigint, size: number): void {
    const i = this.#index(start);
    this.#starts.splice(i, 0, start);
    this.#sizes.splice(i, 0, size);
  }

  /** Forgets the block starting at `start`; false if there is none. */
  remove(start: bigint): boolean {
    const i = this.#index(start);
    if (this.#starts[i] !== start) return false;
    this.#starts.splice(i, 1);
    this.#sizes.splice(i, 1);
    return true;
  }

  /** The block holding `address`, or null. */
  find(address: bigint): { start: bigint; size: number } | null {
    const i = this.#index(address + 1n) - 1;
    if (i < 0) return null;
    const start = this.#starts[i];
    const size = this.#sizes[i];
    return address < start + BigInt(size) ? { start, size } : null;
  }

  get count(): number {
    return this.#starts.length;
  }

  /** First index whose start is >= address. */
  #index(address: bigint): number {
    let lo = 0;
    let hi = this.#starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#starts[mid] < address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The blocks of one library's lib.alloc, for bounds checks and for lib.free: the live ones, sorted by
 * address, and the last HOLD_BLOCKS ones lib.free freed, held back from the allocator. Held back, a
 * freed block's address cannot be handed out again (by lib.alloc or by the library's own malloc), so
 * a second lib.free of it is certainly a double free, refused with ERR_DLSWAP_FREED instead of
 * glibc's abort; reading or writing it with decode/encode is refused the same way. A held block keeps
 * its address, not its memory: the whole pages inside it go back to the system at once (so holding
 * costs at most about two pages per block, whatever its size). Older blocks go back to the allocator,
 * oldest first, and all of them before the library closes.
 */
export class Allocations {
  static readonly HOLD_BLOCKS = 1024;
  readonly #live = new Blocks();
  /** Freed blocks held back, and the order they were freed in (oldest first). */
  readonly #held = new Blocks();
  readonly #heldOrder: bigint[] = [];

  add(start: bigint, size: number): void {
    this.#live.add(start, size);
  }

  /** Forgets the allocation starting at `start`; false if there is none. */
  remove(start: bigint): boolean {
    return this.#live.remove(start);
  }

  /**
   * lib.free(`address`): a live block is held back (its pages discarded now, the block given to
   * `freeNow` later); a block already freed, or an address inside a block, is refused; any other
   * address is memory the library allocated itself, freed at once.
   */
  free(address: bigint, freeNow: (p: bigint) => void): void {
    const held = this.#held.find(address);
    if (held) {
      throw freedError(
        held.start === address
          ? `free(ptr): 0x${address.toString(16)} was already freed by lib.free (a double free, which would abort the process); free each block once`
          : `free(ptr): 0x${address.toString(16)} is inside a block that lib.free already freed`,
      );
    }
    const live = this.#live.find(address);
    if (!live) {
      freeNow(address);
      return;
    }
    if (live.start !== address) {
      throw new DlswapError(
        'ERR_DLSWAP_ARG',
        `free(ptr): 0x${address.toString(16)} is ${address - live.start} bytes into a block of lib.alloc; free the address lib.alloc returned`,
      );
    }
    this.#live.remove(address);
    if (live.size >= DISCARD_FROM) addon.discardPages(address, live.size);
    this.#held.add(address, live.size);
    this.#heldOrder.push(address);
    if (this.#heldOrder.length > Allocations.HOLD_BLOCKS) {
      const oldest = this.#heldOrder.shift()!;
      this.#held.remove(oldest);
      freeNow(oldest);
    }
  }

  /** Gives every held-back block to the allocator (before the library, and its allocator, go). */
  release(freeNow: (p: bigint) => void): void {
    for (const p of this.#heldOrder.splice(0)) {
      this.#held.remove(p);
      freeNow(p);
    }
  }

  /** The live allocation holding `address`, or null. */
  find(address: bigint): { start: bigint; size: number } | null {
    return this.#live.find(address);
  }

  get count(): number {
    return this.#live.count;
  }

  /** Throws unless [address, address + length) fits the allocation holding `address` (if any) and was not freed. */
  check(address: bigint, length: number, what: string): void {
    const a = this.#live.find(address);
    if (!a) {
      if (this.#held.count > 0 && this.#held.find(address))
        throw freedError(`${what}: 0x${address.toString(16)} is in a block that lib.free freed (a use after free)`);
      return;
    }
    const end = address + BigInt(length);
    if (end > a.start + BigInt(a.size)) {
      throw outOfBounds(
        `${what}: ${length} bytes at offset ${address - a.start} of an allocation of ${a.size} bytes (lib.alloc) run ${end - a.start - BigInt(a.size)} bytes past its end`,
      );
    }
  }
}

function viewBytes(v: ArrayBuffer | ArrayBufferView, what: string): Uint8Array {
  try {
    return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  } catch (e) {
    // The one way a view of a real buffer cannot be made: its memory was transferred away.
    throw Object.assign(argError(false, `${what}: the buffer is detached (transferred): it has no memory any more`), { cause: e });
  }
}

/**
 * Reads a value of `type` (count of them: an array) from an address or a buffer.
 * `decode(p, 'struct frame')`, `decode(buf, 'uint32_t', 4)`, `decode(p, 'const char *')`.
 */
export function decodeValue(
  registry: TypeRegistry | undefined,
  source: MemorySource,
  type: string | CType,
  count?: number,
  allocations?: Allocations,
): unknown {
  const what = label('decode', type);
  const t = resolve(registry, type, what);
  const n = checkCount(count, what);
  const length = t.size * n;
  checkValueSize(length, what);
  const c = codecOf(t);
  let dv: DataView;
  if (typeof source === 'bigint') {
    if (source <= 0n || source >= 2n ** 64n) throw argError(true, `${what}: cannot read at address ${source}`);
    allocations?.check(source, length, what);
    const bytes = new Uint8Array(length);
    addon.copyFromAddress(source, bytes, 0, length);
    dv = new DataView(bytes.buffer);
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes = viewBytes(source, what);
    if (bytes.byteLength < length) throw outOfBounds(`${what}: needs ${length} bytes; the buffer has ${bytes.byteLength}`);
    dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } else {
    throw argError(false, `${what}: source must be a bigint address or a buffer; got ${source === null ? 'null' : typeof source}`);
  }
  if (count === undefined) return c.dec(dv, 0);
  return Array.from({ length: n }, (_, i) => c.dec(dv, i * t.size));
}

/** What encodeValue wrote into a buffer points into: kept alive with that buffer. */
const owned = new WeakMap<object, Arena[]>();

/**
 * Writes `value` as `type` at an address or into a buffer. All of it is checked before any byte is
 * written. Into a buffer, strings, objects and buffers that pointer members point to are copied into
 * memory that lives as long as that buffer; at a raw address they are refused (give addresses).
 */
export function encodeValue(registry: TypeRegistry | undefined, target: MemorySource, type: string | CType, value: unknown, allocations?: Allocations): void {
  const what = label('encode', type);
  const t = resolve(registry, type, what);
  checkValueSize(t.size, what);
  const staging = new Uint8Array(t.size);
  const dv = new DataView(staging.buffer);
  if (typeof target === 'bigint') {
    if (target <= 0n || target >= 2n ** 64n) throw argError(true, `${what}: cannot write at address ${target}`);
    allocations?.check(target, t.size, what);
    const ctx: EncodeCtx = {
      label: what,
      arena: null,
      noArena: 'at a raw address nothing could own it: encode into a Buffer (which then owns it), or give addresses',
    };
    codecOf(t).enc(value, dv, 0, ctx, '');
    addon.copyToAddress(target, staging, 0, t.size);
    return;
  }
  if (!(target instanceof ArrayBuffer || ArrayBuffer.isView(target))) {
    throw argError(false, `${what}: target must be a bigint address or a buffer; got ${target === null ? 'null' : typeof target}`);
  }
  const bytes = viewBytes(target, what);
  if (bytes.byteLength < t.size) throw outOfBounds(`${what}: needs ${t.size} bytes; the buffer has ${bytes.byteLength}`);
  const arena = new Arena(0, what);
  codecOf(t).enc(value, dv, 0, { label: what, arena, noArena: undefined }, '');
  bytes.set(staging);
  if (arena.chunks.length || arena.keep.length) {
    const list = owned.get(target);
    if (list) list.push(arena);
    else owned.set(target, [arena]);
  }
}

/** `value` as a new Buffer of `type`'s size (which owns what its pointer members point to). */
export function encodeToBuffer(registry: TypeRegistry | undefined, type: string | CType, value: unknown): Buffer {
  const what = label('encode', type);
  const t = resolve(registry, type, what);
  checkValueSize(t.size, what);
  const buf = Buffer.alloc(t.size);
  encodeValue(registry, buf, t, value);
  return buf;
}

/** Zeroed memory from the library's own allocator (its namespace's libc): free it with lib.free. */
export function allocIn(
  native: NativeLibrary,
  registry: TypeRegistry | undefined,
  typeOrSize: string | number,
  count: number | undefined,
  allocations: Allocations,
): bigint {
  const what = label('alloc', typeOrSize);
  const n = checkCount(count, what);
  let size: number;
  if (typeof typeOrSize === 'number') {
    if (!Number.isSafeInteger(typeOrSize) || typeOrSize < 1) throw argError(true, `${what}: the size must be a positive integer number of bytes`);
    size = typeOrSize;
  } else if (typeof typeOrSize === 'string') {
    size = resolve(registry, typeOrSize, what).size;
  } else {
    throw argError(false, `alloc(typeOrSize): expected a C type name or a size in bytes; got ${typeOrSize === null ? 'null' : typeof typeOrSize}`);
  }
  const p = addon.allocIn(native, n, size);
  allocations.add(p, n * size);
  return p;
}

/** sizeof / alignof of a type name, without a registry (builtins) or with one. */
export function sizeOf(registry: TypeRegistry | undefined, type: string): number {
  return (registry ?? builtins).sizeof(type);
}
