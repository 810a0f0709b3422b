/**
 * LibraryWatcher: notices when a shared library file is rebuilt, and says so only once the new build
 * is complete, valid and different (docs/watch.md).
 *
 * Build tools rarely write a file in one step: linkers truncate and rewrite it, editors and `install`
 * write a temporary file and rename it over, `cp` writes in chunks. So a change event means "look
 * soon", never "load now". For each burst of events the watcher waits for quiet (debounce), then for
 * the file's identity (inode, size, mtime) to hold still, then checks that the bytes form a whole ELF
 * shared library for this machine, and only then compares the content hash with the last one.
 */
import { TypedEventEmitter } from '../typed_events';
import type * as Crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isDlswapError } from '../errors';
import { checkPath, resolveWatchOptions, type ResolvedWatchOptions } from '../options';
import { faultPoint } from '../faults';
import { buildSkip } from './watch_build';
import { accessDenied, missing, readRegularFile, stateOf, type FileState } from './watch_file';

export interface WatchOptions {
  /** Quiet period after the last change event before the file is examined. Default 100 ms. */
  debounceMs?: number;
  /** How long size and mtime must stay the same before the file counts as written. Default 50 ms. */
  stableMs?: number;
  /** A file still changing after this long is reported as 'incomplete' (and looked at again on its next change). Default 30 s. */
  settleTimeoutMs?: number;
  /**
   * Also poll the file's stat every this many ms. Off by default: inotify sees every change on local
   * file systems, but not on NFS or some container bind mounts.
   */
  pollIntervalMs?: number;
  /**
   * Whether the watcher keeps the process alive (default true, like `fs.watch`): a server that
   * reloads its handler should not exit because its last request finished. `close()` (or
   * `HotLibrary.close()`) stops it either way.
   */
  persistent?: boolean;
  /** @internal sha256 of the generation already loaded: a change to the same content is ignored. */
  initialSha256?: string;
}

export interface WatchChange {
  path: string;
  /** sha256 of the new content, hex: pass it on to open/reload so that exactly these bytes load. */
  sha256: string;
  size: number;
  mtimeMs: number;
}

export type WatchSkipReason =
  /** Not finished: empty, shorter than its own headers say, or still changing after settleTimeoutMs. */
  | 'incomplete'
  /** Not an ELF file at all (a linker script, an archive, a text file). */
  | 'not-elf'
  /** An ELF file, but damaged, or not a shared library. */
  | 'bad-elf'
  /** A shared library for another machine or ELF class. */
  | 'wrong-arch'
  /** Rewritten with the same bytes as the last build. */
  | 'unchanged'
  /** The file was removed; it is picked up again when it comes back. */
  | 'vanished'
  /** It exists but cannot be read (permissions, not a regular file). */
  | 'unreadable'
  /** The directory watch itself failed (the directory was removed, inotify limits...). */
  | 'watch-error';

export interface WatchSkip {
  path: string;
  reason: WatchSkipReason;
  message: string;
  /** The ERR_DLSWAP_* code behind the reason, when there is one. */
  code?: string;
  size?: number;
  mtimeMs?: number;
}

/** The events a LibraryWatcher emits, by name, with their listeners' arguments. */
export interface WatcherEvents {
  /** A new, complete, valid build. */
  change: [change: WatchChange];
  /** A build that was refused, and why. */
  skip: [skip: WatchSkip];
}

/**
 * Emits 'change' (`WatchChange`) for each new, complete, valid build and 'skip' (`WatchSkip`) for
 * each one it refuses. Never emits 'error': a watcher that cannot watch reports a 'watch-error' skip.
 */
export class LibraryWatcher extends TypedEventEmitter<WatcherEvents> {
  readonly path: string;
  /** The options in force, every default filled in. */
  readonly options: ResolvedWatchOptions;
  readonly #debounceMs: number;
  readonly #stableMs: number;
  readonly #settleTimeoutMs: number;
  readonly #pollMs: number;
  readonly #persistent: boolean;
  #watchers: fs.FSWatcher[] = [];
  #poller: NodeJS.Timeout | null = null;
  #polledSig: string | null = null;
  #debounce: NodeJS.Timeout | null = null;
  #running = false;
  #again = false;
  #closed = false;
  #lastSha256: string | null;
  // The file state examined last, whatever the verdict: the same state again is nothing new.
  #lastSig: string | null = null;
  #vanishedReported = false;
  // The look taken at construction: it establishes the baseline and stays quiet if nothing changed.
  #first = true;
  #idle: (() => void)[] = [];
  // A build step is writing the file (lib/watch/rebuilder.ts): its events are not examined.
  #held = false;
  // The next examination skips the quiet wait: the build that wrote the file has exited.
  #immediate = false;

  constructor(file: string, options: WatchOptions = {}) {
    super();
    this.path = path.resolve(checkPath(file, 'LibraryWatcher(path, options)'));
    const o = resolveWatchOptions(options);
    this.options = o;
    this.#debounceMs = o.debounceMs;
    this.#stableMs = o.stableMs;
    this.#settleTimeoutMs = o.settleTimeoutMs;
    this.#pollMs = Math.max(5, Math.min(25, Math.round(this.#stableMs / 3)));
    this.#persistent = o.persistent;
    this.#lastSha256 = o.initialSha256 ?? null;

    // Watch the directory, not the file: a rename over the file (how editors, `install` and many
    // build tools publish a result) replaces the inode, and an inotify watch on the old inode would
    // never hear of the new one. If the path is a symlink, its target's directory is watched too.
    const targets = new Map<string, Set<string>>();
    const add = (p: string) => {
      const dir = path.dirname(p);
      if (!targets.has(dir)) targets.set(dir, new Set());
      targets.get(dir)!.add(path.basename(p));
    };
    add(this.path);
    try {
      const real = fs.realpathSync(this.path);
      if (real !== this.path) add(real);
    } catch {
      // Not there yet: watching its directory is enough to see it appear.
    }
    for (const [dir, names] of targets) this.#watchDir(dir, names);

    if (o.pollIntervalMs !== undefined) {
      const every = o.pollIntervalMs;
      if (every > 0) {
        this.#poller = setInterval(() => this.#poll(), every);
        if (!this.#persistent) this.#poller.unref();
      }
    }
    // The file may have changed between the caller's load and this constructor; look once now.
    this.#schedule(0);
  }

  /** Stops watching. Events that were already being examined are dropped. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#watchers.splice(0)) {
      try {
        w.close();
      } catch {
        // already closed by the system (directory gone)
      }
    }
    if (this.#poller) clearInterval(this.#poller);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#poller = null;
    this.#debounce = null;
    this.#settleIdle();
  }

  /** `using watcher = new LibraryWatcher(...)`: close() at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `await using` works too (close() is synchronous). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * @internal The build step's: while a build runs, the file's events are dropped (the build is not
   * finished, and a failed build's output is never loaded). An examination already running goes on.
   */
  hold(): void {
    this.#held = true;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = null;
    if (!this.#running) this.#settleIdle();
  }

  /**
   * @internal The build step's, once its build succeeded: the file is examined now, with no debounce
   * and no wait for it to hold still (the build that wrote it has exited), and watched again.
   */
  examineNow(): void {
    this.#held = false;
    if (this.#closed) return;
    this.#immediate = true;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = null;
    void this.#run();
  }

  /** @internal The build step's, once its build failed: the file is watched again, and not examined. */
  release(): void {
    this.#held = false;
  }

  /** Resolves once nothing is scheduled or being examined (for tests and tools that want a quiet point). */
  idle(): Promise<void> {
    if (!this.#running && !this.#debounce) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #watchDir(dir: string, names: Set<string>): void {
    let w: fs.FSWatcher;
    try {
      w = fs.watch(dir, { persistent: this.#persistent }, (_event, filename) => {
        // Some platforms do not report the name; then any event in the directory might be ours.
        if (filename === null || names.has(filename.toString())) this.#schedule(this.#debounceMs);
      });
    } catch (e) {
      this.#skip({
        reason: 'watch-error',
        message: `cannot watch ${dir}: ${(e as Error).message}. Reload by hand (hot.reload()) or fix the directory and watch again.`,
      });
      return;
    }
    w.on('error', (e) => {
      this.#skip({ reason: 'watch-error', message: `watching ${dir} failed: ${e.message}. Changes to ${this.path} are no longer seen.` });
    });
    this.#watchers.push(w);
  }

  #poll(): void {
    fs.stat(this.path, { bigint: true }, (err, st) => {
      if (this.#closed) return;
      const sig = err ? `missing:${err.code}` : stateOf(st).sig;
      if (this.#polledSig !== null && sig !== this.#polledSig) this.#schedule(this.#debounceMs);
      this.#polledSig = sig;
    });
  }

  #schedule(delay: number): void {
    if (this.#closed || this.#held) return;
    if (this.#running) {
      // Looked at again once the current examination ends: it may already have seen this write.
      this.#again = true;
      return;
    }
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = null;
      void this.#run();
    }, delay);
    if (!this.#persistent) this.#debounce.unref();
  }

  async #run(): Promise<void> {
    if (this.#closed) return;
    this.#running = true;
    try {
      do {
        this.#again = false;
        const first = this.#first;
        this.#first = false;
        const immediate = this.#immediate;
        this.#immediate = false;
        await this.#examine(first, immediate);
      } while (this.#again && !this.#closed && (this.#immediate || (await this.#sleep(this.#debounceMs))));
    } catch (e) {
      // #examine reports every expected failure itself; this is the net under the net.
      this.#skip({
        reason: 'unreadable',
        code: isDlswapError(e) ? e.code : undefined,
        message: `cannot examine ${this.path}: ${(e as Error).message}. The current generation keeps serving; the file is looked at again on its next change.`,
      });
    } finally {
      this.#running = false;
      if (!this.#debounce) this.#settleIdle();
    }
  }

  async #examine(first: boolean, immediate: boolean): Promise<void> {
    faultPoint('watch-examine');
    for (;;) {
      const settled = await this.#settle(immediate ? 0 : this.#stableMs);
      if (settled === null) return;
      if (settled.sig === this.#lastSig) return;

      let bytes: Buffer;
      try {
        faultPoint('watch-read');
        bytes = await readRegularFile(this.path);
      } catch (e) {
        if (this.#closed) return;
        // Removed between the stat and the read: #settle decides whether it is gone or coming back.
        if (missing(e)) continue;
        this.#lastSig = settled.sig;
        const code = isDlswapError(e) ? e.code : accessDenied(e) ? 'ERR_DLSWAP_ACCESS' : undefined;
        const message = isDlswapError(e) ? e.message : `cannot read ${this.path}: ${(e as Error).message}. The current generation keeps serving.`;
        this.#skip({ reason: 'unreadable', code, message, size: settled.size, mtimeMs: settled.mtimeMs });
        return;
      }
      if (this.#closed) return;
      // Bytes read while the file was still being written would be judged on a mix of two builds.
      const after = await this.#stat();
      if (this.#closed) return;
      if (after === 'missing' || after.sig !== settled.sig) continue;

      this.#lastSig = settled.sig;
      try {
        this.#judge(bytes, settled, first);
      } catch (e) {
        this.#lastSig = null; // not judged: the same state is looked at again on its next event
        throw e;
      }
      return;
    }
  }

  /**
   * Waits until the file's state holds still for stableMs. null: closed or gone (already reported),
   * or given up for a build step's examination.
   *
   * Two states are a build in progress, not a verdict. A missing file is the gap between a linker's
   * unlink and its create (or an editor's remove-then-recreate): it counts as vanished only when it
   * is still missing a whole debounce window later. An empty file is a linker's freshly created
   * output that it has not written yet: it counts as settled only after settleTimeoutMs.
   */
  async #settle(stableMs: number): Promise<FileState | null> {
    const start = performance.now();
    let prev = await this.#present();
    let since = performance.now();
    for (;;) {
      if (this.#closed) return null;
      // A build step started (its output is not to be judged yet) or ended (the file is examined
      // at once, by the examination this one gives way to).
      if (stableMs > 0 && (this.#held || this.#immediate)) return null;
      if (prev === 'missing') {
        this.#vanished();
        return null;
      }
      this.#vanishedReported = false;
      const quiet = performance.now() - since;
      // Empty means "not written yet" only for a regular file that a build may still be writing:
      // anything else, or any file a build step's finished build left, is judged at once.
      if (quiet >= stableMs && (stableMs === 0 || prev.size > 0 || !prev.regular || performance.now() - start > this.#settleTimeoutMs)) return prev;
      if (!(await this.#sleep(this.#pollMs))) return null;
      const cur = await this.#present();
      if (cur === 'missing' || cur.sig !== prev.sig) {
        since = performance.now();
        if (since - start > this.#settleTimeoutMs) {
          if (cur !== 'missing') {
            this.#lastSig = cur.sig;
            this.#skip({
              reason: 'incomplete',
              message: `${this.path} was still changing after ${Math.round(this.#settleTimeoutMs)} ms; it is looked at again on its next change.`,
              size: cur.size,
              mtimeMs: cur.mtimeMs,
            });
          }
          return null;
        }
      }
      prev = cur;
    }
  }

  /** Is this settled content a new, loadable build? Emits exactly one event. */
  #judge(bytes: Buffer, st: FileState, first: boolean): void {
    faultPoint('watch-judge');
    const where = { size: st.size, mtimeMs: st.mtimeMs };
    const file = this.path;
    const refused = buildSkip(bytes, file);
    if (refused) {
      this.#skip({ ...refused, ...where });
      return;
    }
    // node:crypto is loaded here, on the first hash, not with the package (bench/startup.mjs).
    const sha256 = (require('node:crypto') as typeof Crypto).createHash('sha256').update(bytes).digest('hex');
    if (first && (this.#lastSha256 === null || sha256 === this.#lastSha256)) {
      this.#lastSha256 = sha256;
      return;
    }
    if (sha256 === this.#lastSha256) {
      this.#skip({
        reason: 'unchanged',
        message: `${file} was rewritten with the same content (sha256 ${sha256.slice(0, 12)}...); nothing to reload.`,
        ...where,
      });
      return;
    }
    this.#lastSha256 = sha256;
    const change: WatchChange = { path: file, sha256, size: st.size, mtimeMs: st.mtimeMs };
    this.#emitSafely('change', change);
  }

  /**
   * The change with this hash could not be loaded (its reload failed): it is no longer the baseline,
   * so the same bytes published again are a change, not 'unchanged'. `serving` is the hash of what
   * serves instead.
   */
  forget(sha256: string, serving: string | null): void {
    if (this.#lastSha256 === sha256.toLowerCase()) this.#lastSha256 = serving?.toLowerCase() ?? null;
  }

  #vanished(): void {
    // A missing file is usually a moment in a rebuild (unlink, then write); report it once.
    this.#lastSig = null;
    if (this.#vanishedReported) return;
    this.#vanishedReported = true;
    this.#skip({
      reason: 'vanished',
      message: `${this.path} was removed; the current generation keeps serving, and the file is picked up again when it comes back.`,
    });
  }

  #skip(skip: Omit<WatchSkip, 'path'>): void {
    if (this.#closed) return;
    this.#emitSafely('skip', { path: this.path, ...skip } as WatchSkip);
  }

  /**
   * A listener that throws must not leave the watcher half-way through its bookkeeping, nor be
   * swallowed: it is rethrown on its own tick, as it would be from any other event source.
   */
  #emitSafely(event: 'change' | 'skip', payload: WatchChange | WatchSkip): void {
    try {
      this.emit(event, payload);
    } catch (e) {
      process.nextTick(() => {
        throw e;
      });
    }
  }

  /** The file's state, or 'missing' once it has stayed missing for a debounce window. */
  async #present(): Promise<FileState | 'missing'> {
    const st = await this.#stat();
    if (st !== 'missing' || this.#closed) return st;
    if (!(await this.#sleep(this.#debounceMs))) return 'missing';
    return this.#stat();
  }

  async #stat(): Promise<FileState | 'missing'> {
    try {
      return stateOf(await fs.promises.stat(this.path, { bigint: true }));
    } catch {
      // ENOENT in the middle of a rebuild, ENOTDIR, EACCES: all mean "no file to load now"; if it
      // exists but cannot be read, readFile reports that.
      return 'missing';
    }
  }

  /** false if the watcher was closed meanwhile. */
  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(!this.#closed), ms);
      if (!this.#persistent) t.unref();
    });
  }

  #settleIdle(): void {
    for (const f of this.#idle.splice(0)) f();
  }
}
