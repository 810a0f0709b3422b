#include "namespace/namespace_pool.h"

#include <link.h>

#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/dl_symbol.h"
#include "image/image_origins.h"
#include "namespace/runtime_host.h"

extern char **environ;

namespace dlswap {

namespace {

std::mutex g_mutex;
std::string g_runtime_path;
NamespaceRecord *g_anchor = nullptr;
// Every fresh namespace ever made (see NamespaceRecord: records are never freed).
std::vector<NamespaceRecord *> g_fresh;

// Per thread: the namespace whose libc this thread was made ready for, per lmid. A pointer, not a
// flag, because glibc reuses the lmid of a freed namespace for the next one.
thread_local const NamespaceRecord *tl_ready[kMaxNamespaces];

// Every snapshot ever handed out stays alive: a namespace thread may be reading it. They are only
// made when the environment changed, so the total is bounded by the number of env changes.
struct EnvSnapshot {
  std::string flat;              // the entries, concatenated, for comparison
  std::vector<std::string> strings;
  std::vector<char *> pointers;  // NULL-terminated, into `strings`
};
std::vector<EnvSnapshot *> g_env_snapshots;

char **CurrentEnvSnapshot() {
  std::string flat;
  for (char **e = environ; e && *e; ++e) {
    flat.append(*e);
    flat.push_back('\0');
  }
  if (!g_env_snapshots.empty() && g_env_snapshots.back()->flat == flat) return g_env_snapshots.back()->pointers.data();
  auto *snap = new EnvSnapshot();
  snap->flat = flat;
  for (char **e = environ; e && *e; ++e) snap->strings.emplace_back(*e);
  for (auto &str : snap->strings) snap->pointers.push_back(&str[0]);
  snap->pointers.push_back(nullptr);
  g_env_snapshots.push_back(snap);
  return snap->pointers.data();
}

// dlmopen(LM_ID_NEWLM) of the runtime, attached to a new record. Called with g_mutex held. On
// failure nothing is left open.
NamespaceRecord *OpenNamespace(bool shared, std::string &error) {
  if (g_runtime_path.empty()) {
    error = "dlswap's namespace runtime was not configured (internal error)";
    return nullptr;
  }
  dlerror();
  void *h = dlmopen(LM_ID_NEWLM, g_runtime_path.c_str(), RTLD_NOW | RTLD_LOCAL);
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
  FillRuntimeHost(&ns->host, ns);
  // The origin functions the namespace's copies bind to (runtime/origin_abi.h, image/image_origins.h).
  auto attach_origin = ResolveSymbol<int (*)(const dlswap_origin_host *)>(h, "dlswap_origin_attach");
  if (!attach || !ns->thread_init || !ns->free_fn || !ns->fflush_all || !ns->errno_location || !ns->setlocale_fn ||
      attach(&ns->host) != 0 || !attach_origin || attach_origin(OriginHost()) != 0) {
    error = "the namespace runtime " + g_runtime_path + " does not match this addon; rebuild dlswap";
    dlclose(h);
    delete ns;
    return nullptr;
  }
  // glibc initialised the new libc's per-thread state on this thread while it loaded it.
  tl_ready[ns->lmid] = ns;
  GiveNamespaceStableEnviron(h);
  return ns;
}

}  // namespace

void SetRuntimePath(const std::string &path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_runtime_path = path;
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
  if (ns) g_fresh.push_back(ns);
  return ns;
}

NamespaceRecord *FindNamespace(Lmid_t lmid) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_anchor && g_anchor->lmid == lmid) return g_anchor;
  for (NamespaceRecord *ns : g_fresh) {
    if (ns->lmid == lmid && ns->runtime) return ns;
  }
  return nullptr;
}

NamespaceRecord *LastNamespace(Lmid_t lmid) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_anchor && g_anchor->lmid == lmid) return g_anchor;
  for (auto it = g_fresh.rbegin(); it != g_fresh.rend(); ++it) {
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
  }
}

void EnsureThreadReady(NamespaceRecord *ns) {
  if (ns == nullptr || tl_ready[ns->lmid] == ns) return;
  ns->thread_init();
  tl_ready[ns->lmid] = ns;
}

void GiveNamespaceStableEnviron(void *handle) {
  dlerror();
  auto **ns_environ = reinterpret_cast<char ***>(dlsym(handle, "__environ"));
  dlerror();
  // Not found, or the base libc's own variable (the library shares node's libc): nothing to fix.
  if (!ns_environ || ns_environ == &environ) return;
  static std::mutex env_mutex;
  std::lock_guard<std::mutex> lock(env_mutex);
  *ns_environ = CurrentEnvSnapshot();
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

int LiveFreshNamespaces() {
  std::lock_guard<std::mutex> lock(g_mutex);
  // A namespace whose images were all closed still counts while glibc has not freed it (one that
  // loaded libstdc++ never is). lmids, not records: a freed lmid is reused by a later record.
  std::set<Lmid_t> live;
  for (NamespaceRecord *ns : g_fresh) {
    if (NamespaceAlive(ns->lmid)) live.insert(ns->lmid);
  }
  if (g_anchor) live.erase(g_anchor->lmid);
  return static_cast<int>(live.size());
}

}  // namespace dlswap
