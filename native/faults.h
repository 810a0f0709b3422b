// The fault points of the load and reload path (lib/faults.ts is their API, docs/reliability.md
// their meaning). The table is here so that a point on a loader thread and one in JS consume the
// same armed entries. Unarmed, a point costs one relaxed atomic load.
#pragma once
#include <string>
#include <vector>

namespace dlswap {

enum class FaultAction { None, Throw, Kill, Hang };

void ArmFault(const std::string &point, FaultAction action, long skip, long times);  // times < 0: forever
void ClearFaults();  // also lets every thread hung at a point go on
std::vector<std::string> ArmedFaults();

// Consumes one pass of `point`. Kill does not return; Hang blocks until ClearFaults and then
// returns None; Throw is the caller's to turn into a failure of its step.
FaultAction HitFault(const char *point);

}  // namespace dlswap
