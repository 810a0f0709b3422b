// Compile-time tests of the public API's types as a package consumer meets them (issue 14).
// Nothing here runs: test/package/package_types.test.ts compiles this file and fails on any diagnostic, so
// each `@ts-expect-error` below must really be an error, and everything else must compile.
import { expectTypeOf } from 'vitest';
import { DlswapError, HotLibrary, LibraryWatcher, open, types, type ReloadReport } from '../../lib/index';
import type { CheckedPrototype, Int64Arg, UnknownTypeName } from '../../lib/signature/prototype_types';
import type { HotWatchSkip } from '../../lib/hot/events';

type Ptr = bigint | null | ArrayBufferView | ArrayBuffer;
type Str = string | null | ArrayBufferView | bigint;

export async function hotLibraryInfersFunctions(): Promise<void> {
  // Inline prototype literals, as in the README: hot.fn.* is typed, and only those names exist.
  const hot = await HotLibrary.open('./libcore.so', {
    isolation: 'namespace',
    functions: {
      handle: 'int handle(const char *req, char *out, size_t cap)',
      core_slow: 'int core_slow(int ms)',
    },
  });
  expectTypeOf(hot.fn.handle).parameters.toEqualTypeOf<[req: Str, out: Ptr, cap: number | bigint]>();
  expectTypeOf(hot.fn.handle('ping', Buffer.alloc(64), 64)).toEqualTypeOf<number>();
  expectTypeOf(hot.fn.core_slow.async(100)).toEqualTypeOf<Promise<number>>();
  // @ts-expect-error: no such function in `functions`
  hot.fn.nope();
  // @ts-expect-error: a string is not an int
  hot.fn.core_slow('100');

  // An `as const` object works the same.
  const functions = { mul64: 'int64_t mul64(int64_t a, int64_t b)', version: 'const char *version(void)' } as const;
  const hot2 = await HotLibrary.open('./libcore.so', { functions });
  expectTypeOf(hot2.fn.mul64).returns.toEqualTypeOf<bigint>();
  expectTypeOf(hot2.fn.version()).toEqualTypeOf<string | null>();
  // @ts-expect-error: not in the object
  hot2.fn.handle();

  // A lease has the same functions.
  using lease = hot.pin();
  expectTypeOf(lease.fn.core_slow(1)).toEqualTypeOf<number>();
}

export async function unknownTypeNamesAreErrors(): Promise<void> {
  const lib = open('./libmath.so');
  expectTypeOf(lib.func('int add(int a, int b)')).returns.toEqualTypeOf<number>();
  // @ts-expect-error: 'itn' is no C type (the message names it)
  lib.func('itn add(int a)');
  // @ts-expect-error: in a parameter
  lib.func('int add(int a, intt b)');
  // @ts-expect-error: a typedef nobody declared
  lib.func('frame_t *decode(const char *path)');
  // The message names the word and the prototype.
  expectTypeOf<
    CheckedPrototype<'itn add(int a)'>
  >().toEqualTypeOf<`dlswap: unknown C type 'itn' in 'itn add(int a)' (a typo? a struct or typedef must be declared with types(), docs/types.md)`>();
  expectTypeOf<UnknownTypeName<'int f(uint8_t *p, size_t n, struct point *q, bool b)'>>().toEqualTypeOf<never>();
  expectTypeOf<UnknownTypeName<'const foo_t *f(int)'>>().toEqualTypeOf<'foo_t'>();
  expectTypeOf<UnknownTypeName<string>>().toEqualTypeOf<never>();

  // Names a registry declares are known, in lib.func and in HotLibrary's functions.
  const t = types('typedef struct frame { uint32_t w, h; } frame_t;');
  const codec = open('./libcodec.so', { types: t });
  codec.func('int frame_area(const frame_t *f)');
  await HotLibrary.open('./libcodec.so', { types: t, functions: { area: 'int frame_area(const frame_t *f)' } });

  // A prototype only known at run time is not checked.
  const text: string = 'int add(int a, int b)';
  expectTypeOf(lib.func(text)).toBeFunction();

  // In HotLibrary's functions, the error names the function and the word.
  // @ts-expect-error: "functions.handle: unknown C type 'itn' ..." is missing
  await HotLibrary.open('./libcore.so', { functions: { handle: 'itn handle(int)' } });
}

export function int64ParametersTakeNumbers(): void {
  const lib = open('./libtypes.so');
  const mul64 = lib.func('int64_t mul64(int64_t a, int64_t b)');
  expectTypeOf(mul64(3, 4)).toEqualTypeOf<bigint>();
  expectTypeOf(mul64(3n, 4n)).toEqualTypeOf<bigint>();
  const strlen = lib.func('size_t strlen(const char *s)');
  expectTypeOf(strlen('abc')).toEqualTypeOf<bigint>();
  const memset = lib.func('void *memset(void *s, int c, size_t n)');
  memset(Buffer.alloc(8), 0, 8);
  expectTypeOf<Int64Arg>().toEqualTypeOf<number | bigint>();
  // @ts-expect-error: a string is no integer
  mul64('3', 4);
}

export async function eventsAreTyped(): Promise<void> {
  const hot = await HotLibrary.open('./libcore.so', { functions: { v: 'int v(void)' } });
  hot.on('reload', (r) => expectTypeOf(r).toEqualTypeOf<ReloadReport>());
  hot.on('log', (e) => expectTypeOf(e.message).toEqualTypeOf<string>());
  hot.once('unloaded', (g) => expectTypeOf(g.generation).toEqualTypeOf<number>());
  hot.on('watch-skip', (s) => expectTypeOf(s).toEqualTypeOf<HotWatchSkip>());
  hot.on('error', (e) => expectTypeOf(e).toEqualTypeOf<DlswapError>());
  // @ts-expect-error: misspelled event
  hot.on('relaod', () => {});
  // @ts-expect-error: the payload is a report, not a number
  hot.on('reload', (r: number) => r);
  const w = new LibraryWatcher('./libcore.so');
  w.on('change', (c) => expectTypeOf(c.sha256).toEqualTypeOf<string>());
  // @ts-expect-error: no such event
  w.on('changed', () => {});
}

export async function asyncDispose(): Promise<void> {
  await using lib = open('./libmath.so');
  await using hot = await HotLibrary.open('./libcore.so');
  await using watcher = new LibraryWatcher('./libcore.so');
  using watcher2 = new LibraryWatcher('./libcore.so');
  expectTypeOf(lib[Symbol.asyncDispose]).returns.toEqualTypeOf<Promise<void>>();
  expectTypeOf(hot[Symbol.asyncDispose]).returns.toEqualTypeOf<Promise<void>>();
  expectTypeOf(watcher[Symbol.asyncDispose]).returns.toEqualTypeOf<Promise<void>>();
  expectTypeOf(watcher2[Symbol.dispose]).returns.toEqualTypeOf<void>();
}

export function oneErrorClass(e: unknown): void {
  if (e instanceof DlswapError) expectTypeOf(e.code).toEqualTypeOf<import('../../lib/errors').DlswapErrorCode>();
}

export async function abortSignals(): Promise<void> {
  const ac = new AbortController();
  const hot = await HotLibrary.open('./libcore.so', { signal: ac.signal });
  await hot.reload(undefined, { signal: AbortSignal.timeout(1000) });
  await hot.close({ signal: ac.signal });
}
