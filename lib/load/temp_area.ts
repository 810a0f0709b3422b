/**
 * The private area where every open gets its own copy of the library (native/loader/private_area.h).
 *
 * Why copies: dlopen returns the already-loaded object when the path or the inode matches, so a
 * reload of a rebuilt file could silently get the old code; and writing into a file that is mapped
 * crashes the process. A fresh file per open, created exclusively and never written again, avoids
 * both. The copy is removed as soon as it is mapped.
 *
 * Layout: <tmp>/dlswap-<uid>/ (0700, ours, not a symlink) / <pid>-<starttime>-<random>/ (0700).
 * The native side holds both directories open and works through their descriptors only; it refuses
 * a base that other users could write without the sticky bit. The start time makes a reused pid
 * distinguishable, so the sweep at startup removes directories of processes that died (SIGKILL
 * leaves no chance to clean up) and never those of live ones. The process directory is removed at
 * exit.
 */
import os from 'node:os';
import path from 'node:path';
import { addon } from '../native';

/** The base directory: DLSWAP_TMPDIR if set, else the OS temp dir. */
export function tempBase(): string {
  return process.env.DLSWAP_TMPDIR || os.tmpdir();
}

export function userRoot(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(tempBase(), `dlswap-${uid}`);
}

let area: { root: string; dir: string } | null = null;
let opened = false;

/**
 * The base a load hands the loader: the first load that succeeds fixes the private area for the
 * process (native/loader/private_area.h), after which the base is not read again (a load of a
 * small plugin would spend ~10 us in the environment reads of os.tmpdir() for nothing).
 */
export function baseForLoad(): string {
  return opened || area ? '' : tempBase();
}

/** A load succeeded: the private area is open for good. */
export function notePrivateAreaOpen(): void {
  opened = true;
}

/**
 * Opens the private area on first use (native: through descriptors, refusing anything another user
 * could have prepared). Throws ERR_DLSWAP_TEMP_AREA with what to do.
 */
export function ensurePrivateArea(): { root: string; dir: string } {
  area ??= addon.privateArea(tempBase());
  return area;
}

/** This process's private directory. */
export function privateDir(): string {
  return ensurePrivateArea().dir;
}

/** Files currently in this process's private directory (for tests and leak checks). */
export function privateFiles(): string[] {
  return addon.privateFiles();
}

/** Removes directories left by processes that no longer exist; returns their names. */
export function sweepStale(): string[] {
  return addon.sweepStale();
}
