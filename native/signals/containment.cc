// The fault handler: decides whether a fault is the library's, inside a call through dlswap, and if
// so ends that call by resuming at its recovery frame (signals/recovery.h); anything else goes on to
// the disposition the signal had before dlswap (signals.cc), after a report when a dlswap image is
// involved (signals/outside_report.h).
//
// A fault is contained when all of these hold:
//   - the faulting thread has an armed call frame on top (not a barrier: no JS or dlswap code runs
//     above the frame), and the signal came from the code (a faulting instruction, or abort()/raise()
//     in this process), not from kill(2) by someone else;
//   - walking the stack from the fault to the frame's call site finds only code that is neither
//     node's, nor the dynamic loader's, nor dl_iterate_phdr (which hold locks of node or of the
//     loader while library code runs under them), and dlswap's own code only as the call path itself
//     (libffi and the thunk between the frame and the library): a fault under code that dlswap runs
//     for the library (a host function it called back) could leave dlswap's own state half-changed.
// The walk uses the unwinder (libgcc's _Unwind_Backtrace); a fault during the walk ends the walk
// (a frame of kind kTrace catches it), never the process.
#include <errno.h>
#include <signal.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include <cstring>

#include "signals/code_ranges.h"
#include "signals/containment.h"
#include "signals/guard.h"
#include "signals/outside_report.h"
#include "signals/recovery.h"
#include "signals/signals.h"

namespace dlswap {

namespace {

uintptr_t PcOf(const ucontext_t *uc) {
#if defined(__x86_64__)
  return static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
#else
  return static_cast<uintptr_t>(uc->uc_mcontext.pc);
#endif
}

#if defined(__x86_64__)
// Reads a word without faulting if it is not mapped (the kernel copies it or fails).
bool SafeRead(uintptr_t at, uintptr_t *out) {
  struct iovec local {
    out, sizeof *out
  }, remote{reinterpret_cast<void *>(at), sizeof *out};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof *out);
}
#endif

// Whether the signal was raised by the faulting code itself: an instruction (the kernel's si_code),
// or abort()/raise() in this process (SI_TKILL from our own pid). kill(2) from elsewhere is not a
// fault of the library, whatever thread it lands on.
bool RaisedByCode(int sig, const siginfo_t *si) {
  if (si == nullptr) return false;
  if (sig == SIGABRT) return (si->si_code == SI_TKILL || si->si_code == SI_USER) && si->si_pid == getpid();
  return si->si_code > 0;
}

struct Walk {
  FaultDetails *d;
  uintptr_t call_site;  // the armed frame's return address (0: none): the walk ends there
  bool started = false;
};

_Unwind_Reason_Code Step(struct _Unwind_Context *ctx, void *p) {
  Walk &w = *static_cast<Walk *>(p);
  int before = 0;
  const uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
  // The handler's own frames and the signal frame come first: the walk starts at the interrupted
  // frame, the one whose instruction pointer is the fault's.
  if (!w.started) {
    if (ip != w.d->pc) return _URC_NO_REASON;
    w.started = true;
    w.d->depth = 0;
  }
  if (w.call_site && ip == w.call_site) {
    w.d->reached_call = true;  // the frames above are dlswap's and node's: not part of the fault
    return _URC_END_OF_STACK;
  }
  if (w.d->depth >= kMaxTrace) return _URC_END_OF_STACK;
  w.d->trace[w.d->depth++] = ip;
  return _URC_NO_REASON;
}

void WalkStack(void *p) { _Unwind_Backtrace(&Step, p); }

// Fills d->trace: the fault's pc, then the return addresses of the frames above it. Runs the walk
// under a frame of its own, with SIGSEGV and SIGBUS unblocked, so that a fault during the walk
// (a smashed stack) ends only the walk.
void Trace(ThreadFaults *tf, const ucontext_t *uc, FaultDetails *d, uintptr_t call_site) {
  d->trace[0] = d->pc;
  d->depth = 1;
  Walk w{d, call_site};
  sigset_t faults, old;
  sigemptyset(&faults);
  sigaddset(&faults, SIGSEGV);
  sigaddset(&faults, SIGBUS);
  RecoveryFrame frame;
  PushFrame(tf, &frame, FrameKind::kTrace);
  pthread_sigmask(SIG_UNBLOCK, &faults, &old);
  GuardedCall(&WalkStack, &w, &frame);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  PopFrame(tf, &frame);
  if (!w.started || d->depth == 0) {
    d->trace[0] = d->pc;
    d->depth = 1;
  }
  // A call through a null or wild pointer: the unwinder knows nothing of the pc, but the call
  // left its return address where the callee's frame would start.
  if (d->depth == 1 && !d->reached_call && OwnerOf(d->pc) == CodeOwner::kOther) {
    uintptr_t ret = 0;
#if defined(__x86_64__)
    SafeRead(static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]), &ret);
#else
    ret = static_cast<uintptr_t>(uc->uc_mcontext.regs[30]);
#endif
    if (ret && ret == call_site) {
      d->reached_call = true;
    } else if (ret) {
      d->trace[d->depth++] = ret;
    }
  }
}

// What the faulting access was, where the CPU says (x86-64's page-fault error code).
FaultAccess AccessOf(int sig, const ucontext_t *uc) {
#if defined(__x86_64__)
  if (sig != SIGSEGV) return FaultAccess::kUnknown;
  const greg_t err = uc->uc_mcontext.gregs[REG_ERR];
  if (err & 16) return FaultAccess::kExecute;
  return (err & 2) ? FaultAccess::kWrite : FaultAccess::kRead;
#else
  (void)sig;
  (void)uc;
  return FaultAccess::kUnknown;
#endif
}

}  // namespace

bool Containable(const FaultDetails &d) {
  if (OwnerOf(d.pc) != CodeOwner::kOther) return false;
  bool seen_dlswap = false;
  for (int i = 1; i < d.depth; ++i) {
    const uintptr_t ret = d.trace[i];
    // A return address is just past its call: the call instruction is what belongs to an owner.
    switch (OwnerOf(ret - 1)) {
      case CodeOwner::kDlswap: seen_dlswap = true; break;
      case CodeOwner::kOther:
        if (seen_dlswap) return false;  // dlswap's code ran under the library's: not the call path
        break;
      default: return false;  // node's, the loader's
    }
  }
  // Reached the call site: dlswap's frames on the way were the call path's own (libffi, a thunk).
  // The walk stopped before it (code without unwind tables): nothing it saw forbids containing,
  // unless dlswap's code was on the way.
  return d.reached_call || !seen_dlswap;
}

namespace {

#if defined(__aarch64__)
// d8-d15 (the low halves of v8-v15) in the records of the context's extension area: the FP/SIMD
// record, and the SVE record when it carries registers (the kernel then restores the vector
// registers from it instead), which an extra_context record may have moved out of the frame.
void PatchVectorRecords(unsigned char *area, size_t size, const uint64_t *d8_15, uint32_t fpcr) {
  for (size_t off = 0; off + sizeof(struct _aarch64_ctx) <= size;) {
    auto *h = reinterpret_cast<struct _aarch64_ctx *>(area + off);
    if (h->magic == 0 || h->size == 0 || h->size > size - off) break;
    if (h->magic == FPSIMD_MAGIC) {
      auto *fp = reinterpret_cast<struct fpsimd_context *>(h);
      for (int i = 0; i < 8; ++i) fp->vregs[8 + i] = d8_15[i];
      fp->vregs[0] = 0;
      fp->fpcr = fpcr;
    } else if (h->magic == SVE_MAGIC) {
      auto *sve = reinterpret_cast<struct sve_context *>(h);
      const unsigned vq = sve_vq_from_vl(sve->vl);
      if (h->size >= SVE_SIG_CONTEXT_SIZE(vq)) {
        for (int i = 0; i < 8; ++i) {
          auto *z = reinterpret_cast<unsigned char *>(h) + SVE_SIG_ZREG_OFFSET(vq, 8 + i);
          std::memset(z, 0, SVE_SIG_ZREG_SIZE(vq));
          std::memcpy(z, &d8_15[i], sizeof d8_15[i]);
        }
      }
    } else if (h->magic == EXTRA_MAGIC) {
      auto *extra = reinterpret_cast<struct extra_context *>(h);
      PatchVectorRecords(reinterpret_cast<unsigned char *>(extra->datap), extra->size, d8_15, fpcr);
    }
    off += h->size;
  }
}
#endif

// Rewrites the interrupted context so that sigreturn lands at `f`'s call site, as if the call had
// returned 0, with the callee-saved registers and the floating-point control the call began with.
// The signal mask comes back from the context itself (the mask of the interrupted code).
void ResumeAt(ucontext_t *uc, const ThreadFaults *tf, const RecoveryFrame &f) {
  const uint64_t *s = f.saved;
#if defined(__x86_64__)
  greg_t *g = uc->uc_mcontext.gregs;
  g[REG_RBX] = static_cast<greg_t>(s[0]);
  g[REG_RBP] = static_cast<greg_t>(s[1]);
  g[REG_R12] = static_cast<greg_t>(s[2]);
  g[REG_R13] = static_cast<greg_t>(s[3]);
  g[REG_R14] = static_cast<greg_t>(s[4]);
  g[REG_R15] = static_cast<greg_t>(s[5]);
  g[REG_RSP] = static_cast<greg_t>(s[kSavedSp] + 8);  // the return address popped
  g[REG_RIP] = static_cast<greg_t>(s[kSavedReturn]);
  g[REG_RAX] = 0;
  g[REG_RDX] = 0;
  g[REG_EFL] &= ~static_cast<greg_t>(0x400);  // the direction flag is clear at a return
  if (uc->uc_mcontext.fpregs) {
    uc->uc_mcontext.fpregs->mxcsr = tf->fp_control;
    uc->uc_mcontext.fpregs->cwd = static_cast<uint16_t>(tf->fp_status);
    uc->uc_mcontext.fpregs->swd = 0;
    uc->uc_mcontext.fpregs->ftw = 0;  // the x87 stack is empty at a return
  }
#elif defined(__aarch64__)
  mcontext_t &m = uc->uc_mcontext;
  for (int i = 0; i < 10; ++i) m.regs[19 + i] = s[i];
  m.regs[29] = s[10];
  m.regs[30] = s[kSavedReturn];
  m.sp = s[kSavedSp];
  m.pc = s[kSavedReturn];
  m.regs[0] = 0;
  PatchVectorRecords(m.__reserved, sizeof m.__reserved, s + 13, tf->fp_control);
#endif
}

}  // namespace

void OnFaultSignal(int sig, siginfo_t *si, void *context) {
  const int saved_errno = errno;
  auto *uc = static_cast<ucontext_t *>(context);
  ThreadFaults *tf = FindThreadFaults();
  RecoveryFrame *f = tf ? tf->top : nullptr;
  if (f && f->kind == FrameKind::kTrace) {
    // A fault while the handler walked a stack: the walk ends, the fault it was walking goes on.
    f->outcome = sig;
    ResumeAt(uc, tf, *f);
    errno = saved_errno;
    return;
  }
  const uintptr_t pc = PcOf(uc);
  const bool armed = f && f->kind == FrameKind::kCall && RaisedByCode(sig, si);
  // Not armed: the stack is walked only for the report, and only from code in a file (the unwinder
  // knows nothing of JIT code; a WebAssembly trap goes to V8's handler untouched).
  const bool trace = tf && (armed || (OwnerOf(pc) == CodeOwner::kOther && InLoadedObject(pc)));
  if (trace) {
    FaultDetails &d = tf->last;
    d = FaultDetails();
    d.signo = sig;
    d.code = si ? si->si_code : 0;
    d.address = si ? reinterpret_cast<uintptr_t>(si->si_addr) : 0;
    d.pc = pc;
    d.access = AccessOf(sig, uc);
    Trace(tf, uc, &d, armed ? f->saved[kSavedReturn] : 0);
    if (armed && Containable(d)) {
      f->outcome = sig;
      ResumeAt(uc, tf, *f);
      errno = saved_errno;
      return;
    }
  }
  ReportOutsideCall(sig, si, uc, tf, trace ? &tf->last : nullptr);
  ChainToPrevious(sig, si, context);
  errno = saved_errno;
}

}  // namespace dlswap
