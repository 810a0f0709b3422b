/* A library whose constructor faults: loaded by faults.c's fault_in_dlopen, inside a call, or by
 * dlswap itself, where the fault happens inside the dynamic loader and cannot be contained. */
#include <stdint.h>

static volatile int zero = 0;

__attribute__((constructor)) static void fault_at_load(void) { *(volatile int *)(uintptr_t)zero = 1; }

int ctor_fault_never_reached(void) { return 1; }
