/*
 * libdlswap_runtime.so: the first object of every namespace dlswap creates (see runtime_abi.h).
 *
 * Being first makes it the namespace's global scope: a library loaded into the namespace looks
 * a symbol up here before its own dependencies, libc included. So the definitions below replace
 * libc's for every library in the namespace (unversioned definitions satisfy versioned
 * references), and they forward to the host, where node's libc does the work. Nothing here keeps
 * state beyond the host table: what must outlive a namespace lives in the host.
 *
 * What is deliberately NOT forwarded (each namespace keeps its own, see docs/isolation.md): malloc,
 * stdio, locale, the resolver, atexit and at_quick_exit lists, pthread_atfork handlers, errno.
 * setlocale stays in the namespace's libc too, but goes through the host, which records who changed
 * the namespace's locale, so that closing that library sets it back.
 *
 * Files of their own stand in front of dynamic loading (runtime_dl.c) and of the functions that end
 * the process (runtime_exit.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <threads.h>

#include "runtime_internal.h"

/* Written once by dlswap_runtime_attach, before any other library is loaded into the namespace, and
 * only read afterwards. */
const dlswap_runtime_host *host;

EXPORT int dlswap_runtime_attach(const dlswap_runtime_host *h) {
  if (h == NULL || h->abi != DLSWAP_RUNTIME_ABI || h->struct_size < sizeof(dlswap_runtime_host)) return -1;
  if (dlswap_runtime_dl_attach() != 0 || dlswap_runtime_end_attach() != 0) return -1;
  host = h;
  return 0;
}

/* Sets up this namespace libc's per-thread state on a thread that libc did not create (a libuv pool
 * thread, a worker_thread, a thread node's libc started for us): glibc initialises the ctype tables
 * (isalpha, toupper...) only in the threads it starts itself, and uselocale(LC_GLOBAL_LOCALE) is
 * the public way to run that initialisation. */
EXPORT void dlswap_runtime_thread_init(void) { uselocale(LC_GLOBAL_LOCALE); }

/* This namespace's own libc, for libraries that do not link libc themselves. */
EXPORT void dlswap_runtime_free(void *p) { free(p); }
EXPORT int dlswap_runtime_fflush_all(void) { return fflush(NULL); }
EXPORT int *dlswap_runtime_errno(void) { return &errno; }

/* ---- pthread keys: one table, node's -------------------------------------------------------- */

/* `caller` says which code created the key: it is reclaimed once that code is unmapped. */
static int key_create(pthread_key_t *key, void (*destructor)(void *), const void *caller) {
  return host ? host->key_create(host->ns, key, destructor, caller) : EAGAIN;
}
EXPORT int pthread_key_create(pthread_key_t *key, void (*destructor)(void *)) {
  return key_create(key, destructor, __builtin_return_address(0));
}
EXPORT int __pthread_key_create(pthread_key_t *key, void (*destructor)(void *)) {
  return key_create(key, destructor, __builtin_return_address(0));
}
EXPORT int pthread_key_delete(pthread_key_t key) { return host ? host->key_delete(host->ns, key) : EINVAL; }
EXPORT void *pthread_getspecific(pthread_key_t key) { return host ? host->getspecific(host->ns, key) : NULL; }
EXPORT void *__pthread_getspecific(pthread_key_t key) { return pthread_getspecific(key); }
/* glibc declares the value "not accessed" (access attribute none), which makes GCC warn that passing
 * it on may read an uninitialised object; passing a pointer on is all this does. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
EXPORT int pthread_setspecific(pthread_key_t key, const void *value) { return host ? host->setspecific(host->ns, key, value) : EINVAL; }
#pragma GCC diagnostic pop
EXPORT int __pthread_setspecific(pthread_key_t key, const void *value) { return pthread_setspecific(key, value); }

/* C11 thread-specific storage is the same table under other names. */
EXPORT int tss_create(tss_t *key, tss_dtor_t destructor) {
  pthread_key_t k;
  if (key_create(&k, destructor, __builtin_return_address(0)) != 0) return thrd_error;
  *key = k;
  return thrd_success;
}
EXPORT void tss_delete(tss_t key) { pthread_key_delete(key); }
EXPORT void *tss_get(tss_t key) { return pthread_getspecific(key); }
EXPORT int tss_set(tss_t key, void *value) { return pthread_setspecific(key, value) == 0 ? thrd_success : thrd_error; }

/* ---- threads: created, exited and cleaned up by node's libc ---------------------------------- */

EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
  return host ? host->thread_create(host->ns, thread, attr, start, arg, __builtin_return_address(0)) : EAGAIN;
}

EXPORT int thrd_create(thrd_t *thread, thrd_start_t start, void *arg) {
  if (!host) return thrd_error;
  unsigned long t = 0;
  int rc = host->c11_thread_create(host->ns, &t, start, arg, __builtin_return_address(0));
  if (rc == 0) *thread = t;
  return rc == 0 ? thrd_success : rc == ENOMEM ? thrd_nomem : thrd_error;
}

/* On the thread running a load, the load's library code ending that thread would leave the loader
 * lock held for good: the load fails instead (runtime_exit.c). */
EXPORT void pthread_exit(void *value) {
  host->process_end(host->ns, DLSWAP_END_THREAD_EXIT, 0, __builtin_return_address(0));
  host->thread_exit(value);
  __builtin_unreachable();
}

EXPORT void thrd_exit(int result) {
  host->process_end(host->ns, DLSWAP_END_THREAD_EXIT, result, __builtin_return_address(0));
  host->thread_exit((void *)(intptr_t)result);
  __builtin_unreachable();
}

EXPORT int __cxa_thread_atexit_impl(void (*destructor)(void *), void *object, void *dso_symbol) {
  return host ? host->thread_atexit(destructor, object, dso_symbol) : -1;
}

/* ---- locale: the namespace's own, changes recorded by the host ------------------------------ */

EXPORT char *setlocale(int category, const char *locale) {
  return host ? host->set_locale(host->ns, category, locale, __builtin_return_address(0)) : NULL;
}
