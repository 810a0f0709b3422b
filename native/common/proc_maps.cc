#include "common/proc_maps.h"

#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

namespace dlswap {

namespace {

// The kernel's UAPI (include/uapi/linux/fs.h, Linux 6.11), spelled out: the build machine's
// headers may predate it, and the layout is fixed by the ABI. `size` says which version we speak.
struct ProcmapQuery {
  uint64_t size;
  uint64_t query_flags;
  uint64_t query_addr;
  uint64_t vma_start;
  uint64_t vma_end;
  uint64_t vma_flags;
  uint64_t vma_page_size;
  uint64_t vma_offset;
  uint64_t inode;
  uint32_t dev_major;
  uint32_t dev_minor;
  uint32_t vma_name_size;
  uint32_t build_id_size;
  uint64_t vma_name_addr;
  uint64_t build_id_addr;
};
static_assert(sizeof(ProcmapQuery) == 104, "struct procmap_query is 104 bytes");
constexpr unsigned long kProcmapQuery = _IOWR('f', 17, ProcmapQuery);
constexpr uint64_t kVmaReadable = 0x01;
constexpr uint64_t kVmaWritable = 0x02;
constexpr uint64_t kVmaExecutable = 0x04;
constexpr uint64_t kCoveringOrNext = 0x10;

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

// The descriptor of /proc/self/maps the queries go to: one per process, opened once and kept (a
// query needs no file position, so threads share it), reopened in a forked child (the inherited
// one answers for the parent). -1 when it cannot be opened.
std::mutex g_query_mutex;
int g_query_fd = -1;    // under g_query_mutex; never closed but in a forked child
pid_t g_query_pid = 0;  // the process it answers for

int QueryDescriptor() {
  std::lock_guard<std::mutex> lock(g_query_mutex);
  const pid_t pid = getpid();
  if (g_query_fd >= 0 && g_query_pid != pid) {
    close(g_query_fd);
    g_query_fd = -1;
  }
  if (g_query_fd < 0) {
    g_query_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    g_query_pid = pid;
  }
  return g_query_fd;
}

}  // namespace

void PrepareProcMaps() { QueryDescriptor(); }

bool NamesPath(std::string_view file, const std::string &path) {
  static constexpr std::string_view kDeleted = " (deleted)";
  if (file.size() < path.size() || file.compare(0, path.size(), path) != 0) return false;
  const std::string_view rest = file.substr(path.size());
  return rest.empty() || rest == kDeleted;
}

ProcMaps::ProcMaps(Source source) : mode_(source == Source::Text ? Mode::Text : Mode::Unknown) {}

ProcMaps::~ProcMaps() = default;

void ProcMaps::ReadText() {
  if (read_) return;
  read_ = true;
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  std::string text;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  std::string_view all(text);
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
    m.readable = line[i + 1] == 'r';
    m.writable = line[i + 2] == 'w';
    m.exec = line[i + 3] == 'x';
    const size_t slash = line.find('/', i);
    if (slash != std::string_view::npos) m.file = std::string(line.substr(slash));
    maps_.push_back(std::move(m));
  }
}

bool ProcMaps::AskText(uintptr_t address, bool or_next, Mapping *out) {
  ReadText();
  // The kernel lists mappings in address order.
  auto it = std::upper_bound(maps_.begin(), maps_.end(), address, [](uintptr_t a, const Mapping &m) { return a < m.end; });
  if (it == maps_.end() || (!or_next && address < it->start)) return false;
  *out = *it;
  return true;
}

bool ProcMaps::Ask(uintptr_t address, bool or_next, Mapping *out) {
  if (mode_ == Mode::Text) return AskText(address, or_next, out);
  if (fd_ < 0) {
    fd_ = QueryDescriptor();
    if (fd_ < 0) {
      mode_ = Mode::Text;
      return AskText(address, or_next, out);
    }
  }
  // Zeroed: the kernel writes the name, but a checker that does not know this ioctl (valgrind)
  // would see it as never written.
  char name[4096 + 64] = {};
  ProcmapQuery q{};
  q.size = sizeof q;
  q.query_flags = or_next ? kCoveringOrNext : 0;
  q.query_addr = address;
  q.vma_name_addr = reinterpret_cast<uintptr_t>(name);
  q.vma_name_size = sizeof name;
  if (ioctl(fd_, kProcmapQuery, &q) != 0) {
    if (errno == ENOENT) {
      mode_ = Mode::Query;
      return false;
    }
    // ENOTTY before Linux 6.11; anything else (a name too long for the buffer): the text knows.
    if (mode_ == Mode::Unknown) mode_ = Mode::Text;
    return AskText(address, or_next, out);
  }
  mode_ = Mode::Query;
  out->start = q.vma_start;
  out->end = q.vma_end;
  out->readable = (q.vma_flags & kVmaReadable) != 0;
  out->writable = (q.vma_flags & kVmaWritable) != 0;
  out->exec = (q.vma_flags & kVmaExecutable) != 0;
  // vma_name_size counts the NUL. The text names only files ("/..."), not [stack] or [anon:x].
  out->file.clear();
  if (q.vma_name_size > 1 && name[0] == '/') out->file.assign(name, q.vma_name_size - 1);
  return true;
}

std::optional<Mapping> ProcMaps::At(uintptr_t address) {
  Mapping m;
  if (!Ask(address, false, &m)) return std::nullopt;
  return m;
}

std::vector<Mapping> ProcMaps::FileRun(uintptr_t address) {
  std::vector<Mapping> run;
  std::optional<Mapping> hit = At(address);
  if (!hit || hit->file.empty()) return run;
  run.push_back(*hit);
  for (uintptr_t start = hit->start; start > 0;) {
    std::optional<Mapping> before = At(start - 1);
    if (!before || before->end != start || before->file != hit->file) break;
    start = before->start;
    run.insert(run.begin(), std::move(*before));
  }
  for (uintptr_t end = hit->end;;) {
    std::optional<Mapping> after = At(end);
    if (!after || after->start != end || after->file != hit->file) break;
    end = after->end;
    run.push_back(std::move(*after));
  }
  return run;
}

bool ProcMaps::MapsIn(uintptr_t start, uintptr_t end, const std::string &path) {
  Mapping m;
  for (uintptr_t at = start; at < end && Ask(at, true, &m) && m.start < end; at = m.end) {
    if (NamesPath(m.file, path)) return true;
  }
  return false;
}

bool ProcMaps::Maps(const std::string &path) {
  ReadText();
  return std::any_of(maps_.begin(), maps_.end(), [&](const Mapping &m) { return NamesPath(m.file, path); });
}

}  // namespace dlswap
