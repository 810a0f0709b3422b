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
#include <set>

#include "common/trusted_path.h"

#include "common/errno_text.h"
#include "common/immortal.h"
#include "common/dir_safety.h"

namespace dlswap {

namespace {

std::mutex g_mutex;
int g_root_fd = -1;
int g_dir_fd = -1;
// Read at exit (RemoveProcessDirAtExit) and by a load that may still be running then: never destroyed.
Immortal<std::string> g_root_path, g_dir_path, g_dir_name;
Immortal<std::string> g_loader_prefix;   // what LoaderPathOf puts before a name
Immortal<std::string> g_loader_note;     // why it is the descriptor's /proc path ("" when it is the real one)
Immortal<std::set<std::string>> g_held;  // copies whose image is mapped (HoldCopy)
bool g_keep = false;                     // KeepCopies: nothing is removed, by anyone, ever
bool g_exiting = false;                  // ProcessExiting: held copies stay held

// In a process directory whose copies are kept for post-mortem work: the sweep leaves it alone.
constexpr const char *kKeepMarker = ".dlswap-keep";

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

// At exit (normal or process.exit): what no mapped image is made from goes, and the directory with
// it once it is empty. A copy whose image is mapped stays: the image is mapped until the process is
// gone, and a profiler reads the file after that (perf record collects what its samples hit when
// the program it ran has exited). The next process's sweep removes it. Kept copies all stay.
void RemoveProcessDirAtExit() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_root_fd < 0 || (*g_dir_name).empty() || g_keep) return;
  if ((*g_held).empty()) {
    RemoveTree(g_root_fd, (*g_dir_name).c_str());
    return;
  }
  if (DIR *d = OpenDirOf(g_dir_fd)) {
    std::vector<std::string> names;
    while (struct dirent *e = readdir(d)) {
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..") && !(*g_held).count(e->d_name)) names.emplace_back(e->d_name);
    }
    closedir(d);
    for (const std::string &n : names) unlinkat(g_dir_fd, n.c_str(), 0);
  }
}

// The prefix the dynamic loader gets for the copies. Their real path when nobody but this user and
// root can change what it resolves to (the loader resolves it again): then the link map names a
// file that other processes can open too (gdb, perf, a core file's reader). Otherwise the verified
// descriptor's /proc path, which only this process can resolve.
void ChooseLoaderPrefix(int dir_fd) {
  const std::string real = PathOfDescriptor(dir_fd);
  std::string why;
  int fd = -1;
  bool same = false;
  if (!real.empty() && TrustedDirectory(real, why, &fd)) {
    struct stat a, b;
    same = fstat(fd, &a) == 0 && fstat(dir_fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    close(fd);
    if (!same) why = real + " does not lead to dlswap's directory";
  } else if (real.empty()) {
    why = "the directory has no path";
  }
  if (same) {
    (*g_loader_prefix) = real + "/";
    (*g_dir_path) = real;
    (*g_root_path) = real.substr(0, real.rfind('/'));
    (*g_loader_note).clear();
  } else {
    (*g_loader_prefix) = "/proc/self/fd/" + std::to_string(dir_fd) + "/";
    (*g_loader_note) = why;
  }
}

std::vector<std::string> SweepLocked() {
  std::vector<std::string> removed;
  DIR *d = OpenDirOf(g_root_fd);
  if (!d) return removed;
  static Immortal<const std::regex> kName("^([0-9]+)-([0-9]+)-[0-9a-f]+$");
  std::vector<std::string> stale;
  while (struct dirent *e = readdir(d)) {
    std::cmatch m;
    if (!std::regex_match(e->d_name, m, (*kName)) || (*g_dir_name) == e->d_name) continue;
    // Kept on purpose by a process that asked for its copies to outlive it.
    if (faccessat(g_root_fd, (std::string(e->d_name) + "/" + kKeepMarker).c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0) continue;
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

bool EnsurePrivateArea(const std::string &base, NativeError &err) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_dir_fd >= 0) return true;
  const uid_t uid = getuid();
  const std::string root_name = "dlswap-" + std::to_string(uid);
  const std::string root_path = base + "/" + root_name;

  int base_fd = open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (base_fd < 0) {
    Fail(err, "ERR_DLSWAP_TEMP_AREA",
         "cannot use " + base + " for dlswap's private copies: " + Errno(errno) + ". Set DLSWAP_TMPDIR to a writable directory.");
    return false;
  }
  struct stat bst;
  fstat(base_fd, &bst);
  // Another user who can rename entries of the base could swap our root for theirs between two
  // uses: only a base nobody else can write, or a sticky one (like /tmp), is safe.
  if ((WritableByOthers(bst) && !(bst.st_mode & S_ISVTX)) || (bst.st_uid != uid && bst.st_uid != 0)) {
    close(base_fd);
    Fail(err, "ERR_DLSWAP_TEMP_AREA",
         base +
             (bst.st_uid != uid && bst.st_uid != 0
                  ? " belongs to uid " + std::to_string(bst.st_uid) + ", who could replace dlswap's directory in it"
                  : " is writable by other users and not sticky: another user could replace dlswap's directory in it") +
             ". Set DLSWAP_TMPDIR to a directory only you can write (or a sticky one, like /tmp).");
    return false;
  }

  int root_fd = openat(base_fd, root_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0 && errno == ENOENT) {
    if (mkdirat(base_fd, root_name.c_str(), 0700) != 0 && errno != EEXIST) {
      Fail(err, "ERR_DLSWAP_TEMP_AREA",
           "cannot create dlswap's private directory " + root_path + ": " + Errno(errno) + ". Set DLSWAP_TMPDIR to a writable directory.");
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
      Fail(err, "ERR_DLSWAP_TEMP_AREA", root_path + " is a symbolic link; dlswap refuses to use it. Remove it, or set DLSWAP_TMPDIR.");
    } else if (e == ENOTDIR) {
      Fail(err, "ERR_DLSWAP_TEMP_AREA", root_path + " exists and is not a directory. Remove it, or set DLSWAP_TMPDIR.");
    } else {
      Fail(err, "ERR_DLSWAP_TEMP_AREA", "cannot open dlswap's private directory " + root_path + ": " + Errno(e) + ". Set DLSWAP_TMPDIR.");
    }
    return false;
  }
  close(base_fd);
  struct stat rst;
  fstat(root_fd, &rst);
  if (rst.st_uid != uid) {
    close(root_fd);
    Fail(err, "ERR_DLSWAP_TEMP_AREA",
         root_path + " is owned by uid " + std::to_string(rst.st_uid) + ", not by this user (" + std::to_string(uid) +
             "); someone else could swap the libraries dlswap loads. Remove it, or set DLSWAP_TMPDIR.");
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
    Fail(err, "ERR_DLSWAP_TEMP_AREA", "cannot create " + root_path + "/" + name + ": " + Errno(errno) + ". Set DLSWAP_TMPDIR.");
    close(root_fd);
    return false;
  }
  int dir_fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0) {
    Fail(err, "ERR_DLSWAP_TEMP_AREA", "cannot open " + root_path + "/" + name + ": " + Errno(errno) + ". Set DLSWAP_TMPDIR.");
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
  ChooseLoaderPrefix(dir_fd);
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

std::string LoaderPathOf(const std::string &name) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return (*g_loader_prefix) + name;
}

std::string LoaderPathNote() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return (*g_loader_note);
}

void HoldCopy(const std::string &name) {
  std::lock_guard<std::mutex> lock(g_mutex);
  (*g_held).insert(name);
}

void ReleaseCopy(const std::string &name) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_exiting) return;
  (*g_held).erase(name);
  if (!g_keep && g_dir_fd >= 0) unlinkat(g_dir_fd, name.c_str(), 0);
}

void ProcessExiting() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_exiting = true;
}

bool KeepCopies(std::string &why) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_keep) return true;
  if (g_dir_fd < 0) {
    why = "dlswap's private directory is not open";
    return false;
  }
  const int fd = openat(g_dir_fd, kKeepMarker, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    why = "cannot mark " + (*g_dir_path) + " as kept: " + Errno(errno);
    return false;
  }
  close(fd);
  g_keep = true;
  return true;
}

bool KeepingCopies() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_keep;
}

void RemovePrivateFile(const std::string &name) {
  int fd = PrivateDirFd();
  if (fd >= 0 && !KeepingCopies()) unlinkat(fd, name.c_str(), 0);
}

std::vector<std::string> PrivateFiles() {
  std::vector<std::string> out;
  DIR *d = OpenDirOf(PrivateDirFd());
  if (!d) return out;
  rewinddir(d);
  while (struct dirent *e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..") && std::strcmp(e->d_name, kKeepMarker)) out.emplace_back(e->d_name);
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
