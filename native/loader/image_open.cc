// Opening an image in an isolation mode, and the handle that records what was opened.
#include <dlfcn.h>
#include <link.h>

#include "common/dl_symbol.h"
#include "loader/load_steps.h"
#include "namespace/runtime_host.h"
#include "signals/thread_exit.h"

namespace dlswap {

std::string TakeDlerror() {
  const char *e = dlerror();
  return e ? std::string(e) : std::string("the dynamic loader gave no reason");
}

void *OpenImage(Isolation iso, NamespaceRecord *ns, const std::string &file) {
  switch (iso) {
    case Isolation::Local: return dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    case Isolation::DeepBind: return dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    default: return dlmopen(ns->lmid, file.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
}

void *OpenLoaded(Isolation iso, NamespaceRecord *ns, const std::string &name) {
  dlerror();
  void *h = iso == Isolation::Local || iso == Isolation::DeepBind ? dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD)
                                                                  : dlmopen(ns->lmid, name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  dlerror();
  return h;
}

LibraryRef MakeHandle(void *h, Isolation iso, NamespaceRecord *ns, const std::string &shown_path) {
  LibraryRef ref(new LibraryHandle(), &DeleteLibraryHandle);
  ref->handle = h;
  ref->isolation = iso;
  ref->ns = ns;
  Lmid_t lmid = 0;
  if (dlinfo(h, RTLD_DI_LMID, &lmid) == 0) ref->lmid = lmid;
  struct link_map *lm = nullptr;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
    ref->map = lm;
    if (lm->l_name) ref->loader_name = lm->l_name;
  }
  dlerror();
  ref->mapped_path = shown_path.empty() ? ref->loader_name : shown_path;
  NoteImageOpened(ref->map);
  // The namespace modes reach dlswap's pthread_exit through the runtime; these, through their GOT.
  if (iso == Isolation::Local || iso == Isolation::DeepBind) InterposeThreadExit(ref->map);
  // In `local` the library's own malloc binds through the global scope first, so an allocator that
  // node was started with (LD_PRELOAD jemalloc, ASan) is the one that allocated: free through the
  // same scope. The other modes bind the library to its own dependencies first; in the namespace
  // modes a library that does not link libc itself still has the runtime's.
  void *scope = iso == Isolation::Local ? RTLD_DEFAULT : h;
  ref->errno_location = ResolveSymbol<int *(*)()>(scope, "__errno_location");
  ref->free_fn = ResolveSymbol<void (*)(void *)>(scope, "free");
  ref->malloc_fn = ResolveSymbol<void *(*)(size_t)>(scope, "malloc");
  ref->fflush_fn = ResolveSymbol<int (*)(void *)>(scope, "fflush");
  if (ns) {
    if (!ref->errno_location) ref->errno_location = ns->errno_location;
    if (!ref->free_fn) ref->free_fn = ns->free_fn;
    if (!ref->fflush_fn) ref->fflush_fn = ResolveSymbol<int (*)(void *)>(ns->runtime, "fflush");
    if (!ref->malloc_fn) ref->malloc_fn = ResolveSymbol<void *(*)(size_t)>(ns->runtime, "malloc");
  }
  return ref;
}

}  // namespace dlswap
