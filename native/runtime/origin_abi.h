/*
 * The contract between dlswap's addon (the host) and runtime/origin.c, the functions that answer a
 * loaded library's questions about where it lives: dladdr, dladdr1, dlinfo(RTLD_DI_ORIGIN),
 * dl_iterate_phdr, and dlopen/dlmopen of "$ORIGIN/..." or of a bare name searched through its own
 * RPATH/RUNPATH.
 *
 * Why: a library is mapped from its private copy, so the dynamic loader's answers name the copy and
 * its directory, where nothing else is. The copy's file keeps that name (debuggers, profilers and
 * core files need the file that is mapped), and the library's questions get the file it was copied
 * from instead. Its references to those six functions are renamed in the copy, to names of the same
 * length that only origin.c defines (ORIGIN_RENAMES below), so they bind here in every mode: in the
 * namespace modes origin.c is part of the runtime, the first object of the namespace; in `local`
 * and `deepbind` it is part of the addon, which dlswap adds to the global scope.
 *
 * Plain C on both sides. The host table is filled once and stays valid for the life of the process.
 */
#ifndef DLSWAP_ORIGIN_ABI_H
#define DLSWAP_ORIGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DLSWAP_ORIGIN_ABI 1u

/* One image dlswap mapped from a copy. The strings stay valid while the image is mapped. */
typedef struct dlswap_origin_image {
  const char *loaded_as; /* the name the dynamic loader knows it by (l_name): its copy */
  const char *source;    /* the real path of the file it was copied from */
  size_t source_dir_len; /* source[0, source_dir_len) is that file's directory */
  const char *rpath;     /* its own DT_RPATH and DT_RUNPATH as built ("" when absent) */
  const char *runpath;
  const void *handle; /* its link map, as dlopen returns it */
  /* 0 when its directory is not one to load from (someone else could change what is in it): then
   * the dynamic loader's own answers stand, and "$ORIGIN" is refused. */
  int redirect;
} dlswap_origin_image;

typedef struct dlswap_origin_host {
  uint32_t abi;
  uint32_t struct_size;
  /* The image whose mapping contains `address`, or whose handle is `handle`. 0 when none. Lock
   * free: safe inside a dl_iterate_phdr callback. */
  int (*image_at)(const void *address, dlswap_origin_image *out);
  int (*image_of)(const void *handle, dlswap_origin_image *out);
  /* Whether a library may be loaded from directory `dir` (any path; resolved here): nobody but the
   * user and root can change what is in it. */
  int (*trusted_dir)(const char *dir);
  /* LD_LIBRARY_PATH as the dynamic loader read it at startup ("" when none). */
  const char *library_path;
} dlswap_origin_host;

/* What a copy's imports are renamed to: each the length of the original, defined only by origin.c. */
#define DLSWAP_ORIGIN_RENAMES(X)      \
  X(dladdr, dlswAa)                   \
  X(dladdr1, dlswAa1)                 \
  X(dlinfo, dlswIn)                   \
  X(dl_iterate_phdr, dlsw_iter_phdrs) \
  X(dlopen, dlswOp)                   \
  X(dlmopen, dlswMop)

#ifdef __cplusplus
}
#endif

#endif /* DLSWAP_ORIGIN_ABI_H */
