/* Code outside the image under test that a thread of that image spins in, in user space, until
 * told to stop: the thread's program counter is here, and the image's code is only on its stack
 * (a return address), as in a callback out of a library. */
static volatile int spinning;

void spin_while_set(void) {
  while (__atomic_load_n(&spinning, __ATOMIC_ACQUIRE)) {}
}

void spin_set(int on) { __atomic_store_n(&spinning, on, __ATOMIC_RELEASE); }
