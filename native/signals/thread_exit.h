// pthread_exit() during a call through dlswap, contained like a fault (thread_exit.cc says how it
// is reached in each isolation mode).
#pragma once
#include <link.h>

namespace dlswap {

// What the library's pthread_exit / thrd_exit lead to: inside a call, the call ends with
// ERR_DLSWAP_FAULT; outside one, the thread exits.
[[noreturn]] void ThreadExitDuringCall(void *value);
[[noreturn]] void C11ThreadExitDuringCall(int result);

// local and deepbind: points the relocations `map` has for pthread_exit and thrd_exit at the two
// above. Call once the image is relocated, before it serves calls.
void InterposeThreadExit(const struct link_map *map);

}  // namespace dlswap
