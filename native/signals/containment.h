// The containment rule of containment.cc, shared with the thread-exit path (thread_exit.cc).
#pragma once
#include "signals/recovery.h"

namespace dlswap {

// Whether a fault whose stack is `d` (walked up to the armed frame's call site) may end its call:
// no node, loader or dl_iterate_phdr frame on the way, and dlswap's code only as the call path.
// Async-signal-safe.
bool Containable(const FaultDetails &d);

}  // namespace dlswap
