// What /proc calls a thread of this process: the name a report of threads holding an image gives
// (image/library_handle.cc) and that of threads a namespace's runtime started (namespace/).
#pragma once
#include <sys/types.h>

#include <string>

namespace dlswap {

// /proc's name of a thread of this process ("" once it has exited).
std::string ThreadName(pid_t tid);

}  // namespace dlswap
