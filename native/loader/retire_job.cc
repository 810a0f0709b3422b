// The retire pipeline (load_job.h): fini, the stdio flush, the holders check (and, when only threads
// the library started hold it, its destructors run first to stop them), dlclose of the library and
// then of its dependencies, and whether the image is really gone.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>

#include "common/dl_symbol.h"
#include "common/faults.h"
#include "image/early_destructors.h"
#include "image/process_hooks.h"
#include "loader/closure_copy.h"
#include "loader/load_steps.h"
#include "loader/loader_pool.h"
#include "loader/origin_step.h"

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

// What closing `lib` will unmap: the objects the holders check looked at and, in a fresh
// namespace (freed with its one library), everything in it, its libc included (where the handlers
// that libc installed return to).
ObjectList CodeThatGoes(const LibraryHandle &lib, const ObjectList &unmappable) {
  if (lib.isolation != Isolation::FreshNamespace || !lib.map) return unmappable;
  ObjectList all;
  WithLinkMapsLocked([&] { all = NamespaceObjects(lib.map); });
  return all;
}

// How long a retirement waits, once the library's destructors ran, for the threads it started to
// exit. A destructor that stops its pool usually joins it, so they are gone at the first look.
constexpr int kThreadExitWaitMs = 1000;

// Whether every holder is a thread the library (or what closes with it) started through the
// namespace runtime: threads whose exit dlswap sees, and that only the library itself can stop.
bool OnlyItsOwnThreads(const LibraryHandle::HolderScan &held) {
  return std::all_of(held.threads.begin(), held.threads.end(), [](const ThreadNote &n) { return n.recorded; });
}

// Runs the destructors of what the close would unmap (image/early_destructors.h), then waits,
// bounded, for exactly the holding threads to exit. False when the job must stop here: the
// destructors overran their bound (the job was abandoned) or an injected fault.
bool StopThreadsWithDestructors(const RetireSpec &spec, const LibraryHandle::HolderScan &held, RetireResult &out) {
  size_t ran = 0;
  {
    LoaderPool::Deadline bound(spec.fini_timeout_ms, spec.on_destructors_timeout);
    const bool ok = RunDestructorsEarly(held.objects, &ran, &out.destructors_error);
    out.destructors_ran = ok && std::any_of(held.objects.begin(), held.objects.end(), DestructorsRanEarly);
    if (bound.Expired()) {
      out.step = "destructors";
      out.code = "ERR_DLSWAP_TIMEOUT";
      out.message = "the library's destructors returned only after their timeout";
      return false;
    }
  }
  if (ran == 0) return true;  // ran in an earlier pass, or there are none: nothing new to wait for
  std::vector<pid_t> tids;
  for (const ThreadNote &n : held.threads) tids.push_back(n.tid);
  WaitForRuntimeThreadsToExit(tids, kThreadExitWaitMs);
  return true;
}

// Finalised and closed to calls, never unmapped (what its C++ objects point to stays): nothing is
// unmapped, so no thread or handler can lose its code, and none is looked for.
void KeepMapped(const RetireSpec &spec, RetireResult &out) {
  LibraryHandle &lib = *spec.lib;
  if (lib.fflush_fn) lib.fflush_fn(nullptr);
  lib.keep_mapped = true;
  for (const LibraryRef &d : spec.deps) d->keep_mapped = true;
  out.kept_mapped = true;
  out.still_loaded = true;
  out.deps_mapped.assign(spec.deps.size(), true);
}

// The holders check: nothing may run in, or return to, or be sent into what the close unmaps.
// Threads in its code (`out.holders`; the library's destructors run first when only threads it
// started hold it), and a later library that may call one of its signal handlers
// (`out.held_signals`). Fills `going_code` with the code the close unmaps; false when something
// holds it (or the destructors overran) and it must stay mapped for now.
bool NothingHolds(const RetireSpec &spec, RetireResult &out, std::vector<AddressRange> &going_code) {
  LibraryHandle &lib = *spec.lib;
  // The private dependencies loaded with it are closed right after it: what closing them could
  // unmap is looked at with the library's own code.
  std::vector<const struct link_map *> closed_with;
  for (const LibraryRef &d : spec.deps) {
    if (d->map && !d->copy_name.empty()) closed_with.push_back(d->map);
  }
  LibraryHandle::HolderScan held = lib.ScanHolders(closed_with);
  if (!held.threads.empty() && OnlyItsOwnThreads(held)) {
    if (!StopThreadsWithDestructors(spec, held, out)) return false;
    held = lib.ScanHolders(closed_with);
  }
  out.holders = std::move(held.threads);
  if (!out.holders.empty()) return false;
  const ObjectList going = CodeThatGoes(lib, held.objects);
  {
    ProcMaps maps;
    going_code = ExecutableRanges(going, maps);
  }
  if (lib.hooks) {
    out.held_signals = lib.hooks->BeginRetirement(going_code);
    if (!out.held_signals.empty()) return false;
  }
  out.altstack_disabled = spec.js_altstack_disabled || DisableAltStackIn(going);
  return true;
}

}  // namespace

void ReleaseUnmapped(const std::vector<LibraryRef> &images, const std::vector<bool> &mapped) {
  for (size_t i = 0; i < images.size(); ++i) {
    const LibraryRef &r = images[i];
    if (!r || r->copy_name.empty() || mapped[i]) continue;
    NoteUnmapped(*r);
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
  if (spec.keep_mapped) {
    KeepMapped(spec, out);
    return;
  }
  std::vector<AddressRange> going_code;  // the code the close will unmap
  if (!NothingHolds(spec, out, going_code)) return;
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
  // Nothing may send a signal into it any more (process_hooks.h), and what it did to the locale
  // its namespace shares with other libraries goes with it (a fresh namespace goes whole).
  if (lib.hooks) out.restored_signals = lib.hooks->Release(going_code);
  if (lib.ns && lib.isolation == Isolation::Namespace) out.restored_locale = RestoreLocaleOf(lib.ns, going_code);
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
