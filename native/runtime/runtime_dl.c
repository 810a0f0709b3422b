/*
 * Dynamic loading by the namespace's own libraries (plugin loaders: GModule, oneTBB's allocator,
 * libltdl...), made to mean inside the namespace what it means in a process of its own.
 *
 *   dlopen(file, ...|RTLD_GLOBAL)  glibc crashes on it inside a dlmopen namespace unless the host gave
 *                                  the namespace a global scope (namespace/namespace_scope.h); with one,
 *                                  it passes through and the object joins this namespace's global
 *                                  scope. Without one, RTLD_GLOBAL is withheld.
 *   dlopen(NULL, ...)              "the program": here the namespace's global scope (its first object,
 *                                  the runtime), not node's executable in another namespace.
 *   dlmopen(LM_ID_BASE, ...)       the base namespace as the library sees it: this one.
 *   dlmopen(<this lmid>, ...)      the same as dlopen (which also takes RTLD_GLOBAL, where dlmopen
 *                                  refuses it for any namespace but the base one).
 *
 * Every forwarded call ends in a tail call: glibc reads its caller's return address to pick the
 * namespace, expand $ORIGIN and search the caller's RUNPATH, and that address must stay the
 * library's, not the runtime's (CMakeLists.txt builds this file with -foptimize-sibling-calls).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#include "runtime_internal.h"

static void *(*next_dlopen)(const char *, int);
static void *(*next_dlmopen)(Lmid_t, const char *, int);

int dlswap_runtime_dl_attach(void) {
  next_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
  next_dlmopen = (void *(*)(Lmid_t, const char *, int))dlsym(RTLD_NEXT, "dlmopen");
  return next_dlopen && next_dlmopen ? 0 : -1;
}

/* The namespace's global scope as a handle: the runtime itself, already loaded (RTLD_NOLOAD takes a
 * reference the caller's dlclose gives back). The call is the runtime's own: its path is absolute
 * and the runtime is in this namespace, so glibc needs no caller of the library's. */
static void *global_scope_handle(int mode, const void *caller) {
  host->dl_call(host->ns, DLSWAP_DL_SELF, NULL, mode, caller);
  return next_dlopen(host->runtime_path, (mode & (RTLD_LAZY | RTLD_NOW | RTLD_NODELETE)) | RTLD_NOLOAD);
}

EXPORT void *dlopen(const char *file, int mode) {
  if (host && file == NULL) return global_scope_handle(mode, __builtin_return_address(0));
  if (host && (mode & RTLD_GLOBAL)) mode = host->dl_call(host->ns, DLSWAP_DL_GLOBAL, file, mode, __builtin_return_address(0));
  return next_dlopen(file, mode);
}

EXPORT void *dlmopen(Lmid_t lmid, const char *file, int mode) {
  if (host && (lmid == LM_ID_BASE || lmid == host->lmid) && (file != NULL || lmid == LM_ID_BASE)) {
    if (file == NULL) return global_scope_handle(mode, __builtin_return_address(0));
    if (lmid == LM_ID_BASE || (mode & RTLD_GLOBAL)) {
      mode = host->dl_call(host->ns, lmid == LM_ID_BASE ? DLSWAP_DL_BASE : DLSWAP_DL_OWN, file, mode, __builtin_return_address(0));
    }
    return next_dlopen(file, mode);
  }
  return next_dlmopen(lmid, file, mode);
}

/* The runtime is unloaded with its namespace (nothing of the namespace is left that binds to it):
 * the host notes the global scope's list, which glibc allocated, while the loader lock still keeps
 * it from changing (namespace/namespace_scope.h frees it once the namespace is gone). */
__attribute__((destructor)) static void runtime_closing(void) {
  if (host) host->runtime_closing(host->ns);
}
