/**
 * AbortSignal support for the long operations (openAsync, HotLibrary.open, reload, close). What an
 * abort can do depends on where the operation is: before a swap it rolls back (the library or
 * generation being loaded is undone once its load returns: a load on the loader thread is never
 * interrupted half-way), after the swap it can only stop waiting (the drain and the retirement go
 * on). Either way the promise rejects at once with ERR_DLSWAP_ABORTED, whose `cause` is the
 * signal's reason.
 */
import { DlswapError } from './errors';

export function abortedError(signal: AbortSignal, message: string): DlswapError {
  return new DlswapError('ERR_DLSWAP_ABORTED', message, { cause: signal.reason });
}

/**
 * `p`, unless `signal` aborts first: then a rejection with `onAbort()`'s error (p still runs). What
 * p resolves to after the abort, nobody receives: `discard` disposes of it (a library loaded for
 * nobody is closed). The abort listener is removed in the same step that settles the race, so a
 * value is either handed over or discarded, never both or neither.
 */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, onAbort: () => Error, discard?: (late: T) => void): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.then(
      (v) => discard?.(v),
      () => undefined,
    );
    return Promise.reject(onAbort());
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(onAbort());
    signal.addEventListener('abort', abort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        if (signal.aborted) discard?.(v);
        else resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      },
    );
  });
}
