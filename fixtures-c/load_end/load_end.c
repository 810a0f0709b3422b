/*
 * load_end: a library whose constructor ends the process, the way DLSWAP_FIXTURE_END says:
 * exit, _exit, _Exit, quick_exit (status 7), abort or assert; or ends the thread loading it
 * (pthread_exit). Unset, it loads normally.
 * A library that exits from a constructor is what gflags does when a flag is registered twice.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int constructed;

__attribute__((constructor)) static void load_end_constructor(void) {
  const char *how = getenv("DLSWAP_FIXTURE_END");
  if (how != NULL) {
    fprintf(stderr, "load_end: ending the process with %s\n", how);
    if (strcmp(how, "exit") == 0) exit(7);
    if (strcmp(how, "_exit") == 0) _exit(7);
    if (strcmp(how, "_Exit") == 0) _Exit(7);
    if (strcmp(how, "quick_exit") == 0) quick_exit(7);
    if (strcmp(how, "abort") == 0) abort();
    if (strcmp(how, "assert") == 0) assert(how == NULL && "the constructor's check");
    if (strcmp(how, "pthread_exit") == 0) pthread_exit(NULL);
  }
  constructed = 1;
}

int load_end_alive(void) { return constructed ? 42 : -1; }

/* exit() called by the library outside any load (a plain call): the process ends as asked. The text
 * printed first sits in this libc's stdout buffer (a pipe is fully buffered) until something flushes it. */
void load_end_exit_now(int status) {
  printf("buffered before exit");
  exit(status);
}
