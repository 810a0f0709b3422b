// Calls from threads other than the JS thread (the thread pool during .async calls, threads the
// library created).
//
// Calls from other threads go through a queue of this environment: the first call wakes the JS
// thread (one threadsafe-function call), which then runs every queued call and, before it returns
// to the event loop, watches the queue for a few microseconds more; the calling thread also watches
// for its result briefly before it sleeps. A thread calling back in a loop thus pays a round trip
// between two running threads, not an event-loop wakeup, per call. The JS thread gives the event
// loop its turn again after a few milliseconds of callbacks.
//
// No wait is unbounded. The calling thread gives up, and C gets the fallback value, when the slot's
// deadline passes (`timeout_ms` waiting for the JS thread to start the function, and again while it
// runs: the JS thread is busy elsewhere, or the function is stuck), as soon as it sees the JS thread
// joining it (a certain deadlock: deadlock.cc), and when the environment or the process exits
// (ReleaseWaiting). A call that was given up may still be running on the JS thread: its result is
// then dropped. So a call lives on the heap, shared by its caller and the queue (or the JS thread),
// and its result goes to the caller's `ret` only under its lock, while the caller still waits.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "callback/callback_slot.h"

namespace dlswap::callback {

std::atomic<bool> g_process_exiting{false};

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
// A waiting caller looks again (deadline, deadlock) after this long, doubling up to the cap: a
// deadlock is seen within the cap, and a long wait costs a few wakeups a second.
constexpr auto kFirstLook = std::chrono::milliseconds(1);
constexpr auto kLookCap = std::chrono::milliseconds(50);

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

// A call from another thread. Two references: its caller's and the queue's (then the JS thread's,
// which pops it). `args` and `ret` point into the caller's frame: read only while the caller waits.
struct Pending {
  enum Stage { kQueued, kTaken, kCalled };
  Slot *slot;
  void *ret;
  void **args;
  std::atomic<int> refs{2};
  std::atomic<bool> done{false};  // the result (or the fallback) is in `ret`
  std::mutex mutex;
  std::condition_variable cv;
  Stage stage = kQueued;  // under mutex: kTaken while the JS thread reads `args`
  bool sleeping = false;
  // Under mutex: when the function started (kCalled). The deadline counts from the queueing while
  // the call waits for the JS thread, and again from here while the function runs.
  std::chrono::steady_clock::time_point called_at{};

  Pending(Slot *s, void *r, void **a) : slot(s), ret(r), args(a) {}

  void Unref() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Under mutex: writes `result` (or the fallback when null) to the caller, unless it has one.
  void FinishLocked(const void *result, size_t size) {
    if (done.load(std::memory_order_relaxed)) return;
    if (result) std::memcpy(ret, result, size);
    else WriteFallback(slot, ret);
    done.store(true, std::memory_order_release);
    if (sleeping) cv.notify_all();
  }

  // The fallback, now, for a call whose caller must not wait any more. A call whose arguments the
  // JS thread is reading right now is waited for until it has read them (microseconds).
  void FinishWithFallback() {
    std::unique_lock<std::mutex> lock(mutex);
    sleeping = true;
    cv.wait(lock, [this] { return stage != kTaken || done.load(std::memory_order_relaxed); });
    FinishLocked(nullptr, 0);
  }
};

namespace {

// Takes `p` out of the queue if it is still there (then its queue reference is the caller's to drop).
bool Unqueue(CallbackEnv *cenv, Pending *p) {
  std::lock_guard<std::mutex> lock(cenv->qmutex);
  auto it = std::find(cenv->queue.begin(), cenv->queue.end(), p);
  if (it == cenv->queue.end()) return false;
  cenv->queue.erase(it);
  return true;
}

// The caller gives up: the fallback goes to C. Returns after `ret` holds a value.
void GiveUp(CallbackEnv *cenv, Pending *p, GaveUp why) {
  if (Unqueue(cenv, p)) {
    // Never reached the JS thread: it is not running, and never will.
    p->slot->running.fetch_sub(1);
    p->Unref();
  }
  bool mine;
  {
    std::unique_lock<std::mutex> lock(p->mutex);
    p->cv.wait(lock, [p] { return p->stage != Pending::kTaken || p->done.load(std::memory_order_relaxed); });
    mine = !p->done.load(std::memory_order_relaxed);
    p->FinishLocked(nullptr, 0);
  }
  if (mine) ReportGaveUp(p->slot, why);
}

// Waits for the result, looking at the deadline and for a deadlock now and then.
void Wait(CallbackEnv *cenv, Pending *p) {
  if (SpinFor(kCallerSpin, [p] { return p->done.load(std::memory_order_acquire); })) {
    // FinishLocked may still hold the mutex: take it once so that it has let go.
    std::lock_guard<std::mutex> lock(p->mutex);
    return;
  }
  const auto timeout = std::chrono::milliseconds(p->slot->timeout_ms);
  const auto queued_at = std::chrono::steady_clock::now();
  auto look = kFirstLook;
  for (;;) {
    std::chrono::steady_clock::time_point deadline;
    {
      std::unique_lock<std::mutex> lock(p->mutex);
      p->sleeping = true;
      deadline = (p->stage == Pending::kCalled ? p->called_at : queued_at) + timeout;
      const auto until = std::min(deadline, std::chrono::steady_clock::now() + look);
      if (p->cv.wait_until(lock, until, [p] { return p->done.load(std::memory_order_acquire); })) return;
      if (p->stage == Pending::kCalled) deadline = p->called_at + timeout;  // it may have started meanwhile
    }
    if (std::chrono::steady_clock::now() >= deadline) return GiveUp(cenv, p, GaveUp::kDeadline);
    if (cenv->js_tid != 0 && JoinsCallingThread(cenv->js_tid)) return GiveUp(cenv, p, GaveUp::kDeadlock);
    look = std::min(look * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kLookCap));
  }
}

// Posts a wakeup to the JS thread. Called with qmutex not held. When the environment is shutting
// down, its cleanup (or the threadsafe function's) drains the queue instead.
void PostWake(CallbackEnv *cenv) {
  std::lock_guard<std::mutex> lock(cenv->mutex);
  if (cenv->alive) napi_call_threadsafe_function(cenv->tsfn, nullptr, napi_tsfn_nonblocking);
}

// Runs one queued call on the JS thread, with the result kept aside until it is handed over.
void RunQueued(CallbackEnv *cenv, Pending *p) {
  Slot *s = p->slot;
  bool given_up;
  {
    // A caller that gave up between the pop and here has left: its arguments are gone.
    std::lock_guard<std::mutex> lock(p->mutex);
    given_up = p->done.load(std::memory_order_relaxed);
    if (!given_up) p->stage = Pending::kTaken;
  }
  if (!given_up) {
    // Room for any result: a scalar in a register's worth, or a struct (at most MAX_BY_VALUE_SIZE).
    alignas(16) uint8_t small[32] = {};
    std::vector<uint8_t> large;
    const size_t size = s->ret_kind == kAggregate ? s->ret_size : sizeof(uint64_t);
    void *result = small;
    if (size > sizeof small) {
      large.resize(size);
      result = large.data();
    }
    RunOnJsThread(cenv, s, result, p->args, p);
    std::lock_guard<std::mutex> lock(p->mutex);
    p->stage = Pending::kCalled;  // also when RunOnJsThread failed before it took the arguments
    p->FinishLocked(result, size);
  }
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    cenv->current = nullptr;
  }
  AfterRun(cenv, s);
  p->Unref();
}

}  // namespace

void ArgsTaken(Pending *p) {
  std::lock_guard<std::mutex> lock(p->mutex);
  p->stage = Pending::kCalled;
  p->called_at = std::chrono::steady_clock::now();
  if (p->sleeping) p->cv.notify_all();
}

void ReleaseWaiting(CallbackEnv *cenv) {
  std::deque<Pending *> left;
  Pending *current = nullptr;
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    cenv->queue_open = false;
    left.swap(cenv->queue);
    current = cenv->current;
    if (current) current->refs.fetch_add(1, std::memory_order_relaxed);
  }
  for (Pending *p : left) {
    p->FinishWithFallback();
    p->slot->running.fetch_sub(1);
    p->Unref();
  }
  // The call the JS thread is running: its caller gets the fallback now (the JS thread exits the
  // process from inside it, or its environment is going); the JS thread's result, if it ever comes,
  // is dropped.
  if (current) {
    current->FinishWithFallback();
    current->Unref();
  }
}

// The JS thread, woken by a call from another thread: runs queued calls until the queue stays empty
// for kJsSpin, or for at most kJsBatch (then the event loop gets its turn, and a wakeup is posted
// for what is left).
void CallJs(napi_env env, napi_value /*js_cb*/, void *context, void * /*data*/) {
  auto *cenv = static_cast<CallbackEnv *>(context);
  if (env == nullptr) {
    ReleaseWaiting(cenv);
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
        cenv->current = p;
      }
    }
    if (p) {
      RunQueued(cenv, p);
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
  auto *p = new (std::nothrow) Pending(s, ret, args);
  if (p == nullptr) {
    s->running.fetch_sub(1);
    return RefuseCall(s, ret, kEnvGone);
  }
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    if (!cenv->queue_open || g_process_exiting.load(std::memory_order_acquire)) {
      s->running.fetch_sub(1);
      delete p;
      return RefuseCall(s, ret, kEnvGone);
    }
    cenv->queue.push_back(p);
    cenv->pushed.fetch_add(1, std::memory_order_release);
    if (!cenv->js_active && !cenv->wake_posted) wake = cenv->wake_posted = true;
  }
  if (wake) PostWake(cenv);
  Wait(cenv, p);
  p->Unref();
}

}  // namespace dlswap::callback
