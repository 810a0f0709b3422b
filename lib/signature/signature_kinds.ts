/**
 * What a parsed prototype is made of: the value kinds the native call machinery converts, their
 * numeric codes (shared with native/call/kinds.h, test/package/wire_constants.test.ts), the Signature shape
 * and the parser's limits.
 */
import type { CType } from './ctype_model';
import { DlswapError } from '../errors';

export type Kind =
  | 'void'
  | 'bool'
  | 'i8'
  | 'u8'
  | 'i16'
  | 'u16'
  | 'i32'
  | 'u32'
  | 'i64'
  | 'u64'
  | 'f32'
  | 'f64'
  | 'pointer'
  | 'string'
  /** A struct passed or returned by value (its layout is in TypeInfo.ctype). */
  | 'aggregate';

export interface TypeInfo {
  kind: Kind;
  /** Normalized C spelling, e.g. `'unsigned long'`, `'const char *'`, `'char *const *'`. */
  c: string;
  pointerDepth: number;
  /**
   * The full C type, present when the value needs more than its kind: a struct by value, a pointer
   * to a struct or union the scope declares, a function pointer (callback), an enum. Absent for the
   * plain scalars and pointers, which the kind describes completely.
   */
  ctype?: CType;
}

export interface Param {
  name: string | null;
  type: TypeInfo;
}

export interface Signature {
  name: string;
  returns: TypeInfo;
  params: Param[];
  variadic: boolean;
  /** Normalized prototype; parsing it again yields an identical Signature. */
  text: string;
}

/**
 * Where a type appears changes its kind: `char *` is a string when returned but a writable buffer
 * when passed, and values passed through `...` undergo C's default argument promotions.
 */
export type TypePosition = 'param' | 'return' | 'variadic';

/** Wire codes of the native call machinery (native/call/kinds.h); test/package/wire_constants.test.ts keeps both equal. */
export const KIND_CODES: Readonly<Record<Kind, number>> = Object.freeze({
  void: 0,
  bool: 1,
  i8: 2,
  u8: 3,
  i16: 4,
  u16: 5,
  i32: 6,
  u32: 7,
  i64: 8,
  u64: 9,
  f32: 10,
  f64: 11,
  pointer: 12,
  string: 13,
  aggregate: 14,
});

export function kindCode(k: Kind): number {
  if (!Object.hasOwn(KIND_CODES, k)) {
    throw new DlswapError('ERR_DLSWAP_SIGNATURE', `Unknown type kind ${JSON.stringify(String(k))}`);
  }
  return KIND_CODES[k];
}

/** Kinds whose values cross into JS as bigint: 64-bit integers and returned addresses. */
export function kindIsBigInt(k: Kind): boolean {
  return k === 'i64' || k === 'u64' || k === 'pointer';
}

export const MAX_PROTOTYPE_LENGTH = 4096;
export const MAX_PARAMS = 64;
/** C guarantees at least 12 declarator levels; nothing real needs more than a handful. */
export const MAX_POINTER_DEPTH = 16;

// Plain `char` has implementation-defined signedness: the ABIs of these architectures make it
// unsigned. Read on every parse rather than cached so tests can impersonate another architecture.
const UNSIGNED_CHAR_ARCHES = new Set(['arm', 'arm64', 'ppc', 'ppc64', 's390', 's390x', 'riscv64']);
export function plainCharKind(): Kind {
  return UNSIGNED_CHAR_ARCHES.has(process.arch) ? 'u8' : 'i8';
}
