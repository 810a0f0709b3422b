/* A library that owns threads from its constructor to its destructor, as thread pools do (OpenBLAS
 * starts its pool when loaded and joins it in its ELF destructor), for the exit tests
 * (test/load/exit.test.ts). At exit, _dl_fini runs the destructor after the addon's static
 * destructors would have run, so the threads end while exit() is under way.
 *
 *   EXIT_JOIN      the destructor stops the worker and joins it;
 *   EXIT_DETACH    the destructor stops it and returns: the worker ends on its own, during exit.
 *
 * The worker keeps starting short-lived threads, each with a pthread key value to destroy, so that
 * thread exits (and key destructors) keep happening until the very end. A constructor delay
 * (EXIT_CTOR_MS) keeps a load in flight long enough for a test to exit in the middle of it. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#ifndef EXIT_CTOR_MS
#define EXIT_CTOR_MS 0
#endif

static pthread_t worker;
static int worker_started;
static volatile int stop;
static pthread_key_t key;
static int key_made;
static volatile long short_lived;

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0) {}
}

static void drop_value(void *v) { (void)v; }

static void *short_main(void *arg) {
  (void)arg;
  if (key_made) pthread_setspecific(key, (void *)(uintptr_t)1);
  __atomic_add_fetch(&short_lived, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void *worker_main(void *arg) {
  (void)arg;
  while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
    pthread_t t;
    if (pthread_create(&t, NULL, short_main, NULL) == 0) pthread_detach(t);
    sleep_ms(1);
  }
  return NULL;
}

__attribute__((constructor)) static void start(void) {
  key_made = pthread_key_create(&key, drop_value) == 0;
  worker_started = pthread_create(&worker, NULL, worker_main, NULL) == 0;
  if (EXIT_CTOR_MS > 0) sleep_ms(EXIT_CTOR_MS);
}

__attribute__((destructor)) static void finish(void) {
  if (!worker_started) return;
  __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
#ifdef EXIT_JOIN
  pthread_join(worker, NULL);
#else
  pthread_detach(worker);
#endif
}

/* Short-lived threads started so far (> 0 once the pool is running). */
long exit_threads_started(void) { return __atomic_load_n(&short_lived, __ATOMIC_SEQ_CST); }
