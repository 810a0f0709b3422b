/**
 * Values of C types to bytes and back: JS objects to struct memory (encode) and struct memory to JS
 * objects (decode), for every type lib/signature/ctypes.ts can declare.
 *
 * Each struct, union and array type gets its encoder, decoder and in-place updater generated once as
 * JS source (straight-line DataView reads and writes with the checks inlined), so that passing a
 * struct costs what writing its members by hand would.
 *
 * JS shapes (docs/types.md):
 *   struct/union   object with one property per member (anonymous members' members directly);
 *                  a union is encoded from exactly one member
 *   array          JS array or typed array of exactly its length; `char[N]` is a string (UTF-8)
 *   8..32-bit ints, float, double: number; 64-bit ints: bigint (a safe-integer number is accepted)
 *   bool           boolean (0 and 1 accepted); enum: number, or an enumerator's name
 *   pointer        bigint address or null (also a Buffer/TypedArray, a callback, and, in memory
 *                  dlswap owns for the value: a string for `char *`, an object for a struct pointer,
 *                  a function for a function pointer). Decoded: bigint, except `char *` members of
 *                  structs, decoded as strings (never inside unions, where any member may be junk)
 *
 * Checking is as strict as for call arguments: missing members, wrong types, out-of-range numbers are
 * ERR_DLSWAP_ARG errors naming the member path; nothing is written to C-visible memory before the
 * whole value was checked when the destination is a raw address (encoding goes to a staging buffer).
 *
 * Here: the code generation and the helpers the generated code calls. Pointer members and the memory
 * they point into: lib/call/codec_pointers.ts; the errors: lib/call/codec_errors.ts.
 */
import { structCodecHooks } from './callbacks';
import { argError, describe, type EncodeCtx, where } from './codec_errors';
import { encodePointer } from './codec_pointers';
import type { ArrayCType, CType, EnumCType, PointerCType, RecordCType } from '../signature/ctype_model';
import { INT_RANGES, integerExpectation, type IntKind } from '../signature/int_ranges';
import { DlswapError } from '../errors';
import { addon } from '../native';

/** @internal helpers the generated code calls (out of line: the rare paths). */
export const H = {
  bad(ctx: EncodeCtx, path: string, type: string, expect: string, v: unknown, range: boolean): never {
    throw argError(range, `${where(ctx, path)} (${type}) expects ${expect}; got ${describe(v)}`);
  },
  missing(ctx: EncodeCtx, path: string, type: string): never {
    throw argError(false, `${where(ctx, path)} (${type}) is missing`);
  },
  notObject(ctx: EncodeCtx, path: string, type: string, v: unknown): never {
    throw argError(false, `${where(ctx, path)} (${type}) expects an object with its members; got ${describe(v)}`);
  },
  enumValue(ctx: EncodeCtx, path: string, e: EnumCType, name: string, big: boolean): number | bigint {
    const v = e.members.get(name);
    if (v === undefined) {
      const names = [...e.members.keys()];
      throw argError(
        true,
        `${where(ctx, path)} (${e.c}) expects a number or one of ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}; got ${describe(name)}`,
      );
    }
    return big ? v : Number(v);
  },
  pointer(ctx: EncodeCtx, path: string, t: PointerCType, v: unknown, dv: DataView, o: number): void {
    encodePointer(ctx, path, t, v, dv, o);
  },
  str(a: bigint): string | null {
    return a === 0n ? null : addon.readCString(a);
  },
  charArray(ctx: EncodeCtx, path: string, t: ArrayCType, v: unknown, dv: DataView, off: number): void {
    const n = t.length;
    const u8 = new Uint8Array(dv.buffer, dv.byteOffset + off, n);
    if (typeof v === 'string') {
      if (v.includes('\0')) throw argError(true, `${where(ctx, path)} (${t.c}) is a string containing a NUL character; C would see only the text before it`);
      const bytes = Buffer.from(v, 'utf8');
      if (bytes.length > n) throw argError(true, `${where(ctx, path)} (${t.c}) holds at most ${n} bytes; got a string of ${bytes.length} bytes of UTF-8`);
      u8.set(bytes);
      u8.fill(0, bytes.length);
      return;
    }
    if ((Array.isArray(v) || v instanceof Uint8Array || v instanceof Int8Array) && v.length === n) {
      for (let i = 0; i < n; i++) {
        const x = (v as ArrayLike<unknown>)[i];
        if (typeof x !== 'number' || !(x >= -128 && x <= 255) || Math.trunc(x) !== x)
          H.bad(ctx, `${path}[${i}]`, 'char', 'an integer in [-128, 255]', x, typeof x === 'number');
        u8[i] = x as number;
      }
      return;
    }
    H.bad(ctx, path, t.c, `a string (of at most ${n} bytes of UTF-8) or an array of ${n} numbers`, v, false);
  },
  charArrayDecode(dv: DataView, off: number, n: number): string {
    const u8 = new Uint8Array(dv.buffer, dv.byteOffset + off, n);
    let end = u8.indexOf(0);
    if (end < 0) end = n;
    return Buffer.from(u8.buffer, u8.byteOffset, end).toString('utf8');
  },
  arrayBad(ctx: EncodeCtx, path: string, t: ArrayCType, v: unknown): never {
    const len = Array.isArray(v) || ArrayBuffer.isView(v) ? ` of length ${(v as ArrayLike<unknown>).length}` : '';
    throw argError(
      len !== '',
      `${where(ctx, path)} (${t.c}) expects an array of exactly ${t.length} elements; got ${describe(v)}${len && !Array.isArray(v) ? len : ''}`,
    );
  },
  union(ctx: EncodeCtx, path: string, t: RecordCType, names: string[], count: number): never {
    throw argError(false, `${where(ctx, path)} (${t.c}) is a union: give exactly one of its members (${names.join(', ')}); got ${count}`);
  },
};

// ---------------------------------------------------------------------------------------------------
// Code generation

export interface Codec {
  /** Checks `v` and writes it at dv[off]. `path`: where v is inside the top-level value ('' for itself). */
  enc(v: unknown, dv: DataView, off: number, ctx: EncodeCtx, path: string): void;
  /** Reads the value at dv[off]. */
  dec(dv: DataView, off: number): unknown;
  /** Reads the value at dv[off] without following pointers (inside unions). */
  raw(dv: DataView, off: number): unknown;
  /** Writes what is at dv[off] back into `target` (an object or array given for this value), in place when it can; returns the value to store. */
  upd(target: unknown, dv: DataView, off: number): unknown;
}

const codecs = new WeakMap<CType, Codec>();

/** Constants the generated code refers to by index. */
class Consts {
  list: unknown[] = [];
  ref(v: unknown): string {
    let i = this.list.indexOf(v);
    if (i < 0) i = this.list.push(v) - 1;
    return `K[${i}]`;
  }
}

/** Source that checks `x` (a JS value) and writes it as type t at `dv`, offset expression `o`. */
function encSource(t: CType, o: string, path: string, K: Consts): string {
  const P = path;
  const T = JSON.stringify(t.c);
  switch (t.tag) {
    case 'scalar':
    case 'enum': {
      const kind = t.kind;
      let pre = '';
      if (t.tag === 'enum') {
        pre = `if (typeof x === 'string') x = H.enumValue(ctx, ${P}, ${K.ref(t)}, x, ${kind === 'i64' || kind === 'u64'});\n`;
      }
      if (kind === 'bool') {
        return `${pre}if (x === true || x === 1) dv.setUint8(${o}, 1); else if (x === false || x === 0) dv.setUint8(${o}, 0); else if (x === undefined) H.missing(ctx, ${P}, ${T}); else H.bad(ctx, ${P}, ${T}, 'a boolean', x, false);`;
      }
      if (kind === 'f32' || kind === 'f64') {
        return `${pre}if (typeof x !== 'number') { if (x === undefined) H.missing(ctx, ${P}, ${T}); H.bad(ctx, ${P}, ${T}, 'a number', x, false); }\ndv.set${kind === 'f32' ? 'Float32' : 'Float64'}(${o}, x, true);`;
      }
      if (kind === 'i64' || kind === 'u64') {
        const lo = `${INT_RANGES[kind].lo}n`;
        const hi = `${INT_RANGES[kind].hi}n`;
        const expect = integerExpectation(kind);
        return (
          `${pre}if (typeof x === 'bigint') { if (x < ${lo} || x > ${hi}) H.bad(ctx, ${P}, ${T}, ${JSON.stringify(expect)}, x, true); }\n` +
          `else if (typeof x === 'number' && Number.isSafeInteger(x)${kind === 'u64' ? ' && x >= 0' : ''}) x = BigInt(x);\n` +
          `else { if (x === undefined) H.missing(ctx, ${P}, ${T}); H.bad(ctx, ${P}, ${T}, ${JSON.stringify(expect)}, x, typeof x === 'number'); }\n` +
          `dv.set${INT_RANGES[kind].view}(${o}, x, true);`
        );
      }
      const { lo, hi, view: method } = INT_RANGES[kind as IntKind];
      const expect = integerExpectation(kind as IntKind);
      return (
        `${pre}if (typeof x !== 'number' || !(x >= ${lo} && x <= ${hi}) || Math.trunc(x) !== x) { if (x === undefined) H.missing(ctx, ${P}, ${T}); H.bad(ctx, ${P}, ${T}, ${JSON.stringify(expect)}, x, typeof x === 'number'); }\n` +
        `dv.set${method}(${o}, x${method.endsWith('8') ? '' : ', true'});`
      );
    }
    case 'pointer':
      return `if (x === undefined) H.missing(ctx, ${P}, ${T});\nif (typeof x === 'bigint' && x >= 0n && x < 18446744073709551616n) dv.setBigUint64(${o}, x, true); else H.pointer(ctx, ${P}, ${K.ref(t)}, x, dv, ${o});`;
    case 'struct':
    case 'union':
      return `if (typeof x !== 'object' || x === null) { if (x === undefined) H.missing(ctx, ${P}, ${T}); H.notObject(ctx, ${P}, ${T}, x); }\n${K.ref(codecOf(t))}.enc(x, dv, ${o}, ctx, ${P});`;
    case 'array':
      return `if (x === undefined) H.missing(ctx, ${P}, ${T});\n${K.ref(codecOf(t))}.enc(x, dv, ${o}, ctx, ${P});`;
    default:
      throw new DlswapError('ERR_DLSWAP_INTERNAL', `no encoder for '${t.c}'`);
  }
}

/** Source of an expression that reads type t at offset expression `o`. `chase`: follow char pointers. */
function decSource(t: CType, o: string, chase: boolean, K: Consts): string {
  switch (t.tag) {
    case 'scalar':
    case 'enum': {
      switch (t.kind) {
        case 'bool':
          return `(dv.getUint8(${o}) !== 0)`;
        case 'f32':
          return `dv.getFloat32(${o}, true)`;
        case 'f64':
          return `dv.getFloat64(${o}, true)`;
        case 'i64':
          return `dv.getBigInt64(${o}, true)`;
        case 'u64':
          return `dv.getBigUint64(${o}, true)`;
        default: {
          const method = INT_RANGES[t.kind as IntKind].view;
          return `dv.get${method}(${o}${method.endsWith('8') ? '' : ', true'})`;
        }
      }
    }
    case 'pointer':
      if (chase && t.to.tag === 'scalar' && t.to.plainChar) return `H.str(dv.getBigUint64(${o}, true))`;
      return `dv.getBigUint64(${o}, true)`;
    case 'struct':
    case 'union':
    case 'array':
      return `${K.ref(codecOf(t))}.${chase ? 'dec' : 'raw'}(dv, ${o})`;
    default:
      throw new DlswapError('ERR_DLSWAP_INTERNAL', `no decoder for '${t.c}'`);
  }
}

/** Named members of a record with anonymous members flattened, and whether each sits in a union. */
function flatMembers(rec: RecordCType, base = 0, inUnion = false): { name: string; type: CType; offset: number; inUnion: boolean }[] {
  const out: { name: string; type: CType; offset: number; inUnion: boolean }[] = [];
  for (const f of rec.fields!) {
    if (f.name === null) out.push(...flatMembers(f.type as RecordCType, base + f.offset, inUnion || f.type.tag === 'union'));
    else out.push({ name: f.name, type: f.type, offset: base + f.offset, inUnion: inUnion || rec.tag === 'union' });
  }
  return out;
}

function pathOf(name: string): string {
  return `(p === '' ? ${JSON.stringify(name)} : p + ${JSON.stringify(`.${name}`)})`;
}

function recordEncoderSource(rec: RecordCType, K: Consts): string {
  const lines: string[] = [];
  const emit = (r: RecordCType, base: string) => {
    if (r.tag === 'union') {
      // Exactly one member given: which one decides what is written (the rest of the bytes are zero).
      const groups = r.fields!.map((f) => (f.name !== null ? [f.name] : flatMembers(f.type as RecordCType).map((m) => m.name)));
      const names = groups.map((g) => (g.length === 1 ? g[0] : `{${g.join(', ')}}`));
      lines.push(`{ let n = 0, w = -1;`);
      for (const [i, g] of groups.entries()) lines.push(`if (${g.map((nm) => `v[${JSON.stringify(nm)}] !== undefined`).join(' || ')}) { n++; w = ${i}; }`);
      lines.push(`if (n !== 1) H.union(ctx, p, ${K.ref(r)}, ${JSON.stringify(names)}, n);`);
      lines.push(`new Uint8Array(dv.buffer, dv.byteOffset + ${base}, ${r.size}).fill(0);`);
      lines.push(`switch (w) {`);
      r.fields!.forEach((f, i) => {
        lines.push(`case ${i}: {`);
        if (f.name === null) emit(f.type as RecordCType, `${base} + ${f.offset}`);
        else lines.push(`let x = v[${JSON.stringify(f.name)}];\n${encSource(f.type, `${base} + ${f.offset}`, pathOf(f.name), K)}`);
        lines.push(`break; }`);
      });
      lines.push(`} }`);
      return;
    }
    for (const f of r.fields!) {
      if (f.name === null) {
        emit(f.type as RecordCType, `${base} + ${f.offset}`);
        continue;
      }
      lines.push(`{ let x = v[${JSON.stringify(f.name)}];\n${encSource(f.type, `${base} + ${f.offset}`, pathOf(f.name), K)} }`);
    }
  };
  emit(rec, 'off');
  // Callers inside a value check before calling; this also covers a top-level encode.
  const check = `if (typeof v !== 'object' || v === null) H.notObject(ctx, p, ${JSON.stringify(rec.c)}, v);`;
  return `return function enc(v, dv, off, ctx, p) {\n${check}\n${lines.join('\n')}\n};`;
}

function recordDecoderSource(rec: RecordCType, chase: boolean, K: Consts): string {
  const props = flatMembers(rec).map((m) => `${JSON.stringify(m.name)}: ${decSource(m.type, `off + ${m.offset}`, chase && !m.inUnion, K)}`);
  return `return function dec(dv, off) {\nreturn { ${props.join(',\n')} };\n};`;
}

function recordUpdaterSource(rec: RecordCType, self: string, K: Consts): string {
  const members = flatMembers(rec);
  const lines: string[] = [];
  if (rec.tag === 'union') {
    // Only the member the value was given as (C may have changed others; they are not JS's business).
    lines.push(`let n = 0;`);
    for (const m of members) lines.push(`if (t[${JSON.stringify(m.name)}] !== undefined) n++;`);
    lines.push(`if (n !== 1) return Object.assign(t, ${self}.raw(dv, off));`);
  }
  for (const m of members) {
    const key = JSON.stringify(m.name);
    const read = decSource(m.type, `off + ${m.offset}`, !m.inUnion, K);
    const guard = rec.tag === 'union' ? `if (t[${key}] !== undefined) ` : '';
    if (m.type.tag === 'struct' || m.type.tag === 'union' || m.type.tag === 'array') {
      lines.push(`${guard}t[${key}] = ${K.ref(codecOf(m.type))}.upd(t[${key}], dv, off + ${m.offset});`);
    } else {
      lines.push(`${guard}t[${key}] = ${read};`);
    }
  }
  return `return function upd(t, dv, off) {\nif (t === null || typeof t !== 'object') return ${self}.dec(dv, off);\n${lines.join('\n')}\nreturn t;\n};`;
}

function arrayEncoderSource(t: ArrayCType, K: Consts): string {
  const e = t.of;
  return (
    `return function enc(v, dv, off, ctx, p) {\n` +
    `if (!(Array.isArray(v) || ArrayBuffer.isView(v)) || v.length !== ${t.length}) H.arrayBad(ctx, p, ${K.ref(t)}, v);\n` +
    `for (let i = 0; i < ${t.length}; i++) { let x = v[i];\n${encSource(e, `off + i * ${e.size}`, `p + '[' + i + ']'`, K)} }\n};`
  );
}

function arrayDecoderSource(t: ArrayCType, chase: boolean, K: Consts): string {
  return (
    `return function dec(dv, off) {\nconst out = new Array(${t.length});\n` +
    `for (let i = 0; i < ${t.length}; i++) out[i] = ${decSource(t.of, `off + i * ${t.of.size}`, chase, K)};\nreturn out;\n};`
  );
}

function arrayUpdaterSource(t: ArrayCType, self: string, K: Consts): string {
  const nested = t.of.tag === 'struct' || t.of.tag === 'union' || t.of.tag === 'array';
  if (!nested) {
    return `return function upd(t, dv, off) {\nif (!Array.isArray(t) || t.length !== ${t.length}) return ${self}.dec(dv, off);\nfor (let i = 0; i < ${t.length}; i++) t[i] = ${decSource(t.of, `off + i * ${t.of.size}`, true, K)};\nreturn t;\n};`;
  }
  return `return function upd(t, dv, off) {\nif (!Array.isArray(t) || t.length !== ${t.length}) return ${self}.dec(dv, off);\nfor (let i = 0; i < ${t.length}; i++) t[i] = ${K.ref(codecOf(t.of))}.upd(t[i], dv, off + i * ${t.of.size});\nreturn t;\n};`;
}

function compile(source: string, K: Consts): (...a: unknown[]) => unknown {
  return new Function('H', 'K', source)(H, K.list) as (...a: unknown[]) => unknown;
}

/** The codec of a type (generated once per type object). */
export function codecOf(t: CType): Codec {
  const cached = codecs.get(t);
  if (cached) return cached;
  // Registered before generating, so that a type that points to itself finds its own codec.
  const c = {} as Codec;
  codecs.set(t, c);
  const K = new Consts();
  if (t.tag === 'struct' || t.tag === 'union') {
    if (t.fields === null) throw new DlswapError('ERR_DLSWAP_ARG', `'${t.c}' is declared without its members: it has no layout to read or write`);
    c.enc = compile(recordEncoderSource(t, K), K) as Codec['enc'];
    c.dec = compile(recordDecoderSource(t, t.tag === 'struct', K), K) as Codec['dec'];
    c.raw = t.tag === 'struct' ? (compile(recordDecoderSource(t, false, K), K) as Codec['raw']) : c.dec;
    c.upd = compile(recordUpdaterSource(t, K.ref(c), K), K) as Codec['upd'];
  } else if (t.tag === 'array' && t.of.tag === 'scalar' && t.of.plainChar) {
    const n = t.length;
    c.enc = (v, dv, off, ctx, p) => H.charArray(ctx, p, t, v, dv, off);
    c.dec = (dv, off) => H.charArrayDecode(dv, off, n);
    c.raw = c.dec;
    c.upd = (_t, dv, off) => H.charArrayDecode(dv, off, n);
  } else if (t.tag === 'array') {
    c.enc = compile(arrayEncoderSource(t, K), K) as Codec['enc'];
    c.dec = compile(arrayDecoderSource(t, true, K), K) as Codec['dec'];
    c.raw = compile(arrayDecoderSource(t, false, K), K) as Codec['raw'];
    c.upd = compile(arrayUpdaterSource(t, K.ref(c), K), K) as Codec['upd'];
  } else if (t.tag === 'scalar' || t.tag === 'enum' || t.tag === 'pointer') {
    c.enc = compile(`return function enc(x, dv, off, ctx, p) {\n${encSource(t, 'off', 'p', K)}\n};`, K) as Codec['enc'];
    c.dec = compile(`return function dec(dv, off) { return ${decSource(t, 'off', true, K)}; };`, K) as Codec['dec'];
    c.raw = compile(`return function raw(dv, off) { return ${decSource(t, 'off', false, K)}; };`, K) as Codec['raw'];
    c.upd = (_t, dv, off) => c.dec(dv, off);
  } else {
    codecs.delete(t);
    throw new DlswapError('ERR_DLSWAP_ARG', `'${t.c}' has no value to read or write (${t.tag === 'void' ? 'void' : 'a function type'})`);
  }
  return c;
}

// Structs by value in callbacks: the native side hands their bytes over as an ArrayBuffer.
structCodecHooks.decodeValue = (t, bytes) => codecOf(t).dec(new DataView(bytes), 0);
structCodecHooks.encodeValue = (t, value, label) => {
  const out = new Uint8Array(t.size);
  if (typeof value !== 'object' || value === null) H.notObject({ label, arena: null }, '', t.c, value);
  codecOf(t).enc(value, new DataView(out.buffer), 0, { label, arena: null, noArena: 'a callback result cannot own memory' }, '');
  return out;
};
