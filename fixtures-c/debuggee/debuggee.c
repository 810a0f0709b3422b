/*
 * What the debugging tests (test/debug/) look at: a function that faults (in the call, or in a
 * thread of the library's own), one that waits for a debugger to attach, and one that spins for a
 * profiler. Built with -g (as every fixture), so that each line below is what gdb, perf, valgrind
 * and ASan must name.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#ifndef DEBUGGEE_VERSION
#define DEBUGGEE_VERSION 1
#endif

int debuggee_version(void) { return DEBUGGEE_VERSION; }

struct ring {
  int len;
};

__attribute__((noinline)) int ring_len(const struct ring *r) { return r->len; /* DEBUGGEE_FAULT_LINE: reads through NULL */ }

/* Faults: a NULL ring, as a bug would pass one. In a call through dlswap, the fault is contained
 * (docs/faults.md): the call throws ERR_DLSWAP_FAULT and the process goes on. */
int debuggee_fault(void) {
  volatile const struct ring *none = 0;
  return ring_len((const struct ring *)none) + 1;
}

static void *ring_worker(void *arg) {
  (void)arg;
  volatile const struct ring *none = 0;
  return (void *)(long)ring_len((const struct ring *)none); /* DEBUGGEE_THREAD_LINE */
}

/* The same fault in a thread the library started, which the call waits for: outside any call
 * through dlswap, so it is not contained, and the process dies with SIGSEGV (and its core). */
int debuggee_fault_in_thread(void) {
  pthread_t t;
  void *len = 0;
  if (pthread_create(&t, 0, ring_worker, 0) != 0) return -1;
  pthread_join(t, &len);
  return (int)(long)len;
}

/* Lets any process of this user attach (kernel.yama.ptrace_scope 1 allows only ancestors), then
 * waits: a debugger attaches while this is on the stack. */
__attribute__((noinline)) void debuggee_park(unsigned seconds) {
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  for (unsigned i = 0; i < seconds * 10; ++i) usleep(100000); /* DEBUGGEE_PARK_LINE */
}

__attribute__((noinline)) unsigned long debuggee_spin_inner(unsigned long n) {
  unsigned long s = 0;
  for (unsigned long i = 0; i < n; ++i) s += (i * i) ^ (s >> 3);
  return s;
}

static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Busy for `ms` milliseconds of this thread's CPU time (not wall time: a loaded machine only makes
 * it take longer), nearly all of it in debuggee_spin_inner. */
unsigned long debuggee_spin(unsigned ms) {
  unsigned long t = 0;
  const double until = cpu_ms() + ms;
  while (cpu_ms() < until) t += debuggee_spin_inner(100000);
  return t;
}
