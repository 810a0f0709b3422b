/**
 * The phases of docs/hot-reload.md, one function each, in the order a reload reaches them. Each says
 * what it does, how it fails, and what a failure leaves behind (cr.h's cr_plugin_* are the model).
 * The swap itself is lib/hot/swap.ts's (it repoints `hot.fn`); the retirement that chains draining,
 * finalizing and closing is lib/hot/hot_retire.ts. Fault points (lib/faults.ts PHASE_FAULT_POINTS) sit in
 * the phase they are named for.
 */
import { DlswapError, asDlswapError, type DlswapErrorCode } from '../errors';
import type { Generation } from './generation';
import { libraryFromResult, loadLater, loadNow } from '../load/library';
import type { ResolvedHotOptions } from '../options';
import type { TypeRegistry } from '../signature/ctypes';
import type { Isolation } from '../load/isolation';
import { addon, type LoadResult, type RetireResult } from '../native';
import { faultPoint } from '../faults';
import { debug } from '../debug';
import type { AnyCallback } from '../signature/ctypes_types';
import type { CallbackOptions } from '../call/callbacks';
import type { HotLibraryEvents } from './events';
import { FunctionTable } from './function_table';
import type { HandleRegistry } from './handles';
import { createPluginHost, quarantineHost, resolvePluginAbi } from './plugin_abi';
import type { PluginHostHandle } from '../native';
import type { PhaseTimer } from './phase_timer';
import type { FaultError, FaultInfo } from '../containment';
import type { RetireProgress } from './retire_policy';
import { runTeardown, teardownPinReason } from '../load/teardown';
import type { TypeDefs } from '../signature/ctypes_types';
import type { GenerationSetup, GenerationTeardown, HotOptions, PluginLogEvent, ReloadPhase, ReloadReport } from './hot_types';

/** Where phases report what the application listens to (HotLibrary's guarded emit). */
export interface PhaseEvents {
  emit<K extends keyof HotLibraryEvents>(event: K, ...payload: HotLibraryEvents[K]): void;
  /** A failure past the swap: 'error' if listened to. */
  reportError(e: unknown): void;
}

/** A generation the loader has mapped and verified natively, not yet adopted by this side. */
export interface Loaded {
  result: LoadResult;
  mode: Isolation;
  host: PluginHostHandle;
}

/** The ERR_DLSWAP_RELOAD a failed phase rejects with: the report, and the cause's code. */
export function reloadError(report: ReloadReport): DlswapError {
  const cause = report.error as DlswapError | undefined;
  const err = new DlswapError('ERR_DLSWAP_RELOAD', `reload of ${report.path} failed in phase '${report.failedPhase}': ${cause?.message ?? 'unknown error'}`, {
    cause,
  });
  err.report = report;
  err.causeCode = cause?.code;
  return err;
}

/**
 * loading (and the native half of verifying): one loader job copies the file, checks it, opens it,
 * resolves every declared function, checks dlswap_abi_version, reads dlswap_version and runs
 * dlswap_init (bounded by initTimeoutMs); on `loadOn: 'main'`, the same on this thread. Those checks
 * run in the job because they must run before it returns an image anyone could call.
 * Fails with ERR_DLSWAP_RELOAD (failedPhase 'loading' or 'verifying'). Leaves behind: nothing; the job
 * undid its copy and mapping (fini run if init had), `gen` is rejected and retired. An init that
 * overran leaves its host quarantined (the plugin may still be in init).
 */
export async function loadGeneration(
  gen: Generation,
  options: ResolvedHotOptions,
  sha256: string | undefined,
  report: ReloadReport,
  timer: PhaseTimer,
  onLog: (e: PluginLogEvent) => void,
): Promise<Loaded> {
  const host = createPluginHost(
    gen.id,
    options.userData,
    (level, message) => onLog({ name: 'log', event: { generation: gen.id, level, message } }),
    (dropped, total) => onLog({ name: 'log-dropped', event: { generation: gen.id, dropped, total } }),
  );
  try {
    // The digest is taken while copying only when something reads it: a pin, the watcher (it
    // compares the serving generation's), a hook (it sees the Library, and may keep it past its
    // close). Otherwise info.sha256 is taken on first read (lib/load/copy_digest.ts).
    const hash = sha256 !== undefined || options.watch !== null || options.setup !== undefined || options.teardown !== undefined;
    const onLoader = options.loadOn !== 'main';
    const plugin = {
      functions: [...options.functionNames],
      abiMin: options.abi.min,
      abiMax: options.abi.max,
      host: host.address,
      hostObject: host,
      hash,
      initTimeoutMs: onLoader ? options.initTimeoutMs : undefined,
    };
    // The options as they are unless this load is pinned otherwise (a reload's own sha256).
    const open = sha256 === options.sha256 ? options : { ...options, sha256 };
    const loaded = onLoader ? await loadLater(gen.path, open, plugin).promise : loadNow(gen.path, open, plugin);
    // What dlswap_init logged reaches onLog before the generation goes on: its lines are not left
    // in the queue (they would count against its bound), nor arrive after open() resolved.
    await host.delivered();
    return { ...loaded, host };
  } catch (e) {
    const err = asDlswapError(e, 'ERR_DLSWAP_LOAD_FAILED', `cannot load ${gen.path}`) as DlswapError & {
      phase?: ReloadPhase;
      opened?: boolean;
      unloaded?: boolean;
      fault?: FaultInfo;
    };
    if (err.opened)
      gen.recordClose(err.unloaded ? { unloaded: true } : { unloaded: false, reason: 'its image stayed mapped after the failed load was undone' });
    if (err.code === 'ERR_DLSWAP_FAULT' && err.fault) {
      // A plugin entry point (dlswap_init...) faulted: the image is quarantined, never unmapped.
      gen.recordClose({ unloaded: false, quarantined: true, fault: err.fault, reason: `quarantined after a fault, so never unmapped: ${err.message}` });
      gen.reportFault(err as FaultError);
    }
    report.failedPhase = err.phase === 'verifying' ? 'verifying' : 'loading';
    timer.lap(report.failedPhase);
    report.error = err;
    gen.reject(err.message);
    if (err.code === 'ERR_DLSWAP_TIMEOUT') quarantineHost(host);
    else host.release();
    gen.markRetired();
    throw reloadError(report);
  }
}

/**
 * verifying, this side: adopts what the loader verified (its Library, its plugin ABI, its host),
 * makes the generation's function table (each declared function's address; the functions, those
 * that meet a handle wrapped by the HotLibrary's handle registry, bound on first use), then runs the user's
 * `setup` hook. Runs under the generation's guard (lib/hot/generation_guard.ts). Fails with the step's
 * error (a throwing hook is ERR_DLSWAP_INIT_FAILED, a function that cannot be resolved
 * ERR_DLSWAP_INTERNAL). Leaves behind: whatever it adopted, for the guard to discard.
 */
export async function verifyGeneration(
  gen: Generation,
  loaded: Loaded,
  options: ResolvedHotOptions,
  report: ReloadReport,
  timer: PhaseTimer,
  handles: HandleRegistry,
): Promise<void> {
  const { result, mode, host } = loaded;
  report.size = result.size;
  timer.record('loading', result.copyMs + result.openMs);
  timer.record('verifying', result.verifyMs);
  gen.recordPlugin(resolvePluginAbi(result));
  // The plugin holds the host only if its init ran; otherwise nothing will log through it.
  if (!gen.initialized) host.release();
  const lib = libraryFromResult(result, gen.path, mode, options.types as TypeRegistry | undefined, options.finiTimeoutMs, gen.id);
  gen.adoptLibrary(lib);
  // Fault reports name the generation; a fault in its calls (setup's included) goes to the policy.
  lib.describeGeneration(gen.id, (e) => gen.reportFault(e));
  // From here fini is owed, and the host runs it if the environment goes first (a terminated worker).
  if (gen.initialized) {
    gen.adoptHost(host);
    host.adopt(lib.native, options.finiTimeoutMs);
  }
  gen.transition('verifying');
  timer.restart();
  try {
    gen.bindFunctions(new FunctionTable(lib, options.signatures, (name, fn) => handles.wrap(gen, name, fn)));
  } catch (e) {
    throw asDlswapError(e, 'ERR_DLSWAP_INTERNAL', `the functions of generation ${gen.id} could not be bound`);
  }
  if (options.setup) {
    try {
      await runSetup(gen, options);
    } catch (e) {
      throw asDlswapError(e, 'ERR_DLSWAP_INIT_FAILED', `the setup hook of generation ${gen.id} failed`);
    }
  }
  timer.lap('verifying');
}

/** The user's hook for a new generation (callbacks it keeps, configuration), on this thread. */
async function runSetup(gen: Generation, options: ResolvedHotOptions): Promise<void> {
  const lib = gen.lib!;
  const context = {
    id: gen.id,
    lib,
    fn: gen.functions!.fns,
    callback: (type: string, fn: AnyCallback, opts?: CallbackOptions) => lib.callback(type, fn, opts),
  } as unknown as GenerationSetup<Record<string, string>>;
  await options.setup!(context as never);
}

/**
 * Undoes a generation that was loaded but never served (its guard saw a failure: verification, the
 * swap, an abort): dlswap_fini if its init ran (exactly once), then dlclose and the unload check, on
 * the loader thread. Works however far the adoption went: with the Library made (its callbacks are
 * released first) or only the loader's result. Never fails: a retirement that does not unmap the
 * image is recorded in `gen.closeResult`; a fini that overran quarantines the host.
 */
export async function discardGeneration(gen: Generation, finiTimeoutMs: number, loaded: Loaded): Promise<void> {
  const { result, host } = loaded;
  const initialized = result.initialized === true;
  try {
    if (initialized) host.disown(); // the retirement runs fini now
    const finiHost = initialized ? host : undefined;
    const r = gen.lib
      ? await gen.lib.retire(initialized, finiTimeoutMs, finiHost).promise
      : await addon.retireAsync(result.lib!, result.deps ?? [], initialized, finiTimeoutMs, finiHost, (result.keepMapped ?? '') !== '').promise;
    if (!initialized || r.finalized) host.release();
    else quarantineHost(host);
    if (!r.ok) gen.recordClose({ unloaded: false, reason: r.message ?? 'its retirement failed' });
    else if (gen.lib) gen.recordClose(gen.lib.closeResultOf(r));
    else gen.recordClose(r.stillLoaded ? { unloaded: false, reason: 'its image stayed mapped after it was closed' } : { unloaded: true });
  } catch (e) {
    gen.recordClose({ unloaded: false, reason: `its retirement failed: ${asDlswapError(e, 'ERR_DLSWAP_INTERNAL', 'retire').message}` });
  } finally {
    gen.markRetired();
  }
}

/**
 * Waits until `gen` has no async call or lease left (handles are not waited for here: see
 * drainGeneration). After `timeoutMs`, 'drain-timeout' is emitted (once) and the wait goes on,
 * unless `giveUp`: then it resolves false at that moment.
 */
export async function waitIdle(
  gen: Generation,
  timeoutMs: number,
  events: PhaseEvents,
  report: ReloadReport | undefined,
  giveUp: boolean,
  stop?: Promise<void>,
): Promise<boolean> {
  // Already idle (the usual retirement): no timer to arm and clear.
  if (!gen.busy(false)) return true;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => {
      if (report) report.drainTimedOut = true;
      events.emit('drain-timeout', { generation: gen.id, inFlight: gen.lib?.inFlight ?? 0, leases: gen.leases, timeoutMs });
      if (giveUp) resolve(false);
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([gen.whenIdle(false).then(() => true), timedOut, ...(stop ? [stop.then(() => false)] : [])]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * draining: the old generation waits for its async calls and leases, for as long as they take
 * (code that still runs is never unmapped; after `timeoutMs` 'drain-timeout' says so), then for its
 * live handles, for as long as they are kept (a pool keeps its connections as long as it likes: no
 * timeout there). When only handles are left it says so (`report.heldByHandles`,
 * `gen.onlyHandlesLeft`: a reload stops waiting there). Calls made through those handles run on it
 * meanwhile, and it is drained once no call, lease or handle is left. A rollback after a fault
 * (lib/hot/fault_policy.ts) revives it at any point: it is then 'active' again and its retirement
 * ends here. Fails only by an injected fault ('during-drain'), before waiting. Leaves behind: the
 * generation serving its leases, calls and handles, undrained.
 */
export async function drainGeneration(
  gen: Generation,
  timeoutMs: number,
  events: PhaseEvents,
  report: ReloadReport | undefined,
  timer: PhaseTimer,
): Promise<void> {
  faultPoint('during-drain');
  const revived = gen.whenRevived();
  await waitIdle(gen, timeoutMs, events, report, false, revived);
  if (gen.isIn('active')) return;
  if (gen.handles > 0) {
    debug('generation %d: only its %d handle(s) are left', gen.id, gen.handles);
    if (report) report.heldByHandles = gen.handles;
    gen.markHeldByHandles();
    await Promise.race([gen.whenIdle(true), revived]);
    if (gen.isIn('active')) return;
  }
  debug('generation %d drained', gen.id);
  timer.lap('draining');
  events.emit('drained', { generation: gen.id });
}

/**
 * teardown: the user's `teardown` hook on a drained generation, whose library and functions still
 * take calls, bounded by `timeoutMs`; then a wait for async calls the hook left running (a retirement
 * refuses while one runs). Never throws: resolves null when there is no hook or it settled in time,
 * else the ERR_DLSWAP_TEARDOWN_FAILED it came to (thrown, rejected, not settled in time). Leaves
 * behind, on failure: the generation marked to stay mapped (finalizing still runs dlswap_fini and
 * closes it to calls; closing never unmaps it), with the reason its 'pinned' event gives.
 */
export async function teardownGeneration<G extends Record<string, string>, DD extends TypeDefs>(
  gen: Generation,
  hook: HotOptions<G, DD>['teardown'],
  timeoutMs: number,
  timer: PhaseTimer,
): Promise<DlswapError | null> {
  // A quarantined generation (a call faulted: lib/hot/fault_policy.ts) refuses every call, the
  // hook's too: its cleanup cannot run, and the image stays mapped anyway.
  if (!hook || gen.lib?.fault) return null;
  const lib = gen.lib!;
  const context = { id: gen.id, lib, fn: gen.functions!.fns } as unknown as GenerationTeardown<G, DD>;
  const failure = await runTeardown(() => hook(context), timeoutMs, `the teardown hook of generation ${gen.id}`);
  await gen.whenIdle(false); // handles the hook made and kept are released when the generation closes
  timer.lap('teardown');
  if (failure) {
    debug('generation %d: %s', gen.id, failure.message);
    lib.keepMappedFor(teardownPinReason(failure));
  }
  return failure;
}

/**
 * finalizing: dlswap_fini (unless it already ran), on the loader thread. The same loader job
 * (native RunRetire, docs/ARCHITECTURE.md "One reload") goes on to the closing phase, in this order:
 * an image kept mapped for good stops after fini (its stdio flushed); then the holders check (threads in its code, its
 * own destructors run first when only threads it started hold it; a signal handler or alternate
 * stack another library may still use; a thread-specific data key whose destructor is in it), the
 * process-wide hooks it left set back (signal handlers, locale), its stdio flushed and dlclose, its
 * private dependencies' dlclose, and the check that it is gone. (A quarantined image, or one while
 * hung library code holds the loader lock, stops before fini.) Nothing of this side runs between
 * fini and dlclose. Fails with the job's code (fault points 'in-fini', 'before-dlclose',
 * 'after-dlclose'). Leaves behind: a fini that overran (ERR_DLSWAP_TIMEOUT) quarantines the host and
 * the image for good; any other failure leaves `progress` saying which step to resume at.
 */
export async function finalizeGeneration(gen: Generation, progress: RetireProgress, finiTimeoutMs: number, timer: PhaseTimer): Promise<RetireResult> {
  if (!gen.isIn('finalizing')) gen.transition('finalizing'); // a second pass resumes here
  if (!progress.finalized) gen.host?.disown(); // the retirement runs fini now
  const r = await gen.lib!.retire(!progress.finalized, finiTimeoutMs, gen.host).promise;
  if (r.finalized && !progress.finalized) {
    progress.finalized = true;
    gen.host?.release();
  }
  timer.record('finalizing', r.finiMs);
  timer.record('closing', r.closeMs);
  if (r.code === 'ERR_DLSWAP_TIMEOUT') {
    // fini did not return: its code may run for good. Never closed, never retried.
    progress.closed = true;
    if (gen.host) quarantineHost(gen.host);
    gen.recordClose({ unloaded: false, reason: `${r.message}; the image stays mapped because the plugin may still be running in it` });
  }
  return r;
}

/**
 * closing: what the job's holders check, process-wide hooks, stdio flush and dlclose came to.
 * Records the image's fate in `gen.closeResult` once it is settled (closed, kept mapped, or held by
 * threads, or by a later library's claim on its signal handlers, that are waited for). Throws the
 * job's error when a step failed, for the retry policy (lib/hot/retire_policy.ts).
 */
export function closeGeneration(gen: Generation, r: RetireResult, progress: RetireProgress): void {
  if (progress.closed) return;
  if (r.closed || r.keptMapped || r.threads.length > 0 || r.heldSignals.length > 0) {
    progress.closed = true;
    gen.recordClose(gen.lib!.closeResultOf(r));
  }
  if (!r.ok) throw new DlswapError(r.code as DlswapErrorCode, r.message ?? `retirement failed at ${r.step}`);
}

/**
 * The end of a retirement, whatever it came to: `gen` is closed, its fate goes into the report and
 * out as 'unloaded' or 'pinned' (and 'unloaded' again once holding threads let it go).
 */
export function publishClosed(gen: Generation, report: ReloadReport | undefined, events: PhaseEvents): void {
  gen.transition('closed');
  try {
    const result = gen.closeResult ?? { unloaded: false, reason: 'it was not closed' };
    debug('generation %d finalized and closed: %s', gen.id, result.unloaded ? 'unloaded' : `pinned (${result.reason})`);
    if (report) {
      report.unloaded = result.unloaded;
      if (!result.unloaded) report.pinnedReason = result.reason;
      if (result.dependencies) report.dependencies = result.dependencies;
    }
    if (result.unloaded) events.emit('unloaded', { generation: gen.id });
    else events.emit('pinned', { generation: gen.id, reason: result.reason!, threads: result.threads });
    // Held by threads: closed once they exit, and announced then.
    void result.unmapped?.then((final) => {
      gen.recordClose(final);
      if (final.unloaded) events.emit('unloaded', { generation: gen.id, afterThreads: true });
    });
  } catch (e) {
    events.reportError(e);
  } finally {
    gen.markRetired();
  }
}
