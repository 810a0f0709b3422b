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
  struct Line {
    uintptr_t start, end;
    bool exec;
    std::string file;  // what the kernel names: the real path, " (deleted)" for a removed copy
  };
  std::vector<Line> lines;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, file;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in, file);
    file.erase(0, file.find_first_not_of(' '));
    const size_t dash = range.find('-');
    if (dash == std::string::npos) continue;
    lines.push_back({std::stoull(range.substr(0, dash), nullptr, 16), std::stoull(range.substr(dash + 1), nullptr, 16),
                     perms.size() > 2 && perms[2] == 'x', file});
  }
  // An object is one contiguous run of mappings of one file around its dynamic section. Names are
  // no use for finding it: l_name is the name it was opened by (a symlink, a soname), and two
  // namespaces may map the same file.
  std::vector<AddressRange> out;
  for (const struct link_map *m : objects) {
    const uintptr_t anchor = reinterpret_cast<uintptr_t>(m->l_ld);
    size_t i = 0;
    while (i < lines.size() && !(anchor >= lines[i].start && anchor < lines[i].end)) ++i;
    if (i == lines.size() || lines[i].file.empty()) continue;
    size_t first = i, last = i;
    while (first > 0 && lines[first - 1].end == lines[first].start && lines[first - 1].file == lines[i].file) --first;
    while (last + 1 < lines.size() && lines[last + 1].start == lines[last].end && lines[last + 1].file == lines[i].file) ++last;
    for (size_t k = first; k <= last; ++k) {
      if (lines[k].exec) out.push_back({lines[k].start, lines[k].end});
    }
  }
  return out;
}

}  // namespace dlswap
