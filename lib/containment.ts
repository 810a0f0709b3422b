/**
 * Fault containment, as JS sees it (docs/faults.md): the shape of a contained fault, the libraries'
 * descriptions fault reports use, and the environment's fault listener through which a Library
 * hears that one of its calls faulted (a HotLibrary rolls back on it).
 *
 * The mechanism is native (native/signals/): a call through dlswap runs under a recovery frame; a
 * fault raised by the library's code during the call ends that call with ERR_DLSWAP_FAULT and puts
 * the library in quarantine (every later call ERR_DLSWAP_FAULTED, never unmapped).
 */
import { addon, type NativeLibrary } from './native';

/** One frame of a fault's stack, innermost first. */
export interface FaultFrame {
  /** The faulting instruction (first frame) or a return address. */
  pc: bigint;
  /** The library's path as given to open() (with what the image is to it), or another object's file name ('libc.so.6'). '' when no object holds `pc`. */
  object: string;
  /** The function, from the library's full symbol table when its file is the build that is mapped, else from its exports. */
  symbol: string | null;
  /** Of `pc` in `symbol`, or in `object` when there is no symbol. */
  offset: number;
  /** `pc` as an address of the object's file (link-time): what `addr2line -e <file>` takes. */
  objectAddress: number;
  /** In the called library or a dependency dlswap loaded for it. */
  inLibrary: boolean;
}

/** What `ERR_DLSWAP_FAULT` and `ERR_DLSWAP_FAULTED` errors carry as `fault`. */
export interface FaultInfo {
  /** 'SIGSEGV' | 'SIGBUS' | 'SIGFPE' | 'SIGILL' | 'SIGABRT', or 'pthread_exit' for a thread exit during the call. */
  signal: string;
  /** The signal's si_code by name ('SEGV_MAPERR'), '' when it has none of its own (abort()). */
  signalCode: string;
  /** What the code means, in words ('address not mapped'). */
  reason: string;
  /** SIGSEGV on x86-64: whether the faulting access was a read, a write or an instruction fetch. */
  access: 'read' | 'write' | 'execute' | 'unknown';
  /** The address the fault was about (si_addr). */
  address: bigint;
  /** The C function the call entered. */
  function: string;
  /** The library's path as given to open(). */
  library: string;
  /** Its HotLibrary generation, or null for a plain library. */
  generation: number | null;
  /** The thread the call ran on: the main JS thread, a worker_thread's, a libuv pool thread (.async), dlswap's loader thread. */
  thread: { tid: number; role: 'main' | 'worker' | 'pool' | 'loader' | 'library' };
  /** The faulting stack as far as it could be walked, innermost first. */
  frames: FaultFrame[];
  /** The frame to look at, in words: the fault's, and the library's caller when the fault is in libc. */
  where: string;
}

/** An error with code ERR_DLSWAP_FAULT or ERR_DLSWAP_FAULTED. */
export type FaultError = Error & { code: 'ERR_DLSWAP_FAULT' | 'ERR_DLSWAP_FAULTED'; fault: FaultInfo };

/**
 * Who hears of a fault in an image's calls: `onFault(owner, error)`. The owner (a Library) is held
 * weakly, and `onFault` must not capture it: a Library nobody closes must still be collected, so
 * that its image is closed on the loader thread (native/loader/unreferenced.cc).
 */
export interface FaultListener<T extends object = object> {
  owner: T;
  onFault: (owner: T, error: FaultError) => void;
}

interface Hearing {
  owner: WeakRef<object>;
  onFault: (owner: object, error: FaultError) => void;
}

// Listeners by image: the native handle's id (its address, unique while it lives). Module state,
// so per environment, as the native listener is.
const listeners = new Map<bigint, Hearing>();
// A collected owner's entry goes with it, unless its address has been reused by a later image.
const collected = new FinalizationRegistry<{ id: bigint; hearing: Hearing }>(({ id, hearing }) => {
  if (listeners.get(id) === hearing) listeners.delete(id);
});
let installed = false;

function hear(library: bigint, error: FaultError): void {
  const hearing = listeners.get(library);
  const owner = hearing?.owner.deref();
  if (hearing && owner) hearing.onFault(owner, error);
}

/**
 * What fault reports call `native` (the path the user gave, its HotLibrary generation or 0, the
 * build-id of the mapped copy, and a label when it is not the library itself), and `listener`, told
 * of a fault in one of its calls before the caller gets the error. Called again, it replaces both.
 */
export function describeImage<T extends object>(
  native: NativeLibrary,
  path: string,
  generation: number,
  buildId: string | null,
  label?: string,
  listener?: FaultListener<T>,
): bigint {
  const id = addon.describeLibrary(native, path, generation, buildId, label);
  if (listener) {
    if (!installed) {
      addon.setFaultListener((error, library) => hear(library, error as FaultError));
      installed = true;
    }
    const hearing: Hearing = { owner: new WeakRef(listener.owner), onFault: listener.onFault as Hearing['onFault'] };
    listeners.set(id, hearing);
    collected.register(listener.owner, { id, hearing }, hearing);
  }
  return id;
}

/** Stops telling `id`'s listener (its image is closed). */
export function forgetImage(id: bigint): void {
  const hearing = listeners.get(id);
  if (!hearing) return;
  listeners.delete(id);
  collected.unregister(hearing);
}

/** The first fault of a quarantined image (with its message), or null. */
export function imageFault(native: NativeLibrary): (FaultInfo & { message: string }) | null {
  return addon.libraryFault(native);
}

/**
 * Whether dlswap's fault handler is each signal's disposition now (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT): false when code loaded later replaced it without chaining, and containment then no
 * longer works for that signal (docs/faults.md).
 */
export function faultHandlers(): { installed: Record<'SIGSEGV' | 'SIGBUS' | 'SIGFPE' | 'SIGILL' | 'SIGABRT', boolean> } {
  return addon.faultHandlers() as { installed: Record<'SIGSEGV' | 'SIGBUS' | 'SIGFPE' | 'SIGILL' | 'SIGABRT', boolean> };
}
