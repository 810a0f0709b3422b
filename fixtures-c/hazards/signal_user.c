/* A library that installs a SIGUSR2 handler and can put the previous disposition back, as a
 * library's own cleanup would. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t seen;
static struct sigaction previous;
static int installed;

static void on_usr2(int sig) { seen = sig; }

int signal_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr2;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGUSR2, &sa, &previous) != 0) return 0;
  installed = 1;
  return 1;
}

int signal_restore(void) {
  if (!installed) return 0;
  installed = 0;
  return sigaction(SIGUSR2, &previous, NULL) == 0;
}

int signal_seen(void) { return seen; }
