/**
 * The events HotLibrary emits, by name, with their listeners' arguments: what makes
 * `hot.on('relaod', ...)` a compile-time error and types each listener's payload (through
 * lib/typed_events.ts). LibraryWatcher's are lib/watch/watch.ts's WatcherEvents.
 */
import type { DlswapError } from '../errors';
import type { HoldingThread } from '../load/library';
import type { LogDroppedEvent, LogEvent, ReloadReport } from './hot_types';
import type { WatchSkip } from '../watch/watch';
import type { BuildFailure, BuildStart, BuildSuccess } from '../watch/rebuilder';
import type { FaultError, FaultInfo } from '../containment';

/** A build that passed the watcher's checks but whose reload failed (rolled back). */
export interface ReloadFailedSkip {
  reason: 'reload-failed';
  /** The library. */
  path: string;
  /** The error's message. */
  message: string;
  /** ERR_DLSWAP_RELOAD: `error.causeCode` says why, `error.report` is the failed reload's report. */
  error: DlswapError;
}

/**
 * 'watch-skip' on a HotLibrary: the watcher's skips, a build step's failed build, and a build that
 * changed but did not load. Every one has `reason`, `path` and `message`; `reason` tells the rest.
 */
export type HotWatchSkip = WatchSkip | BuildFailure | ReloadFailedSkip;

export interface HotLibraryEvents {
  /** A new generation serves (right after the swap, before the old one drains). */
  reload: [report: ReloadReport];
  /**
   * A reload failed before its swap: the previous generation kept serving. Or (`report.fault` set)
   * the current generation faulted and the previous one serves again (`onFault: 'rollback'`).
   */
  rollback: [report: ReloadReport];
  /** A call into a generation faulted (ERR_DLSWAP_FAULT): that generation is quarantined. */
  fault: [event: { generation: number; error: FaultError; fault: FaultInfo }];
  /** An old generation has no call or lease left. */
  drained: [event: { generation: number }];
  /**
   * An old generation's image is gone from the process (`afterThreads`: later than its retirement,
   * once what held it let go: threads in its code, or a later library that could call its signal
   * handlers).
   */
  unloaded: [event: { generation: number; afterThreads?: boolean }];
  /** An old generation stays mapped, and why. */
  pinned: [event: { generation: number; reason: string; threads?: HoldingThread[] }];
  /** A drain is taking longer than drainTimeoutMs (it goes on waiting). */
  'drain-timeout': [event: { generation: number; inFlight: number; leases: number; timeoutMs: number }];
  /** A line the plugin logged through dlswap_host.log. */
  log: [event: LogEvent];
  /** Lines the plugin logged faster than they were taken were dropped (the queue's bound: docs/hot-reload.md). */
  'log-dropped': [event: LogDroppedEvent];
  /**
   * `watch`: a rebuild was loaded and serves. Fires at the swap, as 'reload' does: the old generation
   * is still draining, `report.unloaded` is not set yet (it is once `report.retired` resolves).
   */
  'watch-reload': [report: ReloadReport];
  /** `watch`: a rebuild was refused, and why; the current generation keeps serving. */
  'watch-skip': [skip: HotWatchSkip];
  /** `watch.build`: a source changed and the build command started. */
  'watch-build-start': [build: BuildStart];
  /** `watch.build`: the build exited 0; the library is examined at once (then 'watch-reload' or 'watch-skip'). */
  'watch-build': [build: BuildSuccess];
  /** A failure after the swap (retiring a generation); emitted only if listened to. */
  error: [error: DlswapError];
}
