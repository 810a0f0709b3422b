// Node's thread pool when exit() is called by C.
//
// node's own exits (process.exit(), the end of the event loop) join libuv's thread pool
// (uv_library_shutdown) before exit() runs node's static destructors. exit() called by a library
// skips that step: libuv's own destructor joins the pool only in _dl_fini, after those destructors
// freed, among others, the tracing controller a pool thread reads as its work item ends. A pool
// thread that ends its work in between (a dlswap call whose wait for a callback the release at exit
// ended, or a call that just returned) runs node code on freed memory. So the addon takes that step
// itself, in an exit handler that runs after its other ones and before node's destructors.
//
// Either join waits for every pool thread to finish its work item, and node's waits for ever: an
// `.async` call that never returns (a library blocked in `read`, `sleep`, a lock) would hang the
// exit. So both exits first wait for the dlswap calls running library code on the pool, at most
// kPoolExitWaitMs; past that, the process ends at once with its exit status (stdio flushed, the rest
// of the exit skipped), saying so on stderr. docs/reliability.md, "Exit".
#pragma once

#include <napi.h>

namespace dlswap {

// Once per process, before the addon registers any other exit handler (they run in reverse, so
// this one runs after all of them). Registers nothing else; cannot fail.
void JoinThreadPoolAtExitRegister();

// On a thread of node's pool, each time dlswap runs a call there: exit() called from this thread
// cannot join the pool (the thread would wait for itself), so the handler leaves the join to libuv.
void NotePoolThread();

// Around the library code of an `.async` call on a pool thread: counts the calls an exit waits for.
void PoolCallStarts();
void PoolCallEnds();

// endStuckPoolCallsAtExit(code): node's process.exit(), after its 'exit' event and before it joins
// the pool (lib/call/pool_exit.ts). Returns once no dlswap call runs library code on the pool, or
// ends the process with `code` when one still does after the bound.
void RegisterPoolExit(Napi::Env env, Napi::Object exports);

}  // namespace dlswap
