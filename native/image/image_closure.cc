#include "image/image_closure.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <set>

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
      case DT_SONAME: soname = d->d_un.d_val; has_soname = true; break;
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

ObjectList ClosureOf(const struct link_map *root, const std::vector<Names> &names) {
  ObjectList out;
  if (!root) return out;
  std::set<const struct link_map *> seen{root};
  std::deque<const struct link_map *> todo{root};
  while (!todo.empty()) {
    const struct link_map *m = todo.front();
    todo.pop_front();
    out.push_back(m);
    for (const char *name : ReadDynamic(m).needed) {
      auto it = std::find_if(names.begin(), names.end(), [&](const Names &n) { return n.Match(name); });
      if (it != names.end() && seen.insert(it->map).second) todo.push_back(it->map);
    }
  }
  return out;
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

ObjectList UnmappableWith(const struct link_map *image, const ObjectList &keepers) {
  const std::vector<Names> names = NamesOf(NamespaceObjects(image));
  std::set<const struct link_map *> kept;
  for (const struct link_map *k : keepers) {
    if (k == image || kept.count(k)) continue;
    for (const struct link_map *m : ClosureOf(k, names)) kept.insert(m);
  }
  ObjectList out;
  for (const struct link_map *m : ClosureOf(image, names)) {
    if (kept.count(m) || (m != image && ReadDynamic(m).nodelete)) continue;
    out.push_back(m);
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

std::vector<AddressRange> ExecutableRanges(const ObjectList &objects, ProcMaps &maps) {
  // An object is one contiguous run of mappings of one file around its dynamic section. Names are
  // no use for finding it: l_name is the name it was opened by (a symlink, a soname), and two
  // namespaces may map the same file.
  std::vector<AddressRange> out;
  for (const struct link_map *m : objects) {
    for (const Mapping &piece : maps.FileRun(reinterpret_cast<uintptr_t>(m->l_ld))) {
      if (piece.exec) out.push_back({piece.start, piece.end});
    }
  }
  return out;
}

}  // namespace dlswap
