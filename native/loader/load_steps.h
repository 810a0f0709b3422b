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
#include "namespace/runtime_exit.h"

namespace dlswap {

inline double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

// What a step of library code that overran its bound is told as: "<what> did not return within N
// ms", and, for a step that holds the dynamic loader's lock (constructors, destructors), what that
// means to the process.
std::string Overran(const std::string &what, double ms, bool holds_loader_lock);

// ---- image_open.cc ------------------------------------------------------------------------------
// dlopen or dlmopen of `file` in the isolation mode (`ns`: the namespace modes' namespace).
void *OpenImage(Isolation iso, NamespaceRecord *ns, const std::string &file);
// The object already loaded under `name` in the namespace the load goes to, or null.
void *OpenLoaded(Isolation iso, NamespaceRecord *ns, const std::string &name);
// The handle's libc entry points and identity, as NativeLibrary exposes them. Its last reference
// going closes it if nobody did (DeleteLibraryHandle).
LibraryRef MakeHandle(void *h, Isolation iso, NamespaceRecord *ns, const std::string &shown_path);

// ---- unreferenced.cc ----------------------------------------------------------------------------
// The deleter of every LibraryRef: an image still open is closed on the loader thread, then freed.
void DeleteLibraryHandle(LibraryHandle *image);
// dlerror's text, or a stand-in when it has none.
std::string TakeDlerror();

// ---- library_code.cc -----------------------------------------------------------------------------
// Library code the load runs, with exit(), abort() and the like in it turned into a failed load
// (namespace/runtime_exit.h) where the mode allows: ERR_DLSWAP_EXIT_DURING_LOAD in `out`, and what
// the code left behind is kept mapped, unused, for the life of the process.
//
// OpenImage, constructors included; `shown` names the image in messages. false: a constructor tried
// to end the process, and `handle` is null.
bool OpenRunningConstructors(const LoadSpec &spec, NamespaceRecord *ns, const std::string &file, const std::string &shown, LoadResult &out,
                             void *&handle);
// Records in `out` that `entry` (a constructor, dlswap_init...) of `image` tried to end the process.
bool FailEnded(LoadResult &out, const LibraryEnd &end, const std::string &entry, const std::string &image);
// A plugin entry point of the library (out.lib), the same way: false, and out.lib kept mapped, if it
// tried to end the process.
template <typename F>
bool RunEntryPoint(const LoadSpec &spec, LoadResult &out, const char *entry, F &&f) {
  LibraryEnd end;
  LibraryCodeSite site;
  site.doing = std::string(entry) + " of " + spec.path + " ran";
  site.handle = out.lib ? out.lib->handle.load() : nullptr;
  if (CallLibraryCode(site, std::forward<F>(f), end)) return true;
  out.keep_mapped = std::string("its ") + entry + " called " + EndCallText(end);
  return FailEnded(out, end, entry, spec.path);
}

// ---- load_checks.cc -----------------------------------------------------------------------------
// The mode's refusals, decided on one file's headers (the library's or a private dependency's)
// before any of its code runs. Fills out.error and out.symbols when it refuses.
bool Refused(const LoadSpec &spec, const ElfInfoStruct &elf, LoadResult &out);
// What the dependency plan found that no load may go on with: a closure too large to plan, a file
// in a search path that the dynamic loader would stop at (a FIFO would block it for ever, holding
// its lock), a file another user could replace (unless spec.allow_replaceable). Fills out.error when
// it refuses.
bool PlanRefused(const LoadSpec &spec, LoadResult &out);
// The dynamic loader's words with dlswap's private names put back.
std::string Unrenamed(std::string text, const LoadResult &out);
// Every dependency bound to the file it would load on its own; ERR_DLSWAP_DEPENDENCY_MISMATCH in
// `out` otherwise.
bool CheckBindings(LoadResult &out);
// Why the generation must stay mapped when retired ("" when it may be unmapped).
std::string DerivedFromShared(const LoadResult &out);
std::string ExitHandlersOutlive(const LoadSpec &spec, const LoadResult &out);

// ---- retire_job.cc ------------------------------------------------------------------------------
// The user's name for an image in messages: the file its copy was made from.
std::string SourceName(const LibraryHandle &image);
// Names, source notes, origin records and copy files of images that are gone (`mapped[i]` false);
// those of images still mapped stay.
void ReleaseUnmapped(const std::vector<LibraryRef> &images, const std::vector<bool> &mapped);

}  // namespace dlswap
