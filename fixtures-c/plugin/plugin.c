/* A well-behaved dlswap plugin (include/dlswap.h), built in four variants:
 *   PLUGIN_VERSION=1 / 2      two generations to swap between;
 *   PLUGIN_BAD_ABI            reports an ABI version no host supports;
 *   PLUGIN_MISSING_HANDLE     lacks the `handle` function a host requires.
 * It exercises every part of the ABI: init that can refuse, logging from the host's thread and from
 * the plugin's own, state handed from one generation to the next, and a fini that stops its thread.
 * Tests make it misbehave through the environment (read with getenv, so inside a dlmopen namespace
 * only as it was when the namespace was created): DLSWAP_FIXTURE_INIT_FAIL=1 (init refuses),
 * DLSWAP_FIXTURE_INIT_EXIT=exit|_exit|abort (init ends the process), DLSWAP_FIXTURE_INIT_MS=<ms>
 * (init sleeps that long), DLSWAP_FIXTURE_INIT_WAIT=<file> (init waits until the file exists),
 * DLSWAP_FIXTURE_STATE_EXPORT=max|lie and DLSWAP_FIXTURE_STATE_IMPORT=fail
 * (a broken handover). plugin_report_to(path) makes dlswap_fini, the ELF destructor and
 * plugin_report_here() append which thread ran them to a file. */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dlswap.h"

#ifndef PLUGIN_VERSION
#error "compile with -DPLUGIN_VERSION=N"
#endif

#define PLUGIN_STR2(x) #x
#define PLUGIN_STR(x) PLUGIN_STR2(x)

/* Valid from dlswap_init until dlswap_fini returns, which is as long as the host promises it. */
static const dlswap_host *plugin_host;

static void plugin_log(int level, const char *message) {
  const dlswap_host *host = plugin_host;
  if (host != NULL && host->log != NULL) host->log(host, level, message);
}

uint32_t dlswap_abi_version(void) {
#ifdef PLUGIN_BAD_ABI
  return 999u;
#else
  return DLSWAP_ABI_VERSION;
#endif
}

const char *dlswap_version(void) { return "plugin-" PLUGIN_STR(PLUGIN_VERSION) ".0.0"; }

/* The log thread started by plugin_log_from_thread; fini must not return while it still runs. */
static pthread_t log_thread;
static int log_thread_started;
static int log_thread_count;

static void join_log_thread(void) {
  if (log_thread_started) {
    pthread_join(log_thread, NULL);
    log_thread_started = 0;
  }
}

int dlswap_init(const dlswap_host *host) {
  /* Lets a test make a generation refuse to start, to check the rollback. Read through getenv, so
   * inside a dlmopen namespace it sees the environment as it was when that namespace's libc was
   * loaded, not later changes to process.env. */
  const char *fail = getenv("DLSWAP_FIXTURE_INIT_FAIL");
  if (fail != NULL && strcmp(fail, "1") == 0) return 7;
  /* A plugin that ends the process from its init: in local and deepbind nothing can prevent it; in
   * the namespace modes the load fails instead (docs/hot-reload.md, "What a plugin can do to the
   * process"). */
  const char *end = getenv("DLSWAP_FIXTURE_INIT_EXIT");
  if (end != NULL && strcmp(end, "exit") == 0) exit(42);
  if (end != NULL && strcmp(end, "_exit") == 0) _exit(43);
  if (end != NULL && strcmp(end, "abort") == 0) abort();
  /* A slow init (DLSWAP_FIXTURE_INIT_MS milliseconds), for the loader thread's tests and bench/stall:
   * the event loop must keep running while it does. */
  const char *slow = getenv("DLSWAP_FIXTURE_INIT_MS");
  if (slow != NULL) {
    long ms = strtol(slow, NULL, 10);
    if (ms > 0 && ms <= 60000) {
      struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
      while (nanosleep(&t, &t) != 0) {}
    }
  }

  /* An init that waits until the file DLSWAP_FIXTURE_INIT_WAIT names exists (30 s at most, then it
   * refuses with 8): a test's event loop creates it from a timer, which proves that the loop ran
   * while init did, with no clock in the test. */
  const char *gate = getenv("DLSWAP_FIXTURE_INIT_WAIT");
  if (gate != NULL && *gate != '\0') {
    int open_gate = 0;
    for (int i = 0; i < 30000 && !(open_gate = access(gate, F_OK) == 0); i++) {
      struct timespec t = {0, 1000000L};
      nanosleep(&t, NULL);
    }
    if (!open_gate) return 8;
  }

  plugin_host = host;
  char message[64];
  snprintf(message, sizeof message, "init generation %" PRIu64, host != NULL ? host->generation : 0);
  plugin_log(DLSWAP_LOG_INFO, message);
  return 0;
}

/* Where dlswap_fini and the ELF destructor note which thread ran them (plugin_report_to), for the
 * tests of what runs where when a generation nobody closed is collected. */
static char report_path[512];

static void report(const char *what) {
  if (report_path[0] == '\0') return;
  FILE *f = fopen(report_path, "a");
  if (f == NULL) return;
  fprintf(f, "%s %ld %ld\n", what, (long)syscall(SYS_gettid), (long)getpid());
  fclose(f);
}

int plugin_report_to(const char *path) {
  if (path == NULL || strlen(path) >= sizeof report_path) return -1;
  strcpy(report_path, path);
  return 0;
}

/* Notes the calling thread ("call <tid> <pid>"). */
int plugin_report_here(void) {
  report("call");
  return report_path[0] != '\0';
}

__attribute__((destructor)) static void plugin_unloaded(void) { report("dtor"); }

void dlswap_fini(void) {
  /* Joined first: every "thread log" line reaches the host before "fini", and no plugin thread can
   * still be running when the host unmaps this code. */
  join_log_thread();
  plugin_log(DLSWAP_LOG_INFO, "fini");
  plugin_host = NULL;
  report("fini");
}

#ifndef PLUGIN_MISSING_HANDLE
int handle(const char *req, char *out, size_t cap) {
  return snprintf(out, cap, "v" PLUGIN_STR(PLUGIN_VERSION) ":%s", req != NULL ? req : "");
}
#endif

int plugin_version(void) { return PLUGIN_VERSION; }

/* Keeps a call in flight long enough for a reload to happen underneath it. */
int plugin_slow(int ms) {
  if (ms > 0) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  }
  return plugin_version();
}

/* The state a handover carries from one generation to the next. */
static int64_t counter_value;

int plugin_counter(void) { return (int)++counter_value; }

/* Little-endian whatever the host, so the format is the same on every architecture. */
size_t dlswap_state_export(void *buf, size_t cap) {
  /* Misbehaving exports, for the host's checks: a size no buffer can hold, or a size that changes
   * between the sizing call and the real one. */
  const char *mode = getenv("DLSWAP_FIXTURE_STATE_EXPORT");
  if (mode != NULL && strcmp(mode, "max") == 0) return SIZE_MAX;
  if (mode != NULL && strcmp(mode, "lie") == 0) return buf == NULL ? 16 : 8;
  if (buf != NULL && cap >= 8) {
    uint64_t v = (uint64_t)counter_value;
    unsigned char *p = buf;
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
  }
  return 8;
}

int dlswap_state_import(const void *buf, size_t len) {
  const char *mode = getenv("DLSWAP_FIXTURE_STATE_IMPORT");
  if (mode != NULL && strcmp(mode, "fail") == 0) return 5;
  if (buf == NULL || len != 8) return 1;
  const unsigned char *p = buf;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  counter_value = (int64_t)v;
  return 0;
}

static void *log_thread_main(void *arg) {
  (void)arg;
  char message[48];
  for (int i = 0; i < log_thread_count; i++) {
    snprintf(message, sizeof message, "thread log %d", i);
    plugin_log(DLSWAP_LOG_INFO, message);
  }
  return NULL;
}

/* Logs from a thread the host knows nothing about, which is what host->log must be safe against.
 * Returns -1 without a host (dlswap_init was never called) or if the thread cannot start. */
int plugin_log_from_thread(int count) {
  if (plugin_host == NULL) return -1;
  /* One thread at a time; the previous one only has a bounded number of lines left to log. */
  join_log_thread();
  log_thread_count = count;
  if (pthread_create(&log_thread, NULL, log_thread_main, NULL) != 0) return -1;
  log_thread_started = 1;
  return 0;
}
