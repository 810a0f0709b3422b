/* A plugin that registers exit handlers in its init and never removes them: atexit (which glibc
 * ties to the library, through __cxa_atexit and its __dso_handle, and runs at dlclose) and on_exit
 * (which glibc keeps on the process's exit list whatever happens to the library). Each handler
 * writes one line to stderr with write(2), so that a test sees when it ran. */
#define _GNU_SOURCE
#include <dlswap.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char *s) {
  ssize_t ignored = write(2, s, strlen(s));
  (void)ignored;
}

static void on_atexit(void) { say("exit_hooks: atexit handler ran\n"); }
static void on_exit_handler(int status, void *arg) {
  (void)status;
  (void)arg;
  say("exit_hooks: on_exit handler ran\n");
}

int register_exit_hooks(void) { return atexit(on_atexit) | on_exit(on_exit_handler, NULL); }

DLSWAP_EXPORT int dlswap_init(const dlswap_host *host) {
  (void)host;
  return register_exit_hooks();
}

DLSWAP_EXPORT uint32_t dlswap_abi_version(void) { return DLSWAP_ABI_VERSION; }
