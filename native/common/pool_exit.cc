#include "common/pool_exit.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "common/exports.h"

// libuv's, exported by node (the addon builds against Node-API's headers alone, without uv.h).
// Weak: a host without it keeps libuv's own join in _dl_fini.
extern "C" __attribute__((weak)) void uv_library_shutdown(void);

namespace dlswap {

namespace {

// How long an exit waits for dlswap calls still running library code on the pool. A call that
// returns within it lets the exit go on as node's; one that does not would hold the join for ever.
constexpr int kPoolExitWaitMs = 2000;

// A plain value: no thread-exit destructor to register.
thread_local bool t_pool_thread = false;
// Trivially destructible: the handlers below read it during exit().
std::atomic<int> g_calls_in_library{0};

// Waits, bounded, for the pool's dlswap calls to leave library code; true if they did.
bool PoolCallsEnded() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kPoolExitWaitMs);
  while (g_calls_in_library.load(std::memory_order_acquire) > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Past the bound: the join would never return. End the process now, as the exit asked, with what it
// printed flushed; libraries' destructors and the rest of node's exit do not run.
[[noreturn]] void EndStuckExit(const char *how, int status) {
  int n = g_calls_in_library.load(std::memory_order_acquire);
  std::fflush(nullptr);
  dprintf(STDERR_FILENO,
          "dlswap: %s: %d .async call%s still in library code %d ms after the exit began; node would wait for %s for ever "
          "(it joins its thread pool), so the process ends now with status %d, without the rest of its exit\n",
          how, n, n == 1 ? " was" : "s were", kPoolExitWaitMs, n == 1 ? "it" : "them", status);
  _exit(status);
}

// exit()'s handler (on_exit: it needs the status). Idempotent in libuv: after process.exit() (node
// joined the pool already), and for libuv's own destructor later, it does nothing. Every dlswap wait
// that could hold a pool thread (a callback's, ReleaseAllForExit) was ended by the handlers that ran
// before this one.
void JoinThreadPool(int status, void *) {
  if (t_pool_thread || uv_library_shutdown == nullptr) return;
  if (!PoolCallsEnded()) EndStuckExit("exit()", status);
  uv_library_shutdown();
}

Napi::Value EndStuckPoolCallsAtExitJs(const Napi::CallbackInfo &info) {
  int status = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  if (!PoolCallsEnded()) EndStuckExit("process.exit()", status);
  return info.Env().Undefined();
}

}  // namespace

void JoinThreadPoolAtExitRegister() {
  static std::once_flag once;
  std::call_once(once, [] { on_exit(&JoinThreadPool, nullptr); });
}

void NotePoolThread() { t_pool_thread = true; }

void PoolCallStarts() { g_calls_in_library.fetch_add(1, std::memory_order_acq_rel); }
void PoolCallEnds() { g_calls_in_library.fetch_sub(1, std::memory_order_acq_rel); }

void RegisterPoolExit(Napi::Env env, Napi::Object exports) {
  Export(env, exports, {{"endStuckPoolCallsAtExit", EndStuckPoolCallsAtExitJs}});
}

}  // namespace dlswap
