#include "namespace/namespace_pool.h"

#include <link.h>

#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/dl_symbol.h"
#include "common/immortal.h"
#include "namespace/namespace_scope.h"
#include "namespace/runtime_host.h"
#include "signals/code_ranges.h"

namespace dlswap {

namespace {

std::mutex g_mutex;
Immortal<std::string> g_runtime_path;
const dlswap_origin_host *g_origin_host = nullptr;  // SetOriginHost
NamespaceRecord *g_anchor = nullptr;
// Every fresh namespace ever made (see NamespaceRecord: records are never freed).
Immortal<std::vector<NamespaceRecord *>> g_fresh;

// Per thread: the namespace whose libc this thread was made ready for, per lmid. A pointer, not a
// flag, because glibc reuses the lmid of a freed namespace for the next one.
thread_local const NamespaceRecord *tl_ready[kMaxNamespaces];

// dlmopen(LM_ID_NEWLM) of the runtime, attached to a new record. Called with g_mutex held. On
// failure nothing is left open.
NamespaceRecord *OpenNamespace(bool shared, std::string &error) {
  if (g_runtime_path->empty()) {
    error = "dlswap's namespace runtime was not configured (internal error)";
    return nullptr;
  }
  dlerror();
  void *h = dlmopen(LM_ID_NEWLM, g_runtime_path->c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    error = e ? e : "dlmopen of the namespace runtime failed";
    return nullptr;
  }
  auto *ns = new NamespaceRecord();
  ns->shared = shared;
  ns->runtime = h;
  if (dlinfo(h, RTLD_DI_LMID, &ns->lmid) != 0 || ns->lmid <= 0 || ns->lmid >= kMaxNamespaces) {
    error = "cannot tell which namespace the runtime was loaded into";
    dlclose(h);
    delete ns;
    return nullptr;
  }
  auto attach = ResolveSymbol<int (*)(const dlswap_runtime_host *)>(h, "dlswap_runtime_attach");
  ns->thread_init = ResolveSymbol<void (*)()>(h, "dlswap_runtime_thread_init");
  ns->free_fn = ResolveSymbol<void (*)(void *)>(h, "dlswap_runtime_free");
  ns->fflush_all = ResolveSymbol<int (*)()>(h, "dlswap_runtime_fflush_all");
  ns->errno_location = ResolveSymbol<int *(*)()>(h, "dlswap_runtime_errno");
  // libc's own setlocale, past the runtime's: asked of libc's handle, whose scope starts at libc.
  if (void *libc = dlmopen(ns->lmid, "libc.so.6", RTLD_LAZY | RTLD_NOLOAD)) {
    ns->setlocale_fn = ResolveSymbol<char *(*)(int, const char *)>(libc, "setlocale");
    dlclose(libc);
  }
  dlerror();
  struct link_map *runtime_map = nullptr;
  dlinfo(h, RTLD_DI_LINKMAP, &runtime_map);
  ns->runtime_name = runtime_map && runtime_map->l_name ? runtime_map->l_name : *g_runtime_path;
  FillRuntimeHost(&ns->host, ns);
  FillRuntimeDl(&ns->host, ns);
  FillRuntimeEnd(&ns->host);
  // The origin functions the namespace's copies bind to (runtime/origin_abi.h, SetOriginHost).
  auto attach_origin = ResolveSymbol<int (*)(const dlswap_origin_host *)>(h, "dlswap_origin_attach");
  if (!attach || !ns->thread_init || !ns->free_fn || !ns->fflush_all || !ns->errno_location || !ns->setlocale_fn ||
      attach(&ns->host) != 0 || !attach_origin || !g_origin_host || attach_origin(g_origin_host) != 0) {
    error = "the namespace runtime " + *g_runtime_path + " does not match this addon; rebuild dlswap";
    dlclose(h);
    delete ns;
    return nullptr;
  }
  ns->environ_slot = reinterpret_cast<char ***>(dlsym(h, "__environ"));
  dlerror();
  std::string why;
  ns->host.global_scope = EnableGlobalScope(ns, runtime_map, why) ? 1 : 0;
  if (!ns->host.global_scope) NoteGlobalScopeWithheld(ns, why);
  // A fault under this libc's dl_iterate_phdr is never contained (signals/code_ranges.h).
  if (void *libc = dlmopen(ns->lmid, "libc.so.6", RTLD_LAZY | RTLD_NOLOAD)) {
    NoteNamespaceLibc(ns->lmid, dlsym(libc, "dl_iterate_phdr"));
    dlclose(libc);
  }
  // glibc initialised the new libc's per-thread state on this thread while it loaded it.
  tl_ready[ns->lmid] = ns;
  GiveNamespaceEnvironment(ns, nullptr);
  return ns;
}

}  // namespace

void SetOriginHost(const dlswap_origin_host *host) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_origin_host = host;
}

void SetRuntimePath(const std::string &path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  *g_runtime_path = path;
}

NamespaceRecord *EnsureAnchor(std::string &error) {
  std::lock_guard<std::mutex> lock(g_mutex);
  // The anchor namespace is never closed: it is where every generation of 'namespace' mode lives,
  // and a namespace that ever loaded libstdc++ could not be freed anyway.
  if (!g_anchor) {
    g_anchor = OpenNamespace(true, error);
    if (g_anchor) {
      // The C++ runtime joins the anchor namespace's global scope, as it is in node's: libstdc++
      // (with libm and libgcc_s) can never leave a namespace it entered, so it enters once, here,
      // rather than with the first C++ generation; and a library that uses libm or libstdc++
      // without declaring it finds them, as it does in node's namespace. Optional: without it,
      // every library simply loads what it declares.
      dlerror();
      if (!dlmopen(g_anchor->lmid, "libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL)) dlerror();
    }
  }
  return g_anchor;
}

NamespaceRecord *Anchor() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_anchor;
}

NamespaceRecord *CreateNamespace(std::string &error) {
  std::lock_guard<std::mutex> lock(g_mutex);
  NamespaceRecord *ns = OpenNamespace(false, error);
  if (ns) g_fresh->push_back(ns);
  return ns;
}

NamespaceRecord *FindNamespace(Lmid_t lmid) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_anchor && g_anchor->lmid == lmid) return g_anchor;
  for (NamespaceRecord *ns : *g_fresh) {
    if (ns->lmid == lmid && ns->runtime) return ns;
  }
  return nullptr;
}

NamespaceRecord *LastNamespace(Lmid_t lmid) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_anchor && g_anchor->lmid == lmid) return g_anchor;
  for (auto it = g_fresh->rbegin(); it != g_fresh->rend(); ++it) {
    if ((*it)->lmid == lmid) return *it;
  }
  return nullptr;
}

void RetainNamespace(NamespaceRecord *ns) {
  std::lock_guard<std::mutex> lock(g_mutex);
  ns->users++;
}

void ReleaseNamespace(NamespaceRecord *ns) {
  void *runtime = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (--ns->users > 0 || ns->shared) return;
    runtime = ns->runtime;
    ns->runtime = nullptr;
  }
  // Objects that still use it (a dependency pinned by its threads) hold references of their own:
  // glibc records every binding to the runtime as a dependency of the object that bound.
  if (runtime) {
    SuspendKeyDestructors(ns, 1000);
    dlclose(runtime);
    ResumeKeyDestructors(ns);
    ForgetGlobalScope(ns);
  }
}

void EnsureThreadReady(NamespaceRecord *ns) {
  if (ns == nullptr || tl_ready[ns->lmid] == ns) return;
  ns->thread_init();
  tl_ready[ns->lmid] = ns;
}

bool NamespaceAlive(Lmid_t lmid) {
  if (lmid == LM_ID_BASE) return true;
  // Never probe with dlmopen: glibc (2.36) takes the loader lock before it rejects an emptied
  // namespace ("invalid target namespace") and never releases it, which deadlocks the next dlopen
  // of any other thread. The debugger interface answers without locking: since glibc 2.35,
  // _r_debug heads a chain with one entry per namespace index, and an entry's r_map is the head of
  // that namespace's link map, NULL once the namespace has been emptied.
  if (_r_debug.r_version < 2) return true;  // older glibc: cannot tell, assume alive
  const auto *r = reinterpret_cast<const struct r_debug_extended *>(&_r_debug);
  for (Lmid_t i = 0; r != nullptr; ++i, r = __atomic_load_n(&r->r_next, __ATOMIC_ACQUIRE)) {
    if (i == lmid) return __atomic_load_n(&r->base.r_map, __ATOMIC_ACQUIRE) != nullptr;
  }
  return false;
}

bool NamespaceHasName(Lmid_t lmid, const std::string &name) {
  struct Look {
    Lmid_t lmid;
    const std::string *name;
    bool found;
  } look{lmid, &name, false};
  // Read inside a dl_iterate_phdr callback: glibc holds its link-map lock there, so no dlopen or
  // dlclose changes the list meanwhile.
  dl_iterate_phdr(
      [](struct dl_phdr_info *, size_t, void *data) -> int {
        auto *l = static_cast<Look *>(data);
        if (_r_debug.r_version < 2 && l->lmid != LM_ID_BASE) return 1;
        const auto *r = reinterpret_cast<const struct r_debug_extended *>(&_r_debug);
        for (Lmid_t i = 0; r != nullptr && i < l->lmid; ++i) r = r->r_next;
        for (const struct link_map *m = r ? r->base.r_map : nullptr; m && !l->found; m = m->l_next) {
          l->found = m->l_name && *l->name == m->l_name;
        }
        return 1;
      },
      &look);
  return look.found;
}

int CreatedNamespaces() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return static_cast<int>(g_fresh->size()) + (g_anchor ? 1 : 0);
}

size_t LibcStaticTls() {
  static const size_t size = [] {
    size_t found = 0;
    dl_iterate_phdr(
        [](struct dl_phdr_info *info, size_t, void *data) -> int {
          const char *name = info->dlpi_name ? std::strrchr(info->dlpi_name, '/') : nullptr;
          if (!name || std::strncmp(name, "/libc.so", 8) != 0) return 0;
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            const ElfW(Phdr) &p = info->dlpi_phdr[i];
            if (p.p_type != PT_TLS) continue;
            const size_t align = p.p_align ? p.p_align : 1;
            *static_cast<size_t *>(data) = (p.p_memsz + align - 1) / align * align;
            return 1;
          }
          return 0;
        },
        &found);
    return found;
  }();
  return size;
}

int LiveFreshNamespaces() {
  std::lock_guard<std::mutex> lock(g_mutex);
  // A namespace whose images were all closed still counts while glibc has not freed it (one that
  // loaded libstdc++ never is). lmids, not records: a freed lmid is reused by a later record.
  std::set<Lmid_t> live;
  for (NamespaceRecord *ns : *g_fresh) {
    if (NamespaceAlive(ns->lmid)) live.insert(ns->lmid);
  }
  if (g_anchor) live.erase(g_anchor->lmid);
  return static_cast<int>(live.size());
}

}  // namespace dlswap
