// The guard trampolines of native/abi/guard_*.S as C++ sees them, and GuardedRun, which runs any
// function under a recovery frame (signals/recovery.h). No Node-API here: the fault machinery and
// its self-test (scripts/guard-smoke.cc) build without it.
#pragma once
#include <cstdint>

#include "signals/recovery.h"

namespace dlswap {

#if defined(__x86_64__)
constexpr int kGuardGprArgs = 6;  // rdi rsi rdx rcx r8 r9
#else
constexpr int kGuardGprArgs = 8;  // x0-x7
#endif
#define DLSWAP_GUARD_FPR double, double, double, double, double, double, double, double

using VecBits = uint64_t __attribute__((vector_size(16)));

// As dlswap_call_* (call/trampoline.h), storing in `frame` where to resume if the call faults. One
// set per count K of integer arguments (0..kGuardGprArgs): `fn` and `frame` follow the target's
// own K, so that a call passes no argument register the target does not take.
// The caller links `frame` into its thread's record around the call (PushFrame/PopFrame).
// GuardForms<K> names them for templates.
template <int K>
struct GuardForms;
#define DLSWAP_GUARD_FORMS(K, ...)                                                                           \
  extern "C" uint64_t dlswap_guard_i##K(__VA_ARGS__ const void *fn, RecoveryFrame *frame);                   \
  extern "C" VecBits dlswap_guard_iv##K(__VA_ARGS__ const void *fn, RecoveryFrame *frame);                   \
  extern "C" uint64_t dlswap_guard_m##K(__VA_ARGS__ DLSWAP_GUARD_FPR, const void *fn, RecoveryFrame *frame); \
  extern "C" VecBits dlswap_guard_mv##K(__VA_ARGS__ DLSWAP_GUARD_FPR, const void *fn, RecoveryFrame *frame); \
  template <>                                                                                                \
  struct GuardForms<K> {                                                                                     \
    static constexpr auto i = &dlswap_guard_i##K, iv = &dlswap_guard_iv##K;                                  \
    static constexpr auto m = &dlswap_guard_m##K, mv = &dlswap_guard_mv##K;                                  \
  };
#define DLSWAP_U64 uint64_t,
DLSWAP_GUARD_FORMS(0)
DLSWAP_GUARD_FORMS(1, DLSWAP_U64)
DLSWAP_GUARD_FORMS(2, DLSWAP_U64 DLSWAP_U64)
DLSWAP_GUARD_FORMS(3, DLSWAP_U64 DLSWAP_U64 DLSWAP_U64)
DLSWAP_GUARD_FORMS(4, DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64)
DLSWAP_GUARD_FORMS(5, DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64)
DLSWAP_GUARD_FORMS(6, DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64)
#if !defined(__x86_64__)
DLSWAP_GUARD_FORMS(7, DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64)
DLSWAP_GUARD_FORMS(8, DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64 DLSWAP_U64)
#endif
#undef DLSWAP_U64
#undef DLSWAP_GUARD_FORMS
#undef DLSWAP_GUARD_FPR

// Continues at `frame`'s call site as if its call had returned 0 (the outcome is set before).
extern "C" [[noreturn]] void dlswap_guard_resume(RecoveryFrame *frame);

// Calls fn(arg) through the guard with `frame` (already linked by the caller).
inline void GuardedCall(void (*fn)(void *), void *arg, RecoveryFrame *frame) {
  dlswap_guard_i1(reinterpret_cast<uint64_t>(arg), reinterpret_cast<const void *>(fn), frame);
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
