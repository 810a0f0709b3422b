// Compile-time tests: every field the docs name, of DlswapError and of every event, is on its type;
// `lib.bind` and the exported function-table types. Nothing here runs: test/package/package_types.test.ts
// compiles this file with strict settings and fails on any diagnostic (a field missing from a type
// is a TS2339 here; each `@ts-expect-error` must really be an error).
import { expectTypeOf } from 'vitest';
import {
  type DlswapError,
  HotLibrary,
  open,
  types,
  type BoundFunction,
  type BoundFunctions,
  type BuildFailure,
  type CloseResult,
  type FaultInfo,
  type DlswapErrorCode,
  type Handle,
  type GenerationInfo,
  type HotFunctions,
  type HotLibraryEvents,
  type HotWatchSkip,
  type LibraryWatcher,
  type ReloadFailedSkip,
  type ReloadReport,
  type WatchChange,
  type WatcherEvents,
} from '../../lib/index';

type Ptr = bigint | null | ArrayBufferView | ArrayBuffer;
type Str = string | null | ArrayBufferView | bigint;

export function bindTypesATable(): void {
  const lib = open('./libcore.so');
  const fns = lib.bind({ handle: 'int handle(const char *req, char *out, size_t cap)', slow: 'int core_slow(int ms)' });
  expectTypeOf(fns.handle).parameters.toEqualTypeOf<[req: Str, out: Ptr, cap: number | bigint]>();
  expectTypeOf(fns.slow.async(1)).toEqualTypeOf<Promise<number>>();
  // @ts-expect-error: not in the table
  fns.nope();
  const slow = fns.slow;
  // @ts-expect-error: read-only
  fns.slow = slow;
  // @ts-expect-error: an unknown type name is refused, naming the entry
  lib.bind({ f: 'itn f(void)' });

  // A table declared once, its type named: the same type hot.fn has.
  const functions = { handle: 'int handle(const char *req, char *out, size_t cap)' } as const;
  type Core = BoundFunctions<typeof functions>;
  const core: Core = lib.bind(functions);
  expectTypeOf(core).toEqualTypeOf<HotFunctions<typeof functions>>();
  expectTypeOf(core.handle).toEqualTypeOf<BoundFunction<(req: Str, out: Ptr, cap: number | bigint) => number>>();
  const useCore = (f: Core) => f.handle('ping', Buffer.alloc(8), 8);
  useCore(core);

  // With a type registry, its names are known.
  const t = types('typedef struct sqlite3 sqlite3;');
  const sqlite = open('libsqlite3.so.0', { types: t });
  const s = sqlite.bind({ close: 'int sqlite3_close(sqlite3 *db)' });
  expectTypeOf(s.close).returns.toEqualTypeOf<number>();
}

export async function hotFunctionsIsTheTypeOfHotFn(): Promise<void> {
  const functions = { v: 'int v(void)' } as const;
  const hot = await HotLibrary.open('./libcore.so', { functions });
  expectTypeOf(hot.fn).toEqualTypeOf<HotFunctions<typeof functions>>();
  using lease = hot.pin();
  expectTypeOf(lease.fn).toEqualTypeOf<HotFunctions<typeof functions>>();
}

export async function handlesAreTyped(): Promise<void> {
  // docs/hot-reload.md#handles-and-generations: a handle type's pointer is a Handle, its `**` an out array.
  const hot = await HotLibrary.open('libsqlite3.so.0', {
    types: types('typedef struct sqlite3 sqlite3;'),
    functions: {
      open: 'int sqlite3_open(const char *filename, sqlite3 **db)',
      changes: 'int sqlite3_total_changes(sqlite3 *db)',
      close: 'int sqlite3_close_v2(sqlite3 *db)',
    },
    handles: { sqlite3: 'close' },
  });
  expectTypeOf(hot.fn.open).parameters.toEqualTypeOf<[filename: Str, db: (Handle<'sqlite3'> | null)[] | null]>();
  expectTypeOf(hot.fn.changes).parameters.toEqualTypeOf<[db: Handle<'sqlite3'> | null]>();
  const out: (Handle<'sqlite3'> | null)[] = [];
  hot.fn.open(':memory:', out);
  const db = out[0]!;
  expectTypeOf(db.generation).toEqualTypeOf<number>();
  expectTypeOf(db.address).toEqualTypeOf<bigint>();
  expectTypeOf(db.released).toEqualTypeOf<boolean>();
  // @ts-expect-error: an address is not a handle
  hot.fn.changes(db.address);
  using lease = hot.pin();
  expectTypeOf(lease.fn.changes).parameters.toEqualTypeOf<[db: Handle<'sqlite3'> | null]>();
  await HotLibrary.open('libsqlite3.so.0', {
    types: types('typedef struct sqlite3 sqlite3;'),
    functions: { close: 'int sqlite3_close_v2(sqlite3 *db)' },
    // @ts-expect-error: the destructor must be a key of `functions`
    handles: { sqlite3: 'sqlite3_close_v2' },
  });
}

export function dlswapErrorFields(e: DlswapError): void {
  expectTypeOf(e.code).toEqualTypeOf<DlswapErrorCode>();
  expectTypeOf(e.message).toEqualTypeOf<string>();
  expectTypeOf(e).toHaveProperty('cause');
  // docs/hot-reload.md: err.report.failedPhase, err.causeCode.
  expectTypeOf(e.causeCode).toEqualTypeOf<DlswapErrorCode | undefined>();
  expectTypeOf(e.report).toEqualTypeOf<ReloadReport | undefined>();
  if (e.report) expectTypeOf(e.report.failedPhase).toEqualTypeOf<ReloadReport['failedPhase']>();
  // docs/faults.md#what-the-error-says: e.fault on ERR_DLSWAP_FAULT and ERR_DLSWAP_FAULTED.
  expectTypeOf(e.fault).toEqualTypeOf<FaultInfo | undefined>();
  if (e.fault) faultInfoFields(e.fault);
}

export function faultInfoFields(f: FaultInfo): void {
  for (const s of [f.signal, f.signalCode, f.reason, f.function, f.library, f.where]) expectTypeOf(s).toEqualTypeOf<string>();
  expectTypeOf(f.access).toEqualTypeOf<'read' | 'write' | 'execute' | 'unknown'>();
  expectTypeOf(f.address).toEqualTypeOf<bigint>();
  expectTypeOf(f.generation).toEqualTypeOf<number | null>();
  expectTypeOf(f.thread.tid).toEqualTypeOf<number>();
  expectTypeOf(f.thread.role).toEqualTypeOf<'main' | 'worker' | 'pool' | 'loader' | 'library'>();
  const frame = f.frames[0];
  expectTypeOf(frame.pc).toEqualTypeOf<bigint>();
  expectTypeOf(frame.object).toEqualTypeOf<string>();
  expectTypeOf(frame.symbol).toEqualTypeOf<string | null>();
  expectTypeOf(frame.offset).toEqualTypeOf<number>();
  expectTypeOf(frame.objectAddress).toEqualTypeOf<number>();
  expectTypeOf(frame.inLibrary).toEqualTypeOf<boolean>();
}

export function quarantineFields(c: CloseResult, g: GenerationInfo, r: ReloadReport): void {
  // docs/faults.md#quarantine, #hot-libraries
  expectTypeOf(c.quarantined).toEqualTypeOf<boolean | undefined>();
  expectTypeOf(c.fault).toEqualTypeOf<FaultInfo | undefined>();
  expectTypeOf(g.fault).toEqualTypeOf<FaultInfo | undefined>();
  expectTypeOf(r.fault).toEqualTypeOf<FaultInfo | undefined>();
  const fault = {} as Payload<'fault'>;
  expectTypeOf(fault.generation).toEqualTypeOf<number>();
  expectTypeOf(fault.fault).toEqualTypeOf<FaultInfo>();
  expectTypeOf(fault.error.code).toEqualTypeOf<'ERR_DLSWAP_FAULT' | 'ERR_DLSWAP_FAULTED'>();
}

type Payload<K extends keyof HotLibraryEvents> = HotLibraryEvents[K][0];

export function reloadReportFields(r: ReloadReport): void {
  // docs/hot-reload.md (phases, observability) and README.
  expectTypeOf(r.from).toEqualTypeOf<number>();
  expectTypeOf(r.to).toEqualTypeOf<number>();
  expectTypeOf(r.path).toEqualTypeOf<string>();
  expectTypeOf(r.size).toEqualTypeOf<number | undefined>();
  expectTypeOf(r.durations.loading).toEqualTypeOf<number | undefined>();
  expectTypeOf(r.durations.closing).toEqualTypeOf<number | undefined>();
  expectTypeOf(r).toHaveProperty('failedPhase');
  expectTypeOf(r).toHaveProperty('error');
  expectTypeOf(r.unloaded).toEqualTypeOf<boolean | undefined>();
  expectTypeOf(r.pinnedReason).toEqualTypeOf<string | undefined>();
  expectTypeOf(r).toHaveProperty('dependencies');
  expectTypeOf(r).toHaveProperty('drainTimedOut');
  expectTypeOf(r.heldByHandles).toEqualTypeOf<number | undefined>();
  expectTypeOf(r.retired).toEqualTypeOf<Promise<void>>();
}

export function eventFields(): void {
  expectTypeOf<Payload<'reload'>>().toEqualTypeOf<ReloadReport>();
  expectTypeOf<Payload<'rollback'>>().toEqualTypeOf<ReloadReport>();
  expectTypeOf<Payload<'drained'>['generation']>().toEqualTypeOf<number>();
  expectTypeOf<Payload<'unloaded'>['generation']>().toEqualTypeOf<number>();
  expectTypeOf<Payload<'pinned'>['generation']>().toEqualTypeOf<number>();
  expectTypeOf<Payload<'unloaded'>['afterThreads']>().toEqualTypeOf<boolean | undefined>();
  expectTypeOf<Payload<'pinned'>['reason']>().toEqualTypeOf<string>();
  expectTypeOf<Payload<'pinned'>>().toHaveProperty('threads');
  const timeout = {} as Payload<'drain-timeout'>;
  expectTypeOf(timeout.generation).toEqualTypeOf<number>();
  expectTypeOf(timeout.inFlight).toEqualTypeOf<number>();
  expectTypeOf(timeout.leases).toEqualTypeOf<number>();
  expectTypeOf(timeout.timeoutMs).toEqualTypeOf<number>();
  const log = {} as Payload<'log'>;
  expectTypeOf(log.generation).toEqualTypeOf<number>();
  expectTypeOf(log.level).toEqualTypeOf<number>();
  expectTypeOf(log.message).toEqualTypeOf<string>();
  expectTypeOf<Payload<'error'>>().toEqualTypeOf<DlswapError>();
  expectTypeOf<Payload<'watch-reload'>>().toEqualTypeOf<ReloadReport>();

  // docs/watch.md#events
  const start = {} as Payload<'watch-build-start'>;
  expectTypeOf(start.path).toEqualTypeOf<string>();
  expectTypeOf(start.command).toEqualTypeOf<string>();
  expectTypeOf(start.changed).toEqualTypeOf<string[]>();
  const built = {} as Payload<'watch-build'>;
  expectTypeOf(built.exitCode).toEqualTypeOf<0>();
  expectTypeOf(built.durationMs).toEqualTypeOf<number>();
  expectTypeOf(built.output).toEqualTypeOf<string>();
  expectTypeOf(built.changed).toEqualTypeOf<string[]>();
}

export function watchSkipFields(s: HotWatchSkip): void {
  expectTypeOf<Payload<'watch-skip'>>().toEqualTypeOf<HotWatchSkip>();
  // Every skip: reason, path, message.
  expectTypeOf(s.path).toEqualTypeOf<string>();
  expectTypeOf(s.message).toEqualTypeOf<string>();
  switch (s.reason) {
    case 'reload-failed':
      expectTypeOf(s).toEqualTypeOf<ReloadFailedSkip>();
      expectTypeOf(s.error).toEqualTypeOf<DlswapError>();
      expectTypeOf(s.error.causeCode).toEqualTypeOf<DlswapErrorCode | undefined>();
      break;
    case 'build-failed':
    case 'build-timeout':
      expectTypeOf(s).toEqualTypeOf<BuildFailure>();
      expectTypeOf(s.exitCode).toEqualTypeOf<number | null>();
      expectTypeOf(s.signal).toEqualTypeOf<NodeJS.Signals | null>();
      expectTypeOf(s.output).toEqualTypeOf<string>();
      expectTypeOf(s.command).toEqualTypeOf<string>();
      expectTypeOf(s.changed).toEqualTypeOf<string[]>();
      expectTypeOf(s.durationMs).toEqualTypeOf<number>();
      break;
    default:
      // The watcher's own: code, size, mtimeMs.
      expectTypeOf(s.code).toEqualTypeOf<string | undefined>();
      expectTypeOf(s.size).toEqualTypeOf<number | undefined>();
      expectTypeOf(s.mtimeMs).toEqualTypeOf<number | undefined>();
      // @ts-expect-error: only a reload-failed skip has an error
      void s.error;
  }
}

export function watcherFields(w: LibraryWatcher): void {
  expectTypeOf<WatcherEvents['change'][0]>().toEqualTypeOf<WatchChange>();
  w.on('change', (c) => {
    expectTypeOf(c.path).toEqualTypeOf<string>();
    expectTypeOf(c.sha256).toEqualTypeOf<string>();
    expectTypeOf(c.size).toEqualTypeOf<number>();
    expectTypeOf(c.mtimeMs).toEqualTypeOf<number>();
  });
}

export function generationInfoFields(g: GenerationInfo): void {
  // docs/hot-reload.md#observability
  expectTypeOf(g.id).toEqualTypeOf<number>();
  expectTypeOf(g.path).toEqualTypeOf<string>();
  expectTypeOf(g.buildId).toEqualTypeOf<string | null>();
  expectTypeOf(g.version).toEqualTypeOf<string | null>();
  expectTypeOf(g.loadedAt).toEqualTypeOf<Date>();
  for (const n of [g.calls, g.inFlight, g.leases, g.handles, g.errors]) expectTypeOf(n).toEqualTypeOf<number>();
  expectTypeOf(g.unloaded).toEqualTypeOf<boolean | undefined>();
  expectTypeOf(g.pinnedReason).toEqualTypeOf<string | undefined>();
  expectTypeOf(g).toHaveProperty('dependencies');
  expectTypeOf(g.rejectedReason).toEqualTypeOf<string | undefined>();
  expectTypeOf(g).toHaveProperty('state');
}
