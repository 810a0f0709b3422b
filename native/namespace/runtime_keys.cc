// pthread keys created by libraries in dlswap's namespaces.
//
// A namespace's libc has a key table of its own, but the per-thread key values live in the thread
// descriptor that every libc copy shares: keys handed out by two tables collide, and a library in a
// namespace would read and overwrite node's own per-thread values (OpenSSL crashed on its first
// SHA256). So every key comes from node's table.
//
// The destructor is the other half. node's libc runs it when a thread exits, possibly long after
// the library that registered it was unmapped. Each key with a destructor is therefore created with
// one of kSlots trampolines of ours (they live in the addon, which is never unloaded), and the
// trampoline calls the library's destructor only while that library's code may be mapped.
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <utility>
#include <vector>

#include "namespace/runtime_host.h"
#include "signals/thread_exit.h"

namespace dlswap {

namespace {

// PTHREAD_KEYS_MAX on glibc: the whole key table.
constexpr size_t kSlots = 1024;

struct KeySlot {
  std::atomic<void (*)(void *)> destructor{nullptr};
  // Dekker-style handshake with SuspendKeyDestructors: a trampoline announces itself in `running`
  // before it reads `suspended`, the suspender sets `suspended` before it reads `running`.
  std::atomic<int> running{0};
  std::atomic<bool> suspended{false};
  // Guarded by g_mutex.
  bool used = false;
  pthread_key_t key = 0;
  NamespaceRecord *ns = nullptr;
  const void *owner_map = nullptr;   // link_map of the object the destructor is in
  const void *owner_base = nullptr;
};

std::mutex g_mutex;
std::array<KeySlot, kSlots> g_slots;
// Slots are handed out round-robin: a thread that read a trampoline's address just before its key
// was deleted must not find the slot already serving another key's destructor.
size_t g_cursor = 0;
// Slot index + 1 of each node key created through the runtime; 0 for keys created elsewhere.
std::array<uint16_t, kSlots> g_slot_of_key{};

void RunDestructor(size_t i, void *value) {
  KeySlot &s = g_slots[i];
  s.running.fetch_add(1, std::memory_order_seq_cst);
  if (!s.suspended.load(std::memory_order_seq_cst)) {
    if (auto d = s.destructor.load(std::memory_order_acquire)) d(value);
  }
  s.running.fetch_sub(1, std::memory_order_release);
}

template <size_t I>
void Trampoline(void *value) {
  RunDestructor(I, value);
}

template <size_t... I>
constexpr std::array<void (*)(void *), sizeof...(I)> MakeTrampolines(std::index_sequence<I...>) {
  return {&Trampoline<I>...};
}
constexpr auto kTrampolines = MakeTrampolines(std::make_index_sequence<kSlots>{});

bool WaitIdle(KeySlot &s, std::chrono::steady_clock::time_point deadline) {
  while (s.running.load(std::memory_order_seq_cst) != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    sched_yield();
  }
  return true;
}

// Whether the object that held the destructor at registration is still mapped where it was.
bool OwnerStillMapped(void (*destructor)(void *), const void *owner_map, const void *owner_base) {
  Dl_info info;
  void *map = nullptr;
  if (dladdr1(reinterpret_cast<void *>(destructor), &info, &map, RTLD_DL_LINKMAP) == 0) return false;
  return map == owner_map && info.dli_fbase == owner_base;
}

void FreeSlot(size_t i) {
  KeySlot &s = g_slots[i];
  g_slot_of_key[s.key] = 0;
  s.destructor.store(nullptr, std::memory_order_release);
  s.suspended.store(false, std::memory_order_relaxed);
  s.used = false;
  s.ns = nullptr;
}

int KeyCreate(void *ns_ptr, pthread_key_t *key, void (*destructor)(void *)) {
  if (key == nullptr) return EINVAL;
  if (destructor == nullptr) return pthread_key_create(key, nullptr);
  // dladdr takes the dynamic loader's lock: never under g_mutex (a constructor running under that
  // lock may be creating a key, and would wait for g_mutex).
  Dl_info info;
  void *map = nullptr;
  const bool located = dladdr1(reinterpret_cast<void *>(destructor), &info, &map, RTLD_DL_LINKMAP) != 0;
  std::lock_guard<std::mutex> lock(g_mutex);
  size_t i = kSlots;
  for (size_t n = 0; n < kSlots; ++n) {
    size_t c = (g_cursor + n) % kSlots;
    if (!g_slots[c].used) {
      i = c;
      break;
    }
  }
  if (i == kSlots) return EAGAIN;
  KeySlot &s = g_slots[i];
  if (!located) {
    // A destructor outside every loaded object (JIT code?): nothing can unmap it under us, but
    // nothing tells us when it goes either. Let node's libc call it directly.
    return pthread_key_create(key, destructor);
  }
  pthread_key_t k;
  int rc = pthread_key_create(&k, kTrampolines[i]);
  if (rc != 0) return rc;
  if (k >= kSlots) {  // not glibc's table layout: keep the slot scheme out of it
    pthread_key_delete(k);
    return pthread_key_create(key, destructor);
  }
  s.used = true;
  s.key = k;
  s.ns = static_cast<NamespaceRecord *>(ns_ptr);
  s.owner_map = map;
  s.owner_base = info.dli_fbase;
  s.suspended.store(false, std::memory_order_relaxed);
  s.destructor.store(destructor, std::memory_order_release);
  g_slot_of_key[k] = static_cast<uint16_t>(i + 1);
  g_cursor = (i + 1) % kSlots;
  *key = k;
  return 0;
}

int KeyDelete(void *, pthread_key_t key) {
  std::lock_guard<std::mutex> lock(g_mutex);
  int rc = pthread_key_delete(key);
  if (rc == 0 && key < kSlots && g_slot_of_key[key] != 0) {
    size_t i = g_slot_of_key[key] - 1;
    // A thread may be exiting through this slot right now (glibc has the same race between
    // pthread_key_delete and thread exit); let it finish before the slot can be reused.
    WaitIdle(g_slots[i], std::chrono::steady_clock::now() + std::chrono::seconds(1));
    FreeSlot(i);
  }
  return rc;
}

}  // namespace

bool SuspendKeyDestructors(NamespaceRecord *ns, int timeout_ms) {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto &s : g_slots) {
    if (s.used && s.ns == ns) s.suspended.store(true, std::memory_order_seq_cst);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool idle = true;
  for (auto &s : g_slots) {
    if (s.used && s.ns == ns && !WaitIdle(s, deadline)) idle = false;
  }
  return idle;
}

void ResumeKeyDestructors(NamespaceRecord *ns) {
  // Which owners are still mapped is asked without g_mutex (dladdr takes the loader lock); slots
  // stay suspended meanwhile, so nothing can change under the answer but a key being deleted.
  struct Candidate {
    size_t slot;
    pthread_key_t key;
    void (*destructor)(void *);
    const void *map, *base;
    bool mapped;
  };
  std::vector<Candidate> candidates;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (size_t i = 0; i < kSlots; ++i) {
      KeySlot &s = g_slots[i];
      if (!s.used || s.ns != ns || !s.suspended.load(std::memory_order_relaxed)) continue;
      candidates.push_back({i, s.key, s.destructor.load(std::memory_order_relaxed), s.owner_map, s.owner_base, false});
    }
  }
  for (Candidate &c : candidates) c.mapped = OwnerStillMapped(c.destructor, c.map, c.base);
  std::lock_guard<std::mutex> lock(g_mutex);
  for (const Candidate &c : candidates) {
    KeySlot &s = g_slots[c.slot];
    if (!s.used || s.key != c.key || s.ns != ns) continue;  // deleted meanwhile
    if (c.mapped) {
      s.suspended.store(false, std::memory_order_seq_cst);
    } else {
      // The library left without deleting its key. Deleting it now means no thread will ever
      // call the destructor (their values are leaked, as glibc does for a deleted key).
      pthread_key_delete(s.key);
      FreeSlot(c.slot);
    }
  }
}

int LiveNamespaceKeys(NamespaceRecord *ns) {
  std::lock_guard<std::mutex> lock(g_mutex);
  int n = 0;
  for (auto &s : g_slots) n += s.used && s.ns == ns;
  return n;
}

// Defined in runtime_threads.cc.
int ThreadCreate(void *ns, pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg,
                 const void *caller);
int C11ThreadCreate(void *ns, unsigned long *thread, int (*start)(void *), void *arg, const void *caller);

extern "C" int __cxa_thread_atexit_impl(void (*)(void *), void *, void *);

void FillRuntimeHost(dlswap_runtime_host *host, NamespaceRecord *ns) {
  host->abi = DLSWAP_RUNTIME_ABI;
  host->struct_size = sizeof(dlswap_runtime_host);
  host->ns = ns;
  host->key_create = &KeyCreate;
  host->key_delete = &KeyDelete;
  host->getspecific = &pthread_getspecific;
  host->setspecific = &pthread_setspecific;
  host->thread_create = &ThreadCreate;
  host->c11_thread_create = &C11ThreadCreate;
  host->thread_exit = &ThreadExitDuringCall;  // a plain pthread_exit outside a call (signals/thread_exit.h)
  host->thread_atexit = &__cxa_thread_atexit_impl;
  host->set_locale = &LocaleSet;
}

}  // namespace dlswap
