/* A thread-specific data key with a destructor in this image, as jemalloc's per-thread cache has
 * (test/load/thread_keys.test.ts). Built twice: libkey_dtor.so never deletes it; libkey_dtor_clean.so
 * deletes it in its ELF destructor, as a library meant to be unloaded does. In `local` and `deepbind`
 * the key is node's libc's, which calls the destructor when a thread that set it exits. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>

static pthread_key_t key;
static int made;
static int dropped;

static void drop(void *value) {
  (void)value;
  __atomic_add_fetch(&dropped, 1, __ATOMIC_RELAXED);
}

/* Makes the key (once): its number, or -1. */
int key_dtor_make(void) {
  if (!made) made = pthread_key_create(&key, drop) == 0;
  return made ? (int)key : -1;
}

/* Sets the calling thread's value: 0 or an errno value. */
int key_dtor_set(long value) { return made ? pthread_setspecific(key, (void *)(intptr_t)value) : -1; }

/* How many times the destructor ran (threads that had set it and exited). */
int key_dtor_dropped(void) { return __atomic_load_n(&dropped, __ATOMIC_RELAXED); }

#ifdef KEY_DTOR_DELETES
__attribute__((destructor)) static void delete_key(void) {
  if (made) pthread_key_delete(key);
}
#endif
