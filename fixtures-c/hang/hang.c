/* Library code that does not return, where dlswap runs it: a constructor (HANG_CTOR, run by the
 * dynamic loader inside dlopen, with the loader's lock held), a destructor (HANG_DTOR, inside
 * dlclose, the lock held too), and the plugin entry points dlswap calls itself (HANG_VERSION:
 * dlswap_version, HANG_ABI: dlswap_abi_version). DLSWAP_FIXTURE_HANG_MS=<ms> makes the hang end
 * after that long (read with getenv: inside a namespace, as the environment was when it was made);
 * without it, it never ends. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "dlswap.h"

static void hang(void) {
  const char *ms = getenv("DLSWAP_FIXTURE_HANG_MS");
  long left = ms ? strtol(ms, NULL, 10) : -1;
  for (;;) {
    if (left == 0) return;
    struct timespec step = {0, 10 * 1000 * 1000};
    nanosleep(&step, NULL);
    if (left > 0) left = left > 10 ? left - 10 : 0;
  }
}

int hang_value(void) { return 77; }

#ifdef HANG_CTOR
__attribute__((constructor)) static void hang_ctor(void) { hang(); }
#endif

#ifdef HANG_DTOR
__attribute__((destructor)) static void hang_dtor(void) { hang(); }
#endif

#if defined(HANG_VERSION) || defined(HANG_ABI)
uint32_t dlswap_abi_version(void) {
#ifdef HANG_ABI
  hang();
#endif
  return DLSWAP_ABI_VERSION;
}

const char *dlswap_version(void) {
#ifdef HANG_VERSION
  hang();
#endif
  return "hang-1";
}
#endif
