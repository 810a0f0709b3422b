#include "namespace_pool.h"

#include <link.h>

#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

extern char **environ;

namespace dlswap {

static std::mutex g_mutex;
static AnchorNamespace g_anchor;
static std::set<Lmid_t> g_fresh;

// Every snapshot ever handed out stays alive: a namespace thread may be reading it. They are only
// made when the environment changed, so the total is bounded by the number of env changes.
struct EnvSnapshot {
  std::string flat;              // the entries, concatenated, for comparison
  std::vector<std::string> strings;
  std::vector<char *> pointers;  // NULL-terminated, into `strings`
};
static std::vector<EnvSnapshot *> g_env_snapshots;

static char **CurrentEnvSnapshot() {
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

void GiveNamespaceStableEnviron(void *handle) {
  dlerror();
  auto **ns_environ = reinterpret_cast<char ***>(dlsym(handle, "__environ"));
  dlerror();
  // Not found, or the base libc's own variable (the library shares node's libc): nothing to fix.
  if (!ns_environ || ns_environ == &environ) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  *ns_environ = CurrentEnvSnapshot();
}

const AnchorNamespace *EnsureAnchor(const std::string &anchor_path, std::string &error) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_anchor.handle) return &g_anchor;
  dlerror();
  void *h = dlmopen(LM_ID_NEWLM, anchor_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    error = e ? e : "dlmopen of the anchor failed";
    return nullptr;
  }
  Lmid_t lmid = -1;
  if (dlinfo(h, RTLD_DI_LMID, &lmid) != 0) {
    const char *e = dlerror();
    error = e ? e : "dlinfo(RTLD_DI_LMID) failed on the anchor";
    dlclose(h);
    return nullptr;
  }
  AnchorNamespace a;
  a.handle = h;
  a.lmid = lmid;
  a.free_fn = reinterpret_cast<void (*)(void *)>(dlsym(h, "dlswap_anchor_free"));
  a.fflush_all = reinterpret_cast<int (*)()>(dlsym(h, "dlswap_anchor_fflush_all"));
  a.errno_location = reinterpret_cast<int *(*)()>(dlsym(h, "dlswap_anchor_errno"));
  if (!a.free_fn || !a.fflush_all || !a.errno_location) {
    error = "the anchor library " + anchor_path + " lacks dlswap_anchor_* symbols; rebuild dlswap";
    dlclose(h);
    return nullptr;
  }
  // The anchor is never closed: it pins libstdc++ and the namespace for the life of the process.
  g_anchor = a;
  return &g_anchor;
}

const AnchorNamespace *Anchor() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_anchor.handle ? &g_anchor : nullptr;
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

void TrackFreshNamespace(Lmid_t lmid) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_fresh.insert(lmid);
}

int LiveFreshNamespaces() {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto it = g_fresh.begin(); it != g_fresh.end();) {
    if (NamespaceAlive(*it)) ++it;
    else it = g_fresh.erase(it);
  }
  return static_cast<int>(g_fresh.size());
}

}  // namespace dlswap
