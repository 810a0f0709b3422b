// The copies of the environment that dlswap's namespaces read (namespace_pool.h,
// GiveNamespaceEnvironment).
#include <mutex>
#include <string>
#include <vector>

#include "common/immortal.h"
#include "namespace/namespace_pool.h"

extern char **environ;

namespace dlswap {

namespace {

// A copy handed to a namespace is never freed: a thread of the namespace may be walking it (getenv)
// whenever it is replaced. A namespace keeps its copy while the environment it is asked to have
// does not change, so copies accumulate with changes of the environment, never with loads.
struct Snapshot {
  std::string flat;  // the entries as given, each NUL-terminated: what it was made from
  std::vector<std::string> strings;
  std::vector<char *> pointers;  // NULL-terminated, into `strings`: what __environ points at
};

std::mutex g_mutex;
// The environment the last load into any namespace was asked with (for a namespace created
// without a load). Guarded by g_mutex.
Immortal<std::vector<std::string>> g_last;
// Per namespace (by lmid), the copy it was given last. Guarded by g_mutex.
Snapshot *g_given[kMaxNamespaces];

}  // namespace

void GiveNamespaceEnvironment(NamespaceRecord *ns, const std::vector<std::string> *entries) {
  // Not found, or the base libc's own variable (the namespace shares node's libc): nothing to do.
  if (!ns || !ns->environ_slot || ns->environ_slot == &environ || ns->lmid <= 0 || ns->lmid >= kMaxNamespaces) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (entries) *g_last = *entries;
  std::string flat;
  for (const std::string &e : *g_last) {
    flat.append(e);
    flat.push_back('\0');
  }
  Snapshot *&given = g_given[ns->lmid];
  // The same environment, and the namespace still reads the copy it was given (a new namespace with
  // a reused lmid, or the library's own setenv, changed that): nothing to do.
  if (given && given->flat == flat && __atomic_load_n(ns->environ_slot, __ATOMIC_ACQUIRE) == given->pointers.data()) return;
  auto *snap = new Snapshot();
  snap->flat = std::move(flat);
  snap->strings = *g_last;
  for (std::string &str : snap->strings) snap->pointers.push_back(&str[0]);
  snap->pointers.push_back(nullptr);
  given = snap;
  // A plain pointer store: a namespace thread in getenv reads either the old copy or the new one,
  // both alive.
  __atomic_store_n(ns->environ_slot, snap->pointers.data(), __ATOMIC_RELEASE);
}

}  // namespace dlswap
