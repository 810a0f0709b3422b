/* A C callback for libgomp's GOMP_parallel, so that the conformance suite can make libgomp start a
 * real team of pool threads without a compiler's help (`#pragma omp parallel` compiles to exactly
 * this call: GOMP_parallel(outlined_fn, &shared_data, num_threads, flags)).
 *
 * Every thread of the team runs omp_probe_record once. It records which thread it is without
 * calling anything (no libc, no libgomp): this library may live in another namespace than the
 * libgomp that calls it, and must not depend on which libc the calling thread was set up by. */
#include <stdint.h>

#define OMP_PROBE_MAX 64

/* Shared with the test as a plain buffer: int32 count, int32 padding, then OMP_PROBE_MAX uint64
 * thread identities (the thread pointer, distinct for every live thread). */
typedef struct omp_probe {
  int32_t count;
  int32_t reserved;
  uint64_t ids[OMP_PROBE_MAX];
} omp_probe;

static uint64_t thread_identity(void) {
#if defined(__x86_64__) || defined(__aarch64__)
  return (uint64_t)(uintptr_t)__builtin_thread_pointer();
#else
  volatile char marker;
  return (uint64_t)(uintptr_t)&marker; /* stacks of live threads never overlap */
#endif
}

void omp_probe_record(void *data) {
  omp_probe *p = (omp_probe *)data;
  int32_t i = __atomic_fetch_add(&p->count, 1, __ATOMIC_SEQ_CST);
  if (i >= 0 && i < OMP_PROBE_MAX) __atomic_store_n(&p->ids[i], thread_identity(), __ATOMIC_SEQ_CST);
}

/* The size of the buffer the test must pass, so that it can check it agrees with this layout. */
uint32_t omp_probe_size(void) { return (uint32_t)sizeof(omp_probe); }
