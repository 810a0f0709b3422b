// The register fast path's way into C: the argument registers of this ABI, and the assembly shims
// of native/abi/trampoline_*.S that call a target with them loaded.
#pragma once
#include <cstdint>
#include <cstring>
#include <utility>

#include "call/kinds.h"
#include "common/hints.h"
#include "signals/guard.h"

namespace dlswap {

#if defined(__x86_64__)
constexpr int kGprSlots = kGuardGprArgs;  // rdi rsi rdx rcx r8 r9
constexpr int kFprSlots = 8;              // xmm0-xmm7
#elif defined(__aarch64__)
constexpr int kGprSlots = kGuardGprArgs;  // x0-x7
constexpr int kFprSlots = 8;              // d0-d7 (s0-s7 for floats: the same registers' low lanes)
#else
#error "dlswap's call trampolines exist for x86-64 SysV and AAPCS64 only"
#endif
constexpr int kRegSlots = kGprSlots + kFprSlots;

// native/abi/trampoline_*.S: one tail-jumping shim under four declarations. The arguments are
// already in the registers the target takes them in; the target's address comes last, on the
// stack. The `_m` forms pass the vector argument registers too (a float's bits in the low half of
// a double's); the `_v` forms read the vector return register instead of the integer one. See the
// .S files for why. Going through assembly means no C++ code ever calls through a function pointer
// of the wrong type.
#if defined(__x86_64__)
#define DLSWAP_GPR_ARGS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#else
#define DLSWAP_GPR_ARGS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#endif
#define DLSWAP_FPR_ARGS double, double, double, double, double, double, double, double
extern "C" uint64_t dlswap_call_i(DLSWAP_GPR_ARGS, const void *fn);
extern "C" VecBits dlswap_call_iv(DLSWAP_GPR_ARGS, const void *fn);
extern "C" uint64_t dlswap_call_m(DLSWAP_GPR_ARGS, DLSWAP_FPR_ARGS, const void *fn);
extern "C" VecBits dlswap_call_mv(DLSWAP_GPR_ARGS, DLSWAP_FPR_ARGS, const void *fn);
#undef DLSWAP_GPR_ARGS
#undef DLSWAP_FPR_ARGS

DLSWAP_HOT double BitsAsDouble(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

template <size_t... G, size_t... F>
DLSWAP_HOT uint64_t CallUnpacked(const void *fn, const uint64_t *r, bool floats, bool vec_result, std::index_sequence<G...>,
                                 std::index_sequence<F...>) {
  if (floats) {
    if (vec_result) return dlswap_call_mv(r[G]..., BitsAsDouble(r[kGprSlots + F])..., fn)[0];
    return dlswap_call_m(r[G]..., BitsAsDouble(r[kGprSlots + F])..., fn);
  }
  if (vec_result) return dlswap_call_iv(r[G]..., fn)[0];
  return dlswap_call_i(r[G]..., fn);
}

// Calls `fn` with regs[0..kGprSlots) in the integer argument registers and, when `floats`,
// regs[kGprSlots..kRegSlots) in the vector ones. Returns the low 64 bits of the return register a
// result of `ret_kind` comes back in: the vector one for float/double, else the integer one.
DLSWAP_HOT uint64_t CallWithRegs(const void *fn, const uint64_t *regs, bool floats, uint8_t ret_kind) {
  return CallUnpacked(fn, regs, floats, IsFloatKind(ret_kind), std::make_index_sequence<kGprSlots>(),
                      std::make_index_sequence<kFprSlots>());
}

template <int K, size_t... G, size_t... F>
DLSWAP_HOT uint64_t GuardedUnpacked(const void *fn, const uint64_t *r, bool floats, bool vec_result, RecoveryFrame *frame,
                                    std::index_sequence<G...>, std::index_sequence<F...>) {
  using Guard = GuardForms<K>;
  if (floats) {
    if (vec_result) return Guard::mv(r[G]..., BitsAsDouble(r[kGprSlots + F])..., fn, frame)[0];
    return Guard::m(r[G]..., BitsAsDouble(r[kGprSlots + F])..., fn, frame);
  }
  if (vec_result) return Guard::iv(r[G]..., fn, frame)[0];
  return Guard::i(r[G]..., fn, frame);
}

// CallWithRegs through the guard: `frame` (already pushed on the thread's record) says afterwards
// whether the call returned (outcome kReturned) or was ended by a contained fault. kInts: how many
// of the integer slots the target takes (regs[0..kInts)), when the caller knows at compile time;
// only those are loaded into registers.
template <int kInts = kGprSlots>
DLSWAP_HOT uint64_t GuardedCallWithRegs(const void *fn, const uint64_t *regs, bool floats, uint8_t ret_kind, RecoveryFrame *frame) {
  static_assert(kInts >= 0 && kInts <= kGprSlots, "integer argument registers");
  return GuardedUnpacked<kInts>(fn, regs, floats, IsFloatKind(ret_kind), frame, std::make_index_sequence<kInts>(),
                                std::make_index_sequence<kFprSlots>());
}

}  // namespace dlswap
