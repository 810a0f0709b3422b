// Threads that code in dlswap's namespaces starts.
//
// They are created by node's libc (so that one libc runs every thread's exit work: thread_local
// destructors, key destructors, stack reuse), start in ThreadMain here, which gives them the
// namespace libc's per-thread state before the library's start routine runs, and are recorded
// until they exit, so that unloading can tell which threads belong to which object.
//
// The creation path never calls into the dynamic linker. A thread can be started while a load on
// another thread holds the loader lock (a constructor that starts a thread, which starts another,
// and waits for it; a libuv thread calling a library while a reload runs): dladdr or dlopen there
// would wait for that lock, and the load may be waiting for this very thread. So creation records
// only raw addresses (who called pthread_create, where the thread starts); which objects those
// are, and the reference that keeps a dependency's code mapped under its thread, are worked out by
// ResolveRuntimeThreads on a thread that is about to unload something (it takes the loader lock
// for the dlclose anyway), before it decides what it may unmap.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/immortal.h"
#include "common/thread_name.h"
#include "namespace/runtime_host.h"

namespace dlswap {

namespace {

struct ThreadRecord {
  uint64_t serial = 0;  // identifies the record (pointers are reused)
  NamespaceRecord *ns = nullptr;
  void *(*start)(void *) = nullptr;
  int (*c11_start)(void *) = nullptr;
  void *arg = nullptr;
  const void *caller = nullptr;  // return address in the code that called pthread_create
  // Set by ResolveRuntimeThreads, never by the thread or its creator:
  bool resolved = false;
  const struct link_map *creator = nullptr;  // object `caller` is in
  const struct link_map *start_object = nullptr;
  void *pin = nullptr;  // dlmopen handle keeping `creator` mapped, or null
  pid_t tid = 0;        // set by the thread itself
};

// Everything here is reached from exiting threads (OnThreadExit), possibly after exit() began:
// never destroyed (common/immortal.h).
std::mutex g_mutex;
Immortal<std::list<ThreadRecord *>> g_threads;
Immortal<std::vector<void *>> g_exited_pins;
Immortal<std::set<const struct link_map *>> g_images;
uint64_t g_next_serial = 1;

pthread_key_t g_exit_key;
std::once_flag g_exit_key_once;

// Runs in the exiting thread, from node's libc, after the thread's thread_local destructors.
void OnThreadExit(void *p) {
  auto *rec = static_cast<ThreadRecord *>(p);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_threads->remove(rec);
  if (rec->pin) g_exited_pins->push_back(rec->pin);
  delete rec;
}

void *ThreadMain(void *p) {
  auto *rec = static_cast<ThreadRecord *>(p);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    rec->tid = static_cast<pid_t>(syscall(SYS_gettid));
  }
  pthread_setspecific(g_exit_key, rec);
  EnsureThreadReady(rec->ns);
  if (rec->c11_start) return reinterpret_cast<void *>(static_cast<intptr_t>(rec->c11_start(rec->arg)));
  return rec->start(rec->arg);
}

// Takes the dynamic loader's lock: never on the creation path.
const struct link_map *ObjectAt(const void *address) {
  Dl_info info;
  void *map = nullptr;
  if (address == nullptr || dladdr1(address, &info, &map, RTLD_DL_LINKMAP) == 0) return nullptr;
  return static_cast<const struct link_map *>(map);
}

std::string ObjectName(const struct link_map *m) {
  std::string n = m && m->l_name ? m->l_name : "";
  size_t slash = n.rfind('/');
  return slash == std::string::npos ? n : n.substr(slash + 1);
}

// Records the thread and starts it. Calls nothing of the dynamic linker (see the top of the file).
int Create(NamespaceRecord *ns, pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), int (*c11_start)(void *), void *arg,
           const void *caller) {
  std::call_once(g_exit_key_once, [] { pthread_key_create(&g_exit_key, &OnThreadExit); });
  auto *rec = new (std::nothrow) ThreadRecord();
  if (!rec) return EAGAIN;
  rec->ns = ns;
  rec->start = start;
  rec->c11_start = c11_start;
  rec->arg = arg;
  rec->caller = caller;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    rec->serial = g_next_serial++;
    g_threads->push_back(rec);
  }
  int rc = pthread_create(thread, attr, &ThreadMain, rec);
  if (rc != 0) {
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_threads->remove(rec);
    }
    delete rec;
  }
  return rc;
}

const void *StartAddress(const ThreadRecord &r) {
  return r.c11_start ? reinterpret_cast<const void *>(r.c11_start) : reinterpret_cast<const void *>(r.start);
}

}  // namespace

int ThreadCreate(void *ns, pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg, const void *caller) {
  return Create(static_cast<NamespaceRecord *>(ns), thread, attr, start, nullptr, arg, caller);
}

int C11ThreadCreate(void *ns, unsigned long *thread, int (*start)(void *), void *arg, const void *caller) {
  pthread_t t;
  int rc = Create(static_cast<NamespaceRecord *>(ns), &t, nullptr, nullptr, start, arg, caller);
  if (rc == 0) *thread = static_cast<unsigned long>(t);
  return rc;
}

void NoteImageOpened(const struct link_map *image) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_images->insert(image);
}

void NoteImageClosed(const struct link_map *image) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_images->erase(image);
}

std::vector<const struct link_map *> OpenImages() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return {g_images->begin(), g_images->end()};
}

void ResolveRuntimeThreads() {
  struct Pending {
    uint64_t serial;
    NamespaceRecord *ns;
    const void *caller, *start;
    const struct link_map *creator = nullptr, *start_object = nullptr;
    void *pin = nullptr;
  };
  std::vector<Pending> pending;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (const ThreadRecord *r : *g_threads) {
      if (!r->resolved) pending.push_back({r->serial, r->ns, r->caller, StartAddress(*r)});
    }
  }
  if (pending.empty()) return;
  for (Pending &p : pending) {
    p.creator = ObjectAt(p.caller);
    p.start_object = ObjectAt(p.start);
    bool image = false;
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      image = g_images->count(p.creator) != 0;
    }
    // Only into a namespace that is still there: glibc (2.36) takes the loader lock before it
    // rejects an emptied one and never releases it (namespace_pool.cc, NamespaceAlive).
    const bool live = FindNamespace(p.ns->lmid) == p.ns && NamespaceAlive(p.ns->lmid);
    if (p.creator && !image && live && p.creator->l_name && p.creator->l_name[0]) {
      // A reference of our own (RTLD_NOLOAD: the object is loaded, by name), dropped after the
      // thread exits: a dependency that started a thread (libgomp's pool) stays mapped under it
      // however the images using it are closed.
      p.pin = dlmopen(p.ns->lmid, p.creator->l_name, RTLD_LAZY | RTLD_NOLOAD);
      dlerror();
    }
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  for (Pending &p : pending) {
    auto it = std::find_if(g_threads->begin(), g_threads->end(), [&](const ThreadRecord *r) { return r->serial == p.serial; });
    if (it == g_threads->end()) {
      if (p.pin) g_exited_pins->push_back(p.pin);  // exited meanwhile: its pin goes at once
      continue;
    }
    ThreadRecord &r = **it;
    r.creator = p.creator;
    r.start_object = p.start_object;
    r.pin = p.pin;
    r.resolved = true;
  }
}

std::vector<ThreadNote> RuntimeThreadsIn(const std::vector<const struct link_map *> &objects, NamespaceRecord *ns) {
  std::vector<std::pair<pid_t, std::string>> found;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (const ThreadRecord *r : *g_threads) {
      if (!r->resolved) {
        // Started after the last resolution: where it comes from is not known yet. One of the
        // namespace's may be the image's; taken as holding it until it is known (the next look).
        if (r->ns == ns) found.emplace_back(r->tid, "started in its namespace, not identified yet");
        continue;
      }
      const bool by = std::find(objects.begin(), objects.end(), r->creator) != objects.end();
      const bool runs = std::find(objects.begin(), objects.end(), r->start_object) != objects.end();
      if (!by && !runs) continue;
      found.emplace_back(r->tid, "started by " + ObjectName(by ? r->creator : r->start_object));
    }
  }
  std::vector<ThreadNote> out;
  for (auto &f : found) out.push_back({f.first, f.first ? ThreadName(f.first) : std::string("(starting)"), f.second, true});
  return out;
}

std::vector<const struct link_map *> ThreadPinnedObjects() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<const struct link_map *> out;
  for (const ThreadRecord *r : *g_threads) {
    if (r->pin) out.push_back(r->creator);
  }
  return out;
}

void ReleaseExitedThreadPins() {
  std::vector<void *> pins;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    pins.swap(*g_exited_pins);
  }
  for (void *h : pins) dlclose(h);
}

bool WaitForRuntimeThreadsToExit(const std::vector<pid_t> &tids, int timeout_ms) {
  // Polled: the exit hook (OnThreadExit) runs on threads that may outlive everything but the
  // records, so it signals nothing. The threads are usually gone by the first look (a destructor
  // that stops its pool joins it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int pause_us = 100;; pause_us = std::min(pause_us * 2, 20'000)) {
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      const bool alive = std::any_of(g_threads->begin(), g_threads->end(),
                                     [&](const ThreadRecord *r) { return std::find(tids.begin(), tids.end(), r->tid) != tids.end(); });
      if (!alive) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
  }
}

int LiveRuntimeThreads(NamespaceRecord *ns) {
  std::lock_guard<std::mutex> lock(g_mutex);
  int n = 0;
  for (const ThreadRecord *r : *g_threads) n += r->ns == ns;
  return n;
}

}  // namespace dlswap
