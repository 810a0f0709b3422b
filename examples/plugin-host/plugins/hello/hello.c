/* The `hello` plugin of examples/plugin-host: GET /hello/<name> answers "<GREETING>, <name>!".
 *
 * Edit it while the server runs: the server rebuilds it and serves the new build from the next
 * request on. A compile error, or a GREETING its dlswap_init refuses, leaves the running build
 * serving. */
#include <stdio.h>
#include <string.h>

#include "dlswap.h"

#define GREETING "Hello"

static const dlswap_host *host;

uint32_t dlswap_abi_version(void) { return DLSWAP_ABI_VERSION; }

const char *dlswap_version(void) { return "hello (" GREETING ")"; }

/* A plugin checks its configuration before it serves: a nonzero return rejects this build, and
 * the one already serving goes on. */
int dlswap_init(const dlswap_host *h) {
  if (strlen(GREETING) == 0) {
    h->log(h, DLSWAP_LOG_ERROR, "GREETING is empty: refusing to start");
    return 1;
  }
  host = h;
  h->log(h, DLSWAP_LOG_INFO, "ready: " GREETING);
  return 0;
}

void dlswap_fini(void) { host = NULL; }

/* req is "METHOD /rest-of-the-path". Writes the body into out (cap bytes, NUL included) and returns
 * its length, as snprintf does: a return value >= cap asks for a bigger buffer; negative is a 500. */
int handle(const char *req, char *out, size_t cap) {
  const char *path = strchr(req, ' ');
  const char *name = path != NULL ? path + 1 : req;
  if (name[0] == '/') name++;
  int len = (int)strcspn(name, "/?");
  if (len == 0) return snprintf(out, cap, "%s, world!\n", GREETING);
  return snprintf(out, cap, "%s, %.*s!\n", GREETING, len, name);
}
