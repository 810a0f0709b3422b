#include "image/thread_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <fstream>

namespace dlswap {

namespace {

// A stack deeper than this is only partly scanned (the innermost part, where a frame that is
// running or waiting is).
constexpr size_t kMaxStackScan = 512 * 1024;

bool InRanges(uintptr_t a, const std::vector<AddressRange> &ranges, const AddressRange **hit = nullptr) {
  for (const auto &r : ranges) {
    if (a >= r.start && a < r.end) {
      if (hit) *hit = &r;
      return true;
    }
  }
  return false;
}

// Copies another thread's memory through the kernel, which fails instead of faulting on a page
// that is gone.
bool ReadBytes(uintptr_t at, void *out, size_t n) {
  struct iovec local{out, n}, remote{reinterpret_cast<void *>(at), n};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
}

// A word on a stack that points into code is a return address only if the instruction before it is
// a call. That rules out most function pointers and stale data, which would otherwise pin an image
// that nothing runs. (The code is read through the kernel too: another thread may unmap it.)
bool FollowsCall(uintptr_t a, const AddressRange &r) {
#if defined(__x86_64__)
  if (a < r.start + 7) return false;
  uint8_t code[7];
  if (!ReadBytes(a - 7, code, sizeof code)) return false;
  const uint8_t *b = code + 7;  // b[-k] is the byte k before the return address
  return b[-5] == 0xE8                                  // call rel32
         || (b[-2] == 0xFF && (b[-1] & 0xF8) == 0xD0)   // call reg
         || (b[-6] == 0xFF && b[-5] == 0x15)            // call [rip+disp32]
         || (b[-3] == 0xFF && (b[-2] & 0x38) == 0x10)   // call [reg+disp8]
         || (b[-7] == 0xFF && (b[-6] & 0x38) == 0x10)   // call [reg+disp32] / [sib+disp32]
         || (b[-2] == 0xFF && (b[-1] & 0x38) == 0x10);  // call [reg]
#elif defined(__aarch64__)
  if (a < r.start + 4) return false;
  uint32_t insn;
  if (!ReadBytes(a - 4, &insn, sizeof insn)) return false;
  return (insn & 0xFC000000u) == 0x94000000u      // bl
         || (insn & 0xFFFFFC1Fu) == 0xD63F0000u;  // blr
#else
  return true;
#endif
}

// Reads another thread's stack through the kernel: a plain read would race with the thread's own
// writes, and a page can vanish under us; process_vm_readv returns what it could copy.
bool StackHolds(uintptr_t sp, uintptr_t end, const std::vector<AddressRange> &ranges) {
  if (end > sp + kMaxStackScan) end = sp + kMaxStackScan;
  sp &= ~uintptr_t(7);
  std::vector<uintptr_t> buf(16 * 1024 / sizeof(uintptr_t));
  for (uintptr_t at = sp; at < end;) {
    size_t want = std::min<size_t>(buf.size() * sizeof(uintptr_t), end - at);
    struct iovec local{buf.data(), want}, remote{reinterpret_cast<void *>(at), want};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n <= 0) return false;
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uintptr_t); ++i) {
      const AddressRange *r = nullptr;
      if (InRanges(buf[i], ranges, &r) && FollowsCall(buf[i], *r)) return true;
    }
    at += static_cast<size_t>(n);
  }
  return false;
}

std::mutex g_counted_mutex;
std::set<pid_t> *g_counted = new std::set<pid_t>();  // never destroyed: read by late threads at exit
thread_local bool tl_counted = false;

}  // namespace

void NoteCountedThread() {
  if (tl_counted) return;
  tl_counted = true;
  std::lock_guard<std::mutex> lock(g_counted_mutex);
  g_counted->insert(static_cast<pid_t>(syscall(SYS_gettid)));
}

std::string ThreadName(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(f, name);
  return name;
}

ScanResult ScanThreads(const std::vector<AddressRange> &ranges, ProcMaps &maps) {
  ScanResult out;
  if (ranges.empty()) return out;
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  DIR *dir = opendir("/proc/self/task");
  if (!dir) return out;
  while (struct dirent *e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
    if (tid == self) continue;
    {
      std::lock_guard<std::mutex> lock(g_counted_mutex);
      if (g_counted->count(tid)) continue;
    }
    char path[300], raw[256];
    std::snprintf(path, sizeof path, "%s/syscall", e->d_name);
    int fd = openat(dirfd(dir), path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // exited meanwhile
    ssize_t n = read(fd, raw, sizeof raw - 1);
    close(fd);
    if (n <= 0) continue;
    raw[n] = '\0';
    if (std::strncmp(raw, "running", 7) == 0) {
      out.unknown.push_back(tid);
      continue;
    }
    // "<nr> <6 args> <sp> <pc>", or "-1 <sp> <pc>" when blocked outside a system call: the last two.
    uintptr_t fields[2] = {0, 0};
    int count = 0;
    for (char *at = raw, *end = nullptr;; at = end) {
      const unsigned long long v = std::strtoull(at, &end, 16);
      if (end == at) break;
      fields[0] = fields[1];
      fields[1] = static_cast<uintptr_t>(v);
      ++count;
    }
    if (count < 3) continue;
    const uintptr_t sp = fields[0];
    const uintptr_t pc = fields[1];
    if (InRanges(pc, ranges)) {
      out.executing.push_back(tid);
      continue;
    }
    if (const std::optional<Mapping> stack = maps.At(sp)) {
      if (StackHolds(sp, stack->end, ranges)) out.executing.push_back(tid);
    }
  }
  closedir(dir);
  return out;
}

}  // namespace dlswap
