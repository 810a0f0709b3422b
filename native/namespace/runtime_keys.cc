// pthread keys created by libraries in dlswap's namespaces.
//
// A namespace's libc has a key table of its own, but the per-thread key values live in the thread
// descriptor that every libc copy shares: keys handed out by two tables collide, and a library in a
// namespace would read and overwrite node's own per-thread values (OpenSSL crashed on its first
// SHA256). So every key comes from node's table, and each is recorded with the namespace that
// created it:
// - a namespace may get, set and delete only its own keys. A foreign key (node's, another
//   namespace's, one never created) reads as NULL, and setting or deleting it fails with EINVAL,
//   which is what glibc answers for a key that does not exist. A plugin deleting key 0 would
//   otherwise delete one of node's (a worker's crypto never answers again);
// - a key is reclaimed once the code that created it (or holds its destructor) is unmapped, with
//   or without a destructor: a plugin that creates a key in its init and never deletes it would
//   otherwise use up node's 1,024 keys in as many reloads.
//
// The destructor is the other half. node's libc runs it when a thread exits, possibly long after
// the library that registered it was unmapped. Each key with a destructor is therefore created with
// one of kSlots trampolines of ours (they live in the addon, which is never unloaded), and the
// trampoline calls the library's destructor only while that library's code may be mapped.
//
// Creating, getting, setting and deleting never call into the dynamic linker (a key can be created
// by a thread that a constructor started and waits for, while the load holds the loader lock):
// which object created a key is looked up before the next unload in its namespace
// (SuspendKeyDestructors), on the thread that unloads.
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

// PTHREAD_KEYS_MAX on glibc: the whole key table, and as many destructor slots.
constexpr size_t kKeys = 1024;
constexpr size_t kSlots = kKeys;

// Where one address was found: the object's link map and load address. `found` false: in no
// loaded object.
struct Place {
  bool found = false;
  const void *map = nullptr;
  const void *base = nullptr;
};

// Takes the dynamic loader's lock: only on an unloading thread.
Place Locate(const void *address) {
  Place p;
  Dl_info info;
  void *map = nullptr;
  if (address && dladdr1(address, &info, &map, RTLD_DL_LINKMAP) != 0) p = {true, map, info.dli_fbase};
  return p;
}

// Whether the object found at `was` is still mapped where it was.
bool StillThere(const void *address, const Place &was) {
  const Place now = Locate(address);
  return now.found && now.map == was.map && now.base == was.base;
}

// One key of node's table created through a namespace's runtime. All trivially destructible: the
// tables below outlive exit() (thread-exit code reads them).
struct KeyRecord {
  std::atomic<NamespaceRecord *> owner{nullptr};  // read without the lock by get and set
  // The rest guarded by g_mutex.
  uint64_t serial = 0;
  const void *caller = nullptr;          // return address in the code that created it
  void (*destructor)(void *) = nullptr;  // the library's, or null
  int slot = -1;                         // its destructor's trampoline slot
  bool resolved = false;                 // caller_at and destructor_at are known
  Place caller_at, destructor_at;
};

struct KeySlot {
  std::atomic<void (*)(void *)> destructor{nullptr};
  // Dekker-style handshake with SuspendKeyDestructors: a trampoline announces itself in `running`
  // before it reads `suspended`, the suspender sets `suspended` before it reads `running`.
  std::atomic<int> running{0};
  std::atomic<bool> suspended{false};
  // Guarded by g_mutex.
  bool used = false;
  pthread_key_t key = 0;
};

std::mutex g_mutex;
std::array<KeyRecord, kKeys> g_keys;
std::array<KeySlot, kSlots> g_slots;
uint64_t g_serial = 1;
// Slots are handed out round-robin: a thread that read a trampoline's address just before its key
// was deleted must not find the slot already serving another key's destructor.
size_t g_cursor = 0;

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

// With g_mutex held: the key leaves node's table and every record of it goes. A thread exiting
// through its slot right now (glibc has the same race between pthread_key_delete and thread exit)
// is let finish before the slot can be reused.
void ForgetKeyLocked(pthread_key_t k) {
  KeyRecord &r = g_keys[k];
  r.owner.store(nullptr, std::memory_order_release);
  pthread_key_delete(k);
  if (r.slot >= 0) {
    KeySlot &s = g_slots[static_cast<size_t>(r.slot)];
    s.destructor.store(nullptr, std::memory_order_release);
    WaitIdle(s, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    s.suspended.store(false, std::memory_order_relaxed);
    s.used = false;
  }
  r.serial = 0;
  r.caller = nullptr;
  r.destructor = nullptr;
  r.slot = -1;
  r.resolved = false;
}

bool OwnedBy(pthread_key_t key, const void *ns) { return key < kKeys && g_keys[key].owner.load(std::memory_order_acquire) == ns; }

int KeyCreate(void *ns_ptr, pthread_key_t *key, void (*destructor)(void *), const void *caller) {
  if (key == nullptr) return EINVAL;
  auto *ns = static_cast<NamespaceRecord *>(ns_ptr);
  std::lock_guard<std::mutex> lock(g_mutex);
  size_t slot = kSlots;
  if (destructor) {
    for (size_t n = 0; n < kSlots; ++n) {
      const size_t c = (g_cursor + n) % kSlots;
      if (!g_slots[c].used) {
        slot = c;
        break;
      }
    }
    if (slot == kSlots) return EAGAIN;
  }
  pthread_key_t k;
  const int rc = pthread_key_create(&k, destructor ? kTrampolines[slot] : nullptr);
  if (rc != 0) return rc;
  if (k >= kKeys) {  // not glibc's table: nothing here could track it
    pthread_key_delete(k);
    return EAGAIN;
  }
  KeyRecord &r = g_keys[k];
  r.serial = g_serial++;
  r.caller = caller;
  r.destructor = destructor;
  r.resolved = false;
  r.slot = -1;
  if (destructor) {
    KeySlot &s = g_slots[slot];
    s.used = true;
    s.key = k;
    s.suspended.store(false, std::memory_order_relaxed);
    s.destructor.store(destructor, std::memory_order_release);
    r.slot = static_cast<int>(slot);
    g_cursor = (slot + 1) % kSlots;
  }
  r.owner.store(ns, std::memory_order_release);
  *key = k;
  return 0;
}

int KeyDelete(void *ns, pthread_key_t key) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!OwnedBy(key, ns)) return EINVAL;
  ForgetKeyLocked(key);
  return 0;
}

void *GetSpecific(void *ns, pthread_key_t key) { return OwnedBy(key, ns) ? pthread_getspecific(key) : nullptr; }

int SetSpecific(void *ns, pthread_key_t key, const void *value) { return OwnedBy(key, ns) ? pthread_setspecific(key, value) : EINVAL; }

// Finds the objects of the namespace's keys created since the last look (their creator and their
// destructor), while those are still mapped: before a dlclose in the namespace.
void ResolveKeys(NamespaceRecord *ns) {
  struct Pending {
    pthread_key_t key;
    uint64_t serial;
    const void *caller, *destructor;
    Place caller_at, destructor_at;
  };
  std::vector<Pending> pending;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (pthread_key_t k = 0; k < kKeys; ++k) {
      const KeyRecord &r = g_keys[k];
      if (r.owner.load(std::memory_order_relaxed) != ns || r.resolved) continue;
      pending.push_back({k, r.serial, r.caller, reinterpret_cast<const void *>(r.destructor), {}, {}});
    }
  }
  for (Pending &p : pending) {
    p.caller_at = Locate(p.caller);
    p.destructor_at = Locate(p.destructor);
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  for (const Pending &p : pending) {
    KeyRecord &r = g_keys[p.key];
    if (r.serial != p.serial) continue;  // deleted (and maybe created again) meanwhile
    r.caller_at = p.caller_at;
    r.destructor_at = p.destructor_at;
    r.resolved = true;
  }
}

}  // namespace

bool SuspendKeyDestructors(NamespaceRecord *ns, int timeout_ms) {
  ResolveKeys(ns);
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto &s : g_slots) {
    if (s.used && g_keys[s.key].owner.load(std::memory_order_relaxed) == ns) s.suspended.store(true, std::memory_order_seq_cst);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool idle = true;
  for (auto &s : g_slots) {
    if (s.used && g_keys[s.key].owner.load(std::memory_order_relaxed) == ns && !WaitIdle(s, deadline)) idle = false;
  }
  return idle;
}

void ResumeKeyDestructors(NamespaceRecord *ns) {
  // Keys made since the suspension too (by code that may have just been unmapped): every key of
  // the namespace that is suspended now is a candidate below.
  ResolveKeys(ns);
  // Every object of a fresh namespace is gone with the namespace.
  const bool namespace_gone = !ns->shared && !NamespaceAlive(ns->lmid);
  // Which objects are still mapped is asked without g_mutex (dladdr takes the loader lock); the
  // slots stay suspended meanwhile, and a key deleted (or made again) meanwhile is left alone.
  struct Candidate {
    pthread_key_t key;
    uint64_t serial;
    const void *caller, *destructor;
    Place caller_at, destructor_at;
    bool gone = false;
  };
  std::vector<Candidate> candidates;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (pthread_key_t k = 0; k < kKeys; ++k) {
      const KeyRecord &r = g_keys[k];
      if (r.owner.load(std::memory_order_relaxed) != ns || !r.resolved) continue;
      candidates.push_back({k, r.serial, r.caller, reinterpret_cast<const void *>(r.destructor), r.caller_at, r.destructor_at});
    }
  }
  for (Candidate &c : candidates) {
    // A key goes with the code that made it or would run its destructor. An address that was in no
    // object when it was looked for was in code unmapped before that (a module the library closed
    // itself): gone too.
    auto gone = [](const void *address, const Place &at) { return address && !(at.found && StillThere(address, at)); };
    c.gone = namespace_gone || gone(c.caller, c.caller_at) || gone(c.destructor, c.destructor_at);
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  for (const Candidate &c : candidates) {
    KeyRecord &r = g_keys[c.key];
    if (r.serial != c.serial || r.owner.load(std::memory_order_relaxed) != ns) continue;
    if (c.gone) {
      // No thread will ever call its destructor again: values still set are leaked, as glibc does
      // for a deleted key, rather than passed to unmapped code.
      ForgetKeyLocked(c.key);
    } else if (r.slot >= 0) {
      g_slots[static_cast<size_t>(r.slot)].suspended.store(false, std::memory_order_seq_cst);
    }
  }
}

int LiveNamespaceKeys(NamespaceRecord *ns) {
  std::lock_guard<std::mutex> lock(g_mutex);
  int n = 0;
  for (const KeyRecord &r : g_keys) n += r.owner.load(std::memory_order_relaxed) == ns;
  return n;
}

// Defined in runtime_threads.cc.
int ThreadCreate(void *ns, pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg, const void *caller);
int C11ThreadCreate(void *ns, unsigned long *thread, int (*start)(void *), void *arg, const void *caller);

extern "C" int __cxa_thread_atexit_impl(void (*)(void *), void *, void *);

void FillRuntimeHost(dlswap_runtime_host *host, NamespaceRecord *ns) {
  host->abi = DLSWAP_RUNTIME_ABI;
  host->struct_size = sizeof(dlswap_runtime_host);
  host->ns = ns;
  host->key_create = &KeyCreate;
  host->key_delete = &KeyDelete;
  host->getspecific = &GetSpecific;
  host->setspecific = &SetSpecific;
  host->thread_create = &ThreadCreate;
  host->c11_thread_create = &C11ThreadCreate;
  host->thread_exit = &ThreadExitDuringCall;  // a plain pthread_exit outside a call (signals/thread_exit.h)
  host->thread_atexit = &__cxa_thread_atexit_impl;
  host->set_locale = &LocaleSet;
}

}  // namespace dlswap
