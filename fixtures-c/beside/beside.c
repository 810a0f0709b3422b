/*
 * A library that keeps what it needs beside itself, the way real ones do (plugin loaders, libraries
 * with data files, libraries that bundle a dependency): a module it loads at run time, a data file,
 * and its own build of a library the system also has (libz.so.1 here, with another version string).
 * Each function finds one of them the way such libraries do, and returns what it found (negative or
 * NULL when it found nothing). Built twice (BESIDE_VERSION 1 and 2) for reloads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <link.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#ifndef BESIDE_VERSION
#define BESIDE_VERSION 1
#endif

int beside_version(void) { return BESIDE_VERSION; }

/* The directory of this library as dladdr names it. */
static int own_dir(char *out, size_t cap) {
  Dl_info info;
  if (!dladdr((void *)own_dir, &info) || !info.dli_fname) return -1;
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", info.dli_fname);
  return snprintf(out, cap, "%s", dirname(copy)) < (int)cap ? 0 : -1;
}

static int call_answer(void *h) {
  if (!h) return -1;
  int (*answer)(void) = (int (*)(void))dlsym(h, "module_answer");
  const int r = answer ? answer() : -2;
  dlclose(h);
  return r;
}

/* A module named with $ORIGIN, as plugin loaders do. */
int beside_module_origin(void) { return call_answer(dlopen("$ORIGIN/libbeside_module.so", RTLD_NOW | RTLD_LOCAL)); }

/* A module found from the directory dladdr gives. Its name ends in "dladdr": the linker stores the
 * import's name as the tail of this one (readelf -p .dynstr shows "beside_module_dladdr" and no
 * "dladdr" of its own), so dlswap cannot rename the import in place and gives it a new name instead. */
int beside_module_dladdr(void) {
  char dir[PATH_MAX], path[PATH_MAX + 32];
  if (own_dir(dir, sizeof dir) != 0) return -1;
  snprintf(path, sizeof path, "%s/libbeside_module.so", dir);
  return call_answer(dlopen(path, RTLD_NOW | RTLD_LOCAL));
}

/* The first line of beside.dat, next to the library, into `out`; its length, or -1. */
int beside_data(char *out, size_t cap) {
  char dir[PATH_MAX], path[PATH_MAX + 32];
  if (own_dir(dir, sizeof dir) != 0) return -1;
  snprintf(path, sizeof path, "%s/beside.dat", dir);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  if (!fgets(out, (int)cap, f)) out[0] = '\0';
  fclose(f);
  out[strcspn(out, "\n")] = '\0';
  return (int)strlen(out);
}

static const char *zlib_version_of(void *h) {
  if (!h) return NULL;
  const char *(*version)(void) = (const char *(*)(void))dlsym(h, "zlibVersion");
  return version ? version() : NULL; /* kept loaded: the string lives in it */
}

/* Its bundled zlib, by path... */
const char *beside_zlib_origin(void) { return zlib_version_of(dlopen("$ORIGIN/libz.so.1", RTLD_NOW | RTLD_LOCAL)); }
/* ...and by soname, through its RUNPATH ($ORIGIN): what a library that links zlib at run time does. */
const char *beside_zlib_soname(void) { return zlib_version_of(dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL)); }

/* dlinfo(RTLD_DI_ORIGIN) on its own handle, reopened by the name dladdr gives. */
int beside_dlinfo_origin(char *out, size_t cap) {
  Dl_info info;
  if (!dladdr((void *)beside_dlinfo_origin, &info)) return -1;
  void *self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (!self) return -2;
  char origin[PATH_MAX];
  const int r = dlinfo(self, RTLD_DI_ORIGIN, origin);
  dlclose(self);
  if (r != 0) return -3;
  return snprintf(out, cap, "%s", origin) < (int)cap ? (int)strlen(out) : -4;
}

struct find_self {
  const void *address;
  char name[PATH_MAX];
};

static int visit(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct find_self *f = data;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    const char *lo = (const char *)(info->dlpi_addr + ph->p_vaddr);
    if (ph->p_type == PT_LOAD && (const char *)f->address >= lo && (const char *)f->address < lo + ph->p_memsz) {
      snprintf(f->name, sizeof f->name, "%s", info->dlpi_name);
      return 1;
    }
  }
  return 0;
}

/* The name dl_iterate_phdr gives the object that holds this function. */
int beside_iterate_name(char *out, size_t cap) {
  struct find_self f = {(const void *)beside_iterate_name, ""};
  if (!dl_iterate_phdr(visit, &f)) return -1;
  return snprintf(out, cap, "%s", f.name) < (int)cap ? (int)strlen(out) : -2;
}

/* What dlerror says after a lookup above came back empty. */
const char *beside_dlerror(void) { return dlerror(); }
