// Addresses no mapping of this process can hold, whatever it did before: reading or writing one is
// certainly a crash, and freeing one certainly an abort, so the typed-memory functions refuse them
// (ERR_DLSWAP_ARG) instead of trusting them as they trust every other address.
#pragma once
#include <cstdint>

namespace dlswap {

// Linux's default vm.mmap_min_addr: nothing is mapped below it unless an administrator lowered it.
constexpr uint64_t kLowestMappable = 64 * 1024;

inline bool NeverMapped(uint64_t address) {
  if (address < kLowestMappable) return true;
#if defined(__x86_64__)
  // Past the largest user address space (57 bits, with 5-level paging): the kernel's half, or a
  // non-canonical address. (aarch64 is left alone: the top byte of a user pointer may be a tag.)
  if (address >= (uint64_t(1) << 57)) return true;
#endif
  return false;
}

}  // namespace dlswap
