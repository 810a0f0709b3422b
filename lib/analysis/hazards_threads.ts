/**
 * Hazards of the threads a library starts: dlswap keeps an image mapped while a thread it started
 * is alive or runs its code, so what stops those threads decides whether close() can unmap it.
 */
import type { ElfInfo } from '../elf/elf';
import { list, type Hazard } from './hazard';

// Entry points that start a thread, directly or through the library's own thread pool.
const THREAD_STARTERS =
  /^(pthread_create|thrd_create|_ZNSt6thread15_M_start_thread.*|g_thread_(try_)?new|g_thread_pool_new|uv_thread_create(_ex)?|GOMP_parallel(_start)?|GOMP_teams.*)$/;

// Exported functions that stop a library's own thread pool without unloading it, as its
// documentation names them: what a user calls before close() (or in HotLibrary's teardown hook).
const POOL_SHUTDOWNS = /^(blas_shutdown|fftw[flq]?_cleanup_threads|rocksdb_env_join_all_threads|omp_pause_resource_all|_ZN3tbb6detail2r18finalizeE.*)$/;

/** The imports of `info` that start threads. */
export function threadStarters(info: ElfInfo): string[] {
  return info.imports.filter((s) => THREAD_STARTERS.test(s));
}

export function threadHazards(info: ElfInfo): Hazard[] {
  const hazards: Hazard[] = [];
  const starters = threadStarters(info);
  if (!starters.length) return hazards;
  hazards.push({
    id: 'starts-threads',
    severity: 'warn',
    message: `starts threads (${list(starters)}): close() and reloads keep the image mapped while a thread it started is alive or runs its code, and unmap it once they have exited; stop them before closing (a plugin does it in dlswap_fini). A pool that outlives the call that started it (libgomp) keeps its library mapped for good. The namespace modes see every thread the library starts; local and deepbind see only threads found blocked in its code.`,
    symbols: starters,
    affects: ['unload'],
  });

  // The compiler's own __do_global_dtors_aux is one DT_FINI_ARRAY entry. (C++ static objects register
  // their destructors with __cxa_atexit instead, but nearly every C++ library imports it: a pool
  // stopped that way is named by its shutdown function, when POOL_SHUTDOWNS knows it.)
  const destructors = info.finiArrayEntries > 1;
  const shutdowns = info.exports.filter((s) => POOL_SHUTDOWNS.test(s));
  if (destructors || shutdowns.length) {
    const call = shutdowns.length ? `its own shutdown (${list(shutdowns, 3)})` : 'its own shutdown or cleanup function';
    hazards.push({
      id: 'threads-stopped-by-destructor',
      severity: 'warn',
      message: `starts threads and has ${destructors ? 'destructors of its own' : 'a function that stops its pool'}: a pool that only its destructor stops (OpenBLAS, RocksDB's default Env, FFTW's threads) does not exit at close(). When dlswap sees those threads (in the namespace modes it sees every thread the library started) it keeps the image mapped for them, and the destructor that would stop them runs only when the image is unmapped: the generation stays pinned, its memory, mappings and threads, at every reload. Call ${call} before close(): with open(), before lib.close(); with HotLibrary, in the teardown hook of the retiring generation.`,
      ...(shutdowns.length ? { symbols: shutdowns } : {}),
      affects: ['unload'],
    });
  }
  return hazards;
}
