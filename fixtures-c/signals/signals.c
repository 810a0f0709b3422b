/* Libraries that install process-wide signal hooks and never take them back, as ImageMagick's
 * genesis and crash reporters do: a SIGUSR2 handler, a SIGSEGV handler that chains to the one it
 * replaced (so that V8's WebAssembly bounds checks keep working while it is loaded), and an
 * alternate signal stack in its own .bss. Built twice: libsignals.so installs when asked,
 * libsignals_ctor.so installs the two handlers in its constructor (a plugin that does it in init). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>

static volatile sig_atomic_t usr2_count, segv_count;
static struct sigaction segv_previous;
static char alt_stack[64 * 1024];

static void on_usr2(int sig) {
  (void)sig;
  usr2_count++;
}

/* Counts, then hands the fault to whoever had SIGSEGV before (V8's trap handler in node): a
 * WebAssembly out-of-bounds access still becomes a RuntimeError. With nobody before it, the default
 * action is put back and the faulting instruction runs again. */
static void on_segv(int sig, siginfo_t *info, void *context) {
  segv_count++;
  if (segv_previous.sa_flags & SA_SIGINFO) {
    segv_previous.sa_sigaction(sig, info, context);
  } else if (segv_previous.sa_handler != SIG_IGN && segv_previous.sa_handler != SIG_DFL) {
    segv_previous.sa_handler(sig);
  } else if (segv_previous.sa_handler == SIG_DFL) {
    sigaction(SIGSEGV, &segv_previous, NULL);
  }
}

int sig_install_usr2(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr2;
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGUSR2, &sa, NULL);
}

int sig_install_segv(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGSEGV, &sa, &segv_previous);
}

/* The calling thread's alternate signal stack, in this library's memory. */
int sig_set_altstack(void) {
  stack_t ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  return sigaltstack(&ss, NULL);
}

/* 1 when the calling thread has an alternate signal stack, 0 when not. */
int sig_altstack_enabled(void) {
  stack_t ss;
  if (sigaltstack(NULL, &ss) != 0) return -1;
  return (ss.ss_flags & SS_DISABLE) ? 0 : 1;
}

int sig_usr2_count(void) { return usr2_count; }
int sig_segv_count(void) { return segv_count; }

/* Whether `sig`'s handler is this library's. */
int sig_is_mine(int sig) {
  struct sigaction sa;
  if (sigaction(sig, NULL, &sa) != 0) return -1;
  const uintptr_t h = (sa.sa_flags & SA_SIGINFO) ? (uintptr_t)sa.sa_sigaction : (uintptr_t)sa.sa_handler;
  return h == (uintptr_t)on_usr2 || h == (uintptr_t)on_segv;
}

#ifdef SIGNALS_IN_CTOR
__attribute__((constructor)) static void install_at_load(void) {
  sig_install_usr2();
  sig_install_segv();
}
#endif
