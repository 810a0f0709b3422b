/**
 * What dlswap's namespace runtime (libdlswap_runtime.so, the first object of every namespace)
 * takes over from the namespace's own libc, read from the runtime's own exports: a function it
 * defines is the one every library of the namespace calls. inspect words a hazard by it, so that the
 * report says what this build of dlswap does, not what some build did.
 */
import path from 'node:path';
import { readElf } from '../elf/elf';
import { addonDir } from '../native';

let runtimeSymbols: Set<string> | undefined;

/** The runtime's exported functions; empty when it cannot be read (then nothing counts as handled). */
function runtimeExports(): Set<string> {
  if (!runtimeSymbols) {
    try {
      runtimeSymbols = new Set(readElf(path.join(addonDir(), 'libdlswap_runtime.so')).exports);
    } catch {
      runtimeSymbols = new Set();
    }
  }
  return runtimeSymbols;
}

/** True when the runtime defines `symbol`, so that code inside a namespace calls dlswap's version. */
export function runtimeInterposes(symbol: string): boolean {
  return runtimeExports().has(symbol);
}
