#include "image/thread_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "signals/thread_sample.h"

namespace dlswap {

namespace {

// A stack deeper than this is only partly scanned (the innermost part, where a frame that is
// running or waiting is).
constexpr size_t kMaxStackScan = 512 * 1024;

// Ranges of code, each with the images (indexes) it belongs to, sorted by start; images' ranges
// are whole executable mappings, so two images share a range exactly or not at all.
struct Owned {
  uintptr_t start, end;
  std::vector<size_t> owners;
};
using RangeIndex = std::vector<Owned>;

RangeIndex IndexOf(const std::vector<std::vector<AddressRange>> &images) {
  std::map<std::pair<uintptr_t, uintptr_t>, std::vector<size_t>> by_range;
  for (size_t i = 0; i < images.size(); ++i) {
    for (const AddressRange &r : images[i]) {
      std::vector<size_t> &o = by_range[{r.start, r.end}];
      if (o.empty() || o.back() != i) o.push_back(i);
    }
  }
  RangeIndex out;
  for (auto &[r, owners] : by_range) out.push_back({r.first, r.second, std::move(owners)});
  return out;
}

const Owned *Find(uintptr_t a, const RangeIndex &index) {
  auto it = std::upper_bound(index.begin(), index.end(), a, [](uintptr_t x, const Owned &o) { return x < o.start; });
  if (it == index.begin()) return nullptr;
  --it;
  return a < it->end ? &*it : nullptr;
}

// Copies another thread's memory through the kernel, which fails instead of faulting on a page
// that is gone.
bool ReadBytes(uintptr_t at, void *out, size_t n) {
  struct iovec local {
    out, n
  }, remote{reinterpret_cast<void *>(at), n};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
}

// A word on a stack that points into code is a return address only if the instruction before it is
// a call. That rules out most function pointers and stale data, which would otherwise pin an image
// that nothing runs. (The code is read through the kernel too: another thread may unmap it.)
bool FollowsCall(uintptr_t a, const Owned &r) {
#if defined(__x86_64__)
  if (a < r.start + 7) return false;
  uint8_t code[7];
  if (!ReadBytes(a - 7, code, sizeof code)) return false;
  const uint8_t *b = code + 7;                          // b[-k] is the byte k before the return address
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

// Marks in `hit` every image with a live frame on the stack [sp, end): a return address into its
// code. Reads another thread's stack through the kernel: a plain read would race with the thread's
// own writes, and a page can vanish under us; process_vm_readv returns what it could copy.
void StackHits(uintptr_t sp, uintptr_t end, const RangeIndex &index, std::vector<bool> &hit) {
  if (end > sp + kMaxStackScan) end = sp + kMaxStackScan;
  sp &= ~uintptr_t(7);
  std::vector<uintptr_t> buf(16 * 1024 / sizeof(uintptr_t));
  for (uintptr_t at = sp; at < end;) {
    size_t want = std::min<size_t>(buf.size() * sizeof(uintptr_t), end - at);
    struct iovec local {
      buf.data(), want
    }, remote{reinterpret_cast<void *>(at), want};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n <= 0) return;
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uintptr_t); ++i) {
      const Owned *r = Find(buf[i], index);
      if (r && FollowsCall(buf[i], *r)) {
        for (size_t o : r->owners) hit[o] = true;
      }
    }
    at += static_cast<size_t>(n);
  }
}

// Where a thread's registers put it: the image its program counter is in (and, on aarch64, the one
// its link register returns to), then every image with a frame on its stack.
void RegisterHits(uintptr_t pc, uintptr_t sp, uintptr_t lr, const RangeIndex &index, ProcMaps &maps, std::vector<bool> &hit) {
  if (const Owned *r = Find(pc, index)) {
    for (size_t o : r->owners) hit[o] = true;
  }
  if (const Owned *r = lr ? Find(lr, index) : nullptr; r && FollowsCall(lr, *r)) {
    for (size_t o : r->owners) hit[o] = true;
  }
  if (const std::optional<Mapping> stack = maps.At(sp)) StackHits(sp, stack->end, index, hit);
}

std::mutex g_counted_mutex;
std::set<pid_t> *g_counted = new std::set<pid_t>();  // never destroyed: read by late threads at exit
thread_local bool tl_counted = false;

std::atomic<uint64_t> g_scans{0}, g_threads{0}, g_sampled{0}, g_quiet{0};

// The CPU-time clock of another thread of this process (the kernel's thread CPU clock id:
// CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED, in ns of time on a CPU). False when it is gone.
bool ThreadCpuNs(pid_t tid, uint64_t &ns) {
  const clockid_t id = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6u);
  struct timespec t;
  if (clock_gettime(id, &t) != 0) return false;
  ns = uint64_t(t.tv_sec) * 1000000000u + uint64_t(t.tv_nsec);
  return true;
}

// ---- the listing of the process's threads ----------------------------------------------------
//
// From one descriptor of /proc/self/task kept open for the life of the process: a listing is an
// lseek and a getdents64, without an opendir's open, stat and buffer each time. A forked child
// opens its own (the inherited one lists the parent's threads).
std::mutex g_task_mutex;
int g_task_fd = -1;    // under g_task_mutex; never closed but in a forked child
pid_t g_task_pid = 0;  // the process g_task_fd lists

// The descriptor, opened if this process has none yet; -1 when /proc cannot be read.
int TaskDirectoryLocked() {
  const pid_t pid = getpid();
  if (g_task_fd >= 0 && g_task_pid != pid) {
    close(g_task_fd);
    g_task_fd = -1;
  }
  if (g_task_fd < 0) {
    g_task_fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_task_pid = pid;
  }
  return g_task_fd;
}

// Fills `tids` with the ids of the process's threads but `except` and the counted ones (their
// clocks and stacks are never looked at), and returns the descriptor of /proc/self/task, to open
// a thread's files relative to (it stays valid); -1 when the listing cannot be read.
int ListThreads(pid_t except, std::vector<pid_t> &tids) {
  tids.clear();
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(g_task_mutex);
    if (TaskDirectoryLocked() < 0 || lseek(g_task_fd, 0, SEEK_SET) != 0) return -1;
    alignas(struct dirent64) char buf[4096];
    for (;;) {
      const ssize_t n = getdents64(g_task_fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return -1;
      if (n == 0) break;
      for (ssize_t off = 0; off < n;) {
        const auto *e = reinterpret_cast<const struct dirent64 *>(buf + off);
        off += e->d_reclen;
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        const pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
        if (tid != except) tids.push_back(tid);
      }
    }
    fd = g_task_fd;
  }
  std::lock_guard<std::mutex> lock(g_counted_mutex);
  tids.erase(std::remove_if(tids.begin(), tids.end(), [](pid_t t) { return g_counted->count(t) > 0; }), tids.end());
  return fd;
}

// Whether `tid` has not run since every one of `quiet` was taken.
bool QuietSince(pid_t tid, const std::vector<const ThreadClocks *> &quiet) {
  if (quiet.empty()) return false;
  uint64_t now = 0;
  if (!ThreadCpuNs(tid, now)) return false;  // gone meanwhile: the read below says so
  for (const ThreadClocks *c : quiet) {
    if (!c) return false;
    auto it = std::lower_bound(c->cpu_ns.begin(), c->cpu_ns.end(), std::make_pair(tid, uint64_t(0)));
    if (it == c->cpu_ns.end() || it->first != tid || it->second != now) return false;
  }
  return true;
}

// ---- samples of running threads (signals/thread_sample.h) ---------------------------------------
//
// One round of samples at a time (g_sample_mutex). Each asked thread gets a slot whose `claim` is
// tag << 2 | state: the handler may fill it only while it reads (tag, waiting), and says so by
// moving it to (tag, writing) first; the scanner gives up on it by moving (tag, waiting) to (tag,
// expired). So a late answer, or one to an older round, never touches a slot the scanner reads.
enum : uint64_t { kWaiting = 0, kWriting = 1, kDone = 2, kExpired = 3 };
constexpr size_t kSlots = 64;
struct Slot {
  std::atomic<uint64_t> claim{kExpired};
  std::atomic<pid_t> tid{0};
  SampledRegisters regs;
};
Slot g_slots[kSlots];
std::atomic<int> g_answers{0};  // bumped by every answer: what the scanner waits on (a futex)
std::mutex g_sample_mutex;
uint64_t g_tag = 0;  // under g_sample_mutex

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// The handler's part, on the sampled thread: async-signal-safe (atomics, a futex wake).
void Receive(uint64_t tag, const SampledRegisters &regs) {
  const pid_t self = Gettid();
  for (Slot &s : g_slots) {
    if (s.tid.load(std::memory_order_acquire) != self) continue;
    uint64_t expected = tag << 2 | kWaiting;
    if (!s.claim.compare_exchange_strong(expected, tag << 2 | kWriting, std::memory_order_acq_rel)) continue;
    s.regs = regs;
    s.claim.store(tag << 2 | kDone, std::memory_order_release);
    g_answers.fetch_add(1, std::memory_order_release);
    syscall(SYS_futex, reinterpret_cast<int *>(&g_answers), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    return;
  }
}

// /proc's "SigBlk"/"SigPnd" lines of a thread: whether it blocks `sig`, or has it pending already
// (an earlier sample not yet delivered: another would only queue up behind it).
bool CannotTake(pid_t tid, int sig, std::string &why) {
  char path[64], text[2048];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/status", static_cast<int>(tid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // gone: the send fails and says so
  const ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return false;
  text[n] = '\0';
  const uint64_t bit = uint64_t(1) << (sig - 1);
  auto mask = [&](const char *key) {
    const char *at = std::strstr(text, key);
    return at ? std::strtoull(at + std::strlen(key), nullptr, 16) : 0;
  };
  if (mask("SigBlk:") & bit) {
    why = "running, and it blocks the signal dlswap asks threads with (" + std::to_string(sig) + ")";
    return true;
  }
  if (mask("SigPnd:") & bit) {
    why = "running, and it has not taken an earlier request for its registers yet";
    return true;
  }
  return false;
}

// Reads /proc/self/task/<tid>/syscall under `dir`: false when the thread is gone. `running` when it
// is in user space; otherwise its stack and program counters.
bool ReadSyscall(int dir, pid_t tid, bool &running, uintptr_t &sp, uintptr_t &pc) {
  char path[64], raw[256];
  std::snprintf(path, sizeof path, "%d/syscall", static_cast<int>(tid));
  int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, raw, sizeof raw - 1);
  close(fd);
  if (n <= 0) return false;
  raw[n] = '\0';
  running = std::strncmp(raw, "running", 7) == 0;
  if (running) return true;
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
  if (count < 3) return false;
  sp = fields[0];
  pc = fields[1];
  return true;
}

struct Sampled {
  pid_t tid;
  std::optional<SampledRegisters> regs;  // none: could not be asked, or did not answer
  bool now_blocked = false;              // stopped running meanwhile: read it as a blocked thread
  std::string why;                       // when neither
};

// Asks each thread of `tids` (running in user space when last looked at) for its registers. A
// thread that cannot take the signal just now (glibc blocks every signal while it creates or ends a
// thread) is asked again while the deadline lasts; one that went to sleep meanwhile is read as a
// blocked thread instead (`now_blocked`), since it would take the signal only when it wakes.
std::vector<Sampled> Sample(int dir, const std::vector<pid_t> &tids, std::chrono::steady_clock::time_point until) {
  std::vector<Sampled> out;
  for (pid_t t : tids) out.push_back({t, std::nullopt, false, ""});
  std::lock_guard<std::mutex> lock(g_sample_mutex);
  const int sig = ThreadSampleSignal(&Receive);
  if (sig == 0) {
    for (Sampled &s : out) s.why = "running, and dlswap has no signal to ask it with (another handler took its place)";
    return out;
  }
  for (size_t first = 0; first < out.size(); first += kSlots) {
    const size_t count = std::min(kSlots, out.size() - first);
    const uint64_t tag = ++g_tag;
    // Per thread of the batch: its slot once asked; `pending` until it is settled one way or another.
    std::vector<Slot *> slot(count, nullptr);
    std::vector<bool> pending(count, true);
    std::vector<Slot *> free_slots;
    for (Slot &s : g_slots) {
      // Any slot but one a late handler is still writing into.
      if ((s.claim.load() & 3) != kWriting && free_slots.size() < count) free_slots.push_back(&s);
    }
    auto ask = [&](size_t i) {
      Sampled &s = out[first + i];
      if (CannotTake(s.tid, sig, s.why)) return;  // asked again at the next look
      if (free_slots.empty()) {
        s.why = "running, and dlswap could not ask it (no free slot)";
        return;
      }
      Slot *sl = free_slots.back();
      free_slots.pop_back();
      sl->tid.store(s.tid, std::memory_order_release);
      sl->claim.store(tag << 2 | kWaiting, std::memory_order_release);
      if (!SendThreadSample(s.tid, tag)) {
        sl->claim.store(tag << 2 | kExpired);
        free_slots.push_back(sl);
        if (errno == ESRCH) {
          s.now_blocked = true;  // gone: the caller's read says so
          pending[i] = false;
        } else {
          s.why = std::string("running, and the signal that asks for its registers could not be sent (") + std::strerror(errno) + ")";
        }
        return;
      }
      s.why.clear();
      slot[i] = sl;
      g_sampled.fetch_add(1, std::memory_order_relaxed);
    };
    for (size_t i = 0; i < count; ++i) ask(i);
    auto last_look = std::chrono::steady_clock::now();
    for (;;) {
      const int seen = g_answers.load(std::memory_order_acquire);
      int waiting = 0;
      for (size_t i = 0; i < count; ++i) {
        if (!pending[i]) continue;
        if (slot[i] && slot[i]->claim.load(std::memory_order_acquire) == (tag << 2 | kDone)) {
          out[first + i].regs = slot[i]->regs;
          slot[i] = nullptr;
          pending[i] = false;
          continue;
        }
        ++waiting;
      }
      if (waiting == 0) break;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_look >= std::chrono::milliseconds(20) || now >= until) {
        last_look = now;
        for (size_t i = 0; i < count; ++i) {
          if (!pending[i]) continue;
          Sampled &s = out[first + i];
          bool running = true;
          uintptr_t sp = 0, pc = 0;
          const bool alive = ReadSyscall(dir, s.tid, running, sp, pc);
          if (alive && running && now < until) {
            if (!slot[i]) ask(i);
            continue;
          }
          if (slot[i]) {
            uint64_t w = tag << 2 | kWaiting;
            if (!slot[i]->claim.compare_exchange_strong(w, tag << 2 | kExpired)) continue;  // answering right now
          }
          if (!alive || !running) {
            s.now_blocked = true;
          } else if (slot[i]) {
            s.why = "running, and it did not answer dlswap's request for its registers in time";
          } else if (s.why.empty()) {
            s.why = "running, and dlswap could not ask it for its registers";
          }
          slot[i] = nullptr;
          pending[i] = false;
        }
        continue;
      }
      struct timespec ts {
        0, 5 * 1000 * 1000
      };
      syscall(SYS_futex, reinterpret_cast<int *>(&g_answers), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
    }
  }
  return out;
}

}  // namespace

void NoteCountedThread() {
  if (tl_counted) return;
  tl_counted = true;
  std::lock_guard<std::mutex> lock(g_counted_mutex);
  g_counted->insert(static_cast<pid_t>(syscall(SYS_gettid)));
}

void PrepareThreadSamples() {
  {
    // With the addon too: the process's descriptors are then the same before and after its first load.
    std::lock_guard<std::mutex> lock(g_task_mutex);
    TaskDirectoryLocked();
  }
  PrepareProcMaps();
  std::lock_guard<std::mutex> lock(g_sample_mutex);
  ThreadSampleSignal(&Receive);
}

ScanCounters ScanCountersNow() { return {g_scans.load(), g_threads.load(), g_sampled.load(), g_quiet.load()}; }

ThreadClocks TakeThreadClocks() {
  ThreadClocks out;
  std::vector<pid_t> tids;
  if (ListThreads(Gettid(), tids) < 0) return out;
  out.cpu_ns.reserve(tids.size());
  for (pid_t tid : tids) {
    uint64_t ns = 0;
    if (ThreadCpuNs(tid, ns)) out.cpu_ns.emplace_back(tid, ns);
  }
  std::sort(out.cpu_ns.begin(), out.cpu_ns.end());
  return out;
}

MultiScanResult ScanThreadsFor(const std::vector<std::vector<AddressRange>> &images, ProcMaps &maps, std::chrono::milliseconds patience,
                               const std::vector<const ThreadClocks *> &quiet) {
  MultiScanResult out;
  out.executing.resize(images.size());
  const RangeIndex index = IndexOf(images);
  if (index.empty()) return out;
  g_scans.fetch_add(1, std::memory_order_relaxed);
  std::vector<pid_t> tids;
  const int dir = ListThreads(Gettid(), tids);
  if (dir < 0) return out;
  std::vector<pid_t> running;
  auto record = [&](pid_t tid, const std::vector<bool> &hit) {
    for (size_t i = 0; i < hit.size(); ++i) {
      if (hit[i]) out.executing[i].push_back(tid);
    }
  };
  auto look_at_blocked = [&](pid_t tid, uintptr_t sp, uintptr_t pc) {
    std::vector<bool> hit(images.size(), false);
    RegisterHits(pc, sp, 0, index, maps, hit);
    record(tid, hit);
  };
  for (const pid_t tid : tids) {
    if (QuietSince(tid, quiet)) {
      g_quiet.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    g_threads.fetch_add(1, std::memory_order_relaxed);
    bool is_running = false;
    uintptr_t sp = 0, pc = 0;
    if (!ReadSyscall(dir, tid, is_running, sp, pc)) continue;  // exited meanwhile
    if (is_running) {
      running.push_back(tid);
      continue;
    }
    look_at_blocked(tid, sp, pc);
  }
  // A thread seen blocked while it was being asked may run again by the time it is read: it is
  // asked again, a few times, rather than given up on. One deadline for all the asking.
  const auto until = std::chrono::steady_clock::now() + patience;
  for (int round = 0; round < 3 && !running.empty(); ++round) {
    std::vector<pid_t> again;
    for (const Sampled &s : Sample(dir, running, until)) {
      if (s.regs) {
        std::vector<bool> hit(images.size(), false);
        RegisterHits(s.regs->pc, s.regs->sp, s.regs->lr, index, maps, hit);
        record(s.tid, hit);
      } else if (s.now_blocked) {
        bool is_running = false;
        uintptr_t sp = 0, pc = 0;
        if (!ReadSyscall(dir, s.tid, is_running, sp, pc)) continue;  // exited
        if (!is_running) {
          look_at_blocked(s.tid, sp, pc);
        } else if (round < 2) {
          again.push_back(s.tid);
        } else {
          out.unknown.emplace_back(s.tid, "running, and it could not be asked for its registers");
        }
      } else {
        out.unknown.emplace_back(s.tid, s.why);
      }
    }
    running.swap(again);
  }
  return out;
}

ScanResult ScanThreads(const std::vector<AddressRange> &ranges, ProcMaps &maps, std::chrono::milliseconds patience) {
  MultiScanResult m = ScanThreadsFor({ranges}, maps, patience);
  ScanResult out;
  if (!m.executing.empty()) out.executing = std::move(m.executing[0]);
  out.unknown = std::move(m.unknown);
  return out;
}

}  // namespace dlswap
