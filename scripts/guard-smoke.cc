// Self-test of dlswap's fault containment machinery without node (docs/faults.md, "How it works"):
// the guard trampoline of this architecture (native/abi/guard_*.S), the handler's rewrite of the
// interrupted context (native/signals/containment.cc) and the thread's record and alternate stack.
// Built and run natively by test/signals/guard_smoke.test.ts, and under qemu-user for arm64 by
// scripts/test-prebuild-qemu.mjs, where node itself cannot run (nor, with Debian 12's qemu-user, a
// second thread).
//
//   g++ -std=c++17 -O2 -Inative scripts/guard-smoke.cc native/signals/{containment,code_ranges,
//       image_registry,outside_report,signal_text,signals,thread_faults}.cc native/abi/guard_<arch>.S
//       -lpthread -ldl
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <string>
#include <type_traits>
#include <utility>

#include "signals/code_ranges.h"
#include "signals/guard.h"
#include "signals/recovery.h"
#include "signals/signals.h"

using namespace dlswap;

static int failures;

static void Check(bool ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) failures++;
}

static volatile int zero = 0;

// Clobbers every callee-saved register the ABI names, then faults before it could restore them:
// only the resume can give the caller its values back.
__attribute__((noinline)) static void ClobberThenFault(void *) {
#if defined(__x86_64__)
  __asm__ volatile(
      "mov $0x1111, %%rbx\n mov $0x2222, %%rbp\n mov $0x3333, %%r12\n mov $0x4444, %%r13\n"
      "mov $0x5555, %%r14\n mov $0x6666, %%r15\n movq $0, (%%rbx)\n" ::
          : "rbx", "r12", "r13", "r14", "r15", "memory");
#elif defined(__aarch64__)
  __asm__ volatile(
      "mov x19, #0x11\n mov x20, #0x22\n mov x21, #0x33\n mov x22, #0x44\n mov x23, #0x55\n mov x24, #0x66\n"
      "mov x25, #0x77\n mov x26, #0x88\n mov x27, #0x99\n mov x28, #0xaa\n fmov d8, x19\n fmov d9, x20\n"
      "fmov d10, x21\n fmov d11, x22\n fmov d12, x23\n fmov d13, x24\n fmov d14, x25\n fmov d15, x26\n"
      "mov x29, #0x10\n str xzr, [x29]\n" ::
          : "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15",
            "memory");
#endif
}

__attribute__((noinline)) static void DivideByZero(void *p) { *static_cast<volatile int *>(p) = 7 / zero; }

__attribute__((noinline)) static void Abort(void *) { abort(); }

#pragma GCC diagnostic ignored "-Winfinite-recursion"
#pragma GCC diagnostic ignored "-Wunused-function"
__attribute__((noinline)) static int Recurse(int depth) {
  volatile char pad[4096];
  pad[0] = static_cast<char>(depth);
  return Recurse(depth + 1) + pad[0];
}
static void Overflow(void *) { Recurse(1); }

static void RoundUpThenFault(void *) {
  fesetround(FE_UPWARD);
  *static_cast<volatile int *>(nullptr) = zero;
}

static ThreadFaults *g_tf;
static void ResumeWithoutSignal(void *) {
  g_tf->top->outcome = kThreadExit;
  dlswap_guard_resume(g_tf->top);
}

static void Fine(void *p) { *static_cast<int *>(p) = 42; }

// Values the compiler keeps in callee-saved registers across the guarded call.
__attribute__((noinline)) static bool KeepsCalleeSaved(ThreadFaults *tf) {
  volatile uint64_t seed = 3;
  uint64_t a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11, e = seed * 13, f = seed * 17;
  double x = static_cast<double>(seed) * 1.5, y = static_cast<double>(seed) * 2.5, z = static_cast<double>(seed) * 3.5;
  const int32_t outcome = GuardedRun(tf, &ClobberThenFault, nullptr);
  return outcome == SIGSEGV && a == 9 && b == 15 && c == 21 && d == 33 && e == 39 && f == 51 && x == 4.5 && y == 7.5 && z == 10.5;
}

// The guard's entries per count K of integer arguments (fn and frame right after them, in
// registers or on the stack): each passes the target its K integers (and, in the `_m` forms, the
// vector registers) unchanged, and each resumes a fault.
template <size_t I>
using U64 = uint64_t;
template <size_t... I>
__attribute__((noinline)) uint64_t Weighted(U64<I>... a) {
  uint64_t s = 0;
  ((s += a * (I + 1)), ...);
  return s;
}
template <size_t... I>
__attribute__((noinline)) uint64_t WeightedPlus(U64<I>... a, double d) {
  return Weighted<I...>(a...) + static_cast<uint64_t>(d);
}
template <size_t... I>
__attribute__((noinline)) uint64_t FaultsOnZero(U64<I>... a) {
  if (((a == 0) || ...) || sizeof...(I) == 0) *static_cast<volatile int *>(nullptr) = zero;
  return 1;
}

template <int K, size_t... I>
static bool GuardFormWorks(ThreadFaults *tf, std::index_sequence<I...>) {
  using Guard = GuardForms<K>;
  const uint64_t want = ((uint64_t{I + 1} * (I + 1)) + ... + 0);
  RecoveryFrame frame;
  PushFrame(tf, &frame, FrameKind::kCall);
  const uint64_t i = Guard::i(U64<I>{I + 1}..., reinterpret_cast<const void *>(&Weighted<I...>), &frame);
  PopFrame(tf, &frame);
  bool ok = frame.outcome == kReturned && i == want;
  PushFrame(tf, &frame, FrameKind::kCall);
  const uint64_t m = Guard::m(U64<I>{I + 1}..., 1000.0, 0, 0, 0, 0, 0, 0, 0, reinterpret_cast<const void *>(&WeightedPlus<I...>), &frame);
  PopFrame(tf, &frame);
  ok = ok && frame.outcome == kReturned && m == want + 1000;
  PushFrame(tf, &frame, FrameKind::kCall);
  Guard::i(U64<I>{0}..., reinterpret_cast<const void *>(&FaultsOnZero<I...>), &frame);
  PopFrame(tf, &frame);
  return ok && frame.outcome == SIGSEGV && tf->top == nullptr;
}

template <int... K>
static void GuardFormsWork(ThreadFaults *tf, std::integer_sequence<int, K...>) {
  char what[96];
  ((snprintf(what, sizeof what, "the guard entry for %d integer arguments passes them on and resumes a fault", K),
    Check(GuardFormWorks<K>(tf, std::make_index_sequence<K>()), what)),
   ...);
}

static bool SegvUnblocked() {
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, nullptr, &now);
  return !sigismember(&now, SIGSEGV) && !sigismember(&now, SIGFPE);
}

static void *OnAnotherThread(void *) {
  ThreadFaults *tf = ThisThreadFaults(ThreadRole::kPool);
  Check(GuardedRun(tf, &ClobberThenFault, nullptr) == SIGSEGV, "a fault on another thread is contained there");
  Check(GuardedRun(tf, &Overflow, nullptr) == SIGSEGV, "a stack overflow on another thread is contained (its own alternate stack)");
  return nullptr;
}

// --no-threads: leave out the second thread (Debian 12's qemu-user cannot start one).
int main(int argc, char **argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  const bool threads = !(argc > 1 && std::string(argv[1]) == "--no-threads");
  ComputeCodeRanges(false);  // this program's code stands for a library's
  InstallFaultHandlers();
  ThreadFaults *tf = g_tf = ThisThreadFaults(ThreadRole::kJs);
  int v = 0;
  Check(GuardedRun(tf, &Fine, &v) == kReturned && v == 42, "a call that returns returns");
  Check(KeepsCalleeSaved(tf), "SIGSEGV is contained; callee-saved registers come back as they were");
  Check(tf->top == nullptr, "the frame is unlinked after a fault");
  Check(SegvUnblocked(), "the signal mask is the interrupted code's (SIGSEGV not left blocked)");
#if defined(__x86_64__)  // aarch64's integer division by zero gives 0: no signal
  Check(GuardedRun(tf, &DivideByZero, &v) == SIGFPE, "SIGFPE is contained");
#endif
  Check(GuardedRun(tf, &Abort, nullptr) == SIGABRT, "abort() is contained");
  Check(GuardedRun(tf, &Overflow, nullptr) == SIGSEGV, "a stack overflow is contained (alternate signal stack)");
  Check(GuardedRun(tf, &RoundUpThenFault, nullptr) == SIGSEGV && fegetround() == FE_TONEAREST,
        "the floating-point rounding mode comes back as it was");
  Check(GuardedRun(tf, &ResumeWithoutSignal, nullptr) == kThreadExit, "dlswap_guard_resume ends a call without a signal");
  GuardFormsWork(tf, std::make_integer_sequence<int, kGuardGprArgs + 1>());
  Check(GuardedRun(tf, &ClobberThenFault, nullptr) == SIGSEGV, "containment works again after all of that");
  if (threads) {
    pthread_t t;
    pthread_create(&t, nullptr, &OnAnotherThread, nullptr);
    pthread_join(t, nullptr);
  }
  printf("%s\n", failures ? "guard-smoke: FAILED" : "guard-smoke: all passed");
  return failures ? 1 : 0;
}
