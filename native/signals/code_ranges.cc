#include "signals/code_ranges.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/auxv.h>

#include <atomic>

namespace dlswap {

namespace {

struct Range {
  uintptr_t start = 0, end = 0;
  CodeOwner owner = CodeOwner::kOther;
};
constexpr int kMaxRanges = 32;
Range g_ranges[kMaxRanges];
int g_count = 0;
// Each namespace's libc has its own dl_iterate_phdr, which takes the same loader lock: one range per
// link-map namespace (glibc allows 16), replaced when a namespace is made again.
constexpr int kMaxNamespaces = 16;
std::atomic<uintptr_t> g_ns_start[kMaxNamespaces], g_ns_end[kMaxNamespaces];

bool FunctionSpan(void *fn, uintptr_t *start, uintptr_t *end) {
  Dl_info info;
  ElfW(Sym) *sym = nullptr;
  if (!fn || !dladdr1(fn, &info, reinterpret_cast<void **>(&sym), RTLD_DL_SYMENT) || !sym || sym->st_size == 0 || !info.dli_saddr) {
    return false;
  }
  *start = reinterpret_cast<uintptr_t>(info.dli_saddr);
  *end = *start + sym->st_size;
  return true;
}

void Add(uintptr_t start, uintptr_t end, CodeOwner owner) {
  if (g_count < kMaxRanges && end > start) g_ranges[g_count++] = {start, end, owner};
}

void AddonMarker() {}

// glibc 2.35's lock-free address lookup, if this glibc has it (the prebuilt addon needs only 2.34).
struct FoundObject {
  unsigned long long flags;
  void *map_start, *map_end, *link_map, *eh_frame;
  unsigned long long reserved[16];  // glibc's has 7 and per-architecture fields: room for all
};
using FindObjectFn = int (*)(void *, FoundObject *);
FindObjectFn g_find_object = nullptr;

struct Wanted {
  uintptr_t addon = 0;   // a code address of the addon
  uintptr_t loader = 0;  // the dynamic loader's base address
  bool program = true;   // the executable is node
  bool first = true;
};

int AddObject(struct dl_phdr_info *info, size_t, void *p) {
  Wanted &w = *static_cast<Wanted *>(p);
  // The first object listed is the program (node); the addon and the loader are found by address.
  const bool program = w.first && w.program && (info->dlpi_name == nullptr || info->dlpi_name[0] == '\0');
  w.first = false;
  const bool loader = w.loader != 0 && info->dlpi_addr == w.loader;
  bool addon = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr) &ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    const uintptr_t s = info->dlpi_addr + ph.p_vaddr, e = s + ph.p_memsz;
    if (w.addon >= s && w.addon < e) addon = true;
  }
  if (!program && !loader && !addon) return 0;
  const CodeOwner owner = addon ? CodeOwner::kDlswap : loader ? CodeOwner::kLoader : CodeOwner::kNode;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr) &ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) Add(info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz, owner);
  }
  return 0;
}

}  // namespace

void ComputeCodeRanges(bool program_is_node) {
  if (g_count > 0) return;
  g_find_object = reinterpret_cast<FindObjectFn>(dlsym(RTLD_DEFAULT, "_dl_find_object"));
  Wanted w;
  w.program = program_is_node;
  // The self-test links this code into its program, which stands for a library: no dlswap range.
  w.addon = program_is_node ? reinterpret_cast<uintptr_t>(&AddonMarker) : 0;
  w.loader = static_cast<uintptr_t>(getauxval(AT_BASE));
  dl_iterate_phdr(&AddObject, &w);
  // dl_iterate_phdr's own code: its size from libc's symbol table.
  uintptr_t start = 0, end = 0;
  if (FunctionSpan(reinterpret_cast<void *>(&dl_iterate_phdr), &start, &end)) Add(start, end, CodeOwner::kLoaderCallback);
}

void NoteNamespaceLibc(long lmid, void *dl_iterate_phdr_fn) {
  uintptr_t start = 0, end = 0;
  if (lmid <= 0 || lmid >= kMaxNamespaces || !FunctionSpan(dl_iterate_phdr_fn, &start, &end)) return;
  g_ns_end[lmid].store(0, std::memory_order_release);
  g_ns_start[lmid].store(start, std::memory_order_release);
  g_ns_end[lmid].store(end, std::memory_order_release);
}

CodeOwner OwnerOf(uintptr_t pc) {
  for (int i = 1; i < kMaxNamespaces; ++i) {
    const uintptr_t end = g_ns_end[i].load(std::memory_order_acquire);
    if (end && pc >= g_ns_start[i].load(std::memory_order_acquire) && pc < end) return CodeOwner::kLoaderCallback;
  }
  // The narrow range (dl_iterate_phdr) is listed last and is inside no other of the table.
  for (int i = g_count - 1; i >= 0; --i) {
    if (pc >= g_ranges[i].start && pc < g_ranges[i].end) return g_ranges[i].owner;
  }
  return CodeOwner::kOther;
}

bool InLoadedObject(uintptr_t pc) {
  FoundObject found;
  return g_find_object && g_find_object(reinterpret_cast<void *>(pc), &found) == 0;
}

bool ObjectAt(uintptr_t pc, const char **name, uintptr_t *base) {
  FoundObject found;
  if (!g_find_object || g_find_object(reinterpret_cast<void *>(pc), &found) != 0 || !found.link_map) return false;
  const auto *map = static_cast<const struct link_map *>(found.link_map);
  *name = map->l_name && map->l_name[0] ? map->l_name : "the program";
  *base = map->l_addr;
  return true;
}

}  // namespace dlswap
