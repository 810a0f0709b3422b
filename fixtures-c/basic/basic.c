/* Two builds of this file (BASIC_VERSION=1 and 2) are the smallest possible hot-swap: same symbols,
 * different answers, so a caller can always tell which generation served it. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <time.h>

#ifndef BASIC_VERSION
#error "compile with -DBASIC_VERSION=1 or 2"
#endif

#define BASIC_STR2(x) #x
#define BASIC_STR(x) BASIC_STR2(x)

int add(int a, int b) { return a + b; }

int version(void) { return BASIC_VERSION; }

/* Exported and interposable on purpose: call_internal must reach it through the PLT, so the test
 * sees whichever definition the loader bound (its own, the other generation's, or the host's). */
__attribute__((noinline)) int internal_target(void) { return 100 * BASIC_VERSION; }

int call_internal(void) { return internal_target(); }

/* State that a reload must not carry over: a fresh generation starts again at 1. */
static int counter_value;

int counter_next(void) { return ++counter_value; }

const char *basic_name(void) { return "basic-v" BASIC_STR(BASIC_VERSION); }

/* Keeps a call in flight long enough for a reload to happen underneath it. */
int basic_slow(int ms) {
  if (ms > 0) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    /* Restart after a signal so the call really lasts ms. */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  }
  return version();
}
