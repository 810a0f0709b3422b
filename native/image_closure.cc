#include "image_closure.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>

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

bool Matches(const struct link_map *m, const char *name) {
  if (m->l_name && std::strcmp(m->l_name, name) == 0) return true;
  DynamicInfo d = ReadDynamic(m);
  if (d.soname && std::strcmp(d.soname, name) == 0) return true;
  return ObjectFileName(m) == name;
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

ObjectList Closure(const struct link_map *root, const ObjectList &objects) {
  ObjectList out;
  if (!root) return out;
  std::set<const struct link_map *> seen{root};
  std::deque<const struct link_map *> todo{root};
  while (!todo.empty()) {
    const struct link_map *m = todo.front();
    todo.pop_front();
    out.push_back(m);
    for (const char *name : ReadDynamic(m).needed) {
      auto it = std::find_if(objects.begin(), objects.end(), [&](const struct link_map *o) { return Matches(o, name); });
      if (it != objects.end() && seen.insert(*it).second) todo.push_back(*it);
    }
  }
  return out;
}

ObjectList UnmappableWith(const struct link_map *image, const ObjectList &keepers) {
  const ObjectList objects = NamespaceObjects(image);
  std::set<const struct link_map *> kept;
  for (const struct link_map *k : keepers) {
    if (k == image) continue;
    for (const struct link_map *m : Closure(k, objects)) kept.insert(m);
  }
  ObjectList out;
  for (const struct link_map *m : Closure(image, objects)) {
    if (kept.count(m) || (m != image && ReadDynamic(m).nodelete)) continue;
    out.push_back(m);
  }
  return out;
}

std::vector<AddressRange> ExecutableRanges(const ObjectList &objects) {
  std::set<std::string> names;
  for (const struct link_map *m : objects) {
    if (m->l_name && m->l_name[0] == '/') names.insert(m->l_name);
  }
  std::vector<AddressRange> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    // start-end perms offset dev inode path
    size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string file = line.substr(slash);
    const std::string deleted = " (deleted)";
    if (file.size() > deleted.size() && file.compare(file.size() - deleted.size(), deleted.size(), deleted) == 0) {
      file.resize(file.size() - deleted.size());
    }
    if (!names.count(file)) continue;
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    if (perms.size() < 3 || perms[2] != 'x') continue;
    size_t dash = range.find('-');
    AddressRange r;
    r.start = std::stoull(range.substr(0, dash), nullptr, 16);
    r.end = std::stoull(range.substr(dash + 1), nullptr, 16);
    out.push_back(r);
  }
  return out;
}

}  // namespace dlswap
