/**
 * Typed memory without a library: `decode(address, 'uint32_t', 4)`, `encode(buf, 'int', 7)`. Type
 * names are the builtins unless a registry is given (`{ types }`); a library's own `lib.decode` and
 * `lib.encode` use the types it was opened with and check bounds inside its `lib.alloc` memory.
 */
import { addon } from '../native';
import { TypeRegistry } from '../signature/ctypes';
import { decodeValue, encodeToBuffer as toBuffer, encodeValue, sizeOf, type MemorySource } from './memory';
import { DlswapError } from '../errors';

export interface TypesOption {
  /** Where type names beyond the builtins are declared. */
  types?: TypeRegistry;
}

/** Reads a value of a C type (count of them: an array) at an address or in a buffer. */
export function decode(source: MemorySource, type: string, count?: number, options: TypesOption = {}): unknown {
  return decodeValue(options.types, source, type, count);
}

/** Writes a value of a C type at an address or into a buffer. */
export function encode(target: MemorySource, type: string, value: unknown, options: TypesOption = {}): void {
  encodeValue(options.types, target, type, value);
}

/** A value of a C type as a new Buffer (which owns the memory its pointer members point to). */
export function encodeToBuffer(type: string, value: unknown, options: TypesOption = {}): Buffer {
  return toBuffer(options.types, type, value);
}

export function sizeof(type: string, options: TypesOption = {}): number {
  return sizeOf(options.types, type);
}

export function alignof(type: string, options: TypesOption = {}): number {
  sizeOf(options.types, type);
  return (options.types ?? defaultRegistry()).alignof(type);
}

export function offsetof(type: string, member: string, options: TypesOption = {}): number {
  return (options.types ?? defaultRegistry()).offsetof(type, member);
}

/** A copy of `length` bytes at an address (for byte buffers C hands over: `char *ptr, size_t len`). */
export function readBytes(address: bigint, length: number | bigint): Buffer {
  const n = typeof length === 'bigint' ? Number(length) : length;
  if (typeof address !== 'bigint') throw new DlswapError('ERR_DLSWAP_ARG', 'readBytes(address, length): address must be a bigint');
  if (!Number.isSafeInteger(n) || n < 0) throw new DlswapError('ERR_DLSWAP_ARG', 'readBytes(address, length): length must be a non-negative integer');
  const out = Buffer.alloc(n);
  if (n > 0) addon.copyFromAddress(address, out, 0, n);
  return out;
}

/** The address of a buffer's bytes (valid while the buffer is alive and not detached). */
export function addressOf(buffer: ArrayBuffer | ArrayBufferView): bigint {
  if (!(buffer instanceof ArrayBuffer || ArrayBuffer.isView(buffer))) {
    throw new DlswapError('ERR_DLSWAP_ARG', 'addressOf(buffer): expected an ArrayBuffer, TypedArray, DataView or Buffer');
  }
  return addon.addressOf(buffer);
}

let registry: TypeRegistry | undefined;
function defaultRegistry(): TypeRegistry {
  registry ??= new TypeRegistry();
  return registry;
}
