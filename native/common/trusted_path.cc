#include "common/trusted_path.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace dlswap {

namespace {

// What is wrong with one directory of the walk ("" when nothing is).
std::string Untrusted(const struct stat &st, const std::string &shown) {
  if (!S_ISDIR(st.st_mode)) return shown + " is not a directory";
  if (st.st_uid != 0 && st.st_uid != getuid()) return shown + " belongs to uid " + std::to_string(st.st_uid);
  const bool others_write = (st.st_mode & S_IWOTH) != 0 || ((st.st_mode & S_IWGRP) != 0 && st.st_gid != getgid());
  if (others_write && !(st.st_mode & S_ISVTX)) return shown + " is writable by other users";
  return "";
}

// Walks the absolute `path` down from / (whose stat is `root`), one component at a time, and checks
// every directory on the way with Untrusted. `step(walked, part, st)` reaches the next directory and
// fills its stat, or returns why it cannot. The rules on components ("." skipped, ".." refused) are
// here once, for both ways of stepping. False with `why` set at the first directory that fails.
template <typename Step>
bool WalkDown(const std::string &path, const struct stat &root, std::string &why, Step step) {
  why = Untrusted(root, "/");
  std::string walked;
  for (size_t at = 1; why.empty() && at < path.size();) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(at, end - at);
    at = end + 1;
    if (part.empty() || part == ".") continue;
    walked += "/" + part;
    if (part == "..") {
      why = path + " is not a canonical path";
      break;
    }
    struct stat st;
    why = step(walked, part, st);
    if (why.empty()) why = Untrusted(st, walked);
  }
  return why.empty();
}

// The walk without descriptors, for a caller that wants none: one lstat per component rather than
// an open, an fstat and a close (a load checks the directory of every file it maps). It checks the
// same of each component, and needs only search permission on the way down.
bool TrustedByName(const std::string &path, std::string &why) {
  struct stat root;
  if (lstat("/", &root) != 0) {
    why = std::string("cannot look at /: ") + std::strerror(errno);
    return false;
  }
  return WalkDown(path, root, why, [](const std::string &walked, const std::string &, struct stat &st) -> std::string {
    if (lstat(walked.c_str(), &st) != 0) {
      return walked + (errno == ENOTDIR ? " is not a directory (a symbolic link?)" : ": " + std::string(std::strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode)) return walked + " is not a directory (a symbolic link?)";
    return "";
  });
}

}  // namespace

bool TrustedDirectory(const std::string &path, std::string &why, int *out_fd) {
  if (path.empty() || path[0] != '/') {
    why = "'" + path + "' is not an absolute path";
    return false;
  }
  if (!out_fd) return TrustedByName(path, why);
  int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat root;
  if (fd < 0 || fstat(fd, &root) != 0) {
    why = std::string("cannot open /: ") + std::strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  // Each step opens the next component relative to the last, never following a link, so the
  // descriptor handed back is the directory that was checked, whatever is renamed meanwhile.
  const bool trusted = WalkDown(path, root, why, [&fd](const std::string &walked, const std::string &part, struct stat &st) -> std::string {
    const int next = openat(fd, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      return walked +
             (errno == ELOOP || errno == ENOTDIR ? " is not a directory (a symbolic link?)" : ": " + std::string(std::strerror(errno)));
    }
    close(fd);
    fd = next;
    if (fstat(fd, &st) != 0) return walked + ": " + std::strerror(errno);
    return "";
  });
  if (!trusted) {
    close(fd);
    return false;
  }
  *out_fd = fd;
  return true;
}

std::string PathOfDescriptor(int fd) {
  char buf[PATH_MAX];
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = readlink(proc.c_str(), buf, sizeof buf - 1);
  if (n <= 0 || buf[0] != '/') return "";
  std::string p(buf, static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (p.size() > kDeleted.size() && p.compare(p.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) return "";
  return p;
}

}  // namespace dlswap
