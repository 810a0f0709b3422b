/* Probes of the per-copy state of libc, one function per row of docs/isolation.md's audit table.
 * Loaded in each isolation mode by test/load/namespace_runtime.test.ts. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <link.h>
#include <locale.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

/* ---- pthread keys -------------------------------------------------------------------------- */

#define NKEYS 64
static pthread_key_t keys[NKEYS];
static int nkeys;
static volatile int destructor_calls;

static void count_destructor(void *v) {
  (void)v;
  __atomic_add_fetch(&destructor_calls, 1, __ATOMIC_SEQ_CST);
}

/* Creates `n` keys (with a destructor) and sets each to a sentinel on this thread: if the numbers
 * alias node's own keys, node's per-thread values (its OpenSSL state) are overwritten. */
int keys_fill(int n) {
  if (n > NKEYS) n = NKEYS;
  for (nkeys = 0; nkeys < n; nkeys++) {
    if (pthread_key_create(&keys[nkeys], count_destructor) != 0) return -1;
    if (pthread_setspecific(keys[nkeys], (void *)(uintptr_t)(0xD15A0000u + nkeys)) != 0) return -2;
  }
  return nkeys;
}

/* How many of the sentinels this thread still reads back. */
int keys_intact(void) {
  int ok = 0;
  for (int i = 0; i < nkeys; i++) ok += pthread_getspecific(keys[i]) == (void *)(uintptr_t)(0xD15A0000u + i);
  return ok;
}

/* The lowest key number handed out (for the report). */
int keys_first(void) { return nkeys ? (int)keys[0] : -1; }

/* Sets the value of every key on the calling thread (a worker_thread, a pool thread). */
int keys_set_here(void) {
  for (int i = 0; i < nkeys; i++) pthread_setspecific(keys[i], (void *)(uintptr_t)1);
  return nkeys;
}

int keys_destructor_calls(void) { return destructor_calls; }

static void *keys_thread(void *arg) {
  (void)arg;
  keys_set_here();
  return NULL;
}

/* A thread of the library's own sets every key and exits: the destructor calls seen after it. */
int keys_in_thread(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, keys_thread, NULL) != 0) return -1;
  pthread_join(t, NULL);
  return destructor_calls;
}

/* The C11 names of the same table. */
int tss_roundtrip(void) {
  tss_t k;
  if (tss_create(&k, NULL) != thrd_success) return -1;
  if (tss_set(k, (void *)(uintptr_t)42) != thrd_success) return -2;
  int v = (int)(uintptr_t)tss_get(k);
  tss_delete(k);
  return v;
}

/* ---- per-thread state of libc on threads it did not create ---------------------------------- */

/* isalpha reads a per-thread table that glibc sets up only in the threads it starts. */
int ctype_alpha(int c) { return isalpha(c) != 0; }
int ctype_upper(int c) { return toupper(c); }

static void *ctype_thread(void *arg) {
  int *out = arg;
  *out = (isalpha('A') != 0) + (toupper('b') == 'B') + (isspace(' ') != 0);
  return NULL;
}

/* A thread the library starts (through the runtime) and joins: 3 when ctype works there. */
int ctype_in_own_thread(void) {
  pthread_t t;
  int out = -1;
  if (pthread_create(&t, NULL, ctype_thread, &out) != 0) return -1;
  pthread_join(t, NULL);
  return out;
}

static int c11_entry(void *arg) { return *(int *)arg + 1; }

int c11_thread(int v) {
  thrd_t t;
  int res = 0;
  if (thrd_create(&t, c11_entry, &v) != thrd_success) return -1;
  if (thrd_join(t, &res) != thrd_success) return -2;
  return res;
}

/* ---- threads that outlive the call that started them ---------------------------------------- */

static pthread_mutex_t linger_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t linger_cv = PTHREAD_COND_INITIALIZER;
static int linger_running;

static void *linger_thread(void *arg) {
  long ms = (long)(intptr_t)arg;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&linger_mu);
  /* Waits in this library's code (a frame of it is live on the stack) until the deadline. */
  while (pthread_cond_timedwait(&linger_cv, &linger_mu, &until) == 0) {}
  linger_running--;
  pthread_mutex_unlock(&linger_mu);
  return NULL;
}

/* Starts `n` detached threads that stay in this library for `ms` milliseconds, then exit. */
int linger_start(int n, int ms) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  int started = 0;
  for (int i = 0; i < n; i++) {
    pthread_t t;
    pthread_mutex_lock(&linger_mu);
    linger_running++;
    pthread_mutex_unlock(&linger_mu);
    if (pthread_create(&t, &a, linger_thread, (void *)(intptr_t)ms) == 0) started++;
  }
  pthread_attr_destroy(&a);
  return started;
}

/* ---- process-wide state: shared or apart ---------------------------------------------------- */

/* glibc marks only the base namespace's libc single-threaded-capable. */
int single_threaded(void) { return __libc_single_threaded; }

/* The locale is per libc: setlocale here changes this copy's only. Returns the name it now has. */
const char *locale_set(const char *name) { return setlocale(LC_ALL, name); }
const char *locale_get(void) { return setlocale(LC_ALL, NULL); }

static int count_object(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  int *d = data;
  d[0]++;
  if (info->dlpi_name[0] == '\0') d[1]++; /* the main program: node, in the base namespace */
  return 0;
}

/* dl_iterate_phdr reports the caller's namespace: [objects, main programs]. */
int phdr_objects(void) {
  int d[2] = {0, 0};
  dl_iterate_phdr(count_object, d);
  return d[0];
}
int phdr_sees_program(void) {
  int d[2] = {0, 0};
  dl_iterate_phdr(count_object, d);
  return d[1];
}

/* Signal dispositions are the kernel's, one per process: whatever this libc reads, node set. */
int signal_handled(int sig) {
  struct sigaction old;
  if (sigaction(sig, NULL, &old) != 0) return -1;
  return old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN;
}

/* The resolver: this libc's own. */
int resolve_localhost(void) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  int rc = getaddrinfo("localhost", NULL, &hints, &res);
  if (rc != 0) return -1;
  int n = 0;
  for (struct addrinfo *a = res; a; a = a->ai_next) n++;
  freeaddrinfo(res);
  return n;
}

static volatile int atfork_prepared;
static void on_fork(void) { atfork_prepared++; }
int atfork_register(void) { return pthread_atfork(on_fork, NULL, NULL); }
int atfork_count(void) { return atfork_prepared; }

/* atexit handlers of a library run when it is unloaded (glibc registers them per object). The
 * marker file tells the test they ran. */
static char marker[512];
static void write_marker(void) {
  FILE *f = fopen(marker, "w");
  if (f) {
    fputs("atexit ran\n", f);
    fclose(f);
  }
}
int atexit_register(const char *path) {
  snprintf(marker, sizeof marker, "%s", path);
  return atexit(write_marker);
}

static char qmarker[512];
static void write_qmarker(void) {
  FILE *f = fopen(qmarker, "w");
  if (f) {
    fputs("at_quick_exit ran\n", f);
    fclose(f);
  }
}
int at_quick_exit_register(const char *path) {
  snprintf(qmarker, sizeof qmarker, "%s", path);
  return at_quick_exit(write_qmarker);
}
