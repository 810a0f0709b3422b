/**
 * Images that threads (or a later library that may call their signal handlers) kept mapped when
 * they were closed (docs/isolation.md, "Threads and unloading"), looked at again until nothing
 * holds them, then closed.
 *
 * One watcher per environment, whatever the number of such images: one timer, and each wake is one
 * loader job that looks at every thread of the process once for all the images it takes
 * (native RunRetireHeld), never one scan per image. Each image backs off on its own, from
 * FIRST_DELAY_MS doubling to MAX_DELAY_MS: a thread that leaves soon is noticed soon, and one that
 * never leaves (a pool only the library's destructor would stop) costs a look every 41 s. Looks fall
 * on a grid (a multiple of the image's delay, each delay a multiple of the shorter ones), so images
 * with the same delay are looked at together: the number of wakes depends on the shortest delay,
 * not on the number of images. An image whose holding threads have all exited is taken at the next
 * wake whatever its delay: that is one stat per holding thread every EXIT_POLL_MS, no scan. And
 * the looks never take more than a tenth of the loader thread's time (BUSY_SHARE): a process with
 * many threads, where one look takes long, looks less often rather than delay its loads.
 *
 * Nothing here keeps the process alive: the timer is unref'd and the job does not hold the event
 * loop (a process whose script ended exits, leaving pinned images as they are).
 */
import fs from 'node:fs';
import { addon, type NativeLibrary, type RetireResult } from '../native';

/** The first look again, after the close that found threads. */
export const FIRST_DELAY_MS = 20;
/** The longest wait between two looks at one image (about 41 s: FIRST_DELAY_MS doubled 11 times, so that every delay's grid is on the shorter ones'). */
export const MAX_DELAY_MS = FIRST_DELAY_MS * 2 ** 11;
/** How often the threads holding images are checked for having exited (a stat each). */
export const EXIT_POLL_MS = 1_000;
/** The most of the loader thread's time the looks may take. */
export const BUSY_SHARE = 0.1;

/** An image a retirement left mapped because threads held it. */
export interface HeldImage {
  native: NativeLibrary;
  deps: NativeLibrary[];
  keepMapped: boolean;
  /** The bound on its destructors when it is finally closed. */
  finiTimeoutMs: number;
  /** The threads that held it (tids). */
  holders: number[];
  /** Called once, with the result that settled it: closed, or a destructor that overran. */
  settle(r: RetireResult): void;
}

interface Entry {
  image: HeldImage;
  delay: number;
  due: number;
}

const entries = new Set<Entry>();
let timer: NodeJS.Timeout | null = null;
let looking = false;
/** No wake before this (the last look's cost, spread out: BUSY_SHARE). */
let notBefore = 0;

/** Looks at `image` again, with its own backoff, until nothing holds it. */
export function watchHeldImage(image: HeldImage): void {
  entries.add({ image, delay: FIRST_DELAY_MS, due: onGrid(FIRST_DELAY_MS) });
  schedule();
}

/** The first multiple of `delay` at least `delay` from now. */
function onGrid(delay: number): number {
  return Math.ceil((Date.now() + delay) / delay) * delay;
}

/** Images waiting for their threads (for tests and doctor). */
export function heldImages(): number {
  return entries.size;
}

function schedule(): void {
  if (looking) return; // the wake in progress schedules the next one
  if (timer) clearTimeout(timer);
  timer = null;
  if (entries.size === 0) return;
  let next = Infinity;
  for (const e of entries) next = Math.min(next, e.due);
  const wait = Math.max(0, notBefore - Date.now(), Math.min(next - Date.now(), EXIT_POLL_MS));
  timer = setTimeout(wake, wait);
  timer.unref();
}

const exited = (tid: number): boolean => !fs.existsSync(`/proc/self/task/${tid}`);

function wake(): void {
  timer = null;
  const now = Date.now();
  // What is due, and what is nearly due (one job serves them all), and what its threads let go.
  const batch = [...entries].filter((e) => e.due <= now || (e.image.holders.length > 0 && e.image.holders.every(exited)));
  if (batch.length === 0) {
    schedule();
    return;
  }
  looking = true;
  const started = Date.now();
  const finiTimeoutMs = Math.max(...batch.map((e) => e.image.finiTimeoutMs));
  let job: Promise<RetireResult[]>;
  try {
    job = addon.retireHeldAsync(
      batch.map((e) => [e.image.native, e.image.deps, e.image.keepMapped]),
      finiTimeoutMs,
    ).promise;
  } catch (e) {
    job = Promise.reject(e);
  }
  job
    .then(
      (results) => {
        for (const [i, e] of batch.entries()) settleOrBackOff(e, results[i]);
      },
      () => {
        for (const e of batch) settleOrBackOff(e, undefined);
      },
    )
    .finally(() => {
      looking = false;
      notBefore = Date.now() + ((Date.now() - started) * (1 - BUSY_SHARE)) / BUSY_SHARE;
      schedule();
    });
}

function settleOrBackOff(e: Entry, r: RetireResult | undefined): void {
  // Closed (nothing held it any more: no thread, no library that may call its signal handlers), or
  // its destructors overran: settled for good.
  if (r && ((r.ok && r.threads.length === 0 && r.heldSignals.length === 0) || r.code === 'ERR_DLSWAP_TIMEOUT')) {
    entries.delete(e);
    e.image.settle(r);
    return;
  }
  // Still held, or the look could not happen (the loader refused while a library hangs in it).
  if (r?.threads.length) e.image.holders = r.threads.map((t) => t.tid);
  e.delay = Math.min(e.delay * 2, MAX_DELAY_MS);
  e.due = onGrid(e.delay);
}
