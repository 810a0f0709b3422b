// LibraryHandle's close, and the scan that tells which threads closing it now could pull code from
// under (library_handle.h).
#include "image/library_handle.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <string>

#include "common/proc_maps.h"
#include "image/image_closure.h"
#include "image/image_origins.h"
#include "image/thread_scan.h"
#include "loader/private_area.h"
#include "namespace/namespace_pool.h"
#include "namespace/runtime_host.h"

namespace dlswap {

int LibraryHandle::Close(std::string *error) {
  if (!handle) return 0;
  if (fflush_fn) fflush_fn(nullptr);
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
  handle = nullptr;
  closed = true;
  if (ns) ReleaseNamespace(ns);
  ReleaseExitedThreadPins();
  return rc;
}

LibraryHandle::~LibraryHandle() {
  if (keep_mapped || (handle && !Holders().empty())) return;
  Close(nullptr);
  // Its copy's file and record go with the mapping, as after a retirement (loader/origin_step.h).
  if (!copy_name.empty() && !ProcMaps().Maps(mapped_path)) {
    UnregisterImage(map, loader_name);
    ReleaseCopy(copy_name);
  }
}

// The address of a function of the addon itself: its object never unloads, nor what it needs.
static void AddonMarker() {}

LibraryHandle::HolderScan LibraryHandle::ScanHolders(const std::vector<const struct link_map *> &closed_with) const {
  if (!handle || !map) return {};
  ObjectList scan;
  std::vector<AddressRange> ranges;
  ProcMaps maps;
  // Everything that takes the dynamic loader's locks (dladdr, dlinfo) happens before: inside
  // WithLinkMapsLocked only the link maps are read, or the lock order would invert against a dlopen.
  ObjectList keepers = ThreadPinnedObjects();
  for (const struct link_map *m : OpenImages()) {
    if (std::find(closed_with.begin(), closed_with.end(), m) == closed_with.end()) keepers.push_back(m);
  }
  if (ns && ns->runtime) {
    struct link_map *rt = nullptr;
    if (dlinfo(ns->runtime, RTLD_DI_LINKMAP, &rt) == 0) keepers.push_back(rt);
  } else if (!ns) {
    static const struct link_map *addon = [] {
      Dl_info info;
      void *self = nullptr;
      return dladdr1(reinterpret_cast<void *>(&AddonMarker), &info, &self, RTLD_DL_LINKMAP) ? static_cast<const struct link_map *>(self) : nullptr;
    }();
    if (addon) keepers.push_back(addon);
  }
  WithLinkMapsLocked([&] {
    const ObjectList objects = NamespaceObjects(map);
    if (!ns) keepers.push_back(objects.front());  // the program: node and what it links
    ObjectList same_namespace;
    for (const struct link_map *k : keepers) {
      if (std::find(objects.begin(), objects.end(), k) != objects.end()) same_namespace.push_back(k);
    }
    scan = UnmappableWith(map, same_namespace);
    ranges = ExecutableRanges(scan, maps);
  });
  HolderScan out;
  out.threads = RuntimeThreadsIn(scan);
  for (pid_t tid : ScanThreads(ranges, maps).executing) {
    if (std::none_of(out.threads.begin(), out.threads.end(), [&](const ThreadNote &n) { return n.tid == tid; })) {
      out.threads.push_back({tid, ThreadName(tid), "running its code"});
    }
  }
  out.objects = std::move(scan);
  return out;
}

}  // namespace dlswap
