/**
 * The words of the C subset the parsers read: qualifiers, type names, the words that are refused with
 * a reason, and the reserved words no declaration may use as a name.
 */
import type { Kind } from './signature_kinds';

/** @internal */
export const QUALIFIERS: Record<string, 'const' | 'volatile' | 'restrict'> = {
  const: 'const',
  volatile: 'volatile',
  restrict: 'restrict',
  __restrict: 'restrict',
  __restrict__: 'restrict',
};
export const QUALIFIER_ORDER = ['const', 'volatile', 'restrict'] as const;
/** @internal */
export type Qualifier = (typeof QUALIFIER_ORDER)[number];

/** Single-word type names (keywords and the fixed-width typedefs) with their LP64 kind. */
export const NAMED_TYPES: Record<string, { c: string; kind: Kind }> = {
  void: { c: 'void', kind: 'void' },
  bool: { c: 'bool', kind: 'bool' },
  _Bool: { c: 'bool', kind: 'bool' },
  float: { c: 'float', kind: 'f32' },
  double: { c: 'double', kind: 'f64' },
  int8_t: { c: 'int8_t', kind: 'i8' },
  uint8_t: { c: 'uint8_t', kind: 'u8' },
  int16_t: { c: 'int16_t', kind: 'i16' },
  uint16_t: { c: 'uint16_t', kind: 'u16' },
  int32_t: { c: 'int32_t', kind: 'i32' },
  uint32_t: { c: 'uint32_t', kind: 'u32' },
  int64_t: { c: 'int64_t', kind: 'i64' },
  uint64_t: { c: 'uint64_t', kind: 'u64' },
  size_t: { c: 'size_t', kind: 'u64' },
  ssize_t: { c: 'ssize_t', kind: 'i64' },
  intptr_t: { c: 'intptr_t', kind: 'i64' },
  uintptr_t: { c: 'uintptr_t', kind: 'u64' },
  ptrdiff_t: { c: 'ptrdiff_t', kind: 'i64' },
};
/** Named types that are C keywords (the rest are typedef names, which C lets a parameter shadow). */
export const KEYWORD_TYPES = new Set(['void', 'bool', '_Bool', 'float', 'double']);
export const INTEGER_WORDS = new Set(['signed', 'unsigned', 'short', 'long', 'int', 'char']);
export const TAG_WORDS = new Set(['struct', 'union', 'enum']);

/** Words that are recognized only to explain why they are refused. */
export const UNSUPPORTED_WORDS: Record<string, string> = {
  extern: "storage-class specifier 'extern' is not allowed in a prototype; remove it",
  static: "storage-class specifier 'static' is not allowed in a prototype; remove it",
  register: "storage-class specifier 'register' is not allowed in a prototype; remove it",
  auto: "storage-class specifier 'auto' is not allowed in a prototype; remove it",
  typedef: "'typedef' is not allowed in a prototype",
  inline: "'inline' is not allowed in a prototype; remove it",
  __inline: "'__inline' is not allowed in a prototype; remove it",
  __inline__: "'__inline__' is not allowed in a prototype; remove it",
  _Noreturn: "'_Noreturn' is not allowed in a prototype; remove it",
  __attribute__: 'attributes are not supported; remove the __attribute__((...))',
  __extension__: "'__extension__' is not supported; remove it",
  __declspec: "'__declspec' is not supported; remove it",
  _Atomic: "'_Atomic' types are not supported",
  _Complex: 'complex types are not supported',
  _Imaginary: 'imaginary types are not supported',
  __int128: "'__int128' is not supported",
  __int128_t: "'__int128_t' is not supported",
  __uint128_t: "'__uint128_t' is not supported",
  _Float16: "'_Float16' is not supported",
  _Float128: "'_Float128' is not supported",
  __float128: "'__float128' is not supported",
  _Alignas: "'_Alignas' is not supported",
  alignas: "'alignas' is not supported",
  typeof: "'typeof' is not supported",
  __typeof__: "'__typeof__' is not supported",
  _BitInt: "'_BitInt' is not supported",
  wchar_t: "'wchar_t' is not supported; use int32_t (Linux) or a pointer ('void *')",
};

/** Reserved words that can never name a function or parameter. */
/** @internal Reserved words that can never name a function, parameter, member or type. */
export const RESERVED = new Set([
  ...Object.keys(QUALIFIERS),
  ...KEYWORD_TYPES,
  ...INTEGER_WORDS,
  ...TAG_WORDS,
  ...Object.keys(UNSUPPORTED_WORDS).filter((w) => w !== 'wchar_t'),
  'break',
  'case',
  'continue',
  'default',
  'do',
  'else',
  'for',
  'goto',
  'if',
  'return',
  'sizeof',
  'switch',
  'while',
  'true',
  'false',
  'nullptr',
  'constexpr',
  'static_assert',
  '_Static_assert',
  'thread_local',
  '_Thread_local',
  '_Generic',
  'alignof',
  '_Alignof',
  'typeof_unqual',
]);
