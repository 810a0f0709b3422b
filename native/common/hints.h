// Branch and inlining hints for the call paths, where a few nanoseconds per call are the budget.
#pragma once

// The per-call helpers must be inlined into each specialized callback (GCC otherwise keeps the
// larger ones out of line, and the call costs more than the work).
#define DLSWAP_HOT inline __attribute__((always_inline))
// Failure paths (bad argument, closed library) are the rare ones: keep them out of the straight line.
#define DLSWAP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DLSWAP_LIKELY(x) __builtin_expect(!!(x), 1)
