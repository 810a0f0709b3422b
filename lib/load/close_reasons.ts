/**
 * Why a closed image is still mapped, in words: from what its ELF says, or from the threads that
 * hold it. The close side of a library; what a failed load means is lib/load/load_failure.ts.
 */
import type { ElfSummary, HoldingThread } from './library_types';

/** Why an image can stay mapped after dlclose, from what its ELF says. */
export function pinReason(elf: ElfSummary): string {
  const reasons: string[] = [];
  if (elf.uniqueSymbols.length) {
    reasons.push(
      `it defines STB_GNU_UNIQUE symbols (${elf.uniqueSymbols.slice(0, 5).join(', ')}${elf.uniqueSymbols.length > 5 ? ', ...' : ''}), which glibc never unloads; build it with -fno-gnu-unique`,
    );
  }
  if (elf.nodelete) reasons.push('it is marked DF_1_NODELETE (linked with -z nodelete)');
  if (elf.threadLocalDestructors) {
    reasons.push('it registers thread_local destructors, which pin it while any thread that used them lives');
  }
  if (reasons.length === 0) reasons.push('another object still holds a reference to it (a dependency of something loaded, or a dlopen elsewhere)');
  return reasons.join('; ');
}

/**
 * Why threads keep an image mapped, and what to do about it. `destructorsRan`: its ELF destructors
 * were run first, because only threads it started held it (docs/isolation.md, "Threads and
 * unloading"), and these threads outlived them.
 */
export function holdersReason(threads: HoldingThread[], destructorsRan = false): string {
  const list = threads
    .slice(0, 5)
    .map((t) => `tid ${t.tid} '${t.name}' (${t.why})`)
    .join(', ');
  const more = threads.length > 5 ? `, and ${threads.length - 5} more` : '';
  const ran = destructorsRan ? ' Its destructors were run first, to stop the threads it started, and these did not exit.' : '';
  return (
    `${threads.length} thread${threads.length === 1 ? ' is' : 's are'} still running or waiting in its code: ${list}${more}.${ran} ` +
    `It stays mapped and is closed once they have exited. Stop them before it is closed: a plugin does it in dlswap_fini; ` +
    `for a library whose threads only its own cleanup stops (OpenBLAS: blas_thread_shutdown_), call that cleanup in a teardown hook ` +
    `(HotLibrary's 'teardown' option, or lib.close({ teardown })).`
  );
}

/**
 * Why an image loaded in local or deepbind stays mapped for good: node's libc holds thread-specific
 * data keys it made, whose destructor is in its code and which its destructors did not delete
 * (docs/isolation.md, "Thread-specific data keys in local and deepbind").
 */
export function keyHoldReason(keys: number[]): string {
  const which = keys.length === 1 ? `key ${keys[0]}` : `keys ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}`;
  return (
    `kept mapped for good: it made thread-specific data ${which} in node's libc (pthread_key_create) with a destructor in its code, and its destructors did not delete ${keys.length === 1 ? 'it' : 'them'}. ` +
    `That libc calls the destructor when a thread that set the key exits, which after an unmap would run code that is gone (SIGSEGV at exit). ` +
    `In isolation 'namespace' its keys are its namespace's, whose destructors dlswap withholds once its code is gone.`
  );
}
