// What dlswap reads and writes in glibc's private dynamic-loader state (ld.so's _rtld_global), and
// nothing else does: two things public interfaces cannot do.
//
//   - A namespace made by dlmopen has no "main search list", the list glibc appends to for
//     RTLD_GLOBAL; dlopen(..., RTLD_GLOBAL) from inside one dereferences NULL (glibc 2.36,
//     add_to_global_resize). Pointing that field at the search list of the namespace's first object,
//     which is the namespace's global scope already, makes RTLD_GLOBAL work there as it does in the
//     base namespace (namespace_scope.cc).
//   - When a library's constructor calls exit() inside dlopen, dlswap unwinds the load
//     (runtime_exit.cc) and must then give back the loader lock that dlopen took.
//
// Every offset is derived from the running process and checked against facts that cannot match by
// chance (the base namespace's head is the main program, its main search list starts with it, the
// locks are recursive mutexes); when a check fails, the feature that needed it is off and says so.
#pragma once
#include <link.h>
#include <pthread.h>

#include <cstddef>
#include <string>

namespace dlswap {

// glibc's struct link_namespaces, up to the fields dlswap touches (sysdeps/generic/ldsodefs.h: these
// are the same from glibc 2.35 to 2.42; what follows them is not, see rtld_layout.cc).
struct RtldNamespaceHead {
  struct link_map *loaded;            // _ns_loaded: first object, the namespace's global scope
  unsigned int nloaded;               // _ns_nloaded
  struct RtldScope *main_searchlist;  // _ns_main_searchlist: what RTLD_GLOBAL extends
  unsigned int global_scope_alloc;    // _ns_global_scope_alloc: 0 = the list is not malloc'ed
  unsigned int global_scope_pending_adds;
};

// glibc's struct r_scope_elem.
struct RtldScope {
  struct link_map **list;
  unsigned int count;
};

struct RtldLayout {
  bool ok = false;
  std::string why;  // when !ok: which check failed
  char *rtld_global = nullptr;
  size_t searchlist_offset = 0;                // of l_searchlist in struct link_map
  pthread_mutex_t *load_lock = nullptr;        // GL(dl_load_lock): held by dlopen/dlclose
  pthread_mutex_t *load_write_lock = nullptr;  // GL(dl_load_write_lock)
  pthread_mutex_t *load_tls_lock = nullptr;    // GL(dl_load_tls_lock): held while objects are mapped and relocated
};

// Found and checked once, on first use; the same answer for the life of the process.
const RtldLayout &Rtld();

// The head of namespace `lmid` (1..15), or null if the layout is unknown.
RtldNamespaceHead *NamespaceHead(long lmid);
// `map`'s l_searchlist.
RtldScope *SearchListOf(const struct link_map *map);

// How many times the calling thread holds `m` (a recursive mutex of ld.so's): 0 if another thread
// or nobody holds it.
unsigned HeldByMe(const pthread_mutex_t *m);

}  // namespace dlswap
