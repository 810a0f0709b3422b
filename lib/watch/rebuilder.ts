/**
 * The build step of a watch (`watch: { build, sources }`, docs/watch.md#a-build-step): a change to a
 * source starts the build; one build runs at a time per library (changes during a build queue
 * exactly one more); a failed build is reported with its output and never loaded; a build that
 * succeeds has its library examined at once, without the library watcher's own debounce, so the
 * reload follows the compiler directly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startBuild, describeCommand, type RunningBuild } from './build_command';
import { BUILD_STEP_DEFAULTS } from '../options';
import { sourcePatterns } from './source_patterns';
import { SourceWatcher } from './source_watcher';
import type { LibraryWatcher } from './watch';

/** The build step's options, as `watch` takes them beside the watcher's own. */
export interface BuildStepOptions {
  /**
   * The command that rebuilds the library: a shell command line (run with `/bin/sh -c`, e.g.
   * `'make'`), or an argv run without a shell (`['cc', '-shared', ...]`).
   */
  build?: string | readonly string[];
  /** The files it reads: paths or glob patterns (`*`, `?`, `**`, `{a,b}`), relative to `cwd`. A directory is everything below it. */
  sources?: readonly string[];
  /** Where the build runs, and what `sources` are relative to. Default: the current directory. */
  cwd?: string;
  /** A build still running after this long is killed (its whole process group) and reported. Default 300,000 ms. */
  buildTimeoutMs?: number;
}

/** 'watch-build-start': sources changed and the build command started. */
export interface BuildStart {
  /** The library the build writes. */
  path: string;
  command: string;
  /** The sources that changed since the last build started, absolute, sorted. */
  changed: string[];
}

/** 'watch-build': the build exited 0; the library is examined next (and reloaded if it changed). */
export interface BuildSuccess extends BuildStart {
  exitCode: 0;
  durationMs: number;
  /** Its stdout and stderr, interleaved (warnings); the middle of a very long output is left out. */
  output: string;
}

/** A 'watch-skip' of the build step: the build failed, or ran past `buildTimeoutMs`; nothing was loaded. */
export interface BuildFailure extends BuildStart {
  reason: 'build-failed' | 'build-timeout';
  message: string;
  /** The exit code, or null when it was killed by a signal or could not be started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  /** Its stdout and stderr, interleaved: the compiler's errors. The middle of a very long output is left out. */
  output: string;
}

export interface RebuilderEvents {
  start(e: BuildStart): void;
  success(e: BuildSuccess): void;
  failure(e: BuildFailure): void;
  /** Source directories that cannot be watched. */
  watchError(message: string): void;
  /** After a successful build was examined: resolves once the reload it asked for (if any) swapped or failed. */
  settled(): Promise<void>;
}

export interface ResolvedBuildStep {
  command: string | readonly string[];
  cwd: string;
  timeoutMs: number;
  patterns: ReturnType<typeof sourcePatterns>;
}

/**
 * Checks what only the file system can tell (the source directories exist): called before the
 * first generation loads, so that a bad `sources` loads nothing. null without a build step.
 */
export function resolveBuildStep(options: BuildStepOptions | undefined): ResolvedBuildStep | null {
  if (!options?.build) return null;
  const cwd = path.resolve(options.cwd ?? '.');
  return {
    command: options.build,
    cwd,
    timeoutMs: options.buildTimeoutMs ?? BUILD_STEP_DEFAULTS.buildTimeoutMs,
    patterns: sourcePatterns(options.sources ?? [], cwd),
  };
}

export class Rebuilder {
  readonly #library: string;
  readonly #step: ResolvedBuildStep;
  readonly #watcher: LibraryWatcher;
  readonly #events: RebuilderEvents;
  readonly #sources: SourceWatcher;
  readonly #command: string;
  #running: RunningBuild | null = null;
  #busy = false;
  #queued: Set<string> | null = null;
  #closed = false;

  constructor(library: string, step: ResolvedBuildStep, watcher: LibraryWatcher, watch: { debounceMs: number; persistent: boolean }, events: RebuilderEvents) {
    this.#library = library;
    this.#step = step;
    this.#watcher = watcher;
    this.#events = events;
    this.#command = describeCommand(step.command);
    let real = library;
    try {
      real = fs.realpathSync(library);
    } catch {
      // not there: the path itself is what the build writes
    }
    this.#sources = new SourceWatcher(step.patterns, {
      ...watch,
      // The library is the build's output: its own change is the library watcher's to see.
      ignore: (f) => f === library || f === real,
      onChange: (files) => this.#changed(files),
      onError: (message) => events.watchError(message),
    });
  }

  /** @internal Sources changed during the running build: what the one build queued after it will be told. */
  get queued(): string[] {
    return this.#queued ? [...this.#queued].sort() : [];
  }

  /** Stops watching; a build still running is stopped with its process group. Resolves once it has exited (bounded). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#sources.close();
    this.#queued = null;
    await this.#running?.stop();
  }

  #changed(files: string[]): void {
    if (this.#closed) return;
    if (this.#busy) {
      this.#queued ??= new Set();
      for (const f of files) this.#queued.add(f);
      return;
    }
    void this.#cycle(files);
  }

  /** Builds, then builds once more for whatever changed meanwhile, until nothing did. */
  async #cycle(first: string[]): Promise<void> {
    this.#busy = true;
    try {
      let changed: string[] | null = first;
      while (changed && !this.#closed) {
        await this.#buildOnce(changed);
        changed = this.#queued ? [...this.#queued].sort() : null;
        this.#queued = null;
      }
    } finally {
      this.#busy = false;
    }
  }

  /**
   * One build: the library watcher holds while it runs; on success the library is examined at once
   * and the reload it leads to is waited for (a next build must not rewrite the file while it is
   * being copied); on failure nothing is examined and the failure is reported.
   */
  async #buildOnce(changed: string[]): Promise<void> {
    const start: BuildStart = { path: this.#library, command: this.#command, changed };
    this.#watcher.hold();
    this.#events.start(start);
    const running = startBuild({ command: this.#step.command, cwd: this.#step.cwd, timeoutMs: this.#step.timeoutMs });
    this.#running = running;
    const r = await running.done;
    this.#running = null;
    if (this.#closed) return;
    if (r.ok) {
      this.#events.success({ ...start, exitCode: 0, durationMs: r.durationMs, output: r.output });
      this.#watcher.examineNow();
      await this.#watcher.idle();
      await this.#events.settled();
      return;
    }
    this.#watcher.release();
    const how =
      r.startError ??
      (r.timedOut ? `was killed after ${this.#step.timeoutMs} ms (buildTimeoutMs)` : r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exitCode}`);
    const message = r.startError
      ? `${r.startError}. Nothing was loaded, and the current generation keeps serving.`
      : `the build (${this.#command}) ${how}; nothing was loaded and the current generation keeps serving. The next change to a source builds again.`;
    this.#events.failure({
      ...start,
      reason: r.timedOut ? 'build-timeout' : 'build-failed',
      message,
      exitCode: r.exitCode,
      signal: r.signal,
      durationMs: r.durationMs,
      output: r.output,
    });
  }
}
