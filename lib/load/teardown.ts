/**
 * The user's teardown hook: code that calls a library's own cleanup before dlswap closes it
 * (`lib.close({ teardown })`, HotLibrary's `teardown` option). For the libraries whose worker
 * threads only their destructor stops (OpenBLAS, FFTW with threads, a global pool): dlswap never
 * unmaps code a thread may run, and the destructor runs only once the image is unmapped, so without
 * the library's own shutdown the image would stay mapped for good (docs/isolation.md, "Threads and
 * unloading").
 */
import { DlswapError } from '../errors';

/** What a failed teardown is reported as; the image it was for stays mapped. */
export type TeardownFailure = DlswapError & { code: 'ERR_DLSWAP_TEARDOWN_FAILED' };

/** The reason a library whose teardown failed stays mapped, for close()'s result and 'pinned'. */
export function teardownPinReason(failure: DlswapError): string {
  return `its teardown hook failed (${failure.message}); the image stays mapped, since the library's own cleanup may not have run and its threads may still be in its code`;
}

/**
 * Runs `hook` (which may return a promise) and waits for it for at most `timeoutMs`. Never throws:
 * resolves null, or the ERR_DLSWAP_TEARDOWN_FAILED it came to (thrown, rejected, or still pending
 * at the deadline; the cause is what the hook threw). A hook still pending at the deadline is left
 * running: its later rejection is swallowed here, its async calls are counted on the library as any
 * others are (the caller waits for them before closing).
 */
export async function runTeardown(hook: () => unknown, timeoutMs: number, what: string): Promise<TeardownFailure | null> {
  let timer: NodeJS.Timeout | undefined;
  const failed = (message: string, cause?: unknown) =>
    new DlswapError('ERR_DLSWAP_TEARDOWN_FAILED', `${what} ${message}`, cause === undefined ? undefined : { cause }) as TeardownFailure;
  try {
    const running = Promise.resolve().then(hook);
    running.catch(() => undefined); // a late rejection, after the deadline, has nobody to go to
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([running.then(() => 'done' as const), deadline]);
    if (outcome === 'timeout') return failed(`did not settle within ${timeoutMs} ms`);
    return null;
  } catch (e) {
    return failed(`threw: ${e instanceof Error ? e.message : String(e)}`, e);
  } finally {
    clearTimeout(timer);
  }
}
