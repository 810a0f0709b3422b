// Reading a loaded object's own tables in memory (its dynamic section, its program headers), for
// the fault handler and the thread-exit interposition. Async-signal-safe: plain reads of mapped
// memory that stays mapped as long as the object is loaded.
#pragma once
#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>

namespace dlswap {

// An address from the dynamic section, as a run-time address: glibc rewrites them in place where
// the section is writable (x86-64, aarch64); a value below the load bias is still a link-time one.
inline uintptr_t DynamicAddress(ElfW(Addr) a, uintptr_t base) { return base != 0 && a < base ? a + base : a; }

// The program headers of a loaded shared library: its first segment maps the ELF header at the load
// bias, and the headers after it (the loader keeps its own pointer to them private). Null, with
// *count 0, when that is not so.
inline const ElfW(Phdr) * ProgramHeaders(const struct link_map *map, int *count) {
  *count = 0;
  if (!map || map->l_addr == 0) return nullptr;
  const auto *eh = reinterpret_cast<const ElfW(Ehdr) *>(map->l_addr);
  if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) return nullptr;
  *count = eh->e_phnum;
  return reinterpret_cast<const ElfW(Phdr) *>(map->l_addr + eh->e_phoff);
}

}  // namespace dlswap
