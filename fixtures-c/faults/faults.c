/* A library with planted faults, for fault containment (docs/faults.md): each function raises one
 * kind of fault when asked to, and answers normally otherwise, so that a test can check that a
 * call faults, that the process lives on, and that the library is quarantined. Also a dlswap plugin
 * (include/dlswap.h), built as two versions, whose dlswap_init faults on request (user_data) and
 * whose fini counts how often it ran. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dlswap.h"

#ifndef FAULTS_VERSION
#error "compile with -DFAULTS_VERSION=N"
#endif

int faults_version(void) { return FAULTS_VERSION; }

int ok(int x) { return x + FAULTS_VERSION; }

/* What each kind is, by number (test/signals/fault_kinds.ts names them). */
enum { K_NONE = 0, K_SEGV = 1, K_BUS = 2, K_FPE = 3, K_ILL = 4, K_ABRT = 5, K_STACK = 6, K_EXIT = 7, K_LIBC = 8, K_NULLFN = 9 };

static volatile int zero = 0;
static volatile int sink;

__attribute__((noinline)) static int write_null(int x) {
  *(volatile int *)(uintptr_t)zero = x;
  return x;
}

__attribute__((noinline)) static int touch_truncated_file(void) {
  /* A mapping of a file past its end: the second page has nothing behind it (SIGBUS, BUS_ADRERR). */
  long page = sysconf(_SC_PAGESIZE);
  int fd = memfd_create("dlswap-faults", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, page) != 0) return -1;
  volatile char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return -1;
  p[page] = 1;
  return p[0];
}

__attribute__((noinline)) static int divide(int a, int b) { return a / b; }

__attribute__((noinline)) static void illegal_instruction(void) {
#if defined(__x86_64__)
  __asm__ volatile("ud2");
#elif defined(__aarch64__)
  __asm__ volatile(".inst 0x00000000"); /* udf #0 */
#endif
}

/* Deep enough to run off the end of any thread's stack (each frame keeps its array alive). */
__attribute__((noinline)) static int recurse(int depth) {
  volatile char pad[4096];
  pad[0] = (char)depth;
  pad[sizeof pad - 1] = (char)depth;
  if (depth == 0) return pad[0];
  return recurse(depth + 1) + pad[sizeof pad - 1];
}

/* faults(kind, x): raises fault `kind` (K_*), or returns x + the version when kind is K_NONE. */
int faults(int kind, int x) {
  switch (kind) {
    case K_SEGV: return write_null(x);
    case K_BUS: return touch_truncated_file();
    case K_FPE: return divide(x, zero);
    case K_ILL: illegal_instruction(); return -1;
    case K_ABRT: abort();
    case K_STACK: return recurse(1);
    case K_EXIT: pthread_exit(NULL);
    case K_LIBC: return (int)strlen((const char *)(uintptr_t)zero);
    case K_NULLFN: return ((int (*)(int))(uintptr_t)zero)(x);
    default: return x + FAULTS_VERSION;
  }
}

/* The same, through libffi: more arguments than registers (dlswap's libffi path). */
int faults_many(int kind, int a, int b, int c, int d, int e, int f, int g, int h) { return faults(kind, a + b + c + d + e + f + g + h); }

/* Calls back into JS: the test's callback makes its own faulting call from there. */
int call_back(int (*cb)(int), int x) { return cb(x) + 1; }

/* ---- the boundary: faults containment must leave alone ------------------------------------ */

static int crash_in_callback(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info;
  (void)size;
  (void)data;
  return write_null(1);
}

/* A fault under dl_iterate_phdr, which holds the loader's lock while the callback runs. */
int fault_under_loader_lock(void) { return dl_iterate_phdr(crash_in_callback, NULL); }

/* dlopen of a library whose constructor faults: the fault is inside the dynamic loader. */
int fault_in_dlopen(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL) != NULL; }

/* A fault in a thread of the library's own, outside any call: it cannot be contained. */
static void *crash_later(void *arg) {
  usleep((useconds_t)(uintptr_t)arg * 1000);
  write_null(2);
  return NULL;
}
int start_crashing_thread(int ms) {
  pthread_t t;
  return pthread_create(&t, NULL, crash_later, (void *)(uintptr_t)ms);
}

/* ---- plugin ABI: init faults on request --------------------------------------------------- */

static const dlswap_host *plugin_host;
static int fini_runs;

uint32_t dlswap_abi_version(void) { return DLSWAP_ABI_VERSION; }

int dlswap_init(const dlswap_host *host) {
  plugin_host = host;
  /* user_data: bits 0-7 the fault kind to raise inside init (0: none), bits 8-15 the generation
   * whose init raises it (0: every generation's). */
  uintptr_t ud = (uintptr_t)host->user_data;
  int kind = (int)(ud & 0xff), at = (int)((ud >> 8) & 0xff);
  if (kind != K_NONE && (at == 0 || (uint64_t)at == host->generation)) return faults(kind, 0) == -12345;
  return 0;
}

void dlswap_fini(void) { fini_runs++; }

int fini_count(void) { return fini_runs; }

/* A plugin handing dlswap's host a bad pointer: the fault is in dlswap's code (its log function),
 * which the library called. */
int log_bad_pointer(void) {
  if (plugin_host && plugin_host->log) plugin_host->log(plugin_host, DLSWAP_LOG_INFO, (const char *)(uintptr_t)16);
  return 0;
}

/* ---- a SIGSEGV handler installed after dlswap's, that chains to it (as V8's trap handler does
 * when it is installed after another): containment and WebAssembly traps must still work. ------- */

static struct sigaction chained_previous;
static int chained_calls;

static void chaining_handler(int sig, siginfo_t *info, void *context) {
  chained_calls++;
  if (chained_previous.sa_flags & SA_SIGINFO) {
    chained_previous.sa_sigaction(sig, info, context);
  } else if (chained_previous.sa_handler != SIG_DFL && chained_previous.sa_handler != SIG_IGN) {
    chained_previous.sa_handler(sig);
  } else {
    signal(sig, SIG_DFL);
  }
}

int install_chaining_handler(void) {
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_sigaction = chaining_handler;
  act.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&act.sa_mask);
  return sigaction(SIGSEGV, &act, &chained_previous);
}

int chained_handler_calls(void) { return chained_calls; }
