#include "loader/job_timings.h"

#include <time.h>

#include <atomic>
#include <deque>
#include <mutex>

#include "common/immortal.h"

namespace dlswap {

namespace {

constexpr size_t kKept = 256;

std::atomic<bool> g_on{false};
Immortal<std::mutex> g_mutex;
Immortal<std::deque<JobTiming>> g_done;
thread_local JobTiming *tl_job = nullptr;
thread_local double tl_lap = 0;

}  // namespace

double MonotonicMs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

JobTimer::JobTimer(const char *kind, double queued_at) {
  if (!g_on.load(std::memory_order_relaxed) || tl_job) return;
  on_ = true;
  tl_job = new JobTiming();
  tl_job->kind = kind;
  tl_job->queued_at = queued_at;
  tl_job->started_at = tl_lap = MonotonicMs();
}

void JobTimer::End() {
  if (!on_) return;
  on_ = false;
  JobTiming *job = tl_job;
  tl_job = nullptr;
  job->ended_at = MonotonicMs();
  std::lock_guard<std::mutex> lock(*g_mutex);
  g_done->push_back(std::move(*job));
  if (g_done->size() > kKept) g_done->pop_front();
  delete job;
}

JobTimer::~JobTimer() { End(); }

void StepDone(const char *name) {
  if (!tl_job) return;
  const double now = MonotonicMs();
  tl_job->steps.emplace_back(name, now - tl_lap);
  tl_lap = now;
}

void SetJobTimings(bool on) {
  g_on.store(on, std::memory_order_relaxed);
  if (!on) TakeJobTimings();
}

std::vector<JobTiming> TakeJobTimings() {
  std::lock_guard<std::mutex> lock(*g_mutex);
  std::vector<JobTiming> out(g_done->begin(), g_done->end());
  g_done->clear();
  return out;
}

}  // namespace dlswap
