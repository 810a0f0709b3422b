/**
 * Whether bytes the watcher read are a complete build the load would accept: the watcher's half of
 * a skip (its reason, code and message), or null for a build worth hashing. The ELF verdict is
 * lib/elf/elf_verdict.ts's; what is decided here is what a build in progress looks like.
 */
import { readElfBytes, type ElfInfo } from '../elf/elf';
import { elfExtent, loadRefusals, startsWithElfMagic } from '../elf/elf_verdict';
import type { WatchSkip, WatchSkipReason } from './watch';

export type BuildSkip = Pick<WatchSkip, 'reason' | 'code' | 'message'>;

export function buildSkip(bytes: Buffer, file: string): BuildSkip | null {
  if (bytes.length === 0) {
    return {
      reason: 'incomplete',
      code: 'ERR_DLSWAP_EMPTY_FILE',
      message: `${file} is empty (a build that has not written it yet?); the current generation keeps serving.`,
    };
  }
  const extent = elfExtent(bytes);
  if (extent !== null && extent > bytes.length) {
    return {
      reason: 'incomplete',
      message: `${file} has ${bytes.length} bytes but its ELF headers describe ${extent}: the write has not finished (or the file was truncated). The current generation keeps serving; the next complete build is picked up.`,
    };
  }
  let elf: ElfInfo;
  try {
    // The bytes that were read and that the watcher hashes, not the path again: the file may have
    // been replaced since (a FIFO, another build), and what is loaded is pinned to that hash.
    elf = readElfBytes(bytes, file);
  } catch (e) {
    const err = e as Error & { code?: string };
    const reason: WatchSkipReason =
      err.code === 'ERR_DLSWAP_NOT_ELF'
        ? 'not-elf'
        : err.code === 'ERR_DLSWAP_BAD_ELF'
          ? startsWithElfMagic(bytes) && bytes.length < 64
            ? 'incomplete'
            : 'bad-elf'
          : err.code === 'ERR_DLSWAP_EMPTY_FILE'
            ? 'incomplete'
            : err.code === 'ERR_DLSWAP_NOT_FOUND'
              ? 'vanished'
              : 'unreadable';
    return { reason, code: err.code, message: `${err.message} The current generation keeps serving.` };
  }
  // What the load would refuse before the dynamic loader sees the file; a PIE is dlopen's to
  // refuse, and the reload says so in its words.
  const refusal = loadRefusals(elf).find((r) => r.checkedBy === 'dlswap');
  if (refusal?.id === 'truncated') {
    return {
      reason: 'incomplete',
      code: 'ERR_DLSWAP_BAD_ELF',
      message: `${file} is truncated or corrupt: its tables point past the end of the file. The current generation keeps serving.`,
    };
  }
  if (refusal?.id === 'wrong-arch') {
    const host = refusal.host;
    return {
      reason: 'wrong-arch',
      code: 'ERR_DLSWAP_WRONG_ARCH',
      message: `${file} is a ${elf.class}-bit ${elf.machineName} ELF; this process is ${host.class}-bit ${host.machineName}. The current generation keeps serving.`,
    };
  }
  if (refusal?.id === 'not-shared-library') {
    return {
      reason: 'bad-elf',
      code: 'ERR_DLSWAP_BAD_ELF',
      message: `${file} is an ELF of type '${elf.type}', not a shared library (build it with -shared). The current generation keeps serving.`,
    };
  }
  return null;
}
