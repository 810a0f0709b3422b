/*
 * The contract between dlswap's addon (the host, in node's own namespace) and libdlswap_runtime.so
 * (the guest: the first object of every link-map namespace dlswap creates).
 *
 * Why it exists: a namespace loads its own copy of libc, but some of libc's state is not really
 * per copy. pthread key *values* live in the thread descriptor that every copy shares, while each
 * copy hands out key *numbers* from its own table, so the two collide; threads must be created
 * and retired by one libc, or each copy runs only its own thread-exit work. The runtime is first in
 * the namespace's global scope, so its definitions of these functions are the ones every library
 * in the namespace binds to, and it forwards them to the host, which uses node's libc.
 *
 * Plain C on both sides; the host fills the struct once, before any library is loaded into the
 * namespace, and it stays valid for the life of the process.
 */
#ifndef DLSWAP_RUNTIME_ABI_H
#define DLSWAP_RUNTIME_ABI_H

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DLSWAP_RUNTIME_ABI 2u

typedef struct dlswap_runtime_host {
  uint32_t abi;
  uint32_t struct_size;
  /* The host's record of this namespace, passed back on every call that needs it. */
  void *ns;
  /* pthread keys, in node's libc. `destructor` may be NULL; `caller` is the return address in the
   * code that asked. A namespace may get, set and delete only keys it created: any other key reads
   * as NULL, and setting or deleting it fails with EINVAL. */
  int (*key_create)(void *ns, pthread_key_t *key, void (*destructor)(void *), const void *caller);
  int (*key_delete)(void *ns, pthread_key_t key);
  void *(*getspecific)(void *ns, pthread_key_t key);
  int (*setspecific)(void *ns, pthread_key_t key, const void *value);
  /* Threads, created by node's libc. `caller` is the return address in the code that asked. */
  int (*thread_create)(void *ns, pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg, const void *caller);
  int (*c11_thread_create)(void *ns, unsigned long *thread, int (*start)(void *), void *arg, const void *caller);
  void (*thread_exit)(void *value) __attribute__((noreturn));
  /* thread_local destructors, in node's libc: they run when the thread node's libc created exits. */
  int (*thread_atexit)(void (*destructor)(void *), void *object, void *dso_symbol);
  /* setlocale with a locale to set, in the namespace's own libc: the host records who changed which
   * category from what, so that closing that library can set it back (a query, NULL, goes straight
   * to libc). Returns what setlocale returns. */
  char *(*set_locale)(void *ns, int category, const char *locale, const void *caller);

  /* ---- dynamic loading from inside the namespace (namespace/runtime_dl.cc) ---- */
  /* This namespace, and the runtime's own file as the loader knows it: dlopen(NULL) inside the
   * namespace answers with the runtime, whose search list is the namespace's global scope. */
  Lmid_t lmid;
  const char *runtime_path;
  /* Nonzero when RTLD_GLOBAL works inside the namespace (namespace_scope.h); set before any library
   * is loaded into it. */
  int global_scope;
  /* A dlopen/dlmopen the runtime redirects or adjusts (DLSWAP_DL_*): notes it for NODE_DEBUG=dlswap
   * and returns the mode to pass on. `caller` is the return address in the code that asked. */
  int (*dl_call)(void *ns, int call, const char *file, int mode, const void *caller);
  /* The runtime's destructor: it is being unloaded, with the namespace (the loader lock is held). */
  void (*runtime_closing)(void *ns);

  /* ---- ending the process (namespace/runtime_exit.cc) ---- */
  /* Library code called exit, _exit, _Exit, quick_exit or abort, failed an assert, or ended its
   * thread (DLSWAP_END_*).
   * Does not return when the call was made by a load's library code on the loader thread: the load is
   * unwound and fails instead. Returns otherwise, and the runtime ends the process as asked. */
  void (*process_end)(void *ns, int how, int status, const void *caller);
  /* Nonzero while the calling thread runs library code of a load (process_end would unwind it). */
  int (*in_load)(void);
  /* node's exit(): what exit() from a namespace means outside a load. */
  void (*exit)(int status) __attribute__((noreturn));
} dlswap_runtime_host;

/* dl_call's `call`. */
enum {
  DLSWAP_DL_GLOBAL = 1, /* dlopen(file, ...|RTLD_GLOBAL) */
  DLSWAP_DL_SELF = 2,   /* dlopen(NULL, ...) or dlmopen(LM_ID_BASE, NULL, ...) */
  DLSWAP_DL_BASE = 3,   /* dlmopen(LM_ID_BASE, file, ...) */
  DLSWAP_DL_OWN = 4     /* dlmopen(<this namespace>, file, ...|RTLD_GLOBAL) */
};

/* process_end's `how`. */
enum {
  DLSWAP_END_EXIT = 1,
  DLSWAP_END__EXIT = 2,
  DLSWAP_END_QUICK_EXIT = 3,
  DLSWAP_END_ABORT = 4,
  DLSWAP_END_ASSERT = 5,
  DLSWAP_END__EXIT_C99 = 6,  /* _Exit */
  DLSWAP_END_THREAD_EXIT = 7 /* pthread_exit, thrd_exit: the thread, not the process */
};

#ifdef __cplusplus
}
#endif

#endif /* DLSWAP_RUNTIME_ABI_H */
