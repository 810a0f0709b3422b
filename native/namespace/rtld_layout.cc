#include "namespace/rtld_layout.h"

#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace dlswap {

namespace {

// glibc's DL_NNS (the namespaces a process can have, the base one included).
constexpr long kDlNns = 16;

// The layout of glibc's struct link_namespaces on this architecture (its lock is a pthread mutex,
// 40 bytes on x86-64 and 48 on aarch64), to know how far apart the entries of _dl_ns[] are. glibc
// 2.35 to 2.41 end it with the namespace's r_debug_extended; 2.42 moved that out.
struct MirrorNamespace {
  RtldNamespaceHead head;
  struct link_map *libc_map;
  struct {
    pthread_mutex_t lock;
    void *entries;
    size_t size;
    size_t n_elements;
    void (*free)(void *);
  } unique_sym_table;
  struct r_debug_extended debug;
};
constexpr size_t kStrides[] = {sizeof(MirrorNamespace), offsetof(MirrorNamespace, debug)};
size_t g_stride = 0;  // set once by Discover

// struct rtld_global starts with _dl_ns[DL_NNS], then size_t _dl_nns, then the three loader locks.
struct MirrorGlobalTail {
  size_t nns;
  pthread_mutex_t load_lock;
  pthread_mutex_t load_write_lock;
  pthread_mutex_t load_tls_lock;
};

bool Recursive(const pthread_mutex_t *m) { return (m->__data.__kind & 0x7f) == PTHREAD_MUTEX_RECURSIVE_NP; }

RtldLayout Discover() {
  RtldLayout l;
  dlerror();
  l.rtld_global = static_cast<char *>(dlsym(RTLD_DEFAULT, "_rtld_global"));
  dlerror();
  if (!l.rtld_global) {
    l.why = "ld.so exports no _rtld_global";
    return l;
  }
  void *self = dlopen(nullptr, RTLD_LAZY | RTLD_NOLOAD);
  struct link_map *main_map = nullptr;
  if (self) dlinfo(self, RTLD_DI_LINKMAP, &main_map);
  if (self) dlclose(self);
  dlerror();
  const auto *base = reinterpret_cast<const RtldNamespaceHead *>(l.rtld_global);
  if (!main_map || base->loaded != main_map || !base->main_searchlist) {
    l.why = "the base namespace's head is not where glibc 2.35-2.42 keep it";
    return l;
  }
  const ptrdiff_t offset = reinterpret_cast<const char *>(base->main_searchlist) - reinterpret_cast<const char *>(main_map);
  // l_searchlist lies past the public part of struct link_map and well within the private one.
  if (offset < static_cast<ptrdiff_t>(sizeof(struct link_map)) || offset > 4096 || base->main_searchlist->count == 0 ||
      base->main_searchlist->list == nullptr || base->main_searchlist->list[0] != main_map) {
    l.why = "the base namespace's main search list does not start with the main program";
    return l;
  }
  // The stride whose end of _dl_ns[] is followed by a namespace count and three recursive mutexes.
  MirrorGlobalTail *tail = nullptr;
  for (size_t stride : kStrides) {
    auto *t = reinterpret_cast<MirrorGlobalTail *>(l.rtld_global + kDlNns * stride);
    if (t->nns >= 1 && t->nns <= static_cast<size_t>(kDlNns) && Recursive(&t->load_lock) && Recursive(&t->load_write_lock) &&
        Recursive(&t->load_tls_lock)) {
      tail = t;
      g_stride = stride;
      break;
    }
  }
  if (!tail) {
    l.why = "the loader locks are not where glibc 2.35-2.42 keep them";
    return l;
  }
  l.searchlist_offset = static_cast<size_t>(offset);
  l.load_lock = &tail->load_lock;
  l.load_write_lock = &tail->load_write_lock;
  l.load_tls_lock = &tail->load_tls_lock;
  l.ok = true;
  return l;
}

}  // namespace

const RtldLayout &Rtld() {
  // Never destroyed: read at exit by threads that outlive static destructors.
  static const RtldLayout *layout = new RtldLayout(Discover());
  return *layout;
}

RtldNamespaceHead *NamespaceHead(long lmid) {
  const RtldLayout &l = Rtld();
  if (!l.ok || lmid < 1 || lmid >= kDlNns) return nullptr;
  return reinterpret_cast<RtldNamespaceHead *>(l.rtld_global + static_cast<size_t>(lmid) * g_stride);
}

RtldScope *SearchListOf(const struct link_map *map) {
  const RtldLayout &l = Rtld();
  if (!l.ok || !map) return nullptr;
  return reinterpret_cast<RtldScope *>(reinterpret_cast<char *>(const_cast<struct link_map *>(map)) + l.searchlist_offset);
}

unsigned HeldByMe(const pthread_mutex_t *m) {
  if (!m) return 0;
  const int owner = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);
  if (owner != static_cast<int>(syscall(SYS_gettid))) return 0;
  return m->__data.__count;
}

}  // namespace dlswap
