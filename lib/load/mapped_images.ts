/**
 * Where the images dlswap loaded live, for whoever must name their code: a debugger, a profiler, a
 * core file's reader.
 *
 * Each open maps a private copy (lib/load/temp_area.ts). The copy's file stays for as long as its
 * image is mapped, under the name the dynamic loader was given: the link map (what gdb reads), the
 * mappings (what perf and core files record) and the file agree, so these tools find the code and
 * its debug information with no extra step.
 *
 * Policy here: the environment variable that keeps every copy for post-mortem work, and when the
 * process is exiting.
 */
import { isMainThread } from 'node:worker_threads';
import { addon } from '../native';

/** DLSWAP_KEEP_COPIES=1: no copy is ever removed (at close, at exit, or by another process's sweep). */
export function keepCopiesRequested(): boolean {
  const v = process.env.DLSWAP_KEEP_COPIES;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

let exitWatched = false;
/**
 * The copies of images still open at exit stay (the next process's sweep removes them): node
 * closes those images while it tears down, and a profiler reads the files after the process ended.
 * Only the main thread's exit is the process's.
 */
export function watchProcessExit(): void {
  if (exitWatched || !isMainThread) return;
  exitWatched = true;
  process.once('exit', () => addon.processExiting());
}
