/**
 * The limits on what dlswap lays out and converts, checked before anything is built for a type: a
 * struct of 2 GiB passed by value, or a 100-million-element array decoded into JS, used to make node
 * run out of memory (or time) before any refusal. docs/types.md#limits gives them to users.
 *
 * - MAX_TYPE_SIZE (ctype_model.ts): the largest type a declaration may describe, 2^31 - 1 bytes. Such
 *   a type can be named, measured (sizeof, offsetof), allocated and pointed to.
 * - MAX_BY_VALUE_SIZE: the largest struct passed or returned by value, by a function or a callback.
 *   libffi copies a by-value struct onto the calling thread's stack (a libuv pool thread has a few
 *   MiB), and the ABI gives every scalar of it a slot of its own; real APIs pass a few hundred bytes.
 * - MAX_VALUE_SIZE: the most bytes converted between C memory and JS values in one go: one decode or
 *   encode (the type's size times the count), and a struct an argument points to when it is given as
 *   a JS object. Each byte is at least one JS value, so this also bounds the number of values made.
 *   Larger memory is read with readBytes, or decoded member by member or slice by slice.
 */
import { DlswapError } from '../errors';
import { MAX_TYPE_SIZE, type CType } from './ctype_model';
import type { Signature, TypeInfo } from './signature_kinds';

export { MAX_TYPE_SIZE };
export const MAX_BY_VALUE_SIZE = 64 * 1024;
export const MAX_VALUE_SIZE = 16 * 1024 * 1024;

function tooLarge(message: string): DlswapError {
  return new DlswapError('ERR_DLSWAP_TOO_LARGE', message);
}

/** Throws unless `t` can be passed or returned by value (`what` says where it is). */
export function checkByValue(t: CType, what: string): void {
  if (t.tag !== 'struct' && t.tag !== 'union') return;
  if (t.tag === 'union' || t.packed || t.fields === null) {
    throw new DlswapError(
      'ERR_DLSWAP_SIGNATURE',
      `'${t.c}' cannot be passed by value (${t.tag === 'union' ? 'a union' : t.packed ? 'packed' : 'incomplete'}); pass a pointer`,
    );
  }
  if (t.size > MAX_BY_VALUE_SIZE) {
    throw tooLarge(
      `${what}: '${t.c}' is ${t.size} bytes, and a struct passed or returned by value may have at most ${MAX_BY_VALUE_SIZE}; pass a pointer to it`,
    );
  }
}

function checkValue(t: TypeInfo, what: string): void {
  if (t.kind === 'aggregate' && t.ctype) checkByValue(t.ctype, what);
}

/**
 * Throws unless a function of signature `sig` can be called (or, as a callback, be called from C):
 * every struct by value within MAX_BY_VALUE_SIZE and passable, none through '...'. Checked before
 * anything is built for it (a libffi shape, a frame), and by the options check of HotLibrary before
 * anything is loaded.
 */
export function checkCallable(sig: Signature, what = `${sig.name || 'the function'}()`): void {
  if (sig.variadic && sig.params.some((p) => p.type.kind === 'aggregate')) {
    throw new DlswapError('ERR_DLSWAP_SIGNATURE', `${sig.name}(): structs by value are not supported in variadic functions; pass a pointer`);
  }
  checkValue(sig.returns, `${what}: the result`);
  for (const [i, p] of sig.params.entries()) checkValue(p.type, `${what}: argument #${i + 1}`);
}

/** Throws unless `bytes` may be converted between C memory and JS values in one go. */
export function checkValueSize(bytes: number, what: string): void {
  if (bytes > MAX_VALUE_SIZE) {
    throw tooLarge(
      `${what}: ${bytes} bytes, and at most ${MAX_VALUE_SIZE} are converted to or from JS values at once; read large memory with readBytes, or decode it in slices or member by member`,
    );
  }
}
