// Where a call through dlswap resumes when the library's code faults, and the per-thread record
// the fault handler finds it in.
//
// Every call into a library's code goes through a guard trampoline (native/abi/guard_*.S) that
// stores, in a RecoveryFrame on its caller's stack, what a return to that caller needs: the
// callee-saved registers, the stack pointer and the return address. The caller links the frame
// into its thread's ThreadFaults before the call and unlinks it after: two stores, no system call,
// no signal mask (the kernel's sigreturn restores the mask from the context the handler rewrote).
// The handler (containment.cc) resumes a contained fault at the innermost frame, as if the call
// had returned, with `outcome` saying how it ended.
//
// Frames nest: a JS callback run during a call pushes a barrier (dlswap and V8 code run above
// it, never contained), and a call made from that callback pushes a frame of its own above it.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace dlswap {

#if defined(__x86_64__)
// rbx rbp r12 r13 r14 r15, the stack pointer at entry, the return address.
constexpr int kSavedWords = 8;
constexpr int kSavedSp = 6;
constexpr int kSavedReturn = 7;
#elif defined(__aarch64__)
// x19-x28, x29, x30 (the return address), the stack pointer at entry, d8-d15.
constexpr int kSavedWords = 21;
constexpr int kSavedSp = 12;
constexpr int kSavedReturn = 11;
#else
#error "dlswap's guard trampolines exist for x86-64 SysV and AAPCS64 only"
#endif

enum class FrameKind : int32_t {
  kCall = 0,     // a call into library code: faults above it may be contained
  kBarrier = 1,  // dlswap's own code (a JS callback) runs above it: nothing is contained there
  kTrace = 2,    // the handler walking the faulting stack: a fault there only ends the walk
};

// How the call of a frame ended. Anything but kReturned means its callee did not return.
enum : int32_t { kReturned = 0, kThreadExit = -1 };  // otherwise the signal number

// No initializers: PushFrame writes every field, and the sync path pays for each store.
struct RecoveryFrame {
  uint64_t saved[kSavedWords];  // written by the guard trampoline
  RecoveryFrame *prev;
  FrameKind kind;
  int32_t outcome;
};
static_assert(offsetof(RecoveryFrame, saved) == 0, "the guard trampolines store at offset 0");
static_assert(sizeof(RecoveryFrame::saved) == kSavedWords * 8, "layout of native/abi/guard_*.S");

// What a thread does for dlswap: it says how a fault report names the thread. In order of strength:
// a thread registered again with a stronger role takes it (a JS thread that ran a load inline).
enum class ThreadRole : uint8_t { kJs, kPool, kLoader, kLibrary, kOther };

constexpr int kMaxTrace = 24;

enum class FaultAccess : uint8_t { kUnknown, kRead, kWrite, kExecute };

// Written by the fault path (signal handler or pthread_exit) on the faulting thread, read on the
// same thread right after the resume: no other thread touches it.
struct FaultDetails {
  int32_t signo = 0;      // or kThreadExit
  int32_t code = 0;       // si_code
  uintptr_t address = 0;  // si_addr
  uintptr_t pc = 0;
  FaultAccess access = FaultAccess::kUnknown;
  bool reached_call = false;  // the walk reached the armed frame's call site (where it stops)
  int32_t depth = 0;          // trace[0] is pc
  uintptr_t trace[kMaxTrace] = {};
};

struct ThreadFaults {
  RecoveryFrame *top = nullptr;  // the innermost armed frame or barrier; only this thread writes it
  FaultDetails last;
  pid_t tid = 0;
  ThreadRole role = ThreadRole::kOther;
  // The floating-point control state this thread had when it registered: a resumed call gets it
  // back (a library may change the rounding mode or the exception mask and then fault).
  uint32_t fp_control = 0;
  uint32_t fp_status = 0;
  // The library dlswap is loading on this thread ("" when none): a fault in one of its constructors
  // runs inside the dynamic loader, cannot be contained, and its report names the library by this.
  char loading[256] = {};
};

// Names the library a load job is loading on this thread for as long as it lives (the constructors
// the dynamic loader runs in it included).
class LoadingNote {
 public:
  explicit LoadingNote(const char *path);
  ~LoadingNote();
  LoadingNote(const LoadingNote &) = delete;
  LoadingNote &operator=(const LoadingNote &) = delete;

 private:
  ThreadFaults *tf_;
};

// The calling thread's record, made on first use (with an alternate signal stack when the thread
// has none, so that a stack overflow in library code can be handled). Not async-signal-safe; off
// the fast path (the sync path keeps the pointer in its function record).
ThreadFaults *ThisThreadFaults(ThreadRole role);
// The calling thread's record if it made one (a thread-local read), else null.
ThreadFaults *RegisteredThreadFaults();
// The calling thread's record or null, from a signal handler: async-signal-safe.
ThreadFaults *FindThreadFaults();

// Pushes `frame` as the thread's innermost frame of `kind`; Pop restores the one below.
inline void PushFrame(ThreadFaults *tf, RecoveryFrame *frame, FrameKind kind) {
  frame->prev = tf->top;
  frame->kind = kind;
  frame->outcome = kReturned;
  tf->top = frame;
}
inline void PopFrame(ThreadFaults *tf, RecoveryFrame *frame) { tf->top = frame->prev; }

// A barrier for as long as it lives: dlswap's code (a JS callback) runs above it.
class FaultBarrier {
 public:
  explicit FaultBarrier(ThreadFaults *tf) : tf_(tf) {
    if (tf_) PushFrame(tf_, &frame_, FrameKind::kBarrier);
  }
  ~FaultBarrier() {
    if (tf_) PopFrame(tf_, &frame_);
  }
  FaultBarrier(const FaultBarrier &) = delete;
  FaultBarrier &operator=(const FaultBarrier &) = delete;

 private:
  ThreadFaults *tf_;
  RecoveryFrame frame_;
};

}  // namespace dlswap
