#include "common/proc_maps.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace dlswap {

namespace {

uintptr_t Hex(std::string_view s, size_t &i) {
  uintptr_t v = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) break;
    v = (v << 4) | static_cast<uintptr_t>(d);
  }
  return v;
}

}  // namespace

ProcMaps::ProcMaps() {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text_.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  std::string_view all(text_);
  for (size_t pos = 0; pos < all.size();) {
    size_t eol = all.find('\n', pos);
    if (eol == std::string_view::npos) eol = all.size();
    std::string_view line = all.substr(pos, eol - pos);
    pos = eol + 1;
    // start-end perms offset dev inode [path]
    size_t i = 0;
    Mapping m;
    m.start = Hex(line, i);
    if (i >= line.size() || line[i] != '-') continue;
    ++i;
    m.end = Hex(line, i);
    if (i + 4 >= line.size()) continue;
    m.exec = line[i + 3] == 'x';
    const size_t slash = line.find('/', i);
    if (slash != std::string_view::npos) m.file = line.substr(slash);
    maps_.push_back(m);
  }
}

const Mapping *ProcMaps::Find(uintptr_t address) const {
  // The kernel lists mappings in address order.
  auto it = std::upper_bound(maps_.begin(), maps_.end(), address, [](uintptr_t a, const Mapping &m) { return a < m.end; });
  return it != maps_.end() && address >= it->start ? &*it : nullptr;
}

bool ProcMaps::Maps(const std::string &path) const {
  static constexpr std::string_view kDeleted = " (deleted)";
  for (const Mapping &m : maps_) {
    if (m.file.size() < path.size() || m.file.compare(0, path.size(), path) != 0) continue;
    const std::string_view rest = m.file.substr(path.size());
    if (rest.empty() || rest == kDeleted) return true;
  }
  return false;
}

}  // namespace dlswap
