#include "image/process_hooks.h"

#include <elf.h>
#include <link.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>

namespace dlswap {

namespace {

// The kernel's flag for a disposition that returns through sa_restorer (the installing libc's
// __restore_rt on x86-64); glibc sets it itself and does not name it.
constexpr int kSaRestorer = 0x04000000;

// Every record not yet released. Never destroyed: a retirement may run while exit tears statics down.
std::mutex g_mutex;
std::list<ProcessHooks *> *g_records = new std::list<ProcessHooks *>();

bool In(uintptr_t a, const std::vector<AddressRange> &ranges) {
  return std::any_of(ranges.begin(), ranges.end(), [a](const AddressRange &r) { return a >= r.start && a < r.end; });
}

bool IsCode(uintptr_t handler) {
  return handler != reinterpret_cast<uintptr_t>(SIG_DFL) && handler != reinterpret_cast<uintptr_t>(SIG_IGN);
}

// Whether `d` sends a signal into `code`: its handler, or where the handler returns to.
bool PointsInto(const Disposition &d, const std::vector<AddressRange> &code) {
  return d.known && ((IsCode(d.handler) && In(d.handler, code)) || ((d.flags & kSaRestorer) && In(d.restorer, code)));
}

// Whether `now` is `before`'s handler put back with other flags or mask: what a library does that
// installs its own handler and then reinstalls the one it found with plain sigaction (ImageMagick's
// genesis drops SA_SIGINFO from V8's SIGSEGV handler this way, which then misreads its arguments).
// Nobody else reinstalls another's handler by value, so the library being closed did it.
bool Reinstalled(const Disposition &now, const Disposition &before) {
  if (!now.known || !before.known || !IsCode(now.handler) || now.handler != before.handler) return false;
  return (now.flags & ~kSaRestorer) != (before.flags & ~kSaRestorer) || now.mask != before.mask;
}

// glibc's sigset_t holds signal s in bit s-1 of its first (64-bit) word, as the kernel's mask
// does: the 64 signals are that word, copied whole (sigismember over all 64, per signal, was most
// of a capture's time).
static_assert(sizeof(sigset_t) >= sizeof(uint64_t) && sizeof(unsigned long) == sizeof(uint64_t), "an LP64 glibc sigset_t");
uint64_t MaskBits(const sigset_t &set) {
  uint64_t bits = 0;
  std::memcpy(&bits, &set, sizeof bits);
  return bits;
}

Disposition Read(int sig) {
  Disposition d;
  struct sigaction sa {};
  if (sigaction(sig, nullptr, &sa) != 0) return d;
  d.known = true;
  d.handler = (sa.sa_flags & SA_SIGINFO) ? reinterpret_cast<uintptr_t>(sa.sa_sigaction) : reinterpret_cast<uintptr_t>(sa.sa_handler);
  d.restorer = reinterpret_cast<uintptr_t>(sa.sa_restorer);
  d.flags = sa.sa_flags;
  d.mask = MaskBits(sa.sa_mask);
  return d;
}

// Installs `d` with node's libc (whose restorer never goes away), returning what was there.
Disposition Install(int sig, const Disposition &d) {
  struct sigaction sa {
  }, old{};
  sigemptyset(&sa.sa_mask);
  // Without glibc's own two signals (32 and 33), which sigaddset refuses to put in a mask.
  const uint64_t mask = d.mask & ~(uint64_t{3} << 31);
  std::memcpy(&sa.sa_mask, &mask, sizeof mask);
  sa.sa_flags = d.flags & ~kSaRestorer;  // glibc sets its own
  if (d.flags & SA_SIGINFO) {
    sa.sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t *, void *)>(d.handler);
  } else {
    sa.sa_handler = reinterpret_cast<void (*)(int)>(d.handler);
  }
  Disposition was;
  if (sigaction(sig, &sa, &old) != 0) return was;
  was.known = true;
  was.handler = (old.sa_flags & SA_SIGINFO) ? reinterpret_cast<uintptr_t>(old.sa_sigaction) : reinterpret_cast<uintptr_t>(old.sa_handler);
  was.restorer = reinterpret_cast<uintptr_t>(old.sa_restorer);
  was.flags = old.sa_flags;
  was.mask = MaskBits(old.sa_mask);
  return was;
}

}  // namespace

std::shared_ptr<ProcessHooks> ProcessHooks::Capture() {
  std::shared_ptr<ProcessHooks> record(new ProcessHooks());
  for (int sig = 1; sig < kSignalCount; ++sig) record->before_[sig] = Read(sig);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_records->push_back(record.get());
  return record;
}

ProcessHooks::~ProcessHooks() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_records->remove(this);
}

std::vector<int> ProcessHooks::BeginRetirement(const std::vector<AddressRange> &code) {
  std::vector<int> held;
  std::lock_guard<std::mutex> lock(g_mutex);
  // From now on a restore by another unit looks through this one's handlers.
  retiring_code_ = code;
  for (int sig = 1; sig < kSignalCount; ++sig) {
    for (const ProcessHooks *r : *g_records) {
      // Only the handler: a unit that saved this one's disposition calls the handler itself.
      const Disposition &d = r->before_[sig];
      if (r != this && d.known && IsCode(d.handler) && In(d.handler, code)) {
        held.push_back(sig);
        break;
      }
    }
  }
  return held;
}

std::vector<int> ProcessHooks::Release(const std::vector<AddressRange> &code) {
  std::vector<int> restored;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (released_) return restored;
  retiring_code_ = code;
  for (int sig = 1; sig < kSignalCount; ++sig) {
    // What it was before this unit was loaded, followed through units being retired now (their
    // handler is about to go too) to what was there before them.
    Disposition target = before_[sig];
    for (size_t hops = 0; hops < g_records->size(); ++hops) {
      auto owner = std::find_if(g_records->begin(), g_records->end(), [&](const ProcessHooks *r) {
        return r != this && !r->retiring_code_.empty() && PointsInto(target, r->retiring_code_);
      });
      if (owner == g_records->end()) break;
      target = (*owner)->before_[sig];
    }
    if (PointsInto(target, code)) target = Disposition{0, 0, 0, 0, true};  // stale before it was loaded
    const Disposition now = Read(sig);
    if (target.known && (PointsInto(now, code) || Reinstalled(now, before_[sig]))) {
      const Disposition was = Install(sig, target);
      // Someone changed it between the read and the swap: theirs stays.
      if (was.known && (was.handler != now.handler || was.flags != now.flags)) {
        Install(sig, was);
      } else {
        restored.push_back(sig);
      }
    }
    // Records made while this unit's handler was installed now point where this one did.
    for (ProcessHooks *r : *g_records) {
      if (r != this && PointsInto(r->before_[sig], code)) r->before_[sig] = target;
    }
  }
  released_ = true;
  g_records->remove(this);
  return restored;
}

bool DisableAltStackIn(const ObjectList &objects) {
  stack_t ss{};
  if (sigaltstack(nullptr, &ss) != 0 || (ss.ss_flags & SS_DISABLE)) return false;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(ss.ss_sp), hi = lo + ss.ss_size;
  for (const AddressRange &r : ObjectExtents(objects)) {
    if (r.end == 0 || hi <= r.start || lo >= r.end) continue;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    return sigaltstack(&off, nullptr) == 0;
  }
  return false;
}

}  // namespace dlswap
