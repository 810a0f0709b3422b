/**
 * The values each integer kind holds, from its width and signedness: the one table of integer ranges
 * in lib/ (the memory codecs' checks and messages, callback fallbacks). The addon keeps its own for
 * the arguments it converts (native/call/int_ranges.h, from the C types); the WIRE export carries it,
 * and test/package/wire_constants.test.ts holds the two equal.
 */
import type { Kind } from './signature_kinds';

export type IntKind = Extract<Kind, 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64'>;

export interface IntRange {
  readonly lo: bigint;
  readonly hi: bigint;
  /** The DataView accessor's type name: 'Int8', 'Uint32', 'BigInt64'... */
  readonly view: string;
}

const WIDTHS: Record<IntKind, number> = { i8: 8, u8: 8, i16: 16, u16: 16, i32: 32, u32: 32, i64: 64, u64: 64 };

function rangeOf(kind: IntKind): IntRange {
  const bits = WIDTHS[kind];
  const signed = kind.startsWith('i');
  const lo = signed ? -(2n ** BigInt(bits - 1)) : 0n;
  const hi = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
  const view = `${bits === 64 ? 'Big' : ''}${signed ? 'Int' : 'Uint'}${bits}`;
  return Object.freeze({ lo, hi, view });
}

export const INT_RANGES: Readonly<Record<IntKind, IntRange>> = Object.freeze(
  Object.fromEntries((Object.keys(WIDTHS) as IntKind[]).map((k) => [k, rangeOf(k)])) as Record<IntKind, IntRange>,
);

export function isIntKind(kind: string): kind is IntKind {
  return Object.hasOwn(WIDTHS, kind);
}

/** What an argument error says a value of `kind` must be (the wording the addon's errors use too). */
export function integerExpectation(kind: IntKind): string {
  const { lo, hi } = INT_RANGES[kind];
  if (kind === 'i64') return `a bigint in [${lo}n, ${hi}n] (or a safe-integer number)`;
  if (kind === 'u64') return `a bigint in [${lo}n, ${hi}n] (or a non-negative safe-integer number)`;
  return `an integer in [${lo}, ${hi}]`;
}
