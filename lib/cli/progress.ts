/**
 * The line a terminal shows while a library loads. Loading runs on the loader thread, so the event
 * loop is free to redraw it: a large library (libLLVM, 117 MB) or a slow dlswap_init shows what it
 * is doing instead of a frozen screen. Only on a TTY, and only once a load has taken longer than
 * SHOW_AFTER_MS, so the usual sub-millisecond reload prints nothing extra.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GenerationInfo } from '../hot/generation';
import { formatBytes } from './format';

/** A load shorter than this is not worth a line that would only flicker. */
export const SHOW_AFTER_MS = 200;
export const REDRAW_MS = 100;

export interface LoadInProgress {
  /** The generation being loaded, or undefined for the first open (no HotLibrary yet). */
  generation?: number;
  path: string;
  /** The file's size, if it could be read. */
  bytes?: number;
  elapsedMs: number;
}

/** The generation that is loading or being verified now, if any, as of `now` (ms since the epoch). */
export function loadInProgress(gens: readonly GenerationInfo[], now: number): LoadInProgress | undefined {
  const g = gens.find((x) => x.state === 'loading' || x.state === 'verifying');
  if (!g) return undefined;
  return { generation: g.id, path: g.path, bytes: fileSize(g.path), elapsedMs: now - g.loadedAt.getTime() };
}

export function fileSize(file: string): number | undefined {
  try {
    return fs.statSync(file).size;
  } catch {
    return undefined;
  }
}

export function describeLoad(load: LoadInProgress): string {
  const what = load.generation === undefined ? 'loading' : `loading generation ${load.generation}:`;
  const size = load.bytes === undefined ? '' : ` (${formatBytes(load.bytes)})`;
  return `${what} ${path.basename(load.path)}${size}, ${(load.elapsedMs / 1000).toFixed(1)} s`;
}

/**
 * One redrawable line under the output: `show` replaces it, `write` clears it first so that output
 * never lands in the middle of it. Disabled (not a TTY), `show` does nothing and `write` just writes.
 */
export class ProgressLine {
  #shown = false;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly enabled: boolean,
  ) {}

  show(text: string): void {
    if (!this.enabled) return;
    this.out.write(`\r\x1b[2K${text}`);
    this.#shown = true;
  }

  clear(): void {
    if (!this.#shown) return;
    this.out.write('\r\x1b[2K');
    this.#shown = false;
  }

  write(text: string): void {
    this.clear();
    this.out.write(text);
  }

  /**
   * Redraws every REDRAW_MS from `poll` (undefined: nothing loading) until the returned function is
   * called. The timer is unref'd: a progress line never keeps the process alive.
   */
  follow(poll: () => LoadInProgress | undefined, style: (s: string) => string = (s) => s): () => void {
    const timer = setInterval(() => {
      const load = poll();
      if (load && load.elapsedMs >= SHOW_AFTER_MS) this.show(style(describeLoad(load)));
      else this.clear();
    }, REDRAW_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      this.clear();
    };
  }
}
