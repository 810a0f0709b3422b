#include "common/pool_exit.h"

#include <cstdlib>
#include <mutex>

// libuv's, exported by node (the addon builds against Node-API's headers alone, without uv.h).
// Weak: a host without it keeps libuv's own join in _dl_fini.
extern "C" __attribute__((weak)) void uv_library_shutdown(void);

namespace dlswap {

namespace {

// A plain value: no thread-exit destructor to register.
thread_local bool t_pool_thread = false;

// exit()'s handler. Idempotent in libuv: after process.exit() (node joined the pool already), and
// for libuv's own destructor later, it does nothing. Every dlswap wait that could hold a pool thread
// (a callback's, ReleaseAllForExit) was ended by the handlers that ran before this one.
void JoinThreadPool() {
  if (t_pool_thread || uv_library_shutdown == nullptr) return;
  uv_library_shutdown();
}

}  // namespace

void JoinThreadPoolAtExitRegister() {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(&JoinThreadPool); });
}

void NotePoolThread() { t_pool_thread = true; }

}  // namespace dlswap
