/*
 * Library code that ends the process: exit, _exit, _Exit, quick_exit, abort, and assert() failing.
 *
 * During a load, on the loader thread (a constructor inside dlmopen, dlswap_init...), the host
 * unwinds the load instead and it fails with a typed error (namespace/runtime_exit.cc): a library that
 * exits because it was loaded twice (gflags: "flag defined more than once") costs that load, not the
 * process. Anywhere else the process ends as asked, as it would without dlswap:
 *   - exit: node's exit(), after this namespace's stdio is flushed. It runs node's atexit handlers
 *     and then every library's destructors, this namespace's included; this libc's own exit() would
 *     run only the namespace's handlers and skip node's.
 *   - _exit, _Exit, quick_exit (this namespace's at_quick_exit handlers) and abort: this libc's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime_internal.h"

static void (*next_exit)(int);
static void (*next__exit)(int);
static void (*next__Exit)(int);
static void (*next_quick_exit)(int);
static void (*next_abort)(void);
static void (*next_assert_fail)(const char *, const char *, unsigned int, const char *);

int dlswap_runtime_end_attach(void) {
  next_exit = (void (*)(int))dlsym(RTLD_NEXT, "exit");
  next__exit = (void (*)(int))dlsym(RTLD_NEXT, "_exit");
  next__Exit = (void (*)(int))dlsym(RTLD_NEXT, "_Exit");
  next_quick_exit = (void (*)(int))dlsym(RTLD_NEXT, "quick_exit");
  next_abort = (void (*)(void))dlsym(RTLD_NEXT, "abort");
  next_assert_fail = (void (*)(const char *, const char *, unsigned int, const char *))dlsym(RTLD_NEXT, "__assert_fail");
  return next_exit && next__exit && next__Exit && next_quick_exit && next_abort && next_assert_fail ? 0 : -1;
}

EXPORT void exit(int status) {
  if (host) {
    host->process_end(host->ns, DLSWAP_END_EXIT, status, __builtin_return_address(0));
    fflush(NULL);
    host->exit(status);
  }
  next_exit(status);
  __builtin_unreachable();
}

EXPORT void _exit(int status) {
  if (host) host->process_end(host->ns, DLSWAP_END__EXIT, status, __builtin_return_address(0));
  next__exit(status);
  __builtin_unreachable();
}

EXPORT void _Exit(int status) {
  if (host) host->process_end(host->ns, DLSWAP_END__EXIT_C99, status, __builtin_return_address(0));
  next__Exit(status);
  __builtin_unreachable();
}

EXPORT void quick_exit(int status) {
  if (host) host->process_end(host->ns, DLSWAP_END_QUICK_EXIT, status, __builtin_return_address(0));
  next_quick_exit(status);
  __builtin_unreachable();
}

EXPORT void abort(void) {
  if (host) host->process_end(host->ns, DLSWAP_END_ABORT, 0, __builtin_return_address(0));
  next_abort();
  __builtin_unreachable();
}

/* glibc's assert() calls this and then its own abort, which nothing can stand in front of: the
 * message is printed here, as glibc prints it, when the host will take the abort over. */
EXPORT void __assert_fail(const char *assertion, const char *file, unsigned int line, const char *function) {
  if (host && host->in_load()) {
    fprintf(stderr, "%s%s%s:%u: %s%sAssertion `%s' failed.\n", program_invocation_short_name, program_invocation_short_name[0] ? ": " : "",
            file, line, function ? function : "", function ? ": " : "", assertion);
    fflush(stderr);
    host->process_end(host->ns, DLSWAP_END_ASSERT, 0, __builtin_return_address(0));
    next_abort();
  }
  next_assert_fail(assertion, file, line, function);
  __builtin_unreachable();
}
