/**
 * The library under test, in a test worker (docs/testing.md): a fresh instance per test, loaded from
 * the build the run's setup made (lib/testing/build.ts). A fresh instance is the library opened
 * anew: its own private copy, so its own globals and static state, for about a millisecond. A fault
 * in a call is that test's failure (ERR_DLSWAP_FAULT, with the C stack and, where addr2line finds
 * them, source lines); the other tests of the file run as usual, each with its own instance.
 */
import path from 'node:path';
import { DlswapError } from '../errors';
import { open, type Library, type OpenOptions } from '../load/library';
import type { TypeDefs } from '../signature/ctypes_types';
import { buildFailure, DEFAULT_BUILD_VARIABLE, type BuildResult } from './build';
import { withSourceLines } from './source_lines';

/** The part of a test's context `fresh()` uses: vitest's and jest-circus's have it. */
export interface TestContextLike {
  onTestFinished(fn: () => unknown): void;
}

export interface TestLibraryOptions {
  /** The library file, when no setup built it (default: the one `nativeBuild` made). */
  library?: string;
  /** The environment variable `nativeBuild` used (its `name`). */
  name?: string;
}

export interface TestLibrary {
  /** The built library's path. Throws, with the compiler's output, if its build failed. */
  readonly path: string;
  /**
   * A fresh instance of the library: opened anew (isolation 'namespace' unless `options` says
   * otherwise), with fresh globals. Given the test's context, it is closed when the test ends;
   * otherwise close it yourself (or `await using`). Its functions' faults carry source lines.
   */
  fresh<D extends TypeDefs = {}>(context?: TestContextLike, options?: OpenOptions<D>): Library<D>;
}

function built(options: TestLibraryOptions): string {
  if (options.library) return path.resolve(options.library);
  const variable = options.name ?? DEFAULT_BUILD_VARIABLE;
  const text = process.env[variable];
  if (!text) {
    throw new DlswapError(
      'ERR_DLSWAP_ARG',
      `testLibrary(): no build result in ${variable}. Add a globalSetup file whose default export is nativeBuild({ library, command }) (docs/testing.md), or pass { library }.`,
    );
  }
  const r = JSON.parse(text) as BuildResult;
  if (!r.ok) throw buildFailure(r);
  return r.library;
}

/** The functions it makes add source lines to their faults (the Library is otherwise the same). */
function withSources<D extends TypeDefs>(lib: Library<D>, file: string): Library<D> {
  return new Proxy(lib, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop !== 'func') return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        const f = (value as (...a: unknown[]) => (...a: unknown[]) => unknown).apply(target, args) as ((...a: unknown[]) => unknown) & {
          async: (...a: unknown[]) => Promise<unknown>;
        };
        const call = (...a: unknown[]) => {
          try {
            return f(...a);
          } catch (e) {
            throw withSourceLines(e, file);
          }
        };
        return Object.assign(call, { async: (...a: unknown[]) => f.async(...a).catch((e: unknown) => Promise.reject(withSourceLines(e, file))) });
      };
    },
  });
}

export function testLibrary(options: TestLibraryOptions = {}): TestLibrary {
  return {
    get path() {
      return built(options);
    },
    fresh<D extends TypeDefs = {}>(context?: TestContextLike, openOptions?: OpenOptions<D>): Library<D> {
      const file = built(options);
      const lib = open<D>(file, { isolation: 'namespace', ...openOptions });
      context?.onTestFinished(() => lib.close());
      return withSources(lib, file);
    },
  };
}
