/*
 * What the runtime's files share (runtime.c, runtime_dl.c, runtime_exit.c, origin.c). Hidden: nothing here is
 * part of what the namespace's libraries bind to.
 */
#ifndef DLSWAP_RUNTIME_INTERNAL_H
#define DLSWAP_RUNTIME_INTERNAL_H

#include "runtime_abi.h"

#define EXPORT __attribute__((visibility("default")))

/* The host's table (runtime.c): written once by dlswap_runtime_attach, read-only afterwards. */
extern const dlswap_runtime_host *host;

/* Each file's part of dlswap_runtime_attach: finds the libc functions it stands in front of (the
 * next definition after the runtime's own). Nonzero if one is missing. */
int dlswap_runtime_dl_attach(void);
int dlswap_runtime_end_attach(void);

#include <dlfcn.h>

/* One dlopen (use_lmid 0) or dlmopen, as a library asked it or as the runtime serves it. */
typedef struct dlswap_dl_request {
  int use_lmid;
  Lmid_t lmid;
  const char *file;
  int mode;
} dlswap_dl_request;

/* runtime_dl.c, for origin.c, which a dlswap copy's dlopen and dlmopen reach first: the request
 * as this namespace serves it, noted for `caller` (the library's code that asked), as the runtime's
 * own dlopen and dlmopen do for every other object; and glibc's open of a request so served, past
 * the runtime's (which would take origin.c for the caller). */
dlswap_dl_request dlswap_runtime_dl_serve(dlswap_dl_request r, const void *caller);
void *dlswap_runtime_dl_open(dlswap_dl_request r);

#endif
