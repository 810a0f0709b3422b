/**
 * Building the C code under test, once per test run (docs/testing.md): the build step a vitest
 * `globalSetup` runs before any test file, and again before each rerun in watch mode. The result
 * reaches the test workers (forks or threads) through one environment variable, so that a test never
 * loads a library whose build failed: a failed build is the test's error, with the compiler's output,
 * never the previous build passing in its place.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DlswapError } from '../errors';

/** How to build the library under test. Paths are relative to the vitest project's root. */
export interface NativeBuildOptions {
  /** The shared library the build makes. */
  library: string;
  /** The build command, as argv: `['make']`, `['npx', 'cmake-js', 'build']`, `['cc', ...]`. */
  command?: string[];
  /** Instead of `command`: C sources compiled and linked by `$CC` (or `cc`) into `library`. */
  sources?: string[];
  /** With `sources`: more compiler flags (`-Iinclude`, `-DNDEBUG`...). Always: `-shared -fPIC -g`. */
  cflags?: string[];
  /** Where the command runs (default: the project's root). */
  cwd?: string;
  /** The environment variable the result travels in (default `DLSWAP_TEST_LIBRARY`): one per library when a project builds several. */
  name?: string;
  /** A build that runs longer is stopped and failed (default 300,000 ms). */
  timeoutMs?: number;
}

/** What a build came to: what `testLibrary()` reads in the test workers. */
export interface BuildResult {
  ok: boolean;
  /** The library's absolute path. */
  library: string;
  /** The command that ran. */
  command: string[];
  /** Its stdout and stderr, interleaved as they came (the compiler's diagnostics). */
  output: string;
  /** Exit status, or the signal that ended it, or the spawn error. */
  status: string;
  ms: number;
}

export const DEFAULT_BUILD_VARIABLE = 'DLSWAP_TEST_LIBRARY';

/** The argv that builds `options.library`. */
function commandOf(options: NativeBuildOptions, library: string): string[] {
  if (options.command && options.sources) throw new DlswapError('ERR_DLSWAP_ARG', 'nativeBuild(options): give either command or sources, not both');
  if (options.command) {
    if (!Array.isArray(options.command) || options.command.length === 0 || !options.command.every((a) => typeof a === 'string')) {
      throw new DlswapError('ERR_DLSWAP_ARG', "nativeBuild(options): command must be a non-empty array of strings, e.g. ['make']");
    }
    return options.command;
  }
  if (!options.sources?.length)
    throw new DlswapError('ERR_DLSWAP_ARG', 'nativeBuild(options): give command (the build command) or sources (C files to compile)');
  return [process.env.CC || 'cc', '-shared', '-fPIC', '-g', ...(options.cflags ?? []), '-o', library, ...options.sources];
}

/**
 * Runs the build in `root` and returns what it came to (never throws for a failed build). The
 * library file is removed first when the command is the compiler itself, so that a failed compile
 * cannot leave the previous build in place; with `make` or cmake-js the failed build's status is what
 * keeps the old file from being used.
 */
export function buildNative(options: NativeBuildOptions, root: string): BuildResult {
  if (typeof options?.library !== 'string' || options.library === '')
    throw new DlswapError('ERR_DLSWAP_ARG', 'nativeBuild(options): library (the path of the built .so) is required');
  const library = path.resolve(root, options.library);
  const command = commandOf(options, library);
  if (options.sources) {
    fs.rmSync(library, { force: true });
    fs.mkdirSync(path.dirname(library), { recursive: true });
  }
  const t0 = performance.now();
  const r = spawnSync(command[0], command.slice(1), {
    cwd: path.resolve(root, options.cwd ?? '.'),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 300_000,
    maxBuffer: 64 * 1024 * 1024,
    // One stream, in order: a compiler's error and the make line that ran it stay together.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const status = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  const ok = !r.error && r.status === 0 && fs.existsSync(library);
  const missing = !r.error && r.status === 0 && !ok ? `\nthe build succeeded but did not make ${library}` : '';
  return { ok, library, command, output: output + missing, status, ms: performance.now() - t0 };
}

/** The error a test gets when the build of its library failed: the compiler's output, verbatim. */
export function buildFailure(r: BuildResult): DlswapError {
  return new DlswapError(
    'ERR_DLSWAP_BUILD_FAILED',
    `the build of ${path.basename(r.library)} failed (${r.command.join(' ')}: ${r.status}), so no test runs its code:\n\n${r.output.trimEnd()}\n`,
  );
}

/** What vitest hands a globalSetup function (vitest's TestProject), as far as it is used here. */
export interface SetupProject {
  config?: { root?: string; watch?: boolean };
  vitest?: { config?: { watch?: boolean } };
  onTestsRerun?(cb: () => void | Promise<void>): void;
}

/**
 * A vitest `globalSetup` (the default export of a setup file) that builds the library once per run,
 * before any test file runs, and again before every rerun in watch mode. A failed build fails the
 * run (`vitest run`: the compiler's output is the run's error, and no test runs); in watch mode each
 * test fails with that output, and the next rerun builds again.
 */
export function nativeBuild(options: NativeBuildOptions): (project?: SetupProject) => void {
  const variable = options?.name ?? DEFAULT_BUILD_VARIABLE;
  return (project?: SetupProject) => {
    const root = project?.config?.root ?? process.cwd();
    const watch = Boolean(project?.vitest?.config?.watch ?? project?.config?.watch);
    const run = (): BuildResult => {
      const r = buildNative(options, root);
      // Read by testLibrary() in every worker vitest starts from now on.
      process.env[variable] = JSON.stringify(r);
      return r;
    };
    const first = run();
    if (!first.ok && !watch) throw buildFailure(first);
    project?.onTestsRerun?.(() => void run());
  };
}
