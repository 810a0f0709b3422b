// The full symbol table (.symtab, which is not loaded into memory) of a library file, read from
// disk after a fault to name a static function. Only if the file is the build that is mapped: its
// GNU build-id must match the one recorded when the image was loaded. Normal context only.
#pragma once
#include <cstdint>
#include <string>

namespace dlswap {

struct FileSymbol {
  std::string name;
  uint64_t offset = 0;  // of the address in the function
};

// The function of `path` whose link-time address range holds `vaddr`; false if the file is not
// that build (`build_id` "" accepts any), has no symbol table or no function there.
bool FileSymbolAt(const std::string &path, const std::string &build_id, uint64_t vaddr, FileSymbol *out);

}  // namespace dlswap
