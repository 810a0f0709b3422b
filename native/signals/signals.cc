// The installation of dlswap's handlers and the chain to what was there before (signals.h).
#include "signals/signals.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

namespace dlswap {

namespace {

// Written once, before dlswap's handler can run; read only afterwards (from the handler).
struct sigaction g_previous[NSIG];
std::once_flag g_installed;

bool FromKernel(const siginfo_t *info) { return info && info->si_code > 0; }

void RestoreDefault(int sig) {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
}

}  // namespace

void InstallFaultHandlers() {
  std::call_once(g_installed, [] {
    for (int sig : kFaultSignals) {
      struct sigaction act;
      std::memset(&act, 0, sizeof act);
      act.sa_sigaction = &OnFaultSignal;
      // SA_ONSTACK: a stack overflow in library code is delivered on the thread's alternate stack
      // (signals/thread_faults.cc gives one to every thread that calls through dlswap).
      act.sa_flags = SA_SIGINFO | SA_ONSTACK;
      sigemptyset(&act.sa_mask);
      sigaction(sig, &act, &g_previous[sig]);
    }
  });
}

bool FaultHandlerInstalled(int sig) {
  struct sigaction now;
  return sigaction(sig, nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) && now.sa_sigaction == &OnFaultSignal;
}

void ChainToPrevious(int sig, siginfo_t *info, void *context) {
  const struct sigaction &p = g_previous[sig];
  if (p.sa_flags & SA_SIGINFO) {
    if (p.sa_sigaction) p.sa_sigaction(sig, info, context);
    return;
  }
  if (p.sa_handler == SIG_IGN && !FromKernel(info)) return;
  if (p.sa_handler == SIG_DFL || p.sa_handler == SIG_IGN) {
    // The default action, as if dlswap had never handled the signal: a fault raised by an
    // instruction happens again when the handler returns; a signal sent by raise(), abort() or
    // kill() is sent again, and stays pending until the handler returns.
    RestoreDefault(sig);
    if (!FromKernel(info)) syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
    return;
  }
  p.sa_handler(sig);
}

}  // namespace dlswap
