// Where a loader job's time goes, for bench/reload.mjs's breakdown of a reload: when the job was
// queued, started and ended on the loader thread, and the time of each named step it passed. Off
// unless a benchmark turns it on (jobTimings(true)); then the last jobs are kept, and taken by
// jobTimings().
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace dlswap {

// CLOCK_MONOTONIC in ms: the clock of process.hrtime().
double MonotonicMs();

struct JobTiming {
  std::string kind;  // the job's first step: 'loading', 'fini'...
  double queued_at = 0, started_at = 0, ended_at = 0;
  std::vector<std::pair<const char *, double>> steps;  // in order, ms each
};

// Times the job running on this thread from now to its destruction (before the job answers), if
// timings are on. Jobs inline on a JS thread are not timed.
class JobTimer {
 public:
  JobTimer(const char *kind, double queued_at);
  ~JobTimer();
  JobTimer(const JobTimer &) = delete;
  JobTimer &operator=(const JobTimer &) = delete;
  // Ends it now (before the answer goes out), rather than at destruction.
  void End();

 private:
  bool on_ = false;
};

// The step that ends now, on the job timed on this thread (nothing when none is).
void StepDone(const char *name);

void SetJobTimings(bool on);
std::vector<JobTiming> TakeJobTimings();

}  // namespace dlswap
