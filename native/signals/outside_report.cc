#include "signals/outside_report.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "signals/code_ranges.h"
#include "signals/image_registry.h"
#include "signals/signal_text.h"

namespace dlswap {

namespace {

// A line built without malloc or stdio.
class Line {
 public:
  Line &Str(const char *s) {
    while (s && *s && n_ < sizeof buf_ - 1) buf_[n_++] = *s++;
    return *this;
  }
  Line &Hex(uintptr_t v) {
    char tmp[2 + 16];
    int i = sizeof tmp;
    do {
      tmp[--i] = "0123456789abcdef"[v & 15];
      v >>= 4;
    } while (v && i > 2);
    tmp[--i] = 'x';
    tmp[--i] = '0';
    for (; i < static_cast<int>(sizeof tmp) && n_ < sizeof buf_ - 1; ++i) buf_[n_++] = tmp[i];
    return *this;
  }
  Line &Dec(long v) {
    char tmp[24];
    int i = sizeof tmp;
    const bool neg = v < 0;
    unsigned long u = neg ? -static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do {
      tmp[--i] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u && i > 1);
    if (neg) tmp[--i] = '-';
    for (; i < static_cast<int>(sizeof tmp) && n_ < sizeof buf_ - 1; ++i) buf_[n_++] = tmp[i];
    return *this;
  }
  void Write(int fd) {
    buf_[n_++] = '\n';
    size_t off = 0;
    while (off < n_) {
      ssize_t w = write(fd, buf_ + off, n_ - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
  }

 private:
  char buf_[1024];
  size_t n_ = 0;
};

std::atomic<bool> g_reported{false};

void Frame(Line &l, const ImageHit &hit, uintptr_t pc) {
  const char *name = nullptr;
  uintptr_t off = 0;
  if (DynamicSymbolAt(hit, pc, &name, &off)) {
    l.Str(name).Str("+").Hex(off);
    l.Str(" in ");
  } else {
    l.Str("offset ").Hex(pc - hit.base).Str(" of ");
  }
  l.Str(hit.name);
  if (hit.generation > 0) l.Str(" (generation ").Dec(hit.generation).Str(")");
}

// A fault while dlswap loads a library on this thread: in one of its constructors (or its
// dependencies'), which the dynamic loader runs under its lock.
void ReportDuringLoad(int sig, const siginfo_t *info, uintptr_t pc, const ThreadFaults *tf) {
  if (g_reported.exchange(true)) return;
  Line l;
  l.Str("dlswap: ").Str(SignalName(sig)).Str(" (").Str(SignalCodeText(sig, info ? info->si_code : 0)).Str(")");
  if (sig != SIGABRT && info) l.Str(" at address ").Hex(reinterpret_cast<uintptr_t>(info->si_addr));
  const char *object = nullptr;
  uintptr_t base = 0;
  if (ObjectAt(pc, &object, &base)) l.Str(" at offset ").Hex(pc - base).Str(" of ").Str(object);
  l.Str(" while dlswap was loading ").Str(tf->loading).Str(", thread ").Dec(syscall(SYS_gettid));
  l.Str(
      ": a fault in a constructor happens inside the dynamic loader and cannot be contained; the signal goes on "
      "to its previous handler (by default the process ends with it).");
  l.Write(2);
}

}  // namespace

void ReportOutsideCall(int sig, const siginfo_t *info, const ucontext_t *uc, ThreadFaults *tf, const FaultDetails *traced) {
#if defined(__x86_64__)
  const uintptr_t pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
#else
  const uintptr_t pc = static_cast<uintptr_t>(uc->uc_mcontext.pc);
#endif
  // The frame to name: the fault's own if it is in a dlswap image, else the innermost frame of
  // the trace that is (a library's call into libc that faulted there).
  ImageHit hit;
  uintptr_t at = 0;
  bool called_from = false;
  if (FindImage(pc, &hit)) {
    at = pc;
  } else if (traced) {
    for (int i = 1; i < traced->depth && !at; ++i) {
      if (FindImage(traced->trace[i] - 1, &hit)) {
        at = traced->trace[i] - 1;
        called_from = true;
      }
    }
  }
  if (!at) {
    if (tf && tf->loading[0]) ReportDuringLoad(sig, info, pc, tf);
    return;
  }
  if (g_reported.exchange(true)) return;
  Line l;
  l.Str("dlswap: ").Str(SignalName(sig)).Str(" (").Str(SignalCodeText(sig, info ? info->si_code : 0)).Str(")");
  if (sig != SIGABRT && info) l.Str(" at address ").Hex(reinterpret_cast<uintptr_t>(info->si_addr));
  l.Str(called_from ? " in code called from " : " at ");
  Frame(l, hit, at);
  const bool in_call = tf && tf->top && tf->top->kind == FrameKind::kCall;
  l.Str(", thread ").Dec(syscall(SYS_gettid));
  l.Str(in_call ? ": inside a call through dlswap, but under code that cannot be interrupted safely (the dynamic "
                  "loader, node, or dlswap itself), so it is not contained"
                : ": outside any call through dlswap, so it cannot be contained");
  l.Str("; the signal goes on to its previous handler (by default the process ends with it).");
  l.Write(2);
}

}  // namespace dlswap
