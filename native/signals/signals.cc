// The installation of dlswap's handlers and the chain to what was there before (signals.h).
#include "signals/signals.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

namespace dlswap {

namespace {

// One entry per signal, written once, before dlswap's handler for it is installed; read only
// afterwards (from the handler).
struct sigaction g_previous[NSIG];
std::once_flag g_faults_installed;

// A fault raised by the instruction that runs again when the handler returns (not one sent by
// raise(), abort(), kill() or sigqueue()).
bool RaisedByInstruction(int sig, const siginfo_t *info) {
  if (!info || info->si_code <= 0) return false;
  for (int s : kFaultSignals) {
    if (s == sig) return sig != SIGABRT;
  }
  return false;
}

void RestoreDefault(int sig) {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
}

}  // namespace

bool InstallHandler(int sig, SignalHandler handler, int flags) {
  if (sig <= 0 || sig >= NSIG) return false;
  struct sigaction act;
  std::memset(&act, 0, sizeof act);
  act.sa_sigaction = handler;
  // SA_ONSTACK: a stack overflow in library code is delivered on the thread's alternate stack
  // (signals/thread_faults.cc gives one to every thread that calls through dlswap).
  act.sa_flags = SA_SIGINFO | SA_ONSTACK | flags;
  sigemptyset(&act.sa_mask);
  struct sigaction previous;
  if (sigaction(sig, nullptr, &previous) != 0) return false;
  g_previous[sig] = previous;
  return sigaction(sig, &act, nullptr) == 0;
}

bool HandlerInstalled(int sig, SignalHandler handler) {
  struct sigaction now;
  return sigaction(sig, nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) && now.sa_sigaction == handler;
}

void InstallFaultHandlers() {
  std::call_once(g_faults_installed, [] {
    for (int sig : kFaultSignals) InstallHandler(sig, &OnFaultSignal);
  });
}

bool FaultHandlerInstalled(int sig) { return HandlerInstalled(sig, &OnFaultSignal); }

void ChainToPrevious(int sig, siginfo_t *info, void *context) {
  const struct sigaction &p = g_previous[sig];
  if (p.sa_flags & SA_SIGINFO) {
    if (p.sa_sigaction) p.sa_sigaction(sig, info, context);
    return;
  }
  const bool again = RaisedByInstruction(sig, info);
  if (p.sa_handler == SIG_IGN && !again) return;
  if (p.sa_handler == SIG_DFL || p.sa_handler == SIG_IGN) {
    // The default action, as if dlswap had never handled the signal: a fault raised by an
    // instruction happens again when the handler returns; a signal sent by raise(), abort(),
    // kill() or sigqueue() is sent again, and stays pending until the handler returns.
    RestoreDefault(sig);
    if (!again) syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
    return;
  }
  p.sa_handler(sig);
}

}  // namespace dlswap
