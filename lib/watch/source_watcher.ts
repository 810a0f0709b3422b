/**
 * Watches the sources of a build step and reports each burst of changes once it has gone quiet:
 * the debounced trigger of a rebuild (lib/watch/rebuilder.ts). It says which files changed and
 * nothing else: whether they still exist, or differ, is the build's business.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SourcePattern } from './source_patterns';

export interface SourceWatcherOptions {
  debounceMs: number;
  persistent: boolean;
  /** A path that matches a pattern but must never trigger a build (the library the build writes). */
  ignore(file: string): boolean;
  /** The changed files of one quiet-ended burst, absolute, sorted. */
  onChange(files: string[]): void;
  /** A directory could not be watched (or stopped being watched): changes there are not seen. */
  onError(message: string): void;
}

/** A recursive pattern over a huge tree (a node_modules) would take every inotify watch there is. */
const MAX_DIRECTORIES = 1_000;
/** Never descended into: not sources, and large. */
const SKIPPED_DIRECTORIES = new Set(['node_modules', '.git', '.hg', '.svn']);

export class SourceWatcher {
  readonly #patterns: SourcePattern[];
  readonly #o: SourceWatcherOptions;
  readonly #watchers = new Map<string, fs.FSWatcher>();
  readonly #pending = new Set<string>();
  #debounce: NodeJS.Timeout | null = null;
  #closed = false;
  #tooMany = false;

  constructor(patterns: SourcePattern[], options: SourceWatcherOptions) {
    this.#patterns = patterns;
    this.#o = options;
    for (const p of patterns) {
      if (p.recursive) this.#watchTree(p.base);
      else this.#watchDir(p.base);
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = null;
    for (const w of this.#watchers.values()) {
      try {
        w.close();
      } catch {
        // already closed by the system (directory gone)
      }
    }
    this.#watchers.clear();
  }

  #watchTree(dir: string): void {
    this.#watchDir(dir);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // gone, or unreadable: nothing below it to watch
    }
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.') && !SKIPPED_DIRECTORIES.has(e.name)) this.#watchTree(path.join(dir, e.name));
    }
  }

  #watchDir(dir: string): void {
    if (this.#closed || this.#watchers.has(dir)) return;
    if (this.#watchers.size >= MAX_DIRECTORIES) {
      if (!this.#tooMany)
        this.#o.onError(`watch.sources span more than ${MAX_DIRECTORIES} directories; ${dir} and the rest are not watched. Narrow the patterns.`);
      this.#tooMany = true;
      return;
    }
    let w: fs.FSWatcher;
    try {
      w = fs.watch(dir, { persistent: this.#o.persistent }, (_event, name) => this.#event(dir, name === null ? null : name.toString()));
    } catch (e) {
      this.#o.onError(`cannot watch ${dir} for source changes: ${(e as Error).message}`);
      return;
    }
    w.on('error', (e) => {
      this.#watchers.delete(dir);
      if (!this.#closed) this.#o.onError(`watching ${dir} for source changes failed: ${e.message}`);
    });
    this.#watchers.set(dir, w);
  }

  #event(dir: string, name: string | null): void {
    if (this.#closed) return;
    // Linux names the file; where a platform does not, any source in the directory may have changed.
    const file = name === null ? dir : path.join(dir, name);
    if (name !== null && this.#underRecursive(file)) {
      let isDir = false;
      try {
        isDir = fs.statSync(file).isDirectory();
      } catch {
        // removed: its watcher (if any) ends by itself
      }
      if (isDir && !name.startsWith('.') && !SKIPPED_DIRECTORIES.has(name)) this.#watchTree(file);
    }
    if (this.#o.ignore(file)) return;
    if (name !== null && !this.#patterns.some((p) => p.matches(file))) return;
    this.#pending.add(file);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = null;
      const files = [...this.#pending].sort();
      this.#pending.clear();
      if (!this.#closed) this.#o.onChange(files);
    }, this.#o.debounceMs);
    if (!this.#o.persistent) this.#debounce.unref();
  }

  #underRecursive(file: string): boolean {
    return this.#patterns.some((p) => p.recursive && path.relative(p.base, file).split('/')[0] !== '..');
  }
}
