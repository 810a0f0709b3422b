/* A plugin that leaves one thread behind per load: dlswap_init starts a detached thread that waits
 * in this library's code for ever and is never stopped (no dlswap_fini). Every generation of it is
 * therefore held by its thread: what dlswap must keep mapped, look at again with a backoff, and
 * never make the rest of the process pay for. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <unistd.h>

#include "dlswap.h"

static void *wait_forever(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

int thread_leak_value(void) { return 5; }

int dlswap_init(const dlswap_host *host) {
  (void)host;
  pthread_t t;
  if (pthread_create(&t, NULL, wait_forever, NULL) != 0) return 1;
  pthread_detach(t);
  return 0;
}
