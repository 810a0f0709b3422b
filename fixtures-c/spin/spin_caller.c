/* The image under test: spin_start(fn) starts a thread of its own that calls fn (another library's
 * spin_while_set) and, once fn returns, does a little more here, so that the call is never a tail
 * call: while fn spins, this library is on the thread's stack as a return address, nowhere else. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>

static int finished;

static void *run(void *arg) {
  void (*fn)(void) = (void (*)(void))arg;
  fn();
  __atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

int spin_start(void *fn) {
  pthread_t t;
  if (pthread_create(&t, NULL, run, fn) != 0) return -1;
  pthread_detach(t);
  return 0;
}
