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

/* The request as this namespace serves it, noted for `caller` where it differs from what glibc
 * would do. dlopen(NULL) becomes a reopen of the runtime: the namespace's global scope as a handle
 * (RTLD_NOLOAD takes a reference the caller's dlclose gives back; the runtime's path is absolute and
 * it is in this namespace, so glibc needs no caller of the library's). */
static inline dlswap_dl_request serve(dlswap_dl_request r, const void *caller) {
  const int self = r.file == NULL && (!r.use_lmid || r.lmid == LM_ID_BASE);
  const int ours = !r.use_lmid || r.lmid == LM_ID_BASE || r.lmid == host->lmid;
  if (self) {
    host->dl_call(host->ns, DLSWAP_DL_SELF, NULL, r.mode, caller);
    r.file = host->runtime_path;
    r.mode = (r.mode & (RTLD_LAZY | RTLD_NOW | RTLD_NODELETE)) | RTLD_NOLOAD;
  } else if (ours && r.file != NULL) {
    const int call = !r.use_lmid ? DLSWAP_DL_GLOBAL : r.lmid == LM_ID_BASE ? DLSWAP_DL_BASE : DLSWAP_DL_OWN;
    if (call == DLSWAP_DL_BASE || (r.mode & RTLD_GLOBAL)) r.mode = host->dl_call(host->ns, call, r.file, r.mode, caller);
  } else {
    return r; /* another namespace, or dlmopen(<this lmid>, NULL): glibc's answer */
  }
  r.use_lmid = 0;
  return r;
}

dlswap_dl_request dlswap_runtime_dl_serve(dlswap_dl_request r, const void *caller) { return host ? serve(r, caller) : r; }

void *dlswap_runtime_dl_open(dlswap_dl_request r) {
  return r.use_lmid ? next_dlmopen(r.lmid, r.file, r.mode) : next_dlopen(r.file, r.mode);
}

EXPORT void *dlopen(const char *file, int mode) {
  dlswap_dl_request r = {0, 0, file, mode};
  if (host) r = serve(r, __builtin_return_address(0));
  return next_dlopen(r.file, r.mode);
}

EXPORT void *dlmopen(Lmid_t lmid, const char *file, int mode) {
  dlswap_dl_request r = {1, lmid, file, mode};
  if (host) r = serve(r, __builtin_return_address(0));
  if (!r.use_lmid) return next_dlopen(r.file, r.mode);
  return next_dlmopen(r.lmid, r.file, r.mode);
}

/* The runtime is unloaded with its namespace (nothing of the namespace is left that binds to it):
 * the host notes the global scope's list, which glibc allocated, while the loader lock still keeps
 * it from changing (namespace/namespace_scope.h frees it once the namespace is gone). */
__attribute__((destructor)) static void runtime_closing(void) {
  if (host) host->runtime_closing(host->ns);
}
