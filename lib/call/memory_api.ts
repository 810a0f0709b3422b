/**
 * Typed memory without a library: `decode(address, 'uint32_t', 4)`, `encode(buf, 'int', 7)`. Type
 * names are the builtins unless a registry is given (`{ types }`); a library's own `lib.decode` and
 * `lib.encode` use the types it was opened with and check bounds inside its `lib.alloc` memory.
 */
import { addon } from '../native';
import { TypeRegistry } from '../signature/ctypes';
import { decodeValue, encodeToBuffer as toBuffer, encodeValue, sizeOf, type MemorySource } from './memory';
import { DlswapError } from '../errors';
import { describeValue, resolveMemoryOptions } from '../options';
import { constants as bufferConstants } from 'node:buffer';

export interface TypesOption {
  /** Where type names beyond the builtins are declared. */
  types?: TypeRegistry;
}

/** Reads a value of a C type (count of them: an array) at an address or in a buffer. */
export function decode(source: MemorySource, type: string, count?: number, options?: TypesOption): unknown {
  return decodeValue(resolveMemoryOptions(options, 'decode(source, type, count, options)').types, source, type, count);
}

/** Writes a value of a C type at an address or into a buffer. */
export function encode(target: MemorySource, type: string, value: unknown, options?: TypesOption): void {
  encodeValue(resolveMemoryOptions(options, 'encode(target, type, value, options)').types, target, type, value);
}

/** A value of a C type as a new Buffer (which owns the memory its pointer members point to). */
export function encodeToBuffer(type: string, value: unknown, options?: TypesOption): Buffer {
  return toBuffer(resolveMemoryOptions(options, 'encodeToBuffer(type, value, options)').types, type, value);
}

export function sizeof(type: string, options?: TypesOption): number {
  return sizeOf(resolveMemoryOptions(options, 'sizeof(type, options)').types, type);
}

export function alignof(type: string, options?: TypesOption): number {
  const { types } = resolveMemoryOptions(options, 'alignof(type, options)');
  sizeOf(types, type);
  return (types ?? defaultRegistry()).alignof(type);
}

export function offsetof(type: string, member: string, options?: TypesOption): number {
  return (resolveMemoryOptions(options, 'offsetof(type, member, options)').types ?? defaultRegistry()).offsetof(type, member);
}

/**
 * A copy of `length` bytes at an address (for byte buffers C hands over: `char *ptr, size_t len`).
 * A length beyond the largest Buffer is ERR_DLSWAP_TOO_LARGE, one the process cannot allocate
 * ERR_DLSWAP_NO_MEMORY; the address itself is trusted, as in C.
 */
export function readBytes(address: bigint, length: number | bigint): Buffer {
  if (typeof address !== 'bigint') throw new DlswapError('ERR_DLSWAP_ARG', 'readBytes(address, length): address must be a bigint');
  const n = typeof length === 'bigint' && length >= 0n && length <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(length) : length;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new DlswapError('ERR_DLSWAP_ARG', `readBytes(address, length): length must be a non-negative integer, not ${describeValue(length)}`);
  }
  if (n > bufferConstants.MAX_LENGTH) {
    throw new DlswapError(
      'ERR_DLSWAP_TOO_LARGE',
      `readBytes(address, length): ${n} bytes is more than a Buffer can hold (${bufferConstants.MAX_LENGTH}); read it in parts`,
    );
  }
  let out: Buffer;
  try {
    out = Buffer.alloc(n);
  } catch (e) {
    throw new DlswapError('ERR_DLSWAP_NO_MEMORY', `readBytes(address, length): cannot allocate ${n} bytes`, { cause: e });
  }
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
