/**
 * The C types beyond scalars, as data: structs, unions, fixed arrays, enums, pointers to any of
 * them and function (callback) types, each with the size and alignment the platform ABI gives it.
 *
 * dlswap targets LP64 Linux on x86-64 (System V) and aarch64 (AAPCS64). For every type this module
 * knows, both ABIs lay data out the same way: each scalar is aligned to its size (bool and char 1,
 * short 2, int and float 4, long, long long, double and pointers 8), a struct member goes at the next
 * offset aligned to its alignment, a struct's alignment is its strictest member's and its size is
 * rounded up to it, a union's size is its largest member's rounded up likewise. `packed` makes every
 * member's alignment 1; `aligned(N)` raises the struct's alignment to N. (`long double`, `__int128`
 * and bit-fields, where the two ABIs or the compilers differ, are refused by the parser.)
 *
 * Kept free of the parser (lib/signature_*.ts import it) so that the two do not import each other.
 */
import type { Kind, Signature } from './signature';

export type ScalarKind = Exclude<Kind, 'void' | 'pointer' | 'string' | 'aggregate'>;
export type EnumKind = 'i32' | 'u32' | 'i64' | 'u64';

interface CTypeBase {
  /** Normalized C spelling: 'struct point', 'uint8_t[16]', 'struct point *', 'int (*)(int)'. */
  c: string;
  size: number;
  align: number;
}

export interface ScalarCType extends CTypeBase {
  tag: 'scalar';
  kind: ScalarKind;
  /** Plain `char` (neither signed nor unsigned): arrays of it are text, pointers to it strings. */
  plainChar: boolean;
}

export interface VoidCType extends CTypeBase {
  tag: 'void';
}

export interface PointerCType extends CTypeBase {
  tag: 'pointer';
  to: CType;
  /** The pointee is const-qualified: C promises not to write through the pointer. */
  constTo: boolean;
}

export interface Field {
  /** null for an anonymous struct or union member, whose own members are reached directly. */
  name: string | null;
  type: CType;
  offset: number;
}

export interface RecordCType extends CTypeBase {
  tag: 'struct' | 'union';
  /** 'struct point'; null for an anonymous struct or union. */
  name: string | null;
  /** null while only declared (`struct point;`, or named in a pointer before its body). */
  fields: Field[] | null;
  packed: boolean;
}

export interface ArrayCType extends CTypeBase {
  tag: 'array';
  of: CType;
  length: number;
}

export interface EnumCType extends CTypeBase {
  tag: 'enum';
  name: string | null;
  /** The integer type GCC gives it: int when a value is negative, else unsigned int; 64 bits when needed. */
  kind: EnumKind;
  members: ReadonlyMap<string, bigint>;
}

export interface FunctionCType extends CTypeBase {
  tag: 'function';
  sig: Signature;
}

export type CType = ScalarCType | VoidCType | PointerCType | RecordCType | ArrayCType | EnumCType | FunctionCType;

/** What a prototype or declaration can look names up in: the tags and typedefs of a type registry. */
export interface TypeScope {
  tag(word: 'struct' | 'union' | 'enum', name: string): CType | undefined;
  typedef(name: string): CType | undefined;
  /** Enumerator values, for constant expressions (array lengths, enumerator values). */
  constant(name: string): bigint | undefined;
}

// ---------------------------------------------------------------------------------------------------
// Constructors

const SCALAR_SIZES: Record<ScalarKind, number> = {
  bool: 1,
  i8: 1,
  u8: 1,
  i16: 2,
  u16: 2,
  i32: 4,
  u32: 4,
  i64: 8,
  u64: 8,
  f32: 4,
  f64: 8,
};

export function scalarType(kind: ScalarKind, c: string, plainChar = false): ScalarCType {
  const size = SCALAR_SIZES[kind];
  return { tag: 'scalar', kind, c, size, align: size, plainChar };
}

export const VOID: VoidCType = Object.freeze({ tag: 'void', c: 'void', size: 0, align: 1 });

export function pointerTo(to: CType, constTo = false): PointerCType {
  return { tag: 'pointer', to, constTo, c: pointerSpelling(to, constTo), size: 8, align: 8 };
}

/** `struct point *`, `const char *`, `int **`, `int (*)(int)`, `int (**)(int)`. */
function pointerSpelling(to: CType, constTo: boolean): string {
  if (to.tag === 'function') return functionSpelling(to.sig, '*');
  if (to.tag === 'pointer' && to.to.tag === 'function') return to.c.replace('(*', '(**');
  if (to.tag === 'array') return `${to.of.c} (*)[${to.length}]`;
  const base = constTo && !to.c.startsWith('const ') ? `const ${to.c}` : to.c;
  return base.endsWith('*') ? `${base}*` : `${base} *`;
}

/** `int (*)(int, void *)` for `stars` '*', `int (int, void *)` for ''. */
export function functionSpelling(sig: Signature, stars: string): string {
  const list = sig.params.map((p) => p.type.c);
  if (sig.variadic) list.push('...');
  const params = list.length ? list.join(', ') : 'void';
  const ret = sig.returns.c.endsWith('*') ? sig.returns.c : `${sig.returns.c} `;
  return stars ? `${ret}(${stars})(${params})` : `${ret}(${params})`;
}

export function functionType(sig: Signature): FunctionCType {
  return { tag: 'function', sig, c: functionSpelling(sig, ''), size: 1, align: 1 };
}

export const MAX_TYPE_SIZE = 0x7fff_ffff;

export function arrayOf(of: CType, length: number): ArrayCType {
  return { tag: 'array', of, length, c: `${of.c}[${length}]`, size: of.size * length, align: of.align };
}

/** A struct or union named (or used in a pointer) before its body: complete it with layoutRecord. */
export function incompleteRecord(tag: 'struct' | 'union', name: string | null): RecordCType {
  return { tag, name, c: name ?? `${tag} <anonymous>`, fields: null, packed: false, size: 0, align: 1 };
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * Gives `rec` its members and computes their offsets, its size and alignment. `members` are in
 * declaration order with their types; `aligned` is an `__attribute__((aligned(N)))` on the record.
 */
export function layoutRecord(rec: RecordCType, members: { name: string | null; type: CType }[], packed: boolean, aligned: number): void {
  let offset = 0;
  let size = 0;
  let align = 1;
  const fields: Field[] = [];
  for (const m of members) {
    const a = packed ? 1 : m.type.align;
    align = Math.max(align, a);
    if (rec.tag === 'struct') {
      offset = alignUp(offset, a);
      fields.push({ name: m.name, type: m.type, offset });
      offset += m.type.size;
      size = offset;
    } else {
      fields.push({ name: m.name, type: m.type, offset: 0 });
      size = Math.max(size, m.type.size);
    }
  }
  align = Math.max(align, aligned);
  rec.fields = fields;
  rec.packed = packed;
  rec.align = align;
  rec.size = alignUp(size, align);
}

/** The integer type GCC picks for an enum with these values (C23's rules for enums without a fixed type). */
export function enumKind(values: Iterable<bigint>): EnumKind | null {
  let min = 0n;
  let max = 0n;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min < 0n) {
    if (min >= -(2n ** 31n) && max < 2n ** 31n) return 'i32';
    if (min >= -(2n ** 63n) && max < 2n ** 63n) return 'i64';
    return null;
  }
  if (max < 2n ** 32n) return 'u32';
  if (max < 2n ** 64n) return 'u64';
  return null;
}

export function enumType(name: string | null, members: Map<string, bigint>): EnumCType {
  const kind = enumKind(members.values()) ?? 'i64';
  const size = kind === 'i32' || kind === 'u32' ? 4 : 8;
  return { tag: 'enum', name, c: name ?? 'enum <anonymous>', kind, members, size, align: size };
}

// ---------------------------------------------------------------------------------------------------
// Queries

export function isComplete(t: CType): boolean {
  if (t.tag === 'struct' || t.tag === 'union') return t.fields !== null;
  if (t.tag === 'array') return isComplete(t.of);
  return t.tag !== 'void' && t.tag !== 'function';
}

/** The function type a callback-typed value has: `int (*)(int)`, or a function type that decays to it. */
export function callbackSignature(t: CType | undefined): Signature | null {
  if (!t) return null;
  if (t.tag === 'function') return t.sig;
  if (t.tag === 'pointer' && t.to.tag === 'function') return t.to.sig;
  return null;
}

/** The struct or union a pointer points at, when it is complete (objects can be encoded into it). */
export function recordPointee(t: CType | undefined): RecordCType | null {
  if (t?.tag !== 'pointer') return null;
  const to = t.to;
  return (to.tag === 'struct' || to.tag === 'union') && to.fields !== null ? to : null;
}

/** Leaf and intermediate member paths with offsets: 'origin', 'origin.x', 'pix', ... (anonymous members flattened). */
export function memberPaths(rec: RecordCType, prefix = '', base = 0): { path: string; offset: number; type: CType }[] {
  const out: { path: string; offset: number; type: CType }[] = [];
  for (const f of rec.fields ?? []) {
    const offset = base + f.offset;
    if (f.name === null) {
      out.push(...memberPaths(f.type as RecordCType, prefix, offset));
      continue;
    }
    const path = prefix + f.name;
    out.push({ path, offset, type: f.type });
    if ((f.type.tag === 'struct' || f.type.tag === 'union') && f.type.fields) out.push(...memberPaths(f.type, `${path}.`, offset));
  }
  return out;
}

/** The named members of a record, with anonymous struct/union members flattened into it. */
export function namedFields(rec: RecordCType, base = 0): Field[] {
  const out: Field[] = [];
  for (const f of rec.fields ?? []) {
    if (f.name === null) out.push(...namedFields(f.type as RecordCType, base + f.offset));
    else out.push(base ? { ...f, offset: base + f.offset } : f);
  }
  return out;
}
