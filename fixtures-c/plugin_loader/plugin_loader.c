/*
 * plugin_loader: a library that loads modules at run time the way plugin frameworks do (GModule,
 * oneTBB's allocator, libltdl): dlopen(..., RTLD_GLOBAL), then finds their symbols through the
 * global scope (dlsym(RTLD_DEFAULT), dlopen(NULL)) and loads modules that expect them there.
 * Every entry returns a number the test compares, or a negative one saying which step failed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#define LOADER_MAX 8
static void *opened[LOADER_MAX];
static int nopened;

static int keep(void *h) {
  if (h == NULL) return -1;
  if (nopened < LOADER_MAX) opened[nopened++] = h;
  return 0;
}

/* dlopen(module, RTLD_NOW | RTLD_GLOBAL): 0, or -1 (dlerror for the details). */
int loader_open_global(const char *module) { return keep(dlopen(module, RTLD_NOW | RTLD_GLOBAL)); }

/* What `symbol` (int f(void)) returns when found through the global scope: -2 if not found. */
int loader_call_default(const char *symbol) {
  int (*f)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, symbol);
  return f ? f() : -2;
}

/* The same, through the handle of "the program", dlopen(NULL): -3 if dlopen(NULL) failed. */
int loader_call_self(const char *symbol) {
  void *self = dlopen(NULL, RTLD_LAZY);
  if (self == NULL) return -3;
  int (*f)(void) = (int (*)(void))dlsym(self, symbol);
  int r = f ? f() : -2;
  dlclose(self);
  return r;
}

/* Loads `module`, whose undefined symbols a global module defines, and calls its `symbol`: -1 if it
 * did not load (an undefined symbol), -2 if `symbol` is missing. */
int loader_open_dependent(const char *module, const char *symbol) {
  void *h = dlopen(module, RTLD_NOW);
  if (keep(h) != 0) return -1;
  int (*f)(void) = (int (*)(void))dlsym(h, symbol);
  return f ? f() : -2;
}

/* dlopen by a bare name that only this library's RUNPATH leads to, with RTLD_GLOBAL: what `symbol`
 * returns, -1 if it was not found (dlopen searched someone else's RUNPATH). */
int loader_open_by_runpath(const char *name, const char *symbol) {
  void *h = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
  if (keep(h) != 0) return -1;
  int (*f)(void) = (int (*)(void))dlsym(h, symbol);
  return f ? f() : -2;
}

/* dlmopen(LM_ID_BASE, module, RTLD_NOW | RTLD_GLOBAL): the namespace the module went to, or -1. */
long loader_dlmopen_base(const char *module) {
  void *h = dlmopen(LM_ID_BASE, module, RTLD_NOW | RTLD_GLOBAL);
  if (keep(h) != 0) return -1;
  Lmid_t lmid = -1;
  return dlinfo(h, RTLD_DI_LMID, &lmid) == 0 ? (long)lmid : -4;
}

/* Closes what it opened, newest first: the number of handles closed. */
int loader_close_all(void) {
  int n = 0;
  while (nopened > 0) n += dlclose(opened[--nopened]) == 0;
  return n;
}
