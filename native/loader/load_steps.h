// The steps of the load and retire pipelines (load_job.h) that live in files of their own, and what
// those files share. Loader-internal: nothing outside native/loader/ includes it.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "common/proc_maps.h"
#include "elf/elf_reader.h"
#include "image/library_handle.h"
#include "loader/load_job.h"
#include "namespace/namespace_pool.h"

namespace dlswap {

inline double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

// A failed step: the code and message in `out`, and false for the caller to return.
inline bool Fail(LoadResult &out, const std::string &code, const std::string &message) {
  out.code = code;
  out.message = message;
  return false;
}

// ---- image_open.cc ------------------------------------------------------------------------------
// dlopen or dlmopen of `file` in the isolation mode (`ns`: the namespace modes' namespace).
void *OpenImage(Isolation iso, NamespaceRecord *ns, const std::string &file);
// The object already loaded under `name` in the namespace the load goes to, or null.
void *OpenLoaded(Isolation iso, NamespaceRecord *ns, const std::string &name);
// The handle's libc entry points and identity, as NativeLibrary exposes them.
LibraryRef MakeHandle(void *h, Isolation iso, NamespaceRecord *ns, const std::string &shown_path);
// dlerror's text, or a stand-in when it has none.
std::string TakeDlerror();

// ---- load_checks.cc -----------------------------------------------------------------------------
// The mode's refusals, decided on one file's headers (the library's or a private dependency's)
// before any of its code runs. Fills out.code, out.message and out.symbols when it refuses.
bool Refused(const LoadSpec &spec, const ElfInfoStruct &elf, LoadResult &out);
// The dynamic loader's words with dlswap's private names put back.
std::string Unrenamed(std::string text, const LoadResult &out);
// Every dependency bound to the file it would load on its own; ERR_DLSWAP_DEPENDENCY_MISMATCH in
// `out` otherwise.
bool CheckBindings(LoadResult &out);
// Why the generation must stay mapped when retired ("" when it may be unmapped).
std::string DerivedFromShared(const LoadResult &out);
std::string ExitHandlersOutlive(const LoadSpec &spec, const LoadResult &out);

// ---- retire_job.cc ------------------------------------------------------------------------------
// Names, source notes, origin records and copy files of images that are gone (`mapped[i]` false);
// those of images still mapped stay.
void ReleaseUnmapped(const std::vector<LibraryRef> &images, const std::vector<bool> &mapped);

}  // namespace dlswap
