/* The request handler of examples/http-server: a dlswap plugin (../../include/dlswap.h).
 *
 * server.mjs passes each request as "METHOD /path" and sends back whatever this writes to `out`.
 * Edit it, run `make`, and the running server picks up the new build: no restart. */
#include <stdio.h>
#include <string.h>

#include "dlswap.h"

/* Change this (or build with -DGREETING='"Howdy"') to see a reload. */
#ifndef GREETING
#define GREETING "Hello"
#endif

static const dlswap_host *host;

uint32_t dlswap_abi_version(void) { return DLSWAP_ABI_VERSION; }

const char *dlswap_version(void) { return "handler (" GREETING ")"; }

int dlswap_init(const dlswap_host *h) {
  host = h;
  h->log(h, DLSWAP_LOG_INFO, "handler ready: " GREETING);
  return 0;
}

void dlswap_fini(void) { host = NULL; }

/* Writes the response body into out (at most cap bytes, NUL included) and returns its length, as
 * snprintf does: a return value >= cap asks the server for a bigger buffer. Negative means 500. */
int handle(const char *req, char *out, size_t cap) {
  if (req == NULL || out == NULL) return -1;
  const char *path = strchr(req, ' ');
  path = path != NULL ? path + 1 : req;
  if (strcmp(path, "/") == 0) return snprintf(out, cap, "%s, world!\n", GREETING);
  /* "/ada" greets ada; anything after a second slash or a '?' is ignored. */
  const char *name = path[0] == '/' ? path + 1 : path;
  int len = (int)strcspn(name, "/?");
  return snprintf(out, cap, "%s, %.*s!\n", GREETING, len, name);
}
