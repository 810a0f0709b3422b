// The per-thread records of signals/recovery.h: made on a thread's first call through dlswap, found
// from a signal handler by pthread_self() in a lock-free table, and dropped (with the alternate
// signal stack made for the thread) when the thread exits.
//
// A thread-local variable cannot serve the handler: the addon's TLS block is allocated on a
// thread's first access, with malloc, which a handler must not call (the fault may be in malloc).
// So the handler looks the thread up in a fixed table keyed by pthread_self(), which is one
// register read, while the threads that register look themselves up through a thread-local cache.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "signals/recovery.h"

namespace dlswap {

namespace {

// Open addressing, linear probing. Zero-initialized and never destroyed: a thread exiting after
// node's static destructors ran (issue of every thread-exit path) still finds it intact.
constexpr size_t kSlots = 4096;
constexpr uintptr_t kEmpty = 0, kRemoved = 1;
struct Slot {
  std::atomic<uintptr_t> key;
  std::atomic<ThreadFaults *> value;
};
Slot g_slots[kSlots];

size_t Home(uintptr_t key) { return static_cast<size_t>((key >> 6) * 0x9E3779B97F4A7C15ull >> 52) & (kSlots - 1); }

bool Insert(uintptr_t key, ThreadFaults *tf) {
  for (size_t i = 0, at = Home(key); i < kSlots; ++i, at = (at + 1) & (kSlots - 1)) {
    uintptr_t k = g_slots[at].key.load(std::memory_order_acquire);
    if ((k == kEmpty || k == kRemoved) && g_slots[at].key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) {
      g_slots[at].value.store(tf, std::memory_order_release);
      return true;
    }
  }
  return false;  // 4,096 threads registered at once: this one is not contained (its calls still run)
}

void Remove(uintptr_t key) {
  for (size_t i = 0, at = Home(key); i < kSlots; ++i, at = (at + 1) & (kSlots - 1)) {
    uintptr_t k = g_slots[at].key.load(std::memory_order_acquire);
    if (k == kEmpty) return;
    if (k == key) {
      g_slots[at].value.store(nullptr, std::memory_order_release);
      g_slots[at].key.store(kRemoved, std::memory_order_release);
      return;
    }
  }
}

// The alternate stack is for the handler: it unwinds the faulting stack and may chain to node's
// handler, so it gets more than the minimum. A guard page below it turns an overflow of the handler
// itself into a plain crash rather than a write into whatever lies below.
size_t AltStackSize() {
  long min = sysconf(_SC_MINSIGSTKSZ);
  return std::max<size_t>(128 * 1024, min > 0 ? static_cast<size_t>(min) * 4 : 0);
}

struct Owned {
  ThreadFaults *tf = nullptr;
  void *alt_base = nullptr;  // our mapping (guard page first), or null when the thread had a stack
  size_t alt_size = 0;       // including the guard page
};

pthread_key_t g_exit_key;
bool g_exit_key_ok = false;
std::once_flag g_exit_key_once;
thread_local Owned *tl_owned = nullptr;

// Runs when a registered thread exits (node's libc, after its thread_local destructors).
void OnThreadExit(void *p) {
  auto *o = static_cast<Owned *>(p);
  Remove(reinterpret_cast<uintptr_t>(pthread_self()));
  if (o->alt_base) {
    stack_t cur;
    const char *ours = static_cast<char *>(o->alt_base) + getpagesize();
    if (sigaltstack(nullptr, &cur) == 0 && cur.ss_sp == ours && !(cur.ss_flags & SS_ONSTACK)) {
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      sigaltstack(&off, nullptr);
      munmap(o->alt_base, o->alt_size);
    }
  }
  delete o->tf;
  delete o;
  tl_owned = nullptr;
}

void GiveAltStack(Owned *o) {
  stack_t cur;
  if (sigaltstack(nullptr, &cur) != 0 || !(cur.ss_flags & SS_DISABLE)) return;  // it has one: keep it
  const size_t page = static_cast<size_t>(getpagesize());
  const size_t size = (AltStackSize() + page - 1) / page * page;
  void *base = mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return;
  mprotect(base, page, PROT_NONE);
  stack_t ss{};
  ss.ss_sp = static_cast<char *>(base) + page;
  ss.ss_size = size;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(base, size + page);
    return;
  }
  o->alt_base = base;
  o->alt_size = size + page;
}

void CaptureFpControl(ThreadFaults *tf) {
#if defined(__x86_64__)
  tf->fp_control = __builtin_ia32_stmxcsr();
  uint16_t cw = 0;
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  tf->fp_status = cw;
#elif defined(__aarch64__)
  uint64_t fpcr = 0;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  tf->fp_control = static_cast<uint32_t>(fpcr);
#endif
}

}  // namespace

ThreadFaults *ThisThreadFaults(ThreadRole role) {
  if (tl_owned) {
    // A JS thread that ran a load job inline (open()) first registered as the loader: the stronger
    // role (ThreadRole's order) names it.
    if (role < tl_owned->tf->role) tl_owned->tf->role = role;
    return tl_owned->tf;
  }
  std::call_once(g_exit_key_once, [] { g_exit_key_ok = pthread_key_create(&g_exit_key, &OnThreadExit) == 0; });
  auto *o = new Owned();
  o->tf = new ThreadFaults();
  o->tf->tid = static_cast<pid_t>(syscall(SYS_gettid));
  o->tf->role = role;
  CaptureFpControl(o->tf);
  GiveAltStack(o);
  tl_owned = o;
  if (g_exit_key_ok) pthread_setspecific(g_exit_key, o);
  Insert(reinterpret_cast<uintptr_t>(pthread_self()), o->tf);
  return o->tf;
}

LoadingNote::LoadingNote(const char *path) : tf_(ThisThreadFaults(ThreadRole::kLoader)) {
  std::strncpy(tf_->loading, path ? path : "", sizeof tf_->loading - 1);
}

LoadingNote::~LoadingNote() { tf_->loading[0] = '\0'; }

ThreadFaults *RegisteredThreadFaults() { return tl_owned ? tl_owned->tf : nullptr; }

ThreadFaults *FindThreadFaults() {
  const uintptr_t key = reinterpret_cast<uintptr_t>(pthread_self());
  for (size_t i = 0, at = Home(key); i < kSlots; ++i, at = (at + 1) & (kSlots - 1)) {
    uintptr_t k = g_slots[at].key.load(std::memory_order_acquire);
    if (k == key) return g_slots[at].value.load(std::memory_order_acquire);
    if (k == kEmpty) return nullptr;
  }
  return nullptr;
}

}  // namespace dlswap
