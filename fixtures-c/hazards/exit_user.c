/* A library that registers an exit handler with on_exit, which is not tied to its image (unlike
 * atexit and C++ static destructors, which dlclose runs). */
#define _GNU_SOURCE
#include <stdlib.h>

static int calls;

static void at_exit(int status, void *arg) {
  (void)status;
  (void)arg;
  calls++;
}

int exit_register(void) { return on_exit(at_exit, NULL) == 0; }
