/* A plugin loader: dlopen of a module with the caller's flags, the address of one of its symbols,
 * dlclose. RTLD_GLOBAL from inside a dlmopen namespace is what glibc 2.36 crashes on. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

/* 1 when `path` loads with `flags` and defines `symbol`, 0 otherwise. */
int load_module(const char *path, int flags, const char *symbol) {
  void *h = dlopen(path, flags);
  if (!h) return 0;
  int found = dlsym(h, symbol) != NULL;
  dlclose(h);
  return found;
}
