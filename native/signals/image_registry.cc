#include "signals/image_registry.h"

#include <elf.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "signals/loaded_image.h"

namespace dlswap {

namespace {

constexpr int kMaxEntries = 1024;
constexpr int kMaxSpans = 4;

// A seqlock per entry: `seq` is odd while the entry is rewritten. Zero-initialized, never
// destroyed (a fault at exit may still read it).
struct Entry {
  std::atomic<uint32_t> seq;
  std::atomic<const struct link_map *> map;
  uintptr_t lo[kMaxSpans], hi[kMaxSpans];
  ImageHit hit;
};
Entry g_entries[kMaxEntries];
std::mutex g_writer;  // one writer at a time

uint32_t CountSymbols(const ElfW(Dyn) * dyn, uintptr_t base) {
  const uint32_t *hash = nullptr, *gnu = nullptr;
  for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_HASH) hash = reinterpret_cast<const uint32_t *>(DynamicAddress(d->d_un.d_ptr, base));
    if (d->d_tag == DT_GNU_HASH) gnu = reinterpret_cast<const uint32_t *>(DynamicAddress(d->d_un.d_ptr, base));
  }
  if (hash) return hash[1];  // nchain: one per symbol
  if (!gnu) return 0;
  // GNU hash: the last symbol is the end of the longest chain of the highest bucket.
  const uint32_t nbuckets = gnu[0], symoffset = gnu[1], bloom = gnu[2];
  const uint32_t *buckets = gnu + 4 + bloom * (sizeof(ElfW(Addr)) / 4);
  const uint32_t *chains = buckets + nbuckets;
  uint32_t last = 0;
  for (uint32_t b = 0; b < nbuckets; ++b) last = std::max(last, buckets[b]);
  if (last < symoffset) return symoffset;
  while (!(chains[last - symoffset] & 1)) ++last;
  return last + 1;
}

void FillSpans(Entry &e, const struct link_map *map) {
  int n = 0, count = 0;
  const ElfW(Phdr) *ph = ProgramHeaders(map, &count);
  for (int i = 0; i < count && n < kMaxSpans; ++i) {
    if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X)) {
      e.lo[n] = map->l_addr + ph[i].p_vaddr;
      e.hi[n] = e.lo[n] + ph[i].p_memsz;
      ++n;
    }
  }
  for (; n < kMaxSpans; ++n) e.lo[n] = e.hi[n] = 0;
}

}  // namespace

void RegisterImage(const struct link_map *map, const std::string &name, int generation) {
  if (!map) return;
  std::lock_guard<std::mutex> lock(g_writer);
  Entry *slot = nullptr;
  for (Entry &e : g_entries) {
    if (e.map.load(std::memory_order_relaxed) == map) {
      slot = &e;
      break;
    }
  }
  if (!slot) {
    for (Entry &e : g_entries) {
      if (e.map.load(std::memory_order_relaxed) == nullptr) {
        slot = &e;
        break;
      }
    }
  }
  if (!slot) return;  // 1,024 live images: the rest are reported without a name
  slot->seq.fetch_add(1, std::memory_order_acq_rel);
  std::atomic_thread_fence(std::memory_order_release);
  slot->map.store(map, std::memory_order_relaxed);
  FillSpans(*slot, map);
  ImageHit &h = slot->hit;
  h = ImageHit();
  h.map = map;
  h.base = map->l_addr;
  h.generation = generation;
  std::strncpy(h.name, name.c_str(), sizeof h.name - 1);
  for (const ElfW(Dyn) *d = map->l_ld; d && d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_SYMTAB) h.symtab = reinterpret_cast<const ElfW(Sym) *>(DynamicAddress(d->d_un.d_ptr, map->l_addr));
    if (d->d_tag == DT_STRTAB) h.strtab = reinterpret_cast<const char *>(DynamicAddress(d->d_un.d_ptr, map->l_addr));
  }
  h.nsyms = map->l_ld ? CountSymbols(map->l_ld, map->l_addr) : 0;
  slot->seq.fetch_add(1, std::memory_order_release);
}

void UnregisterImage(const struct link_map *map) {
  if (!map) return;
  std::lock_guard<std::mutex> lock(g_writer);
  for (Entry &e : g_entries) {
    if (e.map.load(std::memory_order_relaxed) != map) continue;
    e.seq.fetch_add(1, std::memory_order_acq_rel);
    for (int i = 0; i < kMaxSpans; ++i) e.lo[i] = e.hi[i] = 0;
    e.map.store(nullptr, std::memory_order_relaxed);
    e.seq.fetch_add(1, std::memory_order_release);
  }
}

bool FindImage(uintptr_t pc, ImageHit *out) {
  for (Entry &e : g_entries) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      const uint32_t s0 = e.seq.load(std::memory_order_acquire);
      if (s0 & 1) continue;
      if (e.map.load(std::memory_order_relaxed) == nullptr) break;
      bool in = false;
      for (int i = 0; i < kMaxSpans; ++i) in = in || (pc >= e.lo[i] && pc < e.hi[i]);
      if (!in) {
        if (e.seq.load(std::memory_order_acquire) == s0) break;
        continue;
      }
      std::memcpy(static_cast<void *>(out), &e.hit, sizeof *out);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (e.seq.load(std::memory_order_relaxed) == s0) return true;
    }
  }
  return false;
}

bool DynamicSymbolAt(const ImageHit &hit, uintptr_t pc, const char **name, uintptr_t *offset) {
  if (!hit.symtab || !hit.strtab || hit.nsyms == 0) return false;
  const uintptr_t rel = pc - hit.base;
  const ElfW(Sym) *best = nullptr;
  for (uint32_t i = 0; i < hit.nsyms; ++i) {
    const ElfW(Sym) &s = hit.symtab[i];
    if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF || s.st_value > rel) continue;
    if (s.st_size > 0 && rel >= s.st_value + s.st_size) continue;
    if (!best || s.st_value > best->st_value) best = &s;
  }
  if (!best) return false;
  *name = hit.strtab + best->st_name;
  *offset = rel - best->st_value;
  return true;
}

}  // namespace dlswap
