// The fault points of the load and reload path (lib/faults.ts is their API, docs/reliability.md
// their meaning). The table is here so that a point on a loader thread and one in JS consume the
// same armed entries. Unarmed, a point costs one relaxed atomic load.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace dlswap {

enum class FaultAction { None, Throw, Kill, Hang, Terminate };

// Entries belong to one JS environment (a worker_thread's are its own, as its JS module state is):
// a point consumes only entries of the environment it works for, which the calling thread declares
// with FaultScope (a loader job: the environment that asked for it; a JS thread: its own).
void ArmFault(const void *env, const std::string &point, FaultAction action, long skip, long times);  // times < 0: forever
void ClearFaults(const void *env);  // also lets every thread hung at a point go on
std::vector<std::string> ArmedFaults(const void *env);

class FaultScope {
 public:
  explicit FaultScope(const void *env);
  ~FaultScope();
  FaultScope(const FaultScope &) = delete;
  FaultScope &operator=(const FaultScope &) = delete;

 private:
  const void *previous_;
};

// Consumes one pass of `point`. Kill does not return; Hang blocks until ClearFaults and then
// returns None; Throw is the caller's to turn into a failure of its step. Terminate runs the calling
// thread's terminate handler (a loader job's: stop the worker_thread that asked for the job, and wait
// for its environment to go) and returns None; without a handler it is Kill. On a JS thread
// (CurrentTerminateHandler unset) it is returned for JS to act on.
FaultAction HitFault(const char *point);

// The handler `terminate` runs on this thread (a loader job sets it for its duration).
void SetTerminateHandler(std::function<void()> handler);

}  // namespace dlswap
