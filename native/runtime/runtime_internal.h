/*
 * What the runtime's files share (runtime.c, runtime_dl.c, runtime_exit.c). Hidden: nothing here is
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

#endif
