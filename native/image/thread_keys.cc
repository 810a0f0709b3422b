#include "image/thread_keys.h"

#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>

#include <cstdint>

namespace dlswap {

namespace {

// nptl's struct pthread_key_struct.
struct GlibcKey {
  uintptr_t seq;
  void (*destr)(void *);
};

// The table, or null when the symbol is not there or not of the layout above.
const GlibcKey *KeyTable() {
  static const GlibcKey *table = []() -> const GlibcKey * {
    void *p = dlvsym(RTLD_DEFAULT, "__pthread_keys", "GLIBC_PRIVATE");
    if (!p) return nullptr;
    Dl_info info;
    void *entry = nullptr;
    if (!dladdr1(p, &info, &entry, RTLD_DL_SYMENT) || !entry) return nullptr;
    const auto *sym = static_cast<const ElfW(Sym) *>(entry);
    if (sym->st_size != sizeof(GlibcKey) * PTHREAD_KEYS_MAX) return nullptr;
    return static_cast<const GlibcKey *>(p);
  }();
  return table;
}

}  // namespace

std::optional<std::vector<unsigned>> KeysWithDestructorsIn(const std::vector<AddressRange> &code) {
  const GlibcKey *table = KeyTable();
  if (!table) return std::nullopt;
  std::vector<unsigned> out;
  for (unsigned k = 0; k < PTHREAD_KEYS_MAX; ++k) {
    // Another thread may create or delete a key meanwhile: glibc updates both words atomically.
    const uintptr_t seq = __atomic_load_n(&table[k].seq, __ATOMIC_ACQUIRE);
    if ((seq & 1) == 0) continue;
    const uintptr_t d = reinterpret_cast<uintptr_t>(__atomic_load_n(&table[k].destr, __ATOMIC_RELAXED));
    for (const AddressRange &r : code) {
      if (d >= r.start && d < r.end) {
        out.push_back(k);
        break;
      }
    }
  }
  return out;
}

}  // namespace dlswap
