// The retire pipeline (load_job.h): fini, the stdio flush, the holders check, dlclose of the library
// and then of its dependencies, and whether the image is really gone.
#include <dlfcn.h>

#include <chrono>

#include "common/dl_symbol.h"
#include "common/faults.h"
#include "loader/closure_copy.h"
#include "loader/load_steps.h"
#include "loader/loader_pool.h"

namespace dlswap {

// Names and source notes of images that are gone; those of images still mapped stay reserved.
void ReleaseUnmapped(const std::vector<LibraryRef> &images, const ProcMaps &maps) {
  for (const LibraryRef &r : images) {
    if (!r || r->copy_name.empty() || maps.Maps(r->mapped_path)) continue;
    ForgetCopySource(r->copy_name);
    for (const std::string &n : r->private_names) ReleasePrivateName(n);
    r->private_names.clear();
  }
}

void RunRetire(const RetireSpec &spec, RetireResult &out) {
  using clock = std::chrono::steady_clock;
  LibraryHandle &lib = *spec.lib;
  auto t = clock::now();
  out.finalized = !spec.run_fini;
  if (spec.run_fini) {
    if (auto fini = ResolveSymbol<void (*)()>(lib.handle, "dlswap_fini")) {
      // The bound covers the 'in-fini' point too, where a test makes a fini that never returns.
      LoaderPool::Deadline bound(spec.fini_timeout_ms, spec.on_fini_timeout);
      if (HitFault("in-fini") == FaultAction::Throw) {
        out.step = "fini";
        out.code = "ERR_DLSWAP_INTERNAL";
        out.message = "injected fault at 'in-fini'";
        return;
      }
      fini();
    }
    out.finalized = true;
    out.fini_ms = Ms(t);
  }
  t = clock::now();
  for (const LibraryRef &r : std::vector<LibraryRef>{spec.lib}) {
    std::vector<ThreadNote> h = r->Holders();
    out.holders.insert(out.holders.end(), h.begin(), h.end());
  }
  // The dependencies loaded with it are in its closure: the library's check covers what closing
  // them could unmap.
  if (!out.holders.empty()) return;
  if (spec.keep_mapped) {
    // Finalised and closed to calls, never unmapped: what its C++ objects point to stays.
    if (lib.fflush_fn) lib.fflush_fn(nullptr);
    lib.keep_mapped = true;
    for (const LibraryRef &d : spec.deps) d->keep_mapped = true;
    out.kept_mapped = true;
    out.still_loaded = true;
    out.deps_mapped.assign(spec.deps.size(), true);
    return;
  }
  if (HitFault("before-dlclose") == FaultAction::Throw) {
    out.step = "dlclose";
    out.code = "ERR_DLSWAP_INTERNAL";
    out.message = "injected fault at 'before-dlclose'";
    return;
  }
  const Lmid_t lmid = lib.lmid;
  const bool fresh = lib.isolation == Isolation::FreshNamespace;
  const std::string loader_name = lib.loader_name;
  const std::string shown = lib.mapped_path;
  std::string error;
  out.rc = lib.Close(&error);
  out.dlclose_error = error;
  out.closed = lib.closed;
  for (auto it = spec.deps.rbegin(); it != spec.deps.rend(); ++it) (*it)->Close(nullptr);
  if (!out.closed) {
    out.step = "dlclose";
    out.code = "ERR_DLSWAP_BUSY";
    out.message = error;
    return;
  }
  // Is it really gone? An RTLD_NOLOAD probe of the name it was loaded under, in its namespace, and
  // the mappings of the process.
  void *probe = nullptr;
  dlerror();
  if (lib.isolation == Isolation::Local || lib.isolation == Isolation::DeepBind) {
    probe = dlopen(loader_name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  } else if (NamespaceAlive(lmid)) {
    probe = dlmopen(lmid, loader_name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  }
  dlerror();
  if (probe) dlclose(probe);
  const ProcMaps maps;
  out.still_loaded = probe != nullptr || maps.Maps(shown);
  for (const LibraryRef &d : spec.deps) out.deps_mapped.push_back(maps.Maps(d->mapped_path));
  std::vector<LibraryRef> images = spec.deps;
  images.push_back(spec.lib);
  ReleaseUnmapped(images, maps);
  if (fresh) out.namespace_freed = !NamespaceAlive(lmid);
  out.close_ms = Ms(t);
  if (HitFault("after-dlclose") == FaultAction::Throw) {
    out.step = "after-dlclose";
    out.code = "ERR_DLSWAP_INTERNAL";
    out.message = "injected fault at 'after-dlclose'";
  }
}

}  // namespace dlswap
