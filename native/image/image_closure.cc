#include "image/image_closure.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <set>
#include <string>
#include <unordered_map>

namespace dlswap {

namespace {

struct DynamicInfo {
  const char *soname = nullptr;
  std::vector<const char *> needed;
  bool nodelete = false;
};

// glibc rewrites the address entries of a writable dynamic section to absolute addresses when it
// loads an object; where the section is read-only they stay link-time addresses. Either way the
// string table must end up inside the object's own mapping, above its load address.
DynamicInfo ReadDynamic(const struct link_map *m) {
  DynamicInfo out;
  if (m == nullptr || m->l_ld == nullptr) return out;
  uintptr_t strtab = 0;
  std::vector<uintptr_t> needed;
  uintptr_t soname = 0;
  bool has_soname = false;
  for (const ElfW(Dyn) *d = m->l_ld; d->d_tag != DT_NULL; ++d) {
    switch (d->d_tag) {
      case DT_STRTAB: strtab = d->d_un.d_ptr; break;
      case DT_NEEDED: needed.push_back(d->d_un.d_val); break;
      case DT_SONAME:
        soname = d->d_un.d_val;
        has_soname = true;
        break;
      case DT_FLAGS_1: out.nodelete = (d->d_un.d_val & DF_1_NODELETE) != 0; break;
      default: break;
    }
  }
  if (strtab == 0) return out;
  if (strtab < m->l_addr) strtab += m->l_addr;
  const char *str = reinterpret_cast<const char *>(strtab);
  if (has_soname) out.soname = str + soname;
  for (uintptr_t off : needed) out.needed.push_back(str + off);
  return out;
}

// The names a DT_NEEDED entry can match an object by: its l_name, its SONAME, its file name.
struct Names {
  const struct link_map *map;
  const char *l_name;
  const char *soname;
  std::string file;
  bool Match(const char *name) const {
    return (l_name && std::strcmp(l_name, name) == 0) || (soname && std::strcmp(soname, name) == 0) || file == name;
  }
};

std::vector<Names> NamesOf(const ObjectList &objects) {
  std::vector<Names> out;
  out.reserve(objects.size());
  for (const struct link_map *m : objects) out.push_back({m, m->l_name, ReadDynamic(m).soname, ObjectFileName(m)});
  return out;
}

}  // namespace

std::string ObjectFileName(const struct link_map *m) {
  std::string n = m && m->l_name ? m->l_name : "";
  size_t slash = n.rfind('/');
  return slash == std::string::npos ? n : n.substr(slash + 1);
}

ObjectList NamespaceObjects(const struct link_map *member) {
  ObjectList out;
  if (!member) return out;
  const struct link_map *head = member;
  while (head->l_prev) head = head->l_prev;
  for (const struct link_map *m = head; m; m = m->l_next) out.push_back(m);
  return out;
}

namespace {

// `root` and what it needs, breadth first. `needed(m)`: the names of m's DT_NEEDED entries;
// `find(name)`: the object that name resolves to, or null.
template <typename Needed, typename Find>
ObjectList BreadthFirst(const struct link_map *root, Needed needed, Find find) {
  ObjectList out;
  if (!root) return out;
  std::set<const struct link_map *> seen{root};
  std::deque<const struct link_map *> todo{root};
  while (!todo.empty()) {
    const struct link_map *m = todo.front();
    todo.pop_front();
    out.push_back(m);
    for (const char *name : needed(m)) {
      const struct link_map *next = find(name);
      if (next && seen.insert(next).second) todo.push_back(next);
    }
  }
  return out;
}

ObjectList ClosureOf(const struct link_map *root, const std::vector<Names> &names) {
  return BreadthFirst(
      root, [](const struct link_map *m) { return ReadDynamic(m).needed; },
      [&](const char *name) -> const struct link_map * {
        auto it = std::find_if(names.begin(), names.end(), [&](const Names &n) { return n.Match(name); });
        return it == names.end() ? nullptr : it->map;
      });
}

}  // namespace

std::vector<std::pair<std::string, const struct link_map *>> BoundNeeded(const struct link_map *obj) {
  const std::vector<Names> names = NamesOf(NamespaceObjects(obj));
  std::vector<std::pair<std::string, const struct link_map *>> out;
  for (const char *name : ReadDynamic(obj).needed) {
    auto it = std::find_if(names.begin(), names.end(), [&](const Names &n) { return n.map != obj && n.Match(name); });
    out.emplace_back(name, it == names.end() ? nullptr : it->map);
  }
  return out;
}

ObjectList Closure(const struct link_map *root, const ObjectList &objects) { return ClosureOf(root, NamesOf(objects)); }

namespace {

// The objects of one namespace by every name a DT_NEEDED entry can match them by: the first object
// (in load order) that carries the name, as the linear search of ClosureOf finds it. For many
// closures in one namespace at once.
class NameIndex {
 public:
  explicit NameIndex(const ObjectList &objects) {
    for (const struct link_map *m : objects) {
      const DynamicInfo d = ReadDynamic(m);
      info_[m] = d;
      if (m->l_name) by_name_.emplace(m->l_name, m);
      if (d.soname) by_name_.emplace(d.soname, m);
      by_name_.emplace(ObjectFileName(m), m);
    }
  }
  const DynamicInfo &Info(const struct link_map *m) { return info_[m]; }
  // `root` and what it needs, breadth first.
  ObjectList ClosureOf(const struct link_map *root) {
    return BreadthFirst(
        root, [this](const struct link_map *m) -> const std::vector<const char *> & { return Info(m).needed; },
        [this](const char *name) -> const struct link_map * {
          auto it = by_name_.find(name);
          return it == by_name_.end() ? nullptr : it->second;
        });
  }

 private:
  std::unordered_map<std::string, const struct link_map *> by_name_;
  std::unordered_map<const struct link_map *, DynamicInfo> info_;
};

}  // namespace

ObjectList UnmappableWith(const struct link_map *image, const ObjectList &keepers) { return UnmappableEach({image}, keepers)[0]; }

std::vector<ObjectList> UnmappableEach(const ObjectList &images, const ObjectList &keepers, const std::vector<ObjectList> &not_keeping) {
  std::vector<ObjectList> out(images.size());
  if (images.empty()) return out;
  NameIndex index(NamespaceObjects(images.front()));
  // How many distinct keepers need each object. An image that is a keeper itself counts for the
  // objects of its own closure; what only it needs goes with it.
  std::set<const struct link_map *> distinct(keepers.begin(), keepers.end());
  std::unordered_map<const struct link_map *, int> needed_by;
  for (const struct link_map *k : distinct) {
    for (const struct link_map *m : index.ClosureOf(k)) ++needed_by[m];
  }
  for (size_t i = 0; i < images.size(); ++i) {
    const struct link_map *image = images[i];
    // The keepers that do not count for this image: itself and what closes with it.
    std::set<const struct link_map *> own{image};
    if (i < not_keeping.size()) own.insert(not_keeping[i].begin(), not_keeping[i].end());
    std::unordered_map<const struct link_map *, int> own_need;
    for (const struct link_map *k : own) {
      if (!distinct.count(k)) continue;
      for (const struct link_map *m : index.ClosureOf(k)) ++own_need[m];
    }
    for (const struct link_map *m : index.ClosureOf(image)) {
      if (needed_by[m] > own_need[m] || (m != image && index.Info(m).nodelete)) continue;
      out[i].push_back(m);
    }
  }
  return out;
}

ObjectList DestructorOrder(const ObjectList &objects) {
  const std::vector<Names> names = NamesOf(objects);
  std::set<const struct link_map *> done;
  ObjectList needed_first;
  // Depth first, each object after what it needs; iterative, so that a long chain of dependencies
  // cannot exhaust the loader thread's stack.
  for (const struct link_map *root : objects) {
    if (done.count(root)) continue;
    std::vector<std::pair<const struct link_map *, size_t>> stack{{root, 0}};
    std::set<const struct link_map *> on_path{root};
    while (!stack.empty()) {
      auto &[m, next] = stack.back();
      const std::vector<const char *> needed = ReadDynamic(m).needed;
      const struct link_map *dep = nullptr;
      while (next < needed.size() && !dep) {
        auto it = std::find_if(names.begin(), names.end(), [&](const Names &n) { return n.map != m && n.Match(needed[next]); });
        ++next;
        if (it != names.end() && !done.count(it->map) && !on_path.count(it->map)) dep = it->map;
      }
      if (dep) {
        on_path.insert(dep);
        stack.push_back({dep, 0});
        continue;
      }
      done.insert(m);
      on_path.erase(m);
      needed_first.push_back(m);
      stack.pop_back();
    }
  }
  return ObjectList(needed_first.rbegin(), needed_first.rend());
}

namespace {

// Copies process memory through the kernel, which fails instead of faulting on a page that is gone.
size_t ReadMemory(uintptr_t at, void *out, size_t n) {
  struct iovec local {
    out, n
  }, remote{reinterpret_cast<void *>(at), n};
  const ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  return got > 0 ? static_cast<size_t>(got) : 0;
}

// An object's program headers as the dynamic loader keeps them (RTLD_DI_PHDR, glibc 2.36: a link
// map is the handle dlinfo takes, whatever its namespace; no system call). Empty when this glibc
// does not know the request.
std::vector<ElfW(Phdr)> LoaderProgramHeaders(const struct link_map *m) {
  // An enumerator in <dlfcn.h>, fixed by the ABI; spelled out so that older headers build.
  constexpr int kRtldDiPhdr = 11;
  static std::atomic<bool> unsupported{false};
  if (unsupported.load(std::memory_order_relaxed)) return {};
  const ElfW(Phdr) *ph = nullptr;
  const int n = dlinfo(const_cast<struct link_map *>(m), kRtldDiPhdr, &ph);
  if (n > 0 && ph) return std::vector<ElfW(Phdr)>(ph, ph + n);
  if (n < 0) {
    dlerror();  // an older glibc's "unsupported dlinfo request" is not left for the next dlerror
    unsupported.store(true, std::memory_order_relaxed);
  }
  return {};
}

// An object's program headers: the dynamic loader's, or read through the kernel where it mapped
// them (with its ELF header at the start of its first segment, in its first page as a rule: one
// read). Empty when they cannot be had, or when what was found is not this object's: its
// PT_DYNAMIC must be where l_ld points (an object whose first segment does not start at its load
// address would have us read a neighbour).
std::vector<ElfW(Phdr)> ProgramHeaders(const struct link_map *m) {
  if (!m || !m->l_ld) return {};
  std::vector<ElfW(Phdr)> ph = LoaderProgramHeaders(m);
  if (ph.empty()) {
    alignas(ElfW(Ehdr)) unsigned char page[4096];
    const size_t got = ReadMemory(m->l_addr, page, sizeof page);
    ElfW(Ehdr) eh;
    if (got < sizeof eh) return {};
    std::memcpy(&eh, page, sizeof eh);
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0 || eh.e_phnum > 512)
      return {};
    ph.resize(eh.e_phnum);
    const size_t bytes = ph.size() * sizeof(ElfW(Phdr));
    if (eh.e_phoff + bytes <= got) {
      std::memcpy(ph.data(), page + eh.e_phoff, bytes);
    } else if (ReadMemory(m->l_addr + eh.e_phoff, ph.data(), bytes) != bytes) {
      return {};
    }
  }
  const auto ld = reinterpret_cast<uintptr_t>(m->l_ld);
  const bool own =
      std::any_of(ph.begin(), ph.end(), [&](const ElfW(Phdr) & p) { return p.p_type == PT_DYNAMIC && m->l_addr + p.p_vaddr == ld; });
  return own ? ph : std::vector<ElfW(Phdr)>{};
}

uintptr_t PageSize() {
  static const uintptr_t size = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// [start, end) of a segment widened to whole pages, as the kernel maps it.
AddressRange SegmentPages(const struct link_map *m, const ElfW(Phdr) & p) {
  const uintptr_t page = PageSize();
  const uintptr_t start = m->l_addr + p.p_vaddr, end = start + p.p_memsz;
  return {start & ~(page - 1), (end + page - 1) & ~(page - 1)};
}

AddressRange ExtentOf(const struct link_map *m) {
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (const ElfW(Phdr) & p : ProgramHeaders(m)) {
    if (p.p_type != PT_LOAD) continue;
    lo = std::min<uintptr_t>(lo, m->l_addr + p.p_vaddr);
    hi = std::max<uintptr_t>(hi, m->l_addr + p.p_vaddr + p.p_memsz);
  }
  return hi > lo ? AddressRange{lo, hi} : AddressRange{};
}

}  // namespace

std::vector<AddressRange> ObjectExtents(const ObjectList &objects) {
  std::vector<AddressRange> out;
  for (const struct link_map *m : objects) out.push_back(ExtentOf(m));
  return out;
}

std::vector<AddressRange> ExecutableRanges(const ObjectList &objects, ProcMaps &maps) {
  std::vector<AddressRange> out;
  for (const struct link_map *m : objects) {
    // Its executable PT_LOAD segments, in whole pages: where the dynamic loader mapped code for it
    // (a page it shares with a neighbouring segment of its own is counted as code, never less).
    bool found = false;
    for (const ElfW(Phdr) & p : ProgramHeaders(m)) {
      if (p.p_type != PT_LOAD) continue;
      found = true;
      if ((p.p_flags & PF_X) && p.p_memsz > 0) out.push_back(SegmentPages(m, p));
    }
    if (found) continue;
    // Headers that cannot be read: the run of mappings of one file around its dynamic section.
    // Names are no use for finding it: l_name is the name it was opened by (a symlink, a soname),
    // and two namespaces may map the same file.
    for (const Mapping &piece : maps.FileRun(reinterpret_cast<uintptr_t>(m->l_ld))) {
      if (piece.exec) out.push_back({piece.start, piece.end});
    }
  }
  return out;
}

AddressRange MappedExtent(const struct link_map *m) {
  const AddressRange e = ExtentOf(m);
  if (!e.end) return e;
  const uintptr_t page = PageSize();
  return {e.start & ~(page - 1), (e.end + page - 1) & ~(page - 1)};
}

}  // namespace dlswap
