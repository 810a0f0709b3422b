/* The image under test for fixtures-c/spin/parked.c: a function that sleeps in a system call until
 * its flag is cleared. The thread is then blocked with its stack returning into this image. */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

void nap_while_set(volatile int *flag) {
  const struct timespec ms = {0, 1000000};
  while (__atomic_load_n(flag, __ATOMIC_ACQUIRE)) nanosleep(&ms, 0);
}
