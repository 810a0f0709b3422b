/* A constructor that starts a thread which starts another, and waits for both, while the dynamic
 * loader is still loading the library (its lock held by the loading thread). The inner thread also
 * creates and sets a pthread key. Starting a thread or making a key must never wait for the loader's
 * lock (test/load/namespace_runtime.test.ts): here that would wait for the load, which waits for
 * the thread. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>

static int inner_ran, outer_ran, key_ok;

static void *inner(void *arg) {
  (void)arg;
  pthread_key_t k;
  if (pthread_key_create(&k, NULL) == 0) {
    key_ok = pthread_setspecific(k, (void *)(uintptr_t)7) == 0 && pthread_getspecific(k) == (void *)(uintptr_t)7;
    pthread_key_delete(k);
  }
  inner_ran = 1;
  return NULL;
}

static void *outer(void *arg) {
  (void)arg;
  pthread_t t;
  if (pthread_create(&t, NULL, inner, NULL) == 0) pthread_join(t, NULL);
  outer_ran = 1;
  return NULL;
}

__attribute__((constructor)) static void start(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, outer, NULL) == 0) pthread_join(t, NULL);
}

/* 3 when both threads ran during the load and the inner one's key worked. */
int ctor_threads_result(void) { return outer_ran + inner_ran + key_ok; }
