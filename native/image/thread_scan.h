// Finds threads that are executing in given code, without stopping them. A thread blocked in a
// system call has its registers and its stack in /proc/self/task/<tid>/syscall; a thread running in
// user space is asked for its registers with a signal (signals/thread_sample.h). Then a program
// counter in the code, or a return address into it on the thread's stack, means a frame of that
// code is live. A thread that can be neither read nor asked (it blocks the signal, or does not
// answer in time) is reported as unknown: it may be in the code, and the caller must assume it is.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "image/image_closure.h"

namespace dlswap {

struct ScanResult {
  std::vector<pid_t> executing;                        // threads with the PC or a live frame in `ranges`
  std::vector<std::pair<pid_t, std::string>> unknown;  // threads that could not be looked at, and why
};

// Marks the calling thread as one that runs a library's code only through dlswap's counted entry
// points: a libuv pool thread (async calls, counted in flight) or a JS thread (sync calls, which
// cannot overlap a retirement of the library they call). The scan skips such threads: a retirement
// already knows they are not in the image, and stale words left above their stack pointer by an
// earlier call would otherwise look like live frames. One thread-local test after the first call.
void NoteCountedThread();

// The CPU time of each thread of the process but the calling one, taken before a load maps anything
// (LibraryHandle::clocks_before_load). A thread whose CPU time is the same when the image is retired
// has not run since (every run adds to it): it cannot have entered the image's code, nor have a
// frame in it, and the scan does not look at it. Threads that ran since, or started since, are
// looked at as before. Counted threads (NoteCountedThread) are left out: no scan looks at them.
// One clock_gettime per thread, no file of /proc but the listing.
struct ThreadClocks {
  std::vector<std::pair<pid_t, uint64_t>> cpu_ns;  // sorted by thread id
};
ThreadClocks TakeThreadClocks();

// How long threads running in user space have, in all, to answer the request for their registers:
// one that is runnable but not scheduled answers when it next runs, which on a busy machine can take
// a while. Paid only while one has not answered; past it, it is reported unknown.
constexpr std::chrono::milliseconds kScanPatience{1000};

// Every thread of the process but the calling one.
ScanResult ScanThreads(const std::vector<AddressRange> &ranges, ProcMaps &maps, std::chrono::milliseconds patience = kScanPatience);

// The same scan for several images at once, each thread looked at once whatever the number of
// images: per image (in the order of `images`), the threads in its code. `unknown` threads may be
// in any of them.
struct MultiScanResult {
  std::vector<std::vector<pid_t>> executing;
  std::vector<std::pair<pid_t, std::string>> unknown;
};
// `quiet`: per image, the thread clocks from before it was loaded (all given, or none): a thread that
// has not run since any of them is not looked at.
MultiScanResult ScanThreadsFor(const std::vector<std::vector<AddressRange>> &images, ProcMaps &maps,
                               std::chrono::milliseconds patience = kScanPatience, const std::vector<const ThreadClocks *> &quiet = {});

// Installs the sampling signal's handler (signals/thread_sample.h) if it is not yet, and opens the
// descriptor threads are listed from: with the addon, so that both are there before any library is
// loaded. Idempotent.
void PrepareThreadSamples();

// What the scans cost since the process started: for tests and benchmarks that count work.
struct ScanCounters {
  uint64_t scans = 0;    // ScanThreads/ScanThreadsFor calls that looked at threads
  uint64_t threads = 0;  // threads looked at in them
  uint64_t sampled = 0;  // of which asked for their registers with the signal
  uint64_t quiet = 0;    // threads not looked at: they had not run since the image was loaded
};
ScanCounters ScanCountersNow();

}  // namespace dlswap
