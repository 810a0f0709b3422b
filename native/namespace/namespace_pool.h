// Link-map namespaces dlswap creates: the one long-lived anchor namespace (isolation `namespace`)
// and one per open for `fresh-namespace`. Each starts with libdlswap_runtime.so as its first object
// (runtime/runtime_abi.h), which makes the namespace's copy of libc share what must not be
// duplicated with node's libc.
#pragma once
#include <dlfcn.h>
#include <link.h>

#include <string>
#include <vector>

#include "runtime/origin_abi.h"
#include "runtime/runtime_abi.h"

namespace dlswap {

// glibc's DL_NNS: namespaces per process, the base one included (lib/wire.ts MAX_NAMESPACES).
constexpr int kMaxNamespaces = 16;

// One namespace dlswap created. Never freed, even after glibc freed the namespace itself: threads
// and key slots keep pointers to it, and a pointer identifies one namespace instance for good
// (glibc reuses lmids).
struct NamespaceRecord {
  Lmid_t lmid = -1;
  bool shared = false;         // the anchor namespace: lives as long as the process
  void *runtime = nullptr;     // libdlswap_runtime.so in this namespace; null once closed
  dlswap_runtime_host host{};  // handed to the runtime; its address must stay stable
  void (*thread_init)() = nullptr;
  void (*free_fn)(void *) = nullptr;
  int (*fflush_all)() = nullptr;
  int *(*errno_location)() = nullptr;
  char *(*setlocale_fn)(int, const char *) = nullptr;  // the namespace libc's own (the runtime's interposes)
  char ***environ_slot = nullptr;                      // the namespace libc's __environ
  int users = 0;                                       // open images in it, guarded by the pool's mutex
  std::string runtime_name;                            // the runtime's l_name (host.runtime_path points into it)
  // Its global scope (namespace_scope.h): the search list RTLD_GLOBAL extends (null: RTLD_GLOBAL is
  // withheld inside it), and the array glibc allocated for it, noted as the namespace is torn down.
  struct RtldScope *global_scope_list = nullptr;
  struct link_map **global_scope_array = nullptr;
};

// Where libdlswap_runtime.so is (beside the addon). Set once before the first namespace is made.
void SetRuntimePath(const std::string &path);
// The origin functions every namespace's runtime is attached to, so that the copies in it answer
// dladdr and $ORIGIN with their sources (image/image_origins.h owns them). Set with the addon,
// before the first namespace is made; a namespace made without them is refused.
void SetOriginHost(const dlswap_origin_host *host);

// The anchor namespace, created on first use. nullptr and `error` on failure.
NamespaceRecord *EnsureAnchor(std::string &error);
NamespaceRecord *Anchor();  // nullptr until EnsureAnchor succeeded

// A new namespace with the runtime in it, for fresh-namespace. nullptr and `error` on failure.
NamespaceRecord *CreateNamespace(std::string &error);
// The live namespace dlswap created with this lmid, or nullptr.
NamespaceRecord *FindNamespace(Lmid_t lmid);
// The most recent namespace dlswap created with this lmid, even if its images were all closed.
NamespaceRecord *LastNamespace(Lmid_t lmid);

// An image in `ns` was opened / closed. When the last image of a fresh namespace closes, its
// runtime is closed too, so that glibc can free the namespace.
void RetainNamespace(NamespaceRecord *ns);
void ReleaseNamespace(NamespaceRecord *ns);

// Gives the calling thread the namespace libc's per-thread state, once per thread and namespace.
// A thread that namespace's libc did not start has none of it (its ctype tables are NULL): call
// this before the thread runs any code of the namespace, constructors included.
void EnsureThreadReady(NamespaceRecord *ns);

// The environment a namespace's libc reads (getenv and what is built on it). A namespace's libc
// starts with the base libc's `environ` pointer, and node's setenv (process.env.X = ...) reallocates
// and frees that array: the namespace would read freed memory. So its `__environ` points at a
// private, never-freed copy instead, refreshed by each load into it with the environment the JS
// thread that asked for the load saw (`entries`, from process.env, which node reads under its own
// lock): no other thread ever reads node's environment. nullptr: the copy given last (an empty one
// before any). Copies are shared while the environment does not change.
void GiveNamespaceEnvironment(NamespaceRecord *ns, const std::vector<std::string> *entries);

// True while namespace `lmid` still holds at least one object.
bool NamespaceAlive(Lmid_t lmid);
// Whether an object of namespace `lmid` has l_name `name`: the link maps read in memory, no file
// opened (a RTLD_NOLOAD probe opens the file to compare it with every object).
bool NamespaceHasName(Lmid_t lmid, const std::string &name);

// Live namespaces created for fresh-namespace opens.
int LiveFreshNamespaces();

// Namespaces dlswap has created in this process, the anchor included, freed or not: each took its
// libc's static TLS, which glibc gives back only when it was the last allocated.
int CreatedNamespaces();

// The static TLS one namespace's libc takes: its PT_TLS size, aligned (node's libc is the same file).
size_t LibcStaticTls();

}  // namespace dlswap
