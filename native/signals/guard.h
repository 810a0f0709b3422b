// The guard trampolines of native/abi/guard_*.S as C++ sees them, and GuardedRun, which runs any
// function under a recovery frame (signals/recovery.h). No Node-API here: the fault machinery and
// its self-test (scripts/guard-smoke.cc) build without it.
#pragma once
#include <cstdint>
#include <utility>

#include "signals/recovery.h"

namespace dlswap {

#if defined(__x86_64__)
constexpr int kGuardGprArgs = 6;  // rdi rsi rdx rcx r8 r9
#define DLSWAP_GUARD_GPR uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#else
constexpr int kGuardGprArgs = 8;  // x0-x7
#define DLSWAP_GUARD_GPR uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#endif
#define DLSWAP_GUARD_FPR double, double, double, double, double, double, double, double

using VecBits = uint64_t __attribute__((vector_size(16)));

// As dlswap_call_* (call/trampoline.h), storing in `frame` where to resume if the call faults.
// The caller links `frame` into its thread's record around the call (PushFrame/PopFrame).
extern "C" uint64_t dlswap_guard_i(DLSWAP_GUARD_GPR, const void *fn, RecoveryFrame *frame);
extern "C" VecBits dlswap_guard_iv(DLSWAP_GUARD_GPR, const void *fn, RecoveryFrame *frame);
extern "C" uint64_t dlswap_guard_m(DLSWAP_GUARD_GPR, DLSWAP_GUARD_FPR, const void *fn, RecoveryFrame *frame);
extern "C" VecBits dlswap_guard_mv(DLSWAP_GUARD_GPR, DLSWAP_GUARD_FPR, const void *fn, RecoveryFrame *frame);
#undef DLSWAP_GUARD_GPR
#undef DLSWAP_GUARD_FPR

// Continues at `frame`'s call site as if its call had returned 0 (the outcome is set before).
extern "C" [[noreturn]] void dlswap_guard_resume(RecoveryFrame *frame);

template <size_t... G>
inline void GuardedThunk(void (*fn)(void *), void *arg, RecoveryFrame *frame, std::index_sequence<G...>) {
  dlswap_guard_i(reinterpret_cast<uint64_t>(arg), (static_cast<void>(G), uint64_t{0})..., reinterpret_cast<const void *>(fn),
                 frame);
}

// Calls fn(arg) through the guard with `frame` (already linked by the caller).
inline void GuardedCall(void (*fn)(void *), void *arg, RecoveryFrame *frame) {
  GuardedThunk(fn, arg, frame, std::make_index_sequence<kGuardGprArgs - 1>());
}

// Runs fn(arg) under a frame of its own on `tf` (the calling thread's record): for what the
// register path does not cover (libffi calls, a plugin's entry points). Returns the frame's
// outcome: kReturned, or how a contained fault ended it (the details are in tf->last).
inline int32_t GuardedRun(ThreadFaults *tf, void (*fn)(void *), void *arg) {
  RecoveryFrame frame;
  PushFrame(tf, &frame, FrameKind::kCall);
  GuardedCall(fn, arg, &frame);
  PopFrame(tf, &frame);
  return frame.outcome;
}

}  // namespace dlswap
