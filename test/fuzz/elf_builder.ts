/**
 * Builds small synthetic ELF shared objects for the ELF reader's tests: any class, any byte order,
 * with exactly the dynamic tags, symbols, relocations and notes a test asks for. No toolchain can make
 * a big-endian or 32-bit library on this machine, and hand-made files are also the easiest way to
 * plant one precise inconsistency.
 *
 * Layout: one PT_LOAD maps the whole file at vaddr 0, so every virtual address equals its file offset.
 */

export interface SynthSymbol {
  name: string;
  /** STB_*: 0 local, 1 global, 2 weak, 10 unique. Default 1. */
  bind?: number;
  /** STT_*: 0 notype, 1 object, 2 func, 6 tls, 10 ifunc. Default 2. */
  type?: number;
  /** 0 = undefined (an import). Default 1 (defined). */
  shndx?: number;
  /** STV_*: 0 default, 2 hidden, 3 protected. */
  vis?: number;
  value?: number;
  size?: number;
}

export interface SynthOptions {
  cls: 32 | 64;
  be: boolean;
  machine: number;
  /** e_type, default ET_DYN (3). */
  type?: number;
  soname?: string;
  needed?: string[];
  rpath?: string;
  runpath?: string;
  symbols?: SynthSymbol[];
  /** Indexes into `symbols` (0-based; the null symbol is added in front) that get a COPY relocation. */
  copyRelocs?: number[];
  copyRelocType?: number;
  buildId?: Buffer;
  tls?: { memsz: number; filesz: number; align: number };
  /** undefined: no PT_GNU_STACK. */
  execstack?: boolean;
  flags?: number;
  flags1?: number;
  textrel?: boolean;
  /** Point a string that ends another one into it, as linkers' tail merging does. */
  tailMerge?: boolean;
  /** 'sysv' (DT_HASH, default), 'gnu' (DT_GNU_HASH), 'none'. */
  hash?: 'sysv' | 'gnu' | 'none';
  /** A GNU hash table with no hashed symbol (what ld writes for a library that only imports). */
  emptyGnuHash?: boolean;
  /** Append section headers describing .dynsym/.dynstr/.dynamic (and .shstrtab). */
  sections?: boolean;
}

const PT_LOAD = 1,
  PT_DYNAMIC = 2,
  PT_NOTE = 4,
  PT_TLS = 7,
  PT_GNU_STACK = 0x6474e551;
const DT = {
  NULL: 0,
  NEEDED: 1,
  HASH: 4,
  STRTAB: 5,
  SYMTAB: 6,
  RELA: 7,
  RELASZ: 8,
  RELAENT: 9,
  STRSZ: 10,
  SYMENT: 11,
  SONAME: 14,
  RPATH: 15,
  REL: 17,
  RELSZ: 18,
  RELENT: 19,
  TEXTREL: 22,
  FLAGS: 30,
  RUNPATH: 29,
  GNU_HASH: 0x6ffffef5,
  FLAGS_1: 0x6ffffffb,
};

class Writer {
  buf = Buffer.alloc(0);
  constructor(
    private readonly be: boolean,
    private readonly cls: 32 | 64,
  ) {}
  get pos(): number {
    return this.buf.length;
  }
  private push(b: Buffer): void {
    this.buf = Buffer.concat([this.buf, b]);
  }
  u8(v: number): void {
    this.push(Buffer.from([v & 0xff]));
  }
  u16(v: number): void {
    const b = Buffer.alloc(2);
    if (this.be) b.writeUInt16BE(v);
    else b.writeUInt16LE(v);
    this.push(b);
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    if (this.be) b.writeUInt32BE(v >>> 0);
    else b.writeUInt32LE(v >>> 0);
    this.push(b);
  }
  u64(v: bigint | number): void {
    const b = Buffer.alloc(8);
    if (this.be) b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)));
    else b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)));
    this.push(b);
  }
  word(v: bigint | number): void {
    if (this.cls === 64) this.u64(v);
    else this.u32(Number(v));
  }
  bytes(b: Buffer): void {
    this.push(b);
  }
  align(a: number): void {
    while (this.buf.length % a) this.u8(0);
  }
}

export function buildElf(o: SynthOptions): Buffer {
  const is64 = o.cls === 64;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const symsize = is64 ? 24 : 16;
  const dynsize = is64 ? 16 : 8;
  const relsize = is64 ? 24 : 8; // 64-bit uses RELA, 32-bit uses REL: both paths get exercised
  const symbols = o.symbols ?? [];

  // String table.
  const strs: string[] = [''];
  const strOff = new Map<string, number>([['', 0]]);
  let strLen = 1;
  const str = (s: string): number => {
    if (!strOff.has(s) && o.tailMerge && s.length > 0) {
      const host = strs.find((t) => t.length > s.length && t.endsWith(s));
      if (host !== undefined) strOff.set(s, strOff.get(host)! + Buffer.byteLength(host) - Buffer.byteLength(s));
    }
    if (!strOff.has(s)) {
      strOff.set(s, strLen);
      strs.push(s);
      strLen += Buffer.byteLength(s) + 1;
    }
    return strOff.get(s)!;
  };
  for (const n of o.needed ?? []) str(n);
  if (o.soname) str(o.soname);
  if (o.rpath) str(o.rpath);
  if (o.runpath) str(o.runpath);
  for (const s of symbols) str(s.name);
  const dynstr = Buffer.concat(strs.map((s) => Buffer.from(`${s}\0`)));

  const phdrs: { type: number; flags: number; off: number; filesz: number; memsz: number; align: number }[] = [];
  const nph = 2 + 1 + (o.tls ? 1 : 0) + (o.execstack !== undefined ? 1 : 0);
  const w = new Writer(o.be, o.cls);
  // Header and program headers are written last (they need the offsets); reserve their space.
  w.bytes(Buffer.alloc(ehsize + nph * phentsize));

  w.align(8);
  const dynstrOff = w.pos;
  w.bytes(dynstr);
  w.align(8);
  const dynsymOff = w.pos;
  w.bytes(Buffer.alloc(symsize)); // the null symbol
  for (const s of symbols) {
    const info = ((s.bind ?? 1) << 4) | (s.type ?? 2);
    const shndx = s.shndx ?? 1;
    if (is64) {
      w.u32(str(s.name));
      w.u8(info);
      w.u8(s.vis ?? 0);
      w.u16(shndx);
      w.u64(s.value ?? 0x100);
      w.u64(s.size ?? 8);
    } else {
      w.u32(str(s.name));
      w.u32(s.value ?? 0x100);
      w.u32(s.size ?? 8);
      w.u8(info);
      w.u8(s.vis ?? 0);
      w.u16(shndx);
    }
  }
  const nsyms = symbols.length + 1;

  let hashOff = 0;
  const hash = o.hash ?? 'sysv';
  if (hash === 'sysv') {
    w.align(4);
    hashOff = w.pos;
    w.u32(1);
    w.u32(nsyms);
    w.u32(0);
    for (let i = 0; i < nsyms; i++) w.u32(0);
  } else if (hash === 'gnu') {
    // Every symbol from index 1 in one bucket: the chain ends at the last symbol.
    w.align(8);
    hashOff = w.pos;
    w.u32(1);
    w.u32(1);
    w.u32(1);
    w.u32(6);
    w.word(0); // bloom
    if (o.emptyGnuHash) {
      w.u32(0);
    } else {
      w.u32(nsyms > 1 ? 1 : 0);
      for (let i = 1; i < nsyms; i++) w.u32(i === nsyms - 1 ? 1 : 0);
    }
  }

  w.align(8);
  const relOff = w.pos;
  const copyType = o.copyRelocType ?? 5;
  for (const idx of o.copyRelocs ?? []) {
    const sym = idx + 1;
    if (is64) {
      w.u64(0x2000);
      w.u64((BigInt(sym) << 32n) | BigInt(copyType));
      w.u64(0);
    } else {
      w.u32(0x2000);
      w.u32((sym << 8) | copyType);
    }
  }
  const relSz = w.pos - relOff;

  let noteOff = 0,
    noteSz = 0;
  if (o.buildId) {
    w.align(4);
    noteOff = w.pos;
    w.u32(4);
    w.u32(o.buildId.length);
    w.u32(3);
    w.bytes(Buffer.from('GNU\0'));
    w.bytes(o.buildId);
    w.align(4);
    noteSz = w.pos - noteOff;
  }

  w.align(8);
  const dynOff = w.pos;
  const dyn = (tag: number, val: number): void => {
    if (is64) {
      w.u64(tag);
      w.u64(val);
    } else {
      w.u32(tag);
      w.u32(val);
    }
  };
  for (const n of o.needed ?? []) dyn(DT.NEEDED, str(n));
  if (o.soname) dyn(DT.SONAME, str(o.soname));
  if (o.rpath) dyn(DT.RPATH, str(o.rpath));
  if (o.runpath) dyn(DT.RUNPATH, str(o.runpath));
  dyn(DT.STRTAB, dynstrOff);
  dyn(DT.STRSZ, dynstr.length);
  dyn(DT.SYMTAB, dynsymOff);
  dyn(DT.SYMENT, symsize);
  if (hash === 'sysv') dyn(DT.HASH, hashOff);
  if (hash === 'gnu') dyn(DT.GNU_HASH, hashOff);
  if (relSz) {
    if (is64) {
      dyn(DT.RELA, relOff);
      dyn(DT.RELASZ, relSz);
      dyn(DT.RELAENT, relsize);
    } else {
      dyn(DT.REL, relOff);
      dyn(DT.RELSZ, relSz);
      dyn(DT.RELENT, relsize);
    }
  }
  if (o.flags !== undefined) dyn(DT.FLAGS, o.flags);
  if (o.flags1 !== undefined) dyn(DT.FLAGS_1, o.flags1);
  if (o.textrel) dyn(DT.TEXTREL, 0);
  dyn(DT.NULL, 0);
  const dynSz = w.pos - dynOff;

  let shoff = 0,
    shnum = 0,
    shstrndx = 0;
  if (o.sections) {
    const names = Buffer.from('\0.dynstr\0.dynsym\0.dynamic\0.shstrtab\0');
    w.align(8);
    const shstrOff = w.pos;
    w.bytes(names);
    w.align(8);
    shoff = w.pos;
    const sh = (name: number, type: number, off: number, size: number, link: number, entsize: number): void => {
      if (is64) {
        w.u32(name);
        w.u32(type);
        w.u64(2);
        w.u64(off);
        w.u64(off);
        w.u64(size);
        w.u32(link);
        w.u32(0);
        w.u64(8);
        w.u64(entsize);
      } else {
        w.u32(name);
        w.u32(type);
        w.u32(2);
        w.u32(off);
        w.u32(off);
        w.u32(size);
        w.u32(link);
        w.u32(0);
        w.u32(4);
        w.u32(entsize);
      }
    };
    sh(0, 0, 0, 0, 0, 0);
    sh(1, 3, dynstrOff, dynstr.length, 0, 0); // 1 .dynstr
    sh(9, 11, dynsymOff, nsyms * symsize, 1, symsize); // 2 .dynsym
    sh(17, 6, dynOff, dynSz, 1, dynsize); // 3 .dynamic
    sh(26, 3, shstrOff, names.length, 0, 0); // 4 .shstrtab
    shnum = 5;
    shstrndx = 4;
  }

  const fileSize = w.pos;
  phdrs.push({ type: PT_LOAD, flags: 5, off: 0, filesz: fileSize, memsz: fileSize, align: 0x1000 });
  phdrs.push({ type: PT_DYNAMIC, flags: 6, off: dynOff, filesz: dynSz, memsz: dynSz, align: 8 });
  phdrs.push({ type: PT_NOTE, flags: 4, off: noteOff, filesz: noteSz, memsz: noteSz, align: 4 });
  if (o.tls) phdrs.push({ type: PT_TLS, flags: 4, off: 0, filesz: o.tls.filesz, memsz: o.tls.memsz, align: o.tls.align });
  if (o.execstack !== undefined) phdrs.push({ type: PT_GNU_STACK, flags: o.execstack ? 7 : 6, off: 0, filesz: 0, memsz: 0, align: 16 });

  const h = new Writer(o.be, o.cls);
  h.bytes(Buffer.from([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, o.be ? 2 : 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  h.u16(o.type ?? 3);
  h.u16(o.machine);
  h.u32(1);
  h.word(0);
  h.word(ehsize);
  h.word(shoff);
  h.u32(0);
  h.u16(ehsize);
  h.u16(phentsize);
  h.u16(phdrs.length);
  h.u16(is64 ? 64 : 40);
  h.u16(shnum);
  h.u16(shstrndx);
  for (const p of phdrs) {
    if (is64) {
      h.u32(p.type);
      h.u32(p.flags);
      h.u64(p.off);
      h.u64(p.off);
      h.u64(p.off);
      h.u64(p.filesz);
      h.u64(p.memsz);
      h.u64(p.align);
    } else {
      h.u32(p.type);
      h.u32(p.off);
      h.u32(p.off);
      h.u32(p.off);
      h.u32(p.filesz);
      h.u32(p.memsz);
      h.u32(p.flags);
      h.u32(p.align);
    }
  }
  const out = Buffer.from(w.buf);
  h.buf.copy(out, 0);
  return out;
}

/** Field offsets of the ELF header, for tests that plant one bad value. */
export function ehdrField(
  cls: 32 | 64,
  field: 'e_phoff' | 'e_shoff' | 'e_ehsize' | 'e_phentsize' | 'e_phnum' | 'e_shentsize' | 'e_shnum' | 'e_shstrndx',
): { off: number; size: number } {
  const f64 = {
    e_phoff: [32, 8],
    e_shoff: [40, 8],
    e_ehsize: [52, 2],
    e_phentsize: [54, 2],
    e_phnum: [56, 2],
    e_shentsize: [58, 2],
    e_shnum: [60, 2],
    e_shstrndx: [62, 2],
  } as const;
  const f32 = {
    e_phoff: [28, 4],
    e_shoff: [32, 4],
    e_ehsize: [40, 2],
    e_phentsize: [42, 2],
    e_phnum: [44, 2],
    e_shentsize: [46, 2],
    e_shnum: [48, 2],
    e_shstrndx: [50, 2],
  } as const;
  const [off, size] = (cls === 64 ? f64 : f32)[field];
  return { off, size };
}

export function writeField(buf: Buffer, at: { off: number; size: number }, value: bigint | number, be = false): void {
  const v = BigInt.asUintN(at.size * 8, BigInt(value));
  for (let i = 0; i < at.size; i++) {
    const shift = BigInt(8 * (be ? at.size - 1 - i : i));
    buf[at.off + i] = Number((v >> shift) & 0xffn);
  }
}
