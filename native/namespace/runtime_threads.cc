// Threads that code in dlswap's namespaces starts.
//
// They are created by node's libc (so that one libc runs every thread's exit work: thread_local
// destructors, key destructors, stack reuse), start in ThreadMain here, which gives them the
// namespace libc's per-thread state before the library's start routine runs, and are recorded
// until they exit, so that unloading can tell which threads belong to which object.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <list>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "namespace/runtime_host.h"
#include "image/thread_scan.h"

namespace dlswap {

namespace {

struct ThreadRecord {
  NamespaceRecord *ns = nullptr;
  void *(*start)(void *) = nullptr;
  int (*c11_start)(void *) = nullptr;
  void *arg = nullptr;
  const struct link_map *creator = nullptr;    // object whose code called pthread_create
  const struct link_map *start_object = nullptr;
  void *pin = nullptr;                          // dlmopen handle keeping `creator` mapped, or null
  pid_t tid = 0;                                // set by the thread itself
};

std::mutex g_mutex;
std::list<ThreadRecord *> g_threads;
std::vector<void *> g_exited_pins;
std::set<const struct link_map *> g_images;

pthread_key_t g_exit_key;
std::once_flag g_exit_key_once;

// Runs in the exiting thread, from node's libc, after the thread's thread_local destructors.
void OnThreadExit(void *p) {
  auto *rec = static_cast<ThreadRecord *>(p);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_threads.remove(rec);
  if (rec->pin) g_exited_pins.push_back(rec->pin);
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

int Create(NamespaceRecord *ns, pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
           int (*c11_start)(void *), void *arg, const void *caller) {
  std::call_once(g_exit_key_once, [] { pthread_key_create(&g_exit_key, &OnThreadExit); });
  auto *rec = new (std::nothrow) ThreadRecord();
  if (!rec) return EAGAIN;
  rec->ns = ns;
  rec->start = start;
  rec->c11_start = c11_start;
  rec->arg = arg;
  rec->creator = ObjectAt(caller);
  rec->start_object = ObjectAt(c11_start ? reinterpret_cast<const void *>(c11_start) : reinterpret_cast<const void *>(start));
  bool image = false;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    image = g_images.count(rec->creator) != 0;
  }
  if (rec->creator && !image && rec->creator->l_name && rec->creator->l_name[0]) {
    // A reference of our own (RTLD_NOLOAD: the object is loaded, by name), dropped after the thread
    // exits. The thread's code cannot be unmapped under it however the images using it are closed.
    rec->pin = dlmopen(ns->lmid, rec->creator->l_name, RTLD_LAZY | RTLD_NOLOAD);
  }
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_threads.push_back(rec);
  }
  int rc = pthread_create(thread, attr, &ThreadMain, rec);
  if (rc != 0) {
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_threads.remove(rec);
    }
    if (rec->pin) dlclose(rec->pin);
    delete rec;
  }
  return rc;
}

}  // namespace

int ThreadCreate(void *ns, pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg,
                 const void *caller) {
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
  g_images.insert(image);
}

void NoteImageClosed(const struct link_map *image) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_images.erase(image);
}

std::vector<const struct link_map *> OpenImages() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return {g_images.begin(), g_images.end()};
}

std::vector<ThreadNote> RuntimeThreadsIn(const std::vector<const struct link_map *> &objects) {
  std::vector<std::pair<pid_t, std::string>> found;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (const ThreadRecord *r : g_threads) {
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
  for (const ThreadRecord *r : g_threads) {
    if (r->pin) out.push_back(r->creator);
  }
  return out;
}

void ReleaseExitedThreadPins() {
  std::vector<void *> pins;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    pins.swap(g_exited_pins);
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
      const bool alive = std::any_of(g_threads.begin(), g_threads.end(), [&](const ThreadRecord *r) {
        return std::find(tids.begin(), tids.end(), r->tid) != tids.end();
      });
      if (!alive) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
  }
}

int LiveRuntimeThreads(NamespaceRecord *ns) {
  std::lock_guard<std::mutex> lock(g_mutex);
  int n = 0;
  for (const ThreadRecord *r : g_threads) n += r->ns == ns;
  return n;
}

}  // namespace dlswap
