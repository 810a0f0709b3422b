#include "loader/private_area.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <regex>

#include "common/errno_text.h"
#include "common/immortal.h"
#include "common/dir_safety.h"

namespace dlswap {

namespace {

std::mutex g_mutex;
int g_root_fd = -1;
int g_dir_fd = -1;
// Read at exit (RemoveProcessDirAtExit) and by a load that may still be running then.
Immortal<std::string> g_root_path, g_dir_path, g_dir_name;

std::string Errno(int e) { return ErrnoText(e); }

// Field 22 of /proc/<pid>/stat, counted after the command name (which may hold spaces).
std::string StartTime(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(f, stat);
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::string rest = stat.substr(close + 2);
  size_t field = 0, pos = 0;
  while (field < 19 && pos != std::string::npos) {
    pos = rest.find(' ', pos);
    if (pos != std::string::npos) ++pos;
    ++field;
  }
  if (pos == std::string::npos) return "";
  return rest.substr(pos, rest.find(' ', pos) - pos);
}

// A directory stream of its own over the directory `fd` refers to: a duplicate, so that closedir
// leaves `fd` open. Null when there is none to be had.
DIR *OpenDirOf(int fd) {
  if (fd < 0) return nullptr;
  int copy = dup(fd);
  if (copy < 0) return nullptr;
  DIR *d = fdopendir(copy);
  if (!d) close(copy);
  return d;
}

// Removes a directory tree below `parent`, through descriptors only (no symlink is followed).
void RemoveTree(int parent, const char *name) {
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    if (DIR *d = fdopendir(fd)) {
      while (struct dirent *e = readdir(d)) {
        if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno == EISDIR) RemoveTree(dirfd(d), e->d_name);
      }
      closedir(d);  // closes fd
    } else {
      close(fd);
    }
  }
  unlinkat(parent, name, AT_REMOVEDIR);
}

void RemoveProcessDirAtExit() {
  if (g_root_fd >= 0 && !g_dir_name->empty()) RemoveTree(g_root_fd, g_dir_name->c_str());
}

std::vector<std::string> SweepLocked() {
  std::vector<std::string> removed;
  DIR *d = OpenDirOf(g_root_fd);
  if (!d) return removed;
  static Immortal<const std::regex> kName("^([0-9]+)-([0-9]+)-[0-9a-f]+$");
  std::vector<std::string> stale;
  while (struct dirent *e = readdir(d)) {
    std::cmatch m;
    if (!std::regex_match(e->d_name, m, *kName) || (*g_dir_name) == e->d_name) continue;
    // Alive with the same start time: another live process's directory, not ours to touch.
    if (StartTime(std::strtol(m[1].str().c_str(), nullptr, 10)) == m[2].str()) continue;
    stale.emplace_back(e->d_name);
  }
  closedir(d);
  for (const std::string &name : stale) {
    RemoveTree(g_root_fd, name.c_str());
    removed.push_back(name);
  }
  return removed;
}

}  // namespace

bool EnsurePrivateArea(const std::string &base, AreaError &err) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_dir_fd >= 0) return true;
  err.code = "ERR_DLSWAP_TEMP_AREA";
  const uid_t uid = getuid();
  const std::string root_name = "dlswap-" + std::to_string(uid);
  const std::string root_path = base + "/" + root_name;

  int base_fd = open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (base_fd < 0) {
    err.message = "cannot use " + base + " for dlswap's private copies: " + Errno(errno) +
                  ". Set DLSWAP_TMPDIR to a writable directory.";
    return false;
  }
  struct stat bst;
  fstat(base_fd, &bst);
  // Another user who can rename entries of the base could swap our root for theirs between two
  // uses: only a base nobody else can write, or a sticky one (like /tmp), is safe.
  if ((WritableByOthers(bst) && !(bst.st_mode & S_ISVTX)) || (bst.st_uid != uid && bst.st_uid != 0)) {
    close(base_fd);
    err.message = base + (bst.st_uid != uid && bst.st_uid != 0
                              ? " belongs to uid " + std::to_string(bst.st_uid) + ", who could replace dlswap's directory in it"
                              : " is writable by other users and not sticky: another user could replace dlswap's directory in it") +
                  ". Set DLSWAP_TMPDIR to a directory only you can write (or a sticky one, like /tmp).";
    return false;
  }

  int root_fd = openat(base_fd, root_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0 && errno == ENOENT) {
    if (mkdirat(base_fd, root_name.c_str(), 0700) != 0 && errno != EEXIST) {
      err.message = "cannot create dlswap's private directory " + root_path + ": " + Errno(errno) +
                    ". Set DLSWAP_TMPDIR to a writable directory.";
      close(base_fd);
      return false;
    }
    root_fd = openat(base_fd, root_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (root_fd < 0) {
    const int e = errno;
    struct stat lst;
    const bool link = fstatat(base_fd, root_name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode);
    close(base_fd);
    if (link || e == ELOOP) {
      err.message = root_path + " is a symbolic link; dlswap refuses to use it. Remove it, or set DLSWAP_TMPDIR.";
    } else if (e == ENOTDIR) {
      err.message = root_path + " exists and is not a directory. Remove it, or set DLSWAP_TMPDIR.";
    } else {
      err.message = "cannot open dlswap's private directory " + root_path + ": " + Errno(e) + ". Set DLSWAP_TMPDIR.";
    }
    return false;
  }
  close(base_fd);
  struct stat rst;
  fstat(root_fd, &rst);
  if (rst.st_uid != uid) {
    close(root_fd);
    err.message = root_path + " is owned by uid " + std::to_string(rst.st_uid) + ", not by this user (" + std::to_string(uid) +
                  "); someone else could swap the libraries dlswap loads. Remove it, or set DLSWAP_TMPDIR.";
    return false;
  }
  // Ours, but too open or too closed (an umask, a copied directory): set it rather than refuse.
  if ((rst.st_mode & 0777) != 0700) fchmod(root_fd, 0700);

  unsigned char rnd[4] = {0, 0, 0, 0};
  if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
    static std::atomic<unsigned> counter{0};
    unsigned c = counter++ ^ static_cast<unsigned>(reinterpret_cast<uintptr_t>(&rnd));
    std::memcpy(rnd, &c, sizeof rnd);
  }
  char name[96];
  std::snprintf(name, sizeof name, "%ld-%s-%02x%02x%02x%02x", static_cast<long>(getpid()),
                StartTime(getpid()).empty() ? "0" : StartTime(getpid()).c_str(), rnd[0], rnd[1], rnd[2], rnd[3]);
  if (mkdirat(root_fd, name, 0700) != 0) {
    err.message = "cannot create " + root_path + "/" + name + ": " + Errno(errno) + ". Set DLSWAP_TMPDIR.";
    close(root_fd);
    return false;
  }
  int dir_fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0) {
    err.message = "cannot open " + root_path + "/" + name + ": " + Errno(errno) + ". Set DLSWAP_TMPDIR.";
    unlinkat(root_fd, name, AT_REMOVEDIR);
    close(root_fd);
    return false;
  }
  // The mode asked for, whatever the umask (which the JS thread may be changing meanwhile).
  fchmod(dir_fd, 0700);
  g_root_fd = root_fd;
  g_dir_fd = dir_fd;
  (*g_root_path) = root_path;
  (*g_dir_name) = name;
  (*g_dir_path) = root_path + "/" + name;
  // At exit (normal or process.exit); a process killed with SIGKILL leaves its directory to the
  // next process's sweep.
  std::atexit(RemoveProcessDirAtExit);
  SweepLocked();
  err = {};
  return true;
}

std::string PrivateDirPath() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return (*g_dir_path);
}

std::string UserRootPath() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return (*g_root_path);
}

int PrivateDirFd() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_dir_fd;
}

std::string LoaderPathOf(const std::string &name) { return "/proc/self/fd/" + std::to_string(PrivateDirFd()) + "/" + name; }

void RemovePrivateFile(const std::string &name) {
  int fd = PrivateDirFd();
  if (fd >= 0) unlinkat(fd, name.c_str(), 0);
}

std::vector<std::string> PrivateFiles() {
  std::vector<std::string> out;
  DIR *d = OpenDirOf(PrivateDirFd());
  if (!d) return out;
  rewinddir(d);
  while (struct dirent *e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.emplace_back(e->d_name);
  }
  closedir(d);
  return out;
}

std::vector<std::string> SweepStaleDirectories() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_root_fd < 0) return {};
  return SweepLocked();
}

}  // namespace dlswap
