/* A dependency with a thread pool of one that only its destructor stops, as OpenBLAS's is: what
 * inspect must report for every library that links it (test/analysis/inspect.test.ts). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static pthread_t worker;
static atomic_int running;
static atomic_int stop;

static void *work(void *arg) {
  (void)arg;
  struct timespec tick = {0, 1000000};
  while (!atomic_load(&stop)) nanosleep(&tick, NULL);
  return NULL;
}

/* Starts the pool on first use; returns 1 when it runs. */
int pool_start(void) {
  if (atomic_exchange(&running, 1)) return 1;
  if (pthread_create(&worker, NULL, work, NULL) != 0) {
    atomic_store(&running, 0);
    return 0;
  }
  return 1;
}

/* The pool's own shutdown, which a user calls before close(). */
void pool_shutdown(void) {
  if (!atomic_exchange(&running, 0)) return;
  atomic_store(&stop, 1);
  pthread_join(worker, NULL);
  atomic_store(&stop, 0);
}

__attribute__((destructor)) static void pool_fini(void) { pool_shutdown(); }
