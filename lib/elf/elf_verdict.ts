/**
 * Whether an ELF file can be loaded into this process, decided once for every caller: inspect's
 * hazards, the watcher's skips and the bare-name search ask here. The load itself decides in
 * native/loader/load_job.cc, on the private copy's headers (never the source's, which could change
 * under it): the refusals marked `checkedBy: 'dlswap'` are that check, in its order, and
 * test/elf/elf_verdict.test.ts holds the two to the same answer.
 *
 * No addon import: the search runs before the addon is needed, and these are numbers of the header.
 */
import type { ElfInfo } from './elf';
import { checkPlatform, type SUPPORTED_ARCHES } from '../platform';

export interface HostMachine {
  class: 64;
  /** e_machine. */
  machine: number;
  machineName: string;
}

// The addon is built for the architecture node runs on and compares against its own compile-time
// EM_* constant; process.arch names the same machine without reading node's 100 MB executable.
const HOSTS: Record<(typeof SUPPORTED_ARCHES)[number], HostMachine> = {
  x64: { class: 64, machine: 62, machineName: 'x86_64' },
  arm64: { class: 64, machine: 183, machineName: 'aarch64' },
};

/** The running process's ELF class and machine: what a library must match to be loadable. */
export function hostMachine(): HostMachine {
  const host = HOSTS[process.arch as keyof typeof HOSTS];
  // Throws: no dlswap binary exists for another architecture, so nothing is loaded there either.
  if (host === undefined) checkPlatform();
  return host;
}

/** Whether an ELF of this class and e_machine is one this process's loader accepts. */
export function matchesHost(elf: { class: number; machine: number }): boolean {
  const host = hostMachine();
  return elf.class === host.class && elf.machine === host.machine;
}

const DF_1_PIE = 0x08000000;

/**
 * One reason the file cannot be loaded here. `checkedBy: 'dlswap'`: the load refuses it before the
 * dynamic loader sees the file, with its own code. `'dlopen'`: the load hands it on and the dynamic
 * loader refuses it in its own words.
 */
export type LoadRefusal =
  /** A table points past the end of the file (or over the reader's size cap). */
  | { id: 'truncated'; checkedBy: 'dlswap' }
  | { id: 'wrong-arch'; checkedBy: 'dlswap'; host: HostMachine }
  /** An ELF type other than ET_DYN (`pie` false), or an ET_DYN that is an executable (`pie` true). */
  | { id: 'not-shared-library'; checkedBy: 'dlswap' | 'dlopen'; pie: boolean };

/** Every reason `info` cannot be loaded here, in the order the load checks them; empty if none. */
export function loadRefusals(info: ElfInfo): LoadRefusal[] {
  const refusals: LoadRefusal[] = [];
  if (info.truncated) refusals.push({ id: 'truncated', checkedBy: 'dlswap' });
  if (!matchesHost(info)) refusals.push({ id: 'wrong-arch', checkedBy: 'dlswap', host: hostMachine() });
  if (info.type !== 'dyn') refusals.push({ id: 'not-shared-library', checkedBy: 'dlswap', pie: false });
  else if ((info.flags1 & DF_1_PIE) !== 0) refusals.push({ id: 'not-shared-library', checkedBy: 'dlopen', pie: true });
  return refusals;
}

export function startsWithElfMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/**
 * How many bytes a complete file with this ELF header must have: the end of the program header
 * table, of the section header table (linkers write it last, at the end) and of every segment's
 * file image. null when the bytes do not start with a readable ELF header (readElf says why).
 * A half-written build has a correct header and a short tail, which is exactly what this catches.
 */
export function elfExtent(b: Buffer): number | null {
  if (!startsWithElfMagic(b) || b.length < 16) return null;
  const is64 = b[4] === 2;
  const le = b[5] === 1;
  if ((b[4] !== 1 && b[4] !== 2) || (b[5] !== 1 && b[5] !== 2)) return null;
  const headerSize = is64 ? 64 : 52;
  if (b.length < headerSize) return headerSize;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const word = (o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(o));
  const phoff = word(is64 ? 0x20 : 0x1c);
  const shoff = word(is64 ? 0x28 : 0x20);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  let end = headerSize;
  if (phnum > 0) end = Math.max(end, phoff + phnum * phentsize);
  if (shoff > 0 && shnum > 0) end = Math.max(end, shoff + shnum * shentsize);
  if (phnum > 0 && phentsize >= (is64 ? 56 : 32) && phoff + phnum * phentsize <= b.length) {
    for (let i = 0; i < phnum; i++) {
      const ph = phoff + i * phentsize;
      const offset = is64 ? word(ph + 8) : u32(ph + 4);
      const filesz = is64 ? word(ph + 32) : u32(ph + 16);
      if (filesz > 0) end = Math.max(end, offset + filesz);
    }
  }
  return end;
}
