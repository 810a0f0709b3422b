/* The floor for memory per reload, for bench/memory.mjs: what loading a fresh copy of a library,
 * calling it and closing it costs a process that does nothing else, with no dlswap and no V8.
 *
 *   load_floor <local|deepbind|namespace> <lib1> <lib2> <dir> <warmup> <reloads> <every>
 *
 * Alternates lib1 and lib2: each load copies the file to <dir> (a new inode, as dlswap's private
 * copies), opens it (dlopen, with RTLD_DEEPBIND, or dlmopen into one namespace made at the start),
 * unlinks the copy, calls its plugin_version(), and closes it. After `warmup` unmeasured loads,
 * prints "<load> <RssAnon KiB>" every `every` loads, starting at load 0. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_anon_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "RssAnon:", 8) == 0) kib = strtol(line + 8, NULL, 10);
  }
  fclose(f);
  return kib;
}

static int copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
  if (out < 0) {
    close(in);
    return -1;
  }
  char buf[1 << 16];
  ssize_t n;
  int rc = 0;
  while ((n = read(in, buf, sizeof buf)) > 0) {
    if (write(out, buf, (size_t)n) != n) {
      rc = -1;
      break;
    }
  }
  if (n < 0) rc = -1;
  close(in);
  close(out);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s <local|deepbind|namespace> <lib1> <lib2> <dir> <warmup> <reloads> <every>\n", argv[0]);
    return 2;
  }
  const char *mode = argv[1];
  const long warmup = atol(argv[5]), reloads = atol(argv[6]), every = atol(argv[7]);
  const int deepbind = strcmp(mode, "deepbind") == 0;
  Lmid_t lmid = LM_ID_BASE;
  if (strcmp(mode, "namespace") == 0) {
    /* One long-lived namespace, as dlswap's anchor: every load goes into it. */
    void *anchor = dlmopen(LM_ID_NEWLM, "libc.so.6", RTLD_NOW | RTLD_LOCAL);
    if (anchor == NULL || dlinfo(anchor, RTLD_DI_LMID, &lmid) != 0) {
      fprintf(stderr, "load_floor: cannot make a namespace: %s\n", dlerror());
      return 1;
    }
  } else if (strcmp(mode, "local") != 0 && !deepbind) {
    fprintf(stderr, "load_floor: unknown mode %s\n", mode);
    return 2;
  }
  char copy[4096];
  for (long i = 1 - warmup; i <= reloads; i++) {
    snprintf(copy, sizeof copy, "%s/floor-%d-%ld.so", argv[4], (int)getpid(), i + warmup);
    if (copy_file(i % 2 ? argv[3] : argv[2], copy) != 0) {
      fprintf(stderr, "load_floor: cannot copy to %s\n", copy);
      return 1;
    }
    void *h = lmid != LM_ID_BASE ? dlmopen(lmid, copy, RTLD_NOW | RTLD_LOCAL)
                                 : dlopen(copy, RTLD_NOW | RTLD_LOCAL | (deepbind ? RTLD_DEEPBIND : 0));
    unlink(copy);
    if (h == NULL) {
      fprintf(stderr, "load_floor: %s\n", dlerror());
      return 1;
    }
    int (*version)(void) = (int (*)(void))dlsym(h, "plugin_version");
    if (version == NULL || version() != (i % 2 ? 2 : 1)) {
      fprintf(stderr, "load_floor: plugin_version missing or wrong\n");
      return 1;
    }
    dlclose(h);
    if (i >= 0 && i % every == 0) {
      printf("%ld %ld\n", i, rss_anon_kib());
      fflush(stdout);
    }
  }
  return 0;
}
