/*
 * Where a library loaded by dlswap lives, as the library itself asks (origin_abi.h): dladdr,
 * dladdr1, dlinfo(RTLD_DI_ORIGIN) and dl_iterate_phdr name the file it was copied from, and
 * dlopen/dlmopen find what is beside that file ("$ORIGIN/...", or a bare name through the library's
 * own RPATH/RUNPATH, as the dynamic loader would have searched them for it).
 *
 * Built twice: into libdlswap_runtime.so (the namespace modes) and into the addon (local and
 * deepbind); each copy is attached to the host once. The copy's imports of the six functions are
 * renamed to the names defined here, so these run only for dlswap's copies; everything else keeps
 * glibc's functions.
 *
 * These forward to glibc from here, which changes what glibc thinks of the caller: dlopen takes the
 * caller's namespace, $ORIGIN and search path from its return address, dl_iterate_phdr the
 * namespace it reports. The namespace is right (this code sits in the caller's namespace); $ORIGIN
 * and the search path are resolved here, before glibc sees the name.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "origin_abi.h"

#define EXPORT __attribute__((visibility("default")))

/* Written once by dlswap_origin_attach, before any copy that binds here is loaded. */
static const dlswap_origin_host *origin_host;

EXPORT int dlswap_origin_attach(const dlswap_origin_host *h) {
  if (h == NULL || h->abi != DLSWAP_ORIGIN_ABI || h->struct_size < sizeof(dlswap_origin_host)) return -1;
  origin_host = h;
  return 0;
}

/* The dlswap image the address is in, with its answers redirected. */
static int redirected_image_at(const void *address, dlswap_origin_image *img) {
  return origin_host && origin_host->image_at(address, img) && img->redirect;
}

#ifdef DLSWAP_ORIGIN_IN_RUNTIME
#include "runtime_internal.h"

/* In a namespace the request was served once, on entry (served_request below): glibc's own open,
 * past the runtime's dlopen, which would note origin.c as the caller of every step. */
static void *open_in(int use_lmid, Lmid_t lmid, const char *file, int mode) {
  const dlswap_dl_request r = {use_lmid, lmid, file, mode};
  return dlswap_runtime_dl_open(r);
}

/* What the namespace's runtime makes of the library's request (runtime_dl.c: dlopen(NULL), RTLD_GLOBAL,
 * LM_ID_BASE), said for the library that asked. */
static dlswap_dl_request served_request(int use_lmid, Lmid_t lmid, const char *file, int mode, const void *caller) {
  const dlswap_dl_request r = {use_lmid, lmid, file, mode};
  return dlswap_runtime_dl_serve(r, caller);
}
#else
static void *open_in(int use_lmid, Lmid_t lmid, const char *file, int mode) {
  return use_lmid ? dlmopen(lmid, file, mode) : dlopen(file, mode);
}
#endif

/* dlopen fails, and dlerror then says `why` (its path does not exist: it names no directory). The
 * library's own error handling prints dlerror, so the reason reaches whoever reads its output. */
static void *refuse(int use_lmid, Lmid_t lmid, const char *why) {
  char text[PATH_MAX * 3];
  snprintf(text, sizeof text, "dlswap/ refused: %s", why);
  /* No dynamic string token in the name: glibc would expand it. */
  char *to = text;
  for (const char *from = text; *from; ++from) {
    if (*from != '$') *to++ = *from;
  }
  *to = '\0';
  return open_in(use_lmid, lmid, text, RTLD_LAZY | RTLD_NOLOAD);
}

/* `$ORIGIN` or `${ORIGIN}` at `p` (a whole token: not followed by a name character); its length. */
static size_t origin_token(const char *p) {
  size_t n = 0;
  if (strncmp(p, "$ORIGIN", 7) == 0) n = 7;
  else if (strncmp(p, "${ORIGIN}", 9) == 0) return 9;
  else return 0;
  const char c = p[n];
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ? 0 : n;
}

static int has_origin_in(const char *s, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (origin_token(s + i)) return 1;
  }
  return 0;
}

static int has_origin(const char *s) { return has_origin_in(s, strlen(s)); }

/* `in` (of `len` bytes) with every $ORIGIN replaced by the image's directory. 0 if it does not fit. */
static int substitute(const char *in, size_t len, const dlswap_origin_image *img, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    const size_t t = origin_token(in + i);
    const char *piece = t ? img->source : in + i;
    const size_t n = t ? img->source_dir_len : 1;
    if (o + n >= cap) return 0;
    memcpy(out + o, piece, n);
    o += n;
    i += t ? t : 1;
  }
  out[o] = '\0';
  return 1;
}

/* Whether `path` is a shared object the dynamic loader would take for this process: a search goes
 * on past one of another class or machine, as the loader's does. */
static int loadable(const char *path) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ElfW(Ehdr) eh;
  const ssize_t n = pread(fd, &eh, sizeof eh, 0);
  close(fd);
#if defined(__x86_64__)
  const int machine = EM_X86_64;
#elif defined(__aarch64__)
  const int machine = EM_AARCH64;
#endif
  return n == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
         eh.e_machine == machine;
}

/* Looks `file` up in one search path (colon-separated) of the library, as the dynamic loader would:
 * the first directory that has a loadable file of that name serves, whether the load then succeeds
 * or not. Returns 1 with the result in *out when a directory served. */
static int search(const char *list, const char *file, int mode, int use_lmid, Lmid_t lmid, const dlswap_origin_image *img, void **out) {
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ':');
    const size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *next = end ? end + 1 : p + len;
    char dir[PATH_MAX], candidate[PATH_MAX];
    /* Not redirected: the library's directory is one others can change (origin_abi.h). */
    const int untrusted_origin = !img->redirect && has_origin_in(p, len);
    const int ok = len == 0 ? (strcpy(dir, "."), 1) : substitute(p, len, img, dir, sizeof dir);
    p = next;
    if (!ok || snprintf(candidate, sizeof candidate, "%s/%s", dir, file) >= (int)sizeof candidate) continue;
    if (strchr(candidate, '$')) {
      /* $LIB or $PLATFORM: glibc knows their values; they do not depend on the caller. */
      void *h = open_in(use_lmid, lmid, candidate, mode);
      if (h) {
        *out = h;
        return 1;
      }
      continue;
    }
    if (!loadable(candidate)) continue;
    if (untrusted_origin || !origin_host->trusted_dir(dir)) {
      /* Refused rather than passed over: a search that went on could find another file of the
       * name (the system's) and the library would get it without a word. */
      char why[PATH_MAX * 2 + 128];
      snprintf(why, sizeof why, "%s is in %s, a directory other users can change; dlswap does not load code from it", candidate, dir);
      *out = refuse(use_lmid, lmid, why);
      return 1;
    }
    *out = open_in(use_lmid, lmid, candidate, mode);
    return 1;
  }
  return 0;
}

static void *origin_open(int use_lmid, Lmid_t lmid, const char *file, int mode, const void *caller) {
  dlswap_origin_image img;
  if (!file || !origin_host || !origin_host->image_at(caller, &img)) return open_in(use_lmid, lmid, file, mode);
  if (strchr(file, '/')) {
    char expanded[PATH_MAX];
    if (has_origin(file)) {
      if (!img.redirect) {
        char why[PATH_MAX + 128];
        snprintf(why, sizeof why, "%.*s, the directory of the library, can be changed by other users, so %s is not looked up there",
                 (int)img.source_dir_len, img.source, file);
        return refuse(use_lmid, lmid, why);
      }
      if (!substitute(file, strlen(file), &img, expanded, sizeof expanded)) return open_in(use_lmid, lmid, file, mode);
      file = expanded;
    }
    /* Its own original path (what dladdr told it): the image it is, as it would be without dlswap. */
    if (img.redirect && strcmp(file, img.source) == 0) file = img.loaded_as;
    return open_in(use_lmid, lmid, file, mode);
  }
  /* A bare name: an object already loaded under it, then the library's own search path, then the
   * system's (which glibc searches from here the same way it would have from the library). */
  void *h = open_in(use_lmid, lmid, file, mode | RTLD_NOLOAD);
  if (h) return h;
  if (*img.rpath && !*img.runpath && search(img.rpath, file, mode, use_lmid, lmid, &img, &h)) return h;
  if (search(origin_host->library_path, file, mode, use_lmid, lmid, &img, &h)) return h;
  if (*img.runpath && search(img.runpath, file, mode, use_lmid, lmid, &img, &h)) return h;
  return open_in(use_lmid, lmid, file, mode);
}

/* The name a dladdr-style answer should carry for an object at `base` named `name`. */
static const char *answer_name(const void *base, const char *name) {
  dlswap_origin_image img;
  if (name && redirected_image_at(base, &img) && strcmp(name, img.loaded_as) == 0) return img.source;
  return name;
}

#ifdef DLSWAP_ORIGIN_IN_RUNTIME
static void *served_open(int use_lmid, Lmid_t lmid, const char *file, int mode, const void *caller) {
  const dlswap_dl_request r = served_request(use_lmid, lmid, file, mode, caller);
  return origin_open(r.use_lmid, r.lmid, r.file, r.mode, caller);
}
#else
#define served_open origin_open
#endif

EXPORT void *dlswOp(const char *file, int mode) { return served_open(0, 0, file, mode, __builtin_return_address(0)); }

EXPORT void *dlswMop(Lmid_t lmid, const char *file, int mode) { return served_open(1, lmid, file, mode, __builtin_return_address(0)); }

EXPORT int dlswAa(const void *address, Dl_info *info) {
  const int r = dladdr(address, info);
  if (r) info->dli_fname = answer_name(info->dli_fbase, info->dli_fname);
  return r;
}

EXPORT int dlswAa1(const void *address, Dl_info *info, void **extra, int flags) {
  const int r = dladdr1(address, info, extra, flags);
  if (r) info->dli_fname = answer_name(info->dli_fbase, info->dli_fname);
  return r;
}

EXPORT int dlswIn(void *handle, int request, void *arg) {
  const int r = dlinfo(handle, request, arg);
  dlswap_origin_image img;
  if (r == 0 && request == RTLD_DI_ORIGIN && origin_host && origin_host->image_of(handle, &img) && img.redirect) {
    memcpy(arg, img.source, img.source_dir_len);
    ((char *)arg)[img.source_dir_len] = '\0';
  }
  return r;
}

struct iterate_call {
  int (*callback)(struct dl_phdr_info *, size_t, void *);
  void *data;
};

static int iterate_one(struct dl_phdr_info *info, size_t size, void *data) {
  const struct iterate_call *call = data;
  const char *name = answer_name((const void *)info->dlpi_addr, info->dlpi_name);
  if (name == info->dlpi_name || size > sizeof(struct dl_phdr_info)) return call->callback(info, size, call->data);
  struct dl_phdr_info shown;
  memcpy(&shown, info, size);
  shown.dlpi_name = name;
  return call->callback(&shown, size, call->data);
}

EXPORT int dlsw_iter_phdrs(int (*callback)(struct dl_phdr_info *, size_t, void *), void *data) {
  struct iterate_call call = {callback, data};
  return dl_iterate_phdr(iterate_one, &call);
}
