#include "loader/source_copy.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "common/errno_text.h"
#include "loader/private_area.h"
#include "loader/sha256.h"

namespace dlswap {

namespace {

constexpr size_t kChunk = 1 << 20;
// A source modified less than this long before the copy started may have been written within one
// timestamp tick of our first look: its timestamps cannot prove it held still.
constexpr int64_t kRecentNs = 100 * 1000 * 1000;

std::atomic<uint64_t> g_counter{0};

int64_t Ns(const struct timespec &t) { return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec; }

bool SameStat(const struct stat &a, const struct stat &b) {
  return a.st_size == b.st_size && Ns(a.st_mtim) == Ns(b.st_mtim) && Ns(a.st_ctim) == Ns(b.st_ctim) && a.st_ino == b.st_ino;
}

bool ReadFull(int fd, uint8_t *buf, size_t len, uint64_t off, size_t &got) {
  got = 0;
  while (got < len) {
    ssize_t n = pread(fd, buf + got, len - got, static_cast<off_t>(off + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return true;
}

bool WriteFull(int fd, const uint8_t *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(fd, buf + done, len - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Byte for byte, and the source has not grown.
bool SameContent(int src, int copy, uint64_t size, std::vector<uint8_t> &a) {
  std::vector<uint8_t> b(a.size());
  for (uint64_t off = 0; off < size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(a.size(), size - off));
    size_t ga = 0, gb = 0;
    if (!ReadFull(src, a.data(), want, off, ga) || !ReadFull(copy, b.data(), want, off, gb)) return false;
    if (ga != want || gb != want || std::memcmp(a.data(), b.data(), want) != 0) return false;
    off += want;
  }
  uint8_t extra;
  return pread(src, &extra, 1, static_cast<off_t>(size)) == 0;
}

std::string SafeLabel(const std::string &label) {
  std::string base = label.substr(label.rfind('/') == std::string::npos ? 0 : label.rfind('/') + 1);
  std::string out;
  // ASCII by hand: isalnum() would read the locale, which another thread may be changing.
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' || c == '-';
  };
  for (char c : base) out.push_back(plain(c) ? c : '_');
  if (out.size() > 80) out.resize(80);
  return out.empty() ? "lib" : out;
}

}  // namespace

bool OpenSource(const std::string &path, SourceFile &out, NativeError &err, const std::string &cwd) {
  const std::string file = cwd.empty() || path.empty() || path[0] == '/' ? path : cwd + "/" + path;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
  int fd = open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR) {
      err = {"ERR_DLSWAP_NOT_FOUND", path + " does not exist. Check the path (relative paths resolve against the current directory)."};
    } else if (e == EACCES || e == EPERM) {
      err = {"ERR_DLSWAP_ACCESS",
             path + " cannot be read (" + ErrnoText(e) + "). Give this user read permission on it and its directories."};
    } else if (e == EISDIR) {
      err = {"ERR_DLSWAP_NOT_A_FILE", path + " is a directory; give the path of a shared library (.so)."};
    } else {
      err = {"ERR_DLSWAP_NOT_FOUND", "cannot open " + path + ": " + ErrnoText(e)};
    }
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    close(fd);
    err = {"ERR_DLSWAP_NOT_A_FILE", path + (dir ? " is a directory" : " is not a regular file (a FIFO, a device, a socket?)") +
                                        "; give the path of a shared library (.so)."};
    return false;
  }
  if (st.st_size == 0) {
    close(fd);
    err = {"ERR_DLSWAP_EMPTY_FILE", path + " is empty; it is not a shared library (a build that has not finished?)."};
    return false;
  }
  // Reads from here on block normally (a regular file never blocks on O_NONBLOCK anyway).
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  char real[PATH_MAX];
  std::string proc = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(proc.c_str(), real, sizeof real - 1);
  out.real_path = n > 0 ? std::string(real, static_cast<size_t>(n)) : path;
  out.fd = fd;
  out.size = static_cast<uint64_t>(st.st_size);
  return true;
}

void CloseSource(SourceFile &src) {
  if (src.fd >= 0) close(src.fd);
  src.fd = -1;
}

bool CopyToPrivate(const SourceFile &src, const std::string &label, PrivateCopy &out, NativeError &err, bool with_hash) {
  const int dir = PrivateDirFd();
  if (dir < 0) {
    err = {"ERR_DLSWAP_TEMP_AREA", "dlswap's private directory is not open (internal error)"};
    return false;
  }
  struct stat before;
  fstat(src.fd, &before);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  unsigned char rnd[3] = {0, 0, 0};
  if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd) std::memset(rnd, 0x5a, sizeof rnd);
  char prefix[48];
  std::snprintf(prefix, sizeof prefix, "%llu-%02x%02x%02x-", static_cast<unsigned long long>(++g_counter), rnd[0], rnd[1], rnd[2]);
  out.name = prefix + SafeLabel(label);
  // O_EXCL: never write into a file that exists (it could be mapped).
  out.fd = openat(dir, out.name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0500);
  if (out.fd < 0) {
    err = {"ERR_DLSWAP_TEMP_AREA", "cannot create a copy in dlswap's private directory " + PrivateDirPath() + ": " + ErrnoText(errno) +
                                       ". Set DLSWAP_TMPDIR to a writable directory with free space."};
    return false;
  }
  // Read-only for every later open, whatever the umask (which the JS thread may be changing): the
  // copy is written only through this descriptor, before it is mapped, and nothing may write into a
  // mapped file.
  fchmod(out.fd, 0500);
  auto fail = [&](const std::string &code, const std::string &message) {
    DiscardCopy(out);
    err = {code, message};
    return false;
  };

  const uint64_t size = static_cast<uint64_t>(before.st_size);
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(kChunk, size)));
  std::optional<Sha256> hash;
  if (with_hash) hash.emplace();
  // A reflink shares the source's extents copy-on-write where the file system can (btrfs, XFS);
  // the copy is then hashed from itself, which is what will be mapped.
  const bool cloned = ioctl(out.fd, FICLONE, src.fd) == 0;
  // A file of one chunk passes through `buf` in one read and one write, and the bytes written are
  // kept for the header check (PrivateCopy::bytes); a larger one, unhashed and not cloned, the
  // kernel copies (copy_file_range), nothing passes through here.
  const bool whole_in_buf = !cloned && size <= kChunk;
  uint64_t off = 0;
  if (!with_hash && !cloned && !whole_in_buf) {
    while (off < size) {
      loff_t in = static_cast<loff_t>(off), at = static_cast<loff_t>(off);
      const ssize_t n = copy_file_range(src.fd, &in, out.fd, &at, static_cast<size_t>(size - off), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // shrank (caught below), or not supported here: the loop below goes on
      off += static_cast<uint64_t>(n);
    }
  }
  while (off < size && (with_hash || !cloned)) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    size_t got = 0;
    if (!ReadFull(cloned ? out.fd : src.fd, buf.data(), want, off, got)) {
      return fail("ERR_DLSWAP_ACCESS", "cannot read " + label + ": " + ErrnoText(errno));
    }
    if (got == 0) break;  // shrank: caught below
    if (hash) hash->Update(buf.data(), got);
    if (!cloned && !WriteFull(out.fd, buf.data(), got, off)) {
      return fail("ERR_DLSWAP_TEMP_AREA", "cannot write a copy in " + PrivateDirPath() + ": " + ErrnoText(errno) +
                                              ". Set DLSWAP_TMPDIR to a directory with free space.");
    }
    off += got;
    if (got < want) break;
  }
  struct stat after, copied;
  fstat(src.fd, &after);
  fstat(out.fd, &copied);
  bool held = SameStat(before, after) && static_cast<uint64_t>(copied.st_size) == size;
  if (held && whole_in_buf && off == size) out.bytes = std::move(buf);
  if (held && Ns(before.st_mtim) > Ns(now) - kRecentNs) {
    std::vector<uint8_t> scratch(static_cast<size_t>(std::min<uint64_t>(kChunk, size)));
    held = SameContent(src.fd, out.fd, size, scratch);
  }
  if (!held) {
    return fail(
        "ERR_DLSWAP_INTEGRITY",
        label + " changed while it was being copied (a build still writing it?). Wait until the write has finished and open it again.");
  }
  out.size = size;
  if (hash) out.sha256 = hash->HexDigest();
  out.mtime_ms = double(Ns(before.st_mtim)) / 1e6;
  return true;
}

bool HashCopy(PrivateCopy &copy, NativeError &err) {
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(kChunk, copy.size)));
  Sha256 hash;
  for (uint64_t off = 0; off < copy.size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), copy.size - off));
    size_t got = 0;
    if (!ReadFull(copy.fd, buf.data(), want, off, got) || got != want) {
      return Fail(err, "ERR_DLSWAP_TEMP_AREA", "cannot read back a copy in " + PrivateDirPath() + ": " + ErrnoText(errno));
    }
    hash.Update(buf.data(), got);
    off += got;
  }
  copy.sha256 = hash.HexDigest();
  return true;
}

void DiscardCopy(PrivateCopy &copy) {
  if (copy.fd >= 0) close(copy.fd);
  copy.fd = -1;
  if (!copy.name.empty() && !copy.mapped) RemovePrivateFile(copy.name);
}

}  // namespace dlswap
