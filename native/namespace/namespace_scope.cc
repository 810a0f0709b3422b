#include "namespace/namespace_scope.h"

#include <cstdlib>

#include "namespace/namespace_pool.h"
#include "namespace/rtld_layout.h"

namespace dlswap {

bool EnableGlobalScope(NamespaceRecord *ns, const struct link_map *runtime_map, std::string &why) {
  const RtldLayout &layout = Rtld();
  if (!layout.ok) {
    why = layout.why;
    return false;
  }
  RtldNamespaceHead *head = NamespaceHead(ns->lmid);
  RtldScope *list = SearchListOf(runtime_map);
  // The runtime is the namespace's first object and its search list is what glibc made of it: the
  // runtime, then its dependencies (libc, ld.so).
  if (!head || head->loaded != runtime_map || !list || list->count == 0 || list->count > 64 || !list->list ||
      list->list[0] != runtime_map) {
    why = "the new namespace's head is not where glibc 2.35-2.42 keep it";
    return false;
  }
  // Whatever a previous namespace with this lmid left is stale; glibc allocates the list anew the
  // first time RTLD_GLOBAL adds to it (alloc 0 says the current array is not its to free).
  head->main_searchlist = list;
  head->global_scope_alloc = 0;
  head->global_scope_pending_adds = 0;
  ns->global_scope_list = list;
  return true;
}

void NoteScopeClosing(NamespaceRecord *ns) {
  RtldNamespaceHead *head = NamespaceHead(ns->lmid);
  if (!ns->global_scope_list || !head || head->main_searchlist != ns->global_scope_list) return;
  ns->global_scope_array = head->global_scope_alloc != 0 ? head->main_searchlist->list : nullptr;
}

void ForgetGlobalScope(NamespaceRecord *ns) {
  RtldNamespaceHead *head = NamespaceHead(ns->lmid);
  if (!ns->global_scope_list || !head || head->loaded != nullptr) return;
  if (head->main_searchlist == ns->global_scope_list) {
    head->main_searchlist = nullptr;
    head->global_scope_alloc = 0;
    head->global_scope_pending_adds = 0;
  }
  // glibc's loader allocated it with the process's malloc, the one this free belongs to.
  free(ns->global_scope_array);
  ns->global_scope_array = nullptr;
  ns->global_scope_list = nullptr;
}

}  // namespace dlswap
