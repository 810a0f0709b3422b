// process.exit() while an `.async` call is still in library code.
//
// node's process.exit() emits 'exit', then joins libuv's thread pool, which waits for every work
// item, for ever: a library blocked in `sleep`, `read` or a lock would hang the exit. Right before
// that join (after every 'exit' listener), dlswap waits for its own calls on the pool at most 2 s
// and, past that, ends the process with the exit code (native/common/pool_exit.h). exit() called
// from C is covered natively (an exit handler). Workers' exits do not join the process's pool.
import { addon } from '../native';

let armed = false;

/** Before the first `.async` call is queued: once per process, on the main thread. */
export function armPoolExit(): void {
  if (armed) return;
  armed = true;
  const { isMainThread } = require('node:worker_threads') as typeof import('node:worker_threads');
  if (!isMainThread) return;
  // process.reallyExit is what process.exit() calls after the 'exit' event, with the final code: the
  // one point after every listener and before node's join (the way signal-exit hooks exits too).
  const proc = process as unknown as { reallyExit?: (code?: number) => never };
  const reallyExit = proc.reallyExit;
  if (typeof reallyExit !== 'function') return;
  proc.reallyExit = function (this: unknown, code?: number) {
    try {
      addon.endStuckPoolCallsAtExit(typeof code === 'number' ? code : 0);
    } finally {
      // biome-ignore lint/correctness/noUnsafeFinally: the exit goes on whatever the wait did
      return reallyExit.call(process, code);
    }
  } as (code?: number) => never;
}
