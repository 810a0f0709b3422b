// Finds threads that are executing in given code, without stopping them: a thread blocked in a
// system call has its registers and its stack in /proc/self/task/<tid>/syscall, and a return
// address into the code on its stack means a frame of that code is live. A thread running in user
// space cannot be seen this way (its registers are not published); callers say so.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "image/image_closure.h"

namespace dlswap {

struct ScanResult {
  std::vector<pid_t> executing;   // threads with the program counter or a live frame in `ranges`
  std::vector<pid_t> unknown;     // threads running in user space: could not be looked at
};

// Marks the calling thread as one that runs a library's code only through dlswap's counted entry
// points: a libuv pool thread (async calls, counted in flight) or a JS thread (sync calls, which
// cannot overlap a retirement of the library they call). The scan skips such threads: a retirement
// already knows they are not in the image, and stale words left above their stack pointer by an
// earlier call would otherwise look like live frames. One thread-local test after the first call.
void NoteCountedThread();

// /proc's name of a thread of this process ("" once it has exited).
std::string ThreadName(pid_t tid);

// Every thread of the process but the calling one.
ScanResult ScanThreads(const std::vector<AddressRange> &ranges, ProcMaps &maps);

}  // namespace dlswap
