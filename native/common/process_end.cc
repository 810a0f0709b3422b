#include "common/process_end.h"

#include <atomic>

namespace dlswap {

namespace {
std::atomic<bool> g_ending{false};
}  // namespace

void NoteProcessEnding() { g_ending.store(true, std::memory_order_release); }
bool ProcessEnding() { return g_ending.load(std::memory_order_acquire); }

}  // namespace dlswap
