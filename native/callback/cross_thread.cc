// Calls from threads other than the JS thread (the thread pool during .async calls, threads the
// library created).
//
// Calls from other threads go through a queue of this environment: the first call wakes the JS
// thread (one threadsafe-function call), which then runs every queued call and, before it returns
// to the event loop, watches the queue for a few microseconds more; the calling thread also watches
// for its result briefly before it sleeps. A thread calling back in a loop thus pays a round trip
// between two running threads, not an event-loop wakeup, per call. The JS thread gives the event
// loop its turn again after a few milliseconds of callbacks.
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "callback/callback_slot.h"

namespace dlswap::callback {

namespace {

inline void CpuRelax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How long each side watches for the other before sleeping (the JS thread: for more calls; a calling
// thread: for its result), and how long the JS thread runs queued calls before the event loop.
constexpr auto kCallerSpin = std::chrono::microseconds(50);
constexpr auto kJsSpin = std::chrono::microseconds(30);
constexpr auto kJsBatch = std::chrono::milliseconds(5);

// Watches `ready` for up to `limit`, pausing the CPU between looks (the clock is read every 64th).
template <typename Ready>
bool SpinFor(std::chrono::microseconds limit, Ready ready) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (unsigned i = 1;; i++) {
    if (ready()) return true;
    CpuRelax();
    if ((i & 63) == 0 && std::chrono::steady_clock::now() > until) return false;
  }
}

}  // namespace

// A call from another thread, waiting on that thread's stack for the JS thread to run it.
struct Pending {
  Slot *slot;
  void *ret;
  void **args;
  std::atomic<bool> done{false};
  std::mutex mutex;
  std::condition_variable cv;
  bool sleeping = false;
  // JS thread (or teardown): the result is in `ret`.
  void Finish() {
    std::lock_guard<std::mutex> lock(mutex);
    done.store(true, std::memory_order_release);
    if (sleeping) cv.notify_one();
  }
  void Wait() {
    if (SpinFor(kCallerSpin, [this] { return done.load(std::memory_order_acquire); })) {
      // Finish may still hold the mutex: take it once so that it has let go before this frame ends.
      std::lock_guard<std::mutex> lock(mutex);
      return;
    }
    std::unique_lock<std::mutex> lock(mutex);
    sleeping = true;
    cv.wait(lock, [this] { return done.load(std::memory_order_acquire); });
  }
};

// Every queued call gets the fallback value (the environment is shutting down).
void DrainWithFallback(CallbackEnv *cenv) {
  std::deque<Pending *> left;
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    cenv->queue_open = false;
    left.swap(cenv->queue);
  }
  for (Pending *p : left) {
    WriteFallback(p->slot, p->ret);
    p->slot->running.fetch_sub(1);
    p->Finish();
  }
}

namespace {

// Posts a wakeup to the JS thread. Called with qmutex not held. When the environment is shutting
// down, its cleanup (or the threadsafe function's) drains the queue instead.
void PostWake(CallbackEnv *cenv) {
  std::lock_guard<std::mutex> lock(cenv->mutex);
  if (cenv->alive) napi_call_threadsafe_function(cenv->tsfn, nullptr, napi_tsfn_nonblocking);
}

}  // namespace

// The JS thread, woken by a call from another thread: runs queued calls until the queue stays empty
// for kJsSpin, or for at most kJsBatch (then the event loop gets its turn, and a wakeup is posted
// for what is left).
void CallJs(napi_env env, napi_value /*js_cb*/, void *context, void * /*data*/) {
  auto *cenv = static_cast<CallbackEnv *>(context);
  if (env == nullptr) {
    DrainWithFallback(cenv);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    cenv->wake_posted = false;
    cenv->js_active = true;
  }
  const auto batch_end = std::chrono::steady_clock::now() + kJsBatch;
  for (;;) {
    Pending *p = nullptr;
    {
      std::lock_guard<std::mutex> lock(cenv->qmutex);
      if (!cenv->queue.empty()) {
        p = cenv->queue.front();
        cenv->queue.pop_front();
      }
    }
    if (p) {
      Slot *s = p->slot;
      RunOnJsThread(cenv, s, p->ret, p->args, true);
      AfterRun(cenv, s);
      p->Finish();
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      // An exception left for node to report (no onError), or a long batch: let the event loop run.
      if (pending || std::chrono::steady_clock::now() > batch_end) break;
      continue;
    }
    // Empty: watch for a little while (a thread calling back in a loop posts its next call soon).
    uint64_t seen = cenv->pushed.load(std::memory_order_acquire);
    if (SpinFor(kJsSpin, [&] { return cenv->pushed.load(std::memory_order_acquire) != seen; })) continue;
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    if (cenv->queue.empty()) {
      cenv->js_active = false;
      return;
    }
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    cenv->js_active = false;
    wake = !cenv->queue.empty() && !cenv->wake_posted;
    if (wake) cenv->wake_posted = true;
  }
  if (wake) PostWake(cenv);
}

void QueueAndWait(CallbackEnv *cenv, Slot *s, void *ret, void **args) {
  Pending p;
  p.slot = s;
  p.ret = ret;
  p.args = args;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    if (!cenv->queue_open) {
      s->running.fetch_sub(1);
      return RefuseCall(s, ret, kEnvGone);
    }
    cenv->queue.push_back(&p);
    cenv->pushed.fetch_add(1, std::memory_order_release);
    if (!cenv->js_active && !cenv->wake_posted) wake = cenv->wake_posted = true;
  }
  if (wake) PostWake(cenv);
  p.Wait();
}

}  // namespace dlswap::callback
