/* The C floor of a reload, for bench/reload.mjs: the same physical work a namespace-mode reload of a
 * small plugin does, with nothing else. Each reload copies the next file (alternating two) into a new
 * file with sendfile (a new inode, as dlswap's private copies), dlmopen's it into one anchor
 * namespace made at the start, resolves and calls plugin_version(), unlinks the copy, and dlcloses
 * the previous copy. The benchmark compiles this file at run time with the system's cc, twice:
 *
 *   -DRELOAD_FLOOR_MAIN: a program that reads a count on each line of stdin, does that many reloads,
 *   and prints one line: per reload, microseconds up to the call and to the end of the close;
 *       reload_floor <lib1> <lib2> <dir>
 *   -shared: floor_cycle(lib1, lib2, dir), one reload per call, for the benchmark's control thread
 *   (the same load beside the bare C loop). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static Lmid_t anchor_lmid = -1;
static void *previous = NULL;
static unsigned long seq = 0;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* One long-lived namespace, as dlswap's anchor: every generation goes into it. */
static int ensure_anchor(void) {
  if (anchor_lmid != -1) return 0;
  void *anchor = dlmopen(LM_ID_NEWLM, "libc.so.6", RTLD_NOW | RTLD_LOCAL);
  if (anchor == NULL || dlinfo(anchor, RTLD_DI_LMID, &anchor_lmid) != 0) return -1;
  return 0;
}

static int copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  struct stat st;
  int out = fstat(in, &st) == 0 ? open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700) : -1;
  if (out < 0) {
    close(in);
    return -1;
  }
  off_t off = 0;
  int rc = 0;
  while (off < st.st_size) {
    ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));
    if (n <= 0) {
      rc = -1;
      break;
    }
  }
  close(in);
  close(out);
  return rc;
}

/* One reload: 0, or a negative step number. `swap_us`/`whole_us` (when not NULL) get the time up to
 * the call of the new copy, and to the end of the previous one's close. */
static int reload_once(const char *lib1, const char *lib2, const char *dir, double *swap_us, double *whole_us) {
  if (ensure_anchor() != 0) return -1;
  char copy[4096];
  const unsigned long i = ++seq;
  if (snprintf(copy, sizeof copy, "%s/floor-%d-%lu.so", dir, (int)getpid(), i) >= (int)sizeof copy) return -2;
  const double t0 = now_us();
  if (copy_file(i % 2 ? lib1 : lib2, copy) != 0) return -3;
  void *h = dlmopen(anchor_lmid, copy, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    unlink(copy);
    return -4;
  }
  int (*version)(void) = (int (*)(void))dlsym(h, "plugin_version");
  const int v = version ? version() : -1;
  const double t1 = now_us();
  unlink(copy);
  if (previous != NULL) dlclose(previous);
  previous = h;
  const double t2 = now_us();
  if (v != (i % 2 ? 1 : 2)) return -5;
  if (swap_us) *swap_us = t1 - t0;
  if (whole_us) *whole_us = t2 - t0;
  return 0;
}

int floor_cycle(const char *lib1, const char *lib2, const char *dir) { return reload_once(lib1, lib2, dir, NULL, NULL); }

#ifdef RELOAD_FLOOR_MAIN
int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <lib1> <lib2> <dir>\n", argv[0]);
    return 2;
  }
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    const long n = atol(line);
    for (long k = 0; k < n; k++) {
      double s = 0, w = 0;
      const int rc = reload_once(argv[1], argv[2], argv[3], &s, &w);
      if (rc != 0) {
        fprintf(stderr, "reload_floor: reload failed at step %d: %s\n", -rc, rc == -4 ? dlerror() : "");
        return 1;
      }
      printf("%s%.2f %.2f", k ? " " : "", s, w);
    }
    printf("\n");
    fflush(stdout);
  }
  if (previous != NULL) dlclose(previous);
  return 0;
}
#endif
