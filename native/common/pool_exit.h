// Node's thread pool when exit() is called by C.
//
// node's own exits (process.exit(), the end of the event loop) join libuv's thread pool
// (uv_library_shutdown) before exit() runs node's static destructors. exit() called by a library
// skips that step: libuv's own destructor joins the pool only in _dl_fini, after those destructors
// freed, among others, the tracing controller a pool thread reads as its work item ends. A pool
// thread that ends its work in between (a dlswap call whose wait for a callback the release at exit
// ended, or a call that just returned) runs node code on freed memory. So the addon takes that step
// itself, in an exit handler that runs after its other ones and before node's destructors.
#pragma once

namespace dlswap {

// Once per process, before the addon registers any other exit handler (they run in reverse, so
// this one runs after all of them). Registers nothing else; cannot fail.
void JoinThreadPoolAtExitRegister();

// On a thread of node's pool, each time dlswap runs a call there: exit() called from this thread
// cannot join the pool (the thread would wait for itself), so the handler leaves the join to libuv.
void NotePoolThread();

}  // namespace dlswap
