#include "common/faults.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <algorithm>
#include <map>
#include <mutex>

namespace dlswap {

namespace {

struct Armed {
  const void *env;
  FaultAction action;
  long skip;
  long remaining;  // < 0: forever
};

// Never destroyed: a thread hung at a point waits on the condition variable until exit.
struct State {
  std::mutex mutex;
  std::condition_variable released;
  std::multimap<std::string, Armed> armed;
  uint64_t generation = 0;  // bumped by ClearFaults: wakes the hung
};
State &S() {
  static State *s = new State();
  return *s;
}
std::atomic<bool> g_any{false};
// A pointer, not a std::function: a thread_local with a destructor registers it through
// __cxa_thread_atexit_impl, which takes the dynamic loader's lock, and a loader thread that takes
// over from one abandoned in a constructor must never wait for that lock.
thread_local std::function<void()> *tl_terminate = nullptr;
thread_local const void *tl_env = nullptr;

}  // namespace

FaultScope::FaultScope(const void *env) : previous_(tl_env) { tl_env = env; }
FaultScope::~FaultScope() { tl_env = previous_; }

void ArmFault(const void *env, const std::string &point, FaultAction action, long skip, long times) {
  std::lock_guard<std::mutex> lock(S().mutex);
  auto range = S().armed.equal_range(point);
  for (auto it = range.first; it != range.second;) it = it->second.env == env ? S().armed.erase(it) : std::next(it);
  S().armed.insert({point, {env, action, skip, times}});
  g_any.store(true, std::memory_order_release);
}

void ClearFaults(const void *env) {
  std::lock_guard<std::mutex> lock(S().mutex);
  for (auto it = S().armed.begin(); it != S().armed.end();) it = it->second.env == env ? S().armed.erase(it) : std::next(it);
  g_any.store(!S().armed.empty(), std::memory_order_release);
  ++S().generation;
  S().released.notify_all();
}

std::vector<std::string> ArmedFaults(const void *env) {
  std::lock_guard<std::mutex> lock(S().mutex);
  std::vector<std::string> out;
  for (auto &a : S().armed) {
    if (a.second.env == env) out.push_back(a.first);
  }
  return out;
}

FaultAction HitFault(const char *point) {
  if (!g_any.load(std::memory_order_acquire)) return FaultAction::None;
  std::unique_lock<std::mutex> lock(S().mutex);
  auto range = S().armed.equal_range(point);
  auto it = std::find_if(range.first, range.second, [](const auto &a) { return a.second.env == tl_env; });
  if (it == range.second) return FaultAction::None;
  Armed &a = it->second;
  if (a.skip > 0) {
    a.skip--;
    return FaultAction::None;
  }
  const FaultAction action = a.action;
  if (a.remaining > 0 && --a.remaining == 0) S().armed.erase(it);
  if (S().armed.empty()) g_any.store(false, std::memory_order_release);
  switch (action) {
    case FaultAction::Kill:
      kill(getpid(), SIGKILL);
      pause();
      return FaultAction::None;
    case FaultAction::Hang: {
      // A plugin function that never returns, as far as the caller can tell.
      const uint64_t gen = S().generation;
      S().released.wait(lock, [&] { return S().generation != gen; });
      return FaultAction::None;
    }
    case FaultAction::Terminate:
      if (!tl_terminate) return action;  // a JS thread: the caller acts
      lock.unlock();
      (*tl_terminate)();
      return FaultAction::None;
    default: return action;
  }
}

void SetTerminateHandler(std::function<void()> handler) {
  delete tl_terminate;
  tl_terminate = handler ? new std::function<void()>(std::move(handler)) : nullptr;
}

}  // namespace dlswap
