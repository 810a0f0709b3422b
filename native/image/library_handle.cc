// LibraryHandle's close, and the scan that tells which threads closing it now could pull code from
// under (library_handle.h).
#include "image/library_handle.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <map>
#include <string>

#include "common/loader_lock.h"
#include "common/proc_maps.h"
#include "common/thread_name.h"
#include "image/image_closure.h"
#include "image/image_origins.h"
#include "image/thread_scan.h"
#include "loader/private_area.h"
#include "namespace/namespace_pool.h"
#include "namespace/runtime_host.h"
#include "signals/image_registry.h"

namespace dlswap {

int LibraryHandle::Close(std::string *error) {
  if (!handle) return 0;
  // dlclose would wait for the dynamic loader's lock, held by library code that hung: it stays
  // mapped (leaked) rather than block this thread.
  const std::string hung = LoaderLockRefusal("not closed");
  if (!hung.empty()) {
    if (error) *error = hung;
    return -1;
  }
  if (fflush_fn) fflush_fn(nullptr);
  // Which objects started the namespace's threads, while they are all still mapped: a dependency
  // that started one is pinned before this dlclose could unmap it.
  if (ns) ResolveRuntimeThreads();
  if (ns && !SuspendKeyDestructors(ns, 1000)) {
    ResumeKeyDestructors(ns);
    if (error) *error = "a pthread key destructor of the library is still running in its code";
    return -1;
  }
  dlerror();
  int rc = dlclose(handle);
  if (rc != 0 && error) {
    const char *e = dlerror();
    *error = e ? e : "dlclose failed";
  }
  if (ns) ResumeKeyDestructors(ns);
  NoteImageClosed(map);
  UnregisterImage(map);
  handle = nullptr;
  closed = true;
  if (ns) ReleaseNamespace(ns);
  ReleaseExitedThreadPins();
  return rc;
}

// The address of a function of the addon itself: its object never unloads, nor what it needs.
static void AddonMarker() {}

LibraryHandle::HolderScan LibraryHandle::ScanHolders(const std::vector<const struct link_map *> &closed_with) const {
  return ScanHoldersOf({this}, {closed_with})[0];
}

std::vector<LibraryHandle::HolderScan> ScanHoldersOf(const std::vector<const LibraryHandle *> &images,
                                                     const std::vector<std::vector<const struct link_map *>> &closed_with,
                                                     std::chrono::milliseconds patience) {
  std::vector<LibraryHandle::HolderScan> out(images.size());
  std::vector<std::vector<AddressRange>> ranges(images.size());
  ResolveRuntimeThreads();
  ProcMaps maps;
  // Everything that takes the dynamic loader's locks (dladdr, dlinfo) happens before: inside
  // WithLinkMapsLocked only the link maps are read, or the lock order would invert against a dlopen.
  ObjectList keepers = ThreadPinnedObjects();
  for (const struct link_map *m : OpenImages()) keepers.push_back(m);
  static const struct link_map *addon = [] {
    Dl_info info;
    void *self = nullptr;
    return dladdr1(reinterpret_cast<void *>(&AddonMarker), &info, &self, RTLD_DL_LINKMAP) ? static_cast<const struct link_map *>(self)
                                                                                          : nullptr;
  }();
  // Per image, the keeper its namespace adds: the runtime of a namespace, the addon in node's.
  std::vector<const struct link_map *> own_keeper(images.size(), nullptr);
  for (size_t i = 0; i < images.size(); ++i) {
    const LibraryHandle &h = *images[i];
    if (h.ns && h.ns->runtime) {
      struct link_map *rt = nullptr;
      if (dlinfo(h.ns->runtime, RTLD_DI_LINKMAP, &rt) == 0) own_keeper[i] = rt;
    } else if (!h.ns) {
      own_keeper[i] = addon;
    }
  }
  WithLinkMapsLocked([&] {
    // The images of each namespace together: one index of its objects serves them all.
    std::map<const struct link_map *, std::vector<size_t>> by_namespace;
    for (size_t i = 0; i < images.size(); ++i) {
      if (images[i]->handle && images[i]->map) by_namespace[NamespaceObjects(images[i]->map).front()].push_back(i);
    }
    for (const auto &[head, members] : by_namespace) {
      const ObjectList objects = NamespaceObjects(head);
      ObjectList same_namespace;
      auto keep = [&](const struct link_map *k) {
        if (k && std::find(objects.begin(), objects.end(), k) != objects.end()) same_namespace.push_back(k);
      };
      for (const struct link_map *k : keepers) keep(k);
      for (size_t i : members) keep(own_keeper[i]);
      if (!images[members.front()]->ns) same_namespace.push_back(objects.front());  // the program: node and what it links
      ObjectList roots;
      // An image's private dependencies are closed right after it: they keep nothing of it.
      std::vector<ObjectList> not_keeping;
      for (size_t i : members) {
        roots.push_back(images[i]->map);
        not_keeping.push_back(i < closed_with.size() ? closed_with[i] : ObjectList{});
      }
      std::vector<ObjectList> each = UnmappableEach(roots, same_namespace, not_keeping);
      for (size_t j = 0; j < members.size(); ++j) {
        out[members[j]].objects = std::move(each[j]);
        ranges[members[j]] = ExecutableRanges(out[members[j]].objects, maps);
      }
    }
  });
  std::vector<const ThreadClocks *> quiet;
  for (const LibraryHandle *h : images) quiet.push_back(h->clocks_before_load.get());
  const MultiScanResult found = ScanThreadsFor(ranges, maps, patience, quiet);
  for (size_t i = 0; i < images.size(); ++i) {
    if (!images[i]->handle || !images[i]->map) continue;
    std::vector<ThreadNote> &n = out[i].threads;
    out[i].code = std::move(ranges[i]);
    n = RuntimeThreadsIn(out[i].objects, images[i]->ns);
    auto note = [&](pid_t tid, const std::string &why) {
      if (std::none_of(n.begin(), n.end(), [&](const ThreadNote &x) { return x.tid == tid; })) n.push_back({tid, ThreadName(tid), why});
    };
    for (pid_t tid : found.executing[i]) note(tid, "running its code");
    // A thread that could not be looked at may be in its code: closing is not safe.
    for (const auto &[tid, why] : found.unknown) note(tid, why);
  }
  return out;
}

}  // namespace dlswap
