/* Controls for bench/reload.mjs: what loading a library costs the rest of the process when nothing
 * of dlswap is involved. The benchmark runs these on a thread of their own, at a reload's cadence,
 * beside the same async load that it measures reloads against. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* dlopen and dlclose of the same file: its pages stay in the page cache. 0, or -1 if it would not
 * load. */
int load_cycle(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) return -1;
  dlclose(h);
  return 0;
}

/* What any design that keeps two generations apart by file does: a fresh copy of `path` in `dir`,
 * loaded, unlinked while mapped, and closed. 0, or a negative step number on failure. */
int copy_load_cycle(const char *path, const char *dir) {
  static unsigned seq = 0;
  char copy[4096];
  if (snprintf(copy, sizeof copy, "%s/cycle-%d-%u.so", dir, (int)getpid(), ++seq) >= (int)sizeof copy) return -1;
  int in = open(path, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -2;
  int out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
  if (out < 0) {
    close(in);
    return -3;
  }
  char buf[1 << 16];
  ssize_t n;
  int failed = 0;
  while ((n = read(in, buf, sizeof buf)) > 0) {
    if (write(out, buf, (size_t)n) != n) {
      failed = 1;
      break;
    }
  }
  close(in);
  close(out);
  void *h = failed || n < 0 ? NULL : dlopen(copy, RTLD_NOW | RTLD_LOCAL);
  unlink(copy);
  if (h == NULL) return -4;
  dlclose(h);
  return 0;
}
