/**
 * Where the images dlswap loaded live, for whoever must name their code: a debugger, a profiler, a
 * core file's reader, a crash handler (docs/debugging.md).
 *
 * Each open maps a private copy (lib/load/temp_area.ts). The copy's file stays for as long as its
 * image is mapped, under the name the dynamic loader was given: the link map (what gdb reads), the
 * mappings (what perf and core files record) and the file agree, so these tools find the code and
 * its debug information with no extra step. The library itself, when it asks where it lives
 * (dladdr, dl_iterate_phdr, dlinfo, "$ORIGIN/..." in dlopen), is told its source file instead
 * (native/runtime/origin_abi.h), so that what it keeps beside itself is found.
 *
 * Policy here: the environment variable that keeps every copy for post-mortem work, the warning
 * when a library's directory is not one it may be pointed at, and when the process is exiting.
 */
import { isMainThread } from 'node:worker_threads';
import { addon } from '../native';
import type { Isolation } from './isolation';

/**
 * One image mapped from a private copy. The addon's mappedImages() returns these as they are
 * (native/image/image_origins.h ImageOrigin).
 */
export interface MappedImage {
  /** The span of addresses its file is mapped at. */
  start: bigint;
  end: bigint;
  /** The name the dynamic loader knows it by (what gdb prints): its copy. */
  loadedAs: string;
  /** The copy as /proc/<pid>/maps, perf and core files name it (the same file). */
  mappedPath: string;
  /** The real path of the file it was copied from. */
  source: string;
  buildId: string | null;
  /** A private dependency: the source of the library it was loaded with. */
  dependencyOf: string | null;
  isolation: Isolation;
  /** Link-map namespace: 0 for `local` and `deepbind`. */
  lmid: number;
  /** Whether it is told its source's place when it asks where it lives (false: its directory can be changed by other users). */
  redirected: boolean;
}

/**
 * Every image dlswap has mapped from a copy and that is still mapped (closed generations that
 * stay mapped included), with the file it was copied from: what a crash handler needs to turn an
 * address into "code of generation N of libfoo.so".
 */
export function mappedImages(): MappedImage[] {
  return addon.mappedImages();
}

/** The image that contains `address`, or null. */
export function imageAt(address: bigint): MappedImage | null {
  return mappedImages().find((m) => address >= m.start && address < m.end) ?? null;
}

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

const warned = new Set<string>();
/** Once per library: it asks where it lives and gets its private copy's place. */
export function warnOriginNote(note: string | undefined): void {
  if (!note || warned.has(note)) return;
  warned.add(note);
  process.emitWarning(note, { code: 'DLSWAP_ORIGIN_NOT_REDIRECTED' });
}
