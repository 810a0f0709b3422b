#include "faults.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

namespace dlswap {

namespace {

struct Armed {
  FaultAction action;
  long skip;
  long remaining;  // < 0: forever
};

// Never destroyed: a thread hung at a point waits on the condition variable until exit.
struct State {
  std::mutex mutex;
  std::condition_variable released;
  std::map<std::string, Armed> armed;
  uint64_t generation = 0;  // bumped by ClearFaults: wakes the hung
};
State &S() {
  static State *s = new State();
  return *s;
}
std::atomic<bool> g_any{false};

}  // namespace

void ArmFault(const std::string &point, FaultAction action, long skip, long times) {
  std::lock_guard<std::mutex> lock(S().mutex);
  S().armed[point] = {action, skip, times};
  g_any.store(true, std::memory_order_release);
}

void ClearFaults() {
  std::lock_guard<std::mutex> lock(S().mutex);
  S().armed.clear();
  g_any.store(false, std::memory_order_release);
  ++S().generation;
  S().released.notify_all();
}

std::vector<std::string> ArmedFaults() {
  std::lock_guard<std::mutex> lock(S().mutex);
  std::vector<std::string> out;
  for (auto &a : S().armed) out.push_back(a.first);
  return out;
}

FaultAction HitFault(const char *point) {
  if (!g_any.load(std::memory_order_acquire)) return FaultAction::None;
  std::unique_lock<std::mutex> lock(S().mutex);
  auto it = S().armed.find(point);
  if (it == S().armed.end()) return FaultAction::None;
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
    default:
      return action;
  }
}

}  // namespace dlswap
