/* A dlswap plugin that writes down every piece of its code the host runs: its ELF constructor and
 * destructor, dlswap_init, dlswap_fini, dlswap_state_export and dlswap_state_import. Each run appends
 * one line ("ctor <pid>", "init <generation>", ...) to the file the environment variable
 * DLSWAP_FIXTURE_RECORD names (nothing without it). Tests read that file to prove what a failure left
 * behind: an options check that loads nothing runs no constructor, and a generation discarded after
 * its init ran gets exactly one fini. Inside a dlmopen namespace, getenv sees the environment as it
 * was at the namespace's last load (native/namespace/namespace_pool.h). */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlswap.h"

static void record(const char *what, unsigned long long n) {
  const char *file = getenv("DLSWAP_FIXTURE_RECORD");
  if (file == NULL || file[0] == '\0') return;
  char line[64];
  int len = snprintf(line, sizeof line, "%s %llu\n", what, n);
  if (len <= 0 || (size_t)len >= sizeof line) return;
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  /* One write of a short line to an O_APPEND file: lines from several processes never interleave. */
  ssize_t w = write(fd, line, (size_t)len);
  (void)w;
  close(fd);
}

__attribute__((constructor)) static void record_ctor(void) { record("ctor", (unsigned long long)getpid()); }
__attribute__((destructor)) static void record_dtor(void) { record("dtor", (unsigned long long)getpid()); }

uint32_t dlswap_abi_version(void) { return DLSWAP_ABI_VERSION; }

static uint64_t generation;

int dlswap_init(const dlswap_host *host) {
  generation = host != NULL ? host->generation : 0;
  record("init", generation);
  return 0;
}

void dlswap_fini(void) { record("fini", generation); }

int record_generation(void) { return (int)generation; }

size_t dlswap_state_export(void *buf, size_t cap) {
  record("export", generation);
  if (buf != NULL && cap >= 1) ((unsigned char *)buf)[0] = 1;
  return 1;
}

int dlswap_state_import(const void *buf, size_t len) {
  (void)buf;
  record("import", generation);
  return len == 1 ? 0 : 1;
}
