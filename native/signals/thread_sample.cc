#include "signals/thread_sample.h"

#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "signals/signals.h"

namespace dlswap {

namespace {

// The top 16 bits of a sample's si_value: dlswap's mark.
constexpr uint64_t kSampleMark = uint64_t(0xD15A) << 48;
constexpr uint64_t kTagMask = (uint64_t(1) << 48) - 1;

std::mutex g_install_mutex;
std::atomic<int> g_sample_signal{0};
std::atomic<SampleReceiver> g_receiver{nullptr};

SampledRegisters RegistersOf(void *context) {
  SampledRegisters r;
  const auto *uc = static_cast<const ucontext_t *>(context);
#if defined(__x86_64__)
  r.pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  r.sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  r.pc = static_cast<uintptr_t>(uc->uc_mcontext.pc);
  r.sp = static_cast<uintptr_t>(uc->uc_mcontext.sp);
  r.lr = static_cast<uintptr_t>(uc->uc_mcontext.regs[30]);
#endif
  return r;
}

void OnSampleSignal(int sig, siginfo_t *info, void *context) {
  const int saved_errno = errno;
  const uint64_t value = info ? static_cast<uint64_t>(reinterpret_cast<uintptr_t>(info->si_value.sival_ptr)) : 0;
  if (info && info->si_code == SI_QUEUE && info->si_pid == getpid() && (value & ~kTagMask) == kSampleMark) {
    // dlswap's own, current or late: never passed on.
    if (SampleReceiver receiver = g_receiver.load(std::memory_order_acquire)) receiver(value & kTagMask, RegistersOf(context));
  } else {
    ChainToPrevious(sig, info, context);
  }
  errno = saved_errno;
}

}  // namespace

int ThreadSampleSignal(SampleReceiver receiver) {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  int sig = g_sample_signal.load();
  if (sig != 0) return HandlerInstalled(sig, &OnSampleSignal) ? sig : 0;
  // The highest real-time signal nobody handles (SIGRTMIN and the one after it are the ones
  // libraries that use real-time signals usually take).
  for (int s = SIGRTMAX; s >= SIGRTMIN + 2; --s) {
    struct sigaction now;
    if (sigaction(s, nullptr, &now) != 0 || (now.sa_flags & SA_SIGINFO) || now.sa_handler != SIG_DFL) continue;
    g_receiver.store(receiver, std::memory_order_release);
    if (!InstallHandler(s, &OnSampleSignal, SA_RESTART)) continue;
    g_sample_signal.store(s);
    return s;
  }
  return 0;
}

bool SendThreadSample(pid_t tid, uint64_t tag) {
  const int sig = g_sample_signal.load();
  if (sig == 0) return false;
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  info.si_signo = sig;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_ptr = reinterpret_cast<void *>(static_cast<uintptr_t>(kSampleMark | (tag & kTagMask)));
  return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &info) == 0;
}

}  // namespace dlswap
