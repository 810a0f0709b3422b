#include "loader/loader_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/process_end.h"
#include "common/loader_lock.h"

namespace dlswap {

namespace {

struct Job {
  uint64_t id;
  LoaderPool::Work work, cancelled;
};

struct Worker {
  bool abandoned = false;  // guarded by S().mutex
};

// Never destroyed: at exit the loader thread may still wait on the condition variable, and
// destroying one that has a waiter blocks the exiting thread forever.
struct State {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job> queue;
  std::map<uint64_t, std::shared_ptr<Worker>> running;  // job id -> the worker running it
  int live = 0;                                         // workers that take new jobs
  int abandoned_running = 0;
  uint64_t next_id = 1;
  // Deadlines of running steps: deadline id -> (when, job id, on_timeout).
  struct Bound {
    std::chrono::steady_clock::time_point when;
    uint64_t job;
    LoaderPool::Work on_timeout;
    bool expired = false;
    std::string holds_loader_lock;  // what runs with the dynamic loader's lock held ("" if not)
    double ms = 0;
  };
  std::map<uint64_t, Bound> bounds;
  uint64_t next_bound = 1;
  std::condition_variable watchdog_wake;
  bool watchdog = false;
  // When the watchdog wakes next (max: not before it is told). A bound due later needs no wake-up:
  // most bounds are removed long before they are due, and every needless wake-up is a thread switch
  // per load and per retirement.
  std::chrono::steady_clock::time_point watchdog_next = std::chrono::steady_clock::time_point::max();
  // Process exit: `idle` is signalled when a job ends, for the drain; once `stopped`, no job starts.
  std::condition_variable idle;
  bool stopped = false;
  bool exit_hook = false;
};
State &S() {
  static State *s = new State();
  return *s;
}

// Plain values only: a thread_local with a destructor is registered through __cxa_thread_atexit_impl,
// which takes the dynamic loader's lock, and a loader thread that takes over from one abandoned in
// a constructor must never wait for that lock.
thread_local uint64_t tl_job = 0;          // the job this loader thread runs now
thread_local Worker *tl_worker = nullptr;  // owned by the thread's Loop

// With S().mutex held: a job is queued, or running on a thread that was not given up.
bool BusyLocked() {
  if (!S().queue.empty()) return true;
  for (const auto &r : S().running) {
    if (!r.second->abandoned) return true;
  }
  return false;
}

// At exit, before the libraries' destructors (loader_pool.h).
constexpr auto kExitDrain = std::chrono::milliseconds(2000);
void DrainAtExit() {
  std::unique_lock<std::mutex> lock(S().mutex);
  // exit() called from a job (a library's code on a loader thread) cannot wait for itself.
  NoteProcessEnding();
  if (!tl_worker) S().idle.wait_for(lock, kExitDrain, [] { return !BusyLocked(); });
  S().stopped = true;
}

void Loop(std::shared_ptr<Worker> self) {
  tl_worker = self.get();
  std::unique_lock<std::mutex> lock(S().mutex);
  for (;;) {
    S().wake.wait(lock, [&] { return !S().queue.empty() && !S().stopped; });
    Job job = std::move(S().queue.front());
    S().queue.pop_front();
    const uint64_t id = job.id;
    S().running[id] = self;
    tl_job = job.id;
    lock.unlock();
    job.work();
    // Destroyed before the lock is taken again: what the job held may be released now (the last
    // reference to an image closes it, on this thread).
    job = Job{};
    lock.lock();
    tl_job = 0;
    S().running.erase(id);
    S().idle.notify_all();
    if (self->abandoned) {
      --S().abandoned_running;
      return;  // its job outlived its deadline: this thread serves no more
    }
  }
}

// With S().mutex held.
void SpawnLocked() {
  if (!S().exit_hook) {
    S().exit_hook = true;
    std::atexit(&DrainAtExit);
  }
  ++S().live;
  std::thread(Loop, std::make_shared<Worker>()).detach();
}

// Wakes at the nearest deadline; a step past it has its job abandoned and its callback run here.
void Watchdog() {
  std::unique_lock<std::mutex> lock(S().mutex);
  for (;;) {
    auto next = std::chrono::steady_clock::time_point::max();
    for (auto &b : S().bounds) {
      if (!b.second.expired) next = std::min(next, b.second.when);
    }
    S().watchdog_next = next;
    if (next == std::chrono::steady_clock::time_point::max()) {
      S().watchdog_wake.wait(lock);
      continue;
    }
    if (S().watchdog_wake.wait_until(lock, next) != std::cv_status::timeout) continue;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<uint64_t, LoaderPool::Work>> due;
    for (auto &b : S().bounds) {
      if (b.second.expired || b.second.when > now) continue;
      b.second.expired = true;
      // Known before the job is abandoned, so before another loader thread can start a job that
      // would wait for the lock.
      if (!b.second.holds_loader_lock.empty()) NoteLoaderLockHeld(b.first, b.second.holds_loader_lock, b.second.ms);
      due.emplace_back(b.second.job, b.second.on_timeout);
    }
    lock.unlock();
    for (auto &d : due) {
      LoaderPool::Abandon(d.first);
      if (d.second) d.second();
    }
    lock.lock();
  }
}

}  // namespace

LoaderPool::Deadline::Deadline(double ms, Work on_timeout, std::string holds_loader_lock) {
  if (!(ms > 0) || tl_job == 0) return;
  std::lock_guard<std::mutex> lock(S().mutex);
  id_ = S().next_bound++;
  const auto when = std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(ms * 1000));
  S().bounds[id_] = {when, tl_job, std::move(on_timeout), false, std::move(holds_loader_lock), ms};
  if (!S().watchdog) {
    S().watchdog = true;
    std::thread(Watchdog).detach();
  } else if (when < S().watchdog_next) {
    S().watchdog_wake.notify_all();
  }
}

LoaderPool::Deadline::~Deadline() {
  if (id_ == 0) return;
  std::lock_guard<std::mutex> lock(S().mutex);
  auto it = S().bounds.find(id_);
  if (it != S().bounds.end() && it->second.expired && !it->second.holds_loader_lock.empty()) NoteLoaderLockReleased(id_);
  S().bounds.erase(id_);
}

bool LoaderPool::Deadline::Expired() const {
  if (id_ == 0) return false;
  std::lock_guard<std::mutex> lock(S().mutex);
  auto it = S().bounds.find(id_);
  return it != S().bounds.end() && it->second.expired;
}

bool LoaderPool::CurrentAbandoned() {
  if (!tl_worker) return false;
  std::lock_guard<std::mutex> lock(S().mutex);
  return tl_worker->abandoned;
}

uint64_t LoaderPool::Submit(Work work, Work cancelled) {
  std::lock_guard<std::mutex> lock(S().mutex);
  const uint64_t id = S().next_id++;
  S().queue.push_back({id, std::move(work), std::move(cancelled)});
  if (S().live == 0) SpawnLocked();
  S().wake.notify_one();
  return id;
}

bool LoaderPool::Abandon(uint64_t id) {
  Work cancelled;
  {
    std::lock_guard<std::mutex> lock(S().mutex);
    for (auto it = S().queue.begin(); it != S().queue.end(); ++it) {
      if (it->id != id) continue;
      cancelled = std::move(it->cancelled);
      S().queue.erase(it);
      break;
    }
    if (!cancelled) {
      auto running = S().running.find(id);
      if (running == S().running.end()) return false;
      if (!running->second->abandoned) {
        running->second->abandoned = true;
        --S().live;
        ++S().abandoned_running;
        if (!S().queue.empty()) SpawnLocked();
      }
      return true;
    }
  }
  cancelled();
  return true;
}

bool LoaderPool::OnLoaderThread() { return tl_worker != nullptr; }

void LoaderPool::RunOrQueue(Work work) {
  if (OnLoaderThread()) {
    work();
    return;
  }
  Submit(std::move(work), [] {});
}

int LoaderPool::AbandonedRunning() {
  std::lock_guard<std::mutex> lock(S().mutex);
  return S().abandoned_running;
}

}  // namespace dlswap
