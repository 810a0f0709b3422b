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

namespace {

// Where an image's file is mapped, taken while it is loaded: the place to look for it once it is
// closed. {0, 0} when its mappings could not be found (then the whole listing is searched).
struct Span {
  uintptr_t start = 0, end = 0;
};

Span SpanOf(const LibraryHandle &image, ProcMaps &maps) {
  if (!image.handle || !image.map) return {};
  const std::vector<Mapping> run = maps.FileRun(reinterpret_cast<uintptr_t>(image.map->l_ld));
  if (run.empty()) return {};
  return {run.front().start, run.back().end};
}

// Whether the image's file is still mapped. The dynamic loader maps an object in one reservation
// and unmaps it whole, so its former span is where any of it would be left.
bool StillMapped(const LibraryHandle &image, const Span &span, ProcMaps &maps) {
  return span.end ? maps.MapsIn(span.start, span.end, image.mapped_path) : maps.Maps(image.mapped_path);
}

}  // namespace

void ReleaseUnmapped(const std::vector<LibraryRef> &images, const std::vector<bool> &mapped) {
  for (size_t i = 0; i < images.size(); ++i) {
    const LibraryRef &r = images[i];
    if (!r || r->copy_name.empty() || mapped[i]) continue;
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
  Span lib_span;
  std::vector<Span> dep_spans;
  {
    ProcMaps before;
    lib_span = SpanOf(lib, before);
    for (const LibraryRef &d : spec.deps) dep_spans.push_back(SpanOf(*d, before));
  }
  const Lmid_t lmid = lib.lmid;
  const bool fresh = lib.isolation == Isolation::FreshNamespace;
  const std::string loader_name = lib.loader_name;
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
  ProcMaps after;
  const bool lib_mapped = StillMapped(lib, lib_span, after);
  out.still_loaded = probe != nullptr || lib_mapped;
  for (size_t i = 0; i < spec.deps.size(); ++i) out.deps_mapped.push_back(StillMapped(*spec.deps[i], dep_spans[i], after));
  std::vector<LibraryRef> images = spec.deps;
  images.push_back(spec.lib);
  std::vector<bool> mapped = out.deps_mapped;
  mapped.push_back(lib_mapped);
  ReleaseUnmapped(images, mapped);
  if (fresh) out.namespace_freed = !NamespaceAlive(lmid);
  out.close_ms = Ms(t);
  if (HitFault("after-dlclose") == FaultAction::Throw) {
    out.step = "after-dlclose";
    out.code = "ERR_DLSWAP_INTERNAL";
    out.message = "injected fault at 'after-dlclose'";
  }
}

}  // namespace dlswap
