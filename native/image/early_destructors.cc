#include "image/early_destructors.h"

#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/proc_maps.h"

namespace dlswap {

namespace {

using Fini = void (*)();

// What every neutralised entry points to. In the addon, which is never unloaded: exit may still
// call it after the image is gone from dlswap's view.
void NoDestructor() {}

struct FiniArray {
  Fini *entries = nullptr;
  size_t count = 0;
};

// The array as glibc finds it: l_addr + DT_FINI_ARRAY, DT_FINI_ARRAYSZ bytes.
FiniArray ArrayOf(const struct link_map *m) {
  FiniArray out;
  if (!m || !m->l_ld) return out;
  uintptr_t at = 0, size = 0;
  bool has_at = false, has_size = false;
  for (const ElfW(Dyn) *d = m->l_ld; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_FINI_ARRAY) {
      at = d->d_un.d_ptr;
      has_at = true;
    } else if (d->d_tag == DT_FINI_ARRAYSZ) {
      size = d->d_un.d_val;
      has_size = true;
    }
  }
  if (!has_at || !has_size || size < sizeof(Fini)) return out;
  out.entries = reinterpret_cast<Fini *>(m->l_addr + at);
  out.count = size / sizeof(Fini);
  return out;
}

int ProtOf(const Mapping &m) { return (m.readable ? PROT_READ : 0) | (m.writable ? PROT_WRITE : 0) | (m.exec ? PROT_EXEC : 0); }

// A page range made writable for a moment, and the protection to give it back.
struct Unprotected {
  uintptr_t start, end;
  int prot;
};

// Makes every page of [start, end) writable (RELRO leaves a destructor array read-only), recording
// what to restore. False, with everything restored, if a page is not mapped or mprotect refuses.
bool MakeWritable(uintptr_t start, uintptr_t end, ProcMaps &maps, std::vector<Unprotected> &changed, std::string *error) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (uintptr_t at = start & ~(page - 1); at < end;) {
    const std::optional<Mapping> m = maps.At(at);
    if (!m) {
      if (error) *error = "its destructor array is not mapped where its dynamic section says";
      return false;
    }
    const uintptr_t stop = std::min(m->end, (end + page - 1) & ~(page - 1));
    if (!m->writable) {
      if (mprotect(reinterpret_cast<void *>(at), stop - at, ProtOf(*m) | PROT_WRITE) != 0) {
        if (error) *error = std::string("mprotect of its destructor array failed: ") + std::strerror(errno);
        return false;
      }
      changed.push_back({at, stop, ProtOf(*m)});
    }
    at = stop;
  }
  return true;
}

void Restore(const std::vector<Unprotected> &changed) {
  for (const Unprotected &u : changed) mprotect(reinterpret_cast<void *>(u.start), u.end - u.start, u.prot);
}

}  // namespace

bool DestructorsRanEarly(const struct link_map *object) {
  const FiniArray a = ArrayOf(object);
  if (!a.entries) return false;
  for (size_t i = 0; i < a.count; ++i) {
    if (a.entries[i] != &NoDestructor) return false;
  }
  return true;
}

bool RunDestructorsEarly(const ObjectList &objects, size_t *ran, std::string *error) {
  if (ran) *ran = 0;
  struct Pending {
    FiniArray array;
    std::vector<Fini> copy;
  };
  std::vector<Pending> pending;
  std::vector<Unprotected> changed;
  ProcMaps maps;
  for (const struct link_map *m : DestructorOrder(objects)) {
    const FiniArray a = ArrayOf(m);
    if (!a.entries || DestructorsRanEarly(m)) continue;
    const uintptr_t start = reinterpret_cast<uintptr_t>(a.entries);
    if (!MakeWritable(start, start + a.count * sizeof(Fini), maps, changed, error)) {
      for (Pending &p : pending) std::copy(p.copy.begin(), p.copy.end(), p.array.entries);
      Restore(changed);
      return false;
    }
    pending.push_back({a, std::vector<Fini>(a.entries, a.entries + a.count)});
    std::fill(a.entries, a.entries + a.count, &NoDestructor);
  }
  Restore(changed);
  // Each array from its last entry to its first, as glibc calls it.
  for (const Pending &p : pending) {
    for (size_t i = p.copy.size(); i-- > 0;) p.copy[i]();
  }
  if (ran) *ran = pending.size();
  return true;
}

}  // namespace dlswap
