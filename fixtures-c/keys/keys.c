/* pthread keys as a namespace's library uses them (test/load/namespace_keys.test.ts): one made by
 * the constructor and never deleted (reloading it must not use up node's key table), and calls on
 * key numbers the library never made (node's, another namespace's), which must not reach them. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>

static pthread_key_t own;
static int own_made;

__attribute__((constructor)) static void make_own(void) { own_made = pthread_key_create(&own, NULL) == 0; }

/* The key the constructor made, or -1. */
int keys_own(void) { return own_made ? (int)own : -1; }

/* What pthread_key_delete / pthread_setspecific of key `k` return (0 or an errno value). */
int keys_delete(unsigned k) { return pthread_key_delete((pthread_key_t)k); }
int keys_set(unsigned k, long v) { return pthread_setspecific((pthread_key_t)k, (void *)(intptr_t)v); }
/* What pthread_getspecific of key `k` returns. */
long keys_get(unsigned k) { return (long)(intptr_t)pthread_getspecific((pthread_key_t)k); }

/* Deletes every key number the library did not make: how many deletions succeeded. */
int keys_delete_foreign(void) {
  int deleted = 0;
  for (unsigned k = 0; k < 1024; k++) {
    if (own_made && k == (unsigned)own) continue;
    deleted += pthread_key_delete((pthread_key_t)k) == 0;
  }
  return deleted;
}

/* A key made and deleted again: 0 while the table has room (loaded in `local`, this is node's). */
int keys_make_one(void) {
  pthread_key_t k;
  int rc = pthread_key_create(&k, NULL);
  if (rc == 0) pthread_key_delete(k);
  return rc;
}
