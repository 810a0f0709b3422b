// The images dlswap loaded, as a fault report names them: the span of their code, the path the
// user gave, the generation and what the image is to the library (itself or a private dependency),
// with the symbol table that is in memory (.dynsym). Written on JS threads when lib/ describes a
// library (NativeLibrary.describe), dropped when the image is closed; read from the fault handler
// without locks (each entry is a seqlock).
#pragma once
#include <link.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace dlswap {

// What the handler gets for an address: copies, consistent with each other.
struct ImageHit {
  const struct link_map *map = nullptr;
  uintptr_t base = 0;      // the load bias (link_map l_addr)
  int32_t generation = 0;  // 0: not a HotLibrary generation
  char name[256] = {};     // the library's path as the user gave it, and what the image is to it
  const ElfW(Sym) *symtab = nullptr;
  const char *strtab = nullptr;
  uint32_t nsyms = 0;
};

// `map`'s executable segments, named `name` (generation 0 for a plain library). Replaces an entry
// of the same map. Not async-signal-safe.
void RegisterImage(const struct link_map *map, const std::string &name, int generation);
void UnregisterImage(const struct link_map *map);

// Async-signal-safe.
bool FindImage(uintptr_t pc, ImageHit *out);
// The exported function of `hit` that contains (or precedes) `pc`: its name and pc's offset in it.
// Async-signal-safe (reads the image's own tables, which are mapped as long as it is).
bool DynamicSymbolAt(const ImageHit &hit, uintptr_t pc, const char **name, uintptr_t *offset);

}  // namespace dlswap
