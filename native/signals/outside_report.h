// The report of a fault dlswap cannot contain: outside any call through dlswap (a thread the library
// started, a constructor the loader runs), or where containing it would leave node, the loader or
// dlswap itself inconsistent. Written once per process to stderr before the signal goes on to its
// previous disposition (usually: the process ends, with the signal's exit status and core dump),
// and only when a dlswap image is involved: node's own crashes stay exactly as they were.
#pragma once
#include <signal.h>
#include <ucontext.h>

#include "signals/recovery.h"

namespace dlswap {

// Async-signal-safe. `tf` is the faulting thread's record (null if it has none); `traced`, when not
// null, is this fault's stack trace (the report then names the library's frame that called the
// code that faulted).
void ReportOutsideCall(int sig, const siginfo_t *info, const ucontext_t *uc, ThreadFaults *tf, const FaultDetails *traced);

}  // namespace dlswap
