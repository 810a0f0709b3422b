// The thread sample (a line of signals.h's table). The scan of threads that could be running an
// image's code (image/thread_scan.h) needs each thread's program counter and stack pointer. The
// kernel publishes them only for a thread blocked in a system call; a thread running in user space
// (libgomp's team spinning after a parallel region) is asked instead: it is sent a real-time
// signal, and the handler, on that thread, hands its registers over. The signal is the highest
// real-time one that nobody handles when the addon is loaded (its handler is installed then, before
// any library runs); it is sent with rt_tgsigqueueinfo and carries a tag of dlswap's, so that only
// dlswap's own signals are answered, a late one is dropped, and any other goes to the previous
// handler (signals.h, ChainToPrevious).
#pragma once
#include <sys/types.h>

#include <cstdint>

namespace dlswap {

struct SampledRegisters {
  uintptr_t pc = 0, sp = 0;
  uintptr_t lr = 0;  // the link register where there is one (aarch64): a leaf's caller is only there
};

// Runs on the signalled thread, inside the handler: async-signal-safe code only.
using SampleReceiver = void (*)(uint64_t tag, const SampledRegisters &regs);

// Installs the handler on the first call; later calls only check it. Returns the signal, or 0 when no
// real-time signal is free or a library has since put its own handler in dlswap's place (then
// nothing is sent: the signal would reach code that does not expect it).
int ThreadSampleSignal(SampleReceiver receiver);

// Sends the sample signal with `tag` (below 2^48) to thread `tid` of this process. false: not
// sent (the thread is gone, or the system refused).
bool SendThreadSample(pid_t tid, uint64_t tag);

}  // namespace dlswap
