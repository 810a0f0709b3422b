// The retire pipeline (load_job.h): fini, the stdio flush, the holders check (and, when only threads
// the library started hold it, its destructors run first to stop them), dlclose of the library and
// then of its dependencies, and whether the image is really gone.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "common/dl_symbol.h"
#include "common/faults.h"
#include "common/loader_lock.h"
#include "image/early_destructors.h"
#include "image/process_hooks.h"
#include "image/thread_keys.h"
#include "loader/closure_copy.h"
#include "loader/job_timings.h"
#include "loader/load_steps.h"
#include "loader/loader_pool.h"
#include "signals/plugin_code.h"
#include "loader/origin_step.h"

namespace dlswap {

namespace {

// Where an image's file is mapped, taken while it is loaded: the place to look for it once it is
// closed. {0, 0} when its mappings could not be found (then the whole listing is searched).
struct Span {
  uintptr_t start = 0, end = 0;
};

// From the program headers of each (image/image_closure.h); the mappings of the file around its
// dynamic section for one whose headers cannot be read.
std::vector<Span> SpansOf(const std::vector<const LibraryHandle *> &images) {
  ObjectList objects;
  for (const LibraryHandle *i : images) objects.push_back(i->handle ? i->map : nullptr);
  const std::vector<AddressRange> extents = ObjectExtents(objects);
  std::vector<Span> out(images.size());
  std::optional<ProcMaps> maps;
  for (size_t i = 0; i < images.size(); ++i) {
    if (!objects[i]) continue;
    if (extents[i].end) {
      out[i] = {extents[i].start, extents[i].end};
      continue;
    }
    if (!maps) maps.emplace();
    const std::vector<Mapping> run = maps->FileRun(reinterpret_cast<uintptr_t>(objects[i]->l_ld));
    if (!run.empty()) out[i] = {run.front().start, run.back().end};
  }
  return out;
}

// Whether the image's file is still mapped. The dynamic loader maps an object in one reservation
// and unmaps it whole, so its former span is where any of it would be left.
bool StillMapped(const LibraryHandle &image, const Span &span, ProcMaps &maps) {
  return span.end ? maps.MapsIn(span.start, span.end, image.mapped_path) : maps.Maps(image.mapped_path);
}

bool WholeNamespaceGoes(const LibraryHandle &lib) { return lib.isolation == Isolation::FreshNamespace && lib.map; }

// What closing `lib` will unmap: the objects the holders check looked at and, in a fresh
// namespace (freed with its one library), everything in it, its libc included (where the handlers
// that libc installed return to).
ObjectList CodeThatGoes(const LibraryHandle &lib, const ObjectList &unmappable) {
  if (!WholeNamespaceGoes(lib)) return unmappable;
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
// destructors overran their bound (the job was abandoned) or an injected fault. `ran` counts the
// destructor arrays run now (none when they ran in an earlier pass).
// Runs the destructors of what the close would unmap, `why` (for the timeout's message), bounded by
// the fini timeout. False when they overran (the job was answered meanwhile); `ran` counts the arrays
// run now.
bool RunDestructorsBounded(const RetireSpec &spec, const ObjectList &objects, const char *why, RetireResult &out, size_t &ran) {
  ran = 0;
  // Called from here, not from dlclose: the dynamic loader's lock is not held.
  LoaderPool::Deadline bound(spec.fini_timeout_ms, [cb = spec.on_timeout, ms = spec.fini_timeout_ms, why = std::string(why)] {
    if (cb) cb(Overran("the library's destructors (run before dlclose " + why + ")", ms, false), "destructors");
  });
  const bool ok = RunDestructorsEarly(objects, &ran, &out.destructors_error);
  out.destructors_ran = ok && std::any_of(objects.begin(), objects.end(), DestructorsRanEarly);
  if (!bound.Expired()) return true;
  out.step = "destructors";
  Fail(out.error, "ERR_DLSWAP_TIMEOUT", "the library's destructors returned only after their timeout");
  return false;
}

bool StopThreadsWithDestructors(const RetireSpec &spec, const LibraryHandle::HolderScan &held, RetireResult &out, size_t &ran) {
  if (!RunDestructorsBounded(spec, held.objects, "to stop the threads it started", out, ran)) return false;
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

// Quarantined (a call faulted): neither finalized nor unmapped, and none of its code run again, its
// stdio flush included.
void Quarantined(const RetireSpec &spec, RetireResult &out) {
  spec.lib->keep_mapped = true;
  for (const LibraryRef &d : spec.deps) d->keep_mapped = true;
  out.quarantined = out.kept_mapped = out.still_loaded = true;
  out.deps_mapped.assign(spec.deps.size(), true);
}

// The private dependencies loaded with it are closed right after it: what closing them could unmap
// is looked at with the library's own code.
std::vector<const struct link_map *> ClosedWith(const RetireSpec &spec) {
  std::vector<const struct link_map *> closed_with;
  for (const LibraryRef &d : spec.deps) {
    if (d->map && !d->copy_name.empty()) closed_with.push_back(d->map);
  }
  return closed_with;
}

// In `local` and `deepbind` the library's thread-specific data keys are node's libc's
// (image/thread_keys.h): a key still in use whose destructor is in `code` would have that destructor
// called in unmapped code when a thread that set it exits. Its destructors run first (a library that
// deletes its keys there, as it should, is then unmapped as usual); a key left after them keeps the
// image mapped for good (`out.held_keys`, kept_mapped). True when it must stay; false also when its
// destructors overran (out.error says so).
bool KeysHold(const RetireSpec &spec, const ObjectList &objects, const std::vector<AddressRange> &code, RetireResult &out) {
  const LibraryHandle &lib = *spec.lib;
  if (lib.isolation != Isolation::Local && lib.isolation != Isolation::DeepBind) return false;
  std::optional<std::vector<unsigned>> keys = KeysWithDestructorsIn(code);
  if (!keys || keys->empty()) return false;
  size_t ran = 0;
  if (!RunDestructorsBounded(spec, objects, "to let it delete its thread-specific data keys", out, ran)) return true;
  if (ran > 0) keys = KeysWithDestructorsIn(code);
  if (!keys || keys->empty()) return false;
  out.held_keys = *keys;
  KeepMapped(spec, out);
  return true;
}

// The rest of the holders check once no thread holds it: the code the close unmaps
// (`going_code`), a later library that may call one of its signal handlers (`out.held_signals`),
// an alternate signal stack in its memory. False when it must stay mapped for now.
bool NothingElseHolds(const RetireSpec &spec, const LibraryHandle::HolderScan &held, RetireResult &out,
                      std::vector<AddressRange> &going_code) {
  LibraryHandle &lib = *spec.lib;
  const ObjectList &objects = held.objects;
  const ObjectList going = CodeThatGoes(lib, objects);
  if (WholeNamespaceGoes(lib)) {
    ProcMaps maps;
    going_code = ExecutableRanges(going, maps);
  } else {
    going_code = held.code;  // the code the holders check looked for, found by it a moment ago
  }
  if (KeysHold(spec, objects, going_code, out)) return false;
  if (lib.hooks) {
    out.held_signals = lib.hooks->BeginRetirement(going_code);
    if (!out.held_signals.empty()) return false;
  }
  out.altstack_disabled = spec.js_altstack_disabled || DisableAltStackIn(going);
  return true;
}

// What to do with `held`, the threads that hold it: when they are all threads the library started,
// its destructors run first to stop them, and it is looked at again. Leaves the final answer in
// `held`; false when the destructors overran.
bool StopOwnThreads(const RetireSpec &spec, LibraryHandle::HolderScan &held, RetireResult &out) {
  if (held.threads.empty() || !OnlyItsOwnThreads(held)) return true;
  size_t ran = 0;
  if (!StopThreadsWithDestructors(spec, held, out, ran)) return false;
  // Looked at again only if destructors ran now: those of an earlier pass changed nothing since.
  if (ran > 0) held = spec.lib->ScanHolders(ClosedWith(spec));
  return true;
}

// The holders check: nothing may run in, or return to, or be sent into what the close unmaps.
// Threads in its code (`out.holders`; the library's destructors run first when only threads it
// started hold it), and a later library that may call one of its signal handlers
// (`out.held_signals`). Fills `going_code` with the code the close unmaps; false when something
// holds it (or the destructors overran) and it must stay mapped for now.
bool NothingHolds(const RetireSpec &spec, RetireResult &out, std::vector<AddressRange> &going_code) {
  LibraryHandle::HolderScan held = spec.lib->ScanHolders(ClosedWith(spec));
  StepDone("thread-check");
  if (!StopOwnThreads(spec, held, out)) return false;
  out.holders = std::move(held.threads);
  if (!out.holders.empty()) return false;
  const bool free = NothingElseHolds(spec, held, out, going_code);
  StepDone("other-holders");
  return free;
}

// Refuses at once while library code that hung holds the dynamic loader's lock (everything below
// would wait for it).
bool RefusedWhileHung(const RetireSpec &spec, RetireResult &out) {
  const std::string hung = LoaderLockRefusal("cannot close " + SourceName(*spec.lib));
  if (hung.empty()) return false;
  out.step = spec.run_fini ? "fini" : "dlclose";
  Fail(out.error, "ERR_DLSWAP_LOADER_HUNG", hung);
  return true;
}

// The image's dlclose, its destructors bounded like fini (they run with the dynamic loader's
// lock held).
int CloseBounded(const RetireSpec &spec, LibraryHandle &image, std::string *error) {
  const std::string what = "the destructors of " + SourceName(image);
  LoaderPool::Deadline bound(
      spec.fini_timeout_ms,
      [cb = spec.on_timeout, message = Overran(what, spec.fini_timeout_ms, true)] {
        if (cb) cb(message, "dlclose");
      },
      what);
  return image.Close(error);
}

}  // namespace

std::string SourceName(const LibraryHandle &image) {
  const std::string source = image.copy_name.empty() ? std::string() : SourceOfCopy(image.copy_name);
  return source.empty() ? image.mapped_path : source;
}

std::string Overran(const std::string &what, double ms, bool holds_loader_lock) {
  std::string text = what + " did not return within " + std::to_string(static_cast<long>(ms)) + " ms";
  if (holds_loader_lock) {
    text +=
        "; they hold the dynamic loader's lock, so until they return dlswap refuses every load and unload in this process at once "
        "(ERR_DLSWAP_LOADER_HUNG), and exit ends the process without running library destructors";
  }
  return text;
}

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

namespace {

// The close itself, once nothing holds the image (`going_code`: what it unmaps): its signal
// handlers and locale changes given back, dlclose of the library and then of its dependencies
// (their destructors bounded), and whether the image is really gone.
void CloseAndVerify(const RetireSpec &spec, RetireResult &out, const std::vector<AddressRange> &going_code,
                    std::chrono::steady_clock::time_point t) {
  LibraryHandle &lib = *spec.lib;
  if (HitFault("before-dlclose") == FaultAction::Throw) {
    out.step = "dlclose";
    Fail(out.error, "ERR_DLSWAP_INTERNAL", "injected fault at 'before-dlclose'");
    return;
  }
  std::vector<const LibraryHandle *> spanned;
  for (const LibraryRef &d : spec.deps) spanned.push_back(d.get());
  spanned.push_back(&lib);
  std::vector<Span> dep_spans = SpansOf(spanned);
  const Span lib_span = dep_spans.back();
  dep_spans.pop_back();
  StepDone("spans");
  const Lmid_t lmid = lib.lmid;
  const bool fresh = lib.isolation == Isolation::FreshNamespace;
  const std::string loader_name = lib.loader_name;
  // Nothing may send a signal into it any more (process_hooks.h), and what it did to the locale
  // its namespace shares with other libraries goes with it (a fresh namespace goes whole).
  if (lib.hooks) out.restored_signals = lib.hooks->Release(going_code);
  if (lib.ns && lib.isolation == Isolation::Namespace) out.restored_locale = RestoreLocaleOf(lib.ns, going_code);
  StepDone("hooks-and-locale");
  std::string error;
  out.rc = CloseBounded(spec, lib, &error);
  out.dlclose_error = error;
  out.closed = lib.closed;
  for (auto it = spec.deps.rbegin(); it != spec.deps.rend(); ++it) CloseBounded(spec, **it, nullptr);
  StepDone("dlclose");
  if (!out.closed) {
    out.step = "dlclose";
    Fail(out.error, "ERR_DLSWAP_BUSY", error);
    return;
  }
  // Is it really gone? The dynamic loader knows it by no name (a private copy: by its own name, in
  // its namespace's link map; another file: an RTLD_NOLOAD probe of the name it was loaded under, in its
  // namespace, which also finds the same file under another name), and the mappings of the process.
  bool known = false;
  if (!lib.copy_name.empty()) {
    known = (!fresh || NamespaceAlive(lmid)) && NamespaceHasName(lmid, loader_name);
  } else {
    void *probe = nullptr;
    dlerror();
    if (lib.isolation == Isolation::Local || lib.isolation == Isolation::DeepBind) {
      probe = dlopen(loader_name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    } else if (NamespaceAlive(lmid)) {
      probe = dlmopen(lmid, loader_name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    }
    dlerror();
    if (probe) dlclose(probe);
    known = probe != nullptr;
  }
  ProcMaps after;
  const bool lib_mapped = StillMapped(lib, lib_span, after);
  out.still_loaded = known || lib_mapped;
  for (size_t i = 0; i < spec.deps.size(); ++i) out.deps_mapped.push_back(StillMapped(*spec.deps[i], dep_spans[i], after));
  std::vector<LibraryRef> images = spec.deps;
  images.push_back(spec.lib);
  std::vector<bool> mapped = out.deps_mapped;
  mapped.push_back(lib_mapped);
  ReleaseUnmapped(images, mapped);
  if (fresh) out.namespace_freed = !NamespaceAlive(lmid);
  out.close_ms = Ms(t);
  StepDone("unload-check");
  if (HitFault("after-dlclose") == FaultAction::Throw) {
    out.step = "after-dlclose";
    Fail(out.error, "ERR_DLSWAP_INTERNAL", "injected fault at 'after-dlclose'");
  }
}

}  // namespace

void RunRetire(const RetireSpec &spec, RetireResult &out) {
  using clock = std::chrono::steady_clock;
  LibraryHandle &lib = *spec.lib;
  auto t = clock::now();
  out.finalized = !spec.run_fini;
  if (lib.faulted.load(std::memory_order_acquire)) {
    // Quarantined after a fault (signals/fault_record.h): its fini is never run (its locks and
    // memory may be inconsistent) and it is never unmapped (a thread may still be in its code).
    Quarantined(spec, out);
    return;
  }
  if (RefusedWhileHung(spec, out)) return;
  if (spec.run_fini) {
    if (auto fini = ResolveSymbol<void (*)()>(lib.handle, "dlswap_fini")) {
      // The bound covers the 'in-fini' point too, where a test makes a fini that never returns.
      LoaderPool::Deadline bound(spec.fini_timeout_ms,
                                 [cb = spec.on_timeout, message = Overran("dlswap_fini", spec.fini_timeout_ms, false)] {
                                   if (cb) cb(message, "fini");
                                 });
      if (HitFault("in-fini") == FaultAction::Throw) {
        out.step = "fini";
        Fail(out.error, "ERR_DLSWAP_INTERNAL", "injected fault at 'in-fini'");
        return;
      }
      if ((out.fault = RunPluginCode(lib, "dlswap_fini", [&] { fini(); }))) {
        Quarantined(spec, out);
        return;
      }
    }
    out.finalized = true;
    out.fini_ms = Ms(t);
  }
  StepDone("fini");
  t = clock::now();
  if (spec.keep_mapped) {
    KeepMapped(spec, out);
    return;
  }
  std::vector<AddressRange> going_code;  // the code the close will unmap
  if (!NothingHolds(spec, out, going_code)) return;
  CloseAndVerify(spec, out, going_code, t);
}

void RunRetireHeld(const std::vector<RetireSpec> &specs, std::vector<RetireResult> &out) {
  out.assign(specs.size(), RetireResult());
  const auto t = std::chrono::steady_clock::now();
  std::vector<const LibraryHandle *> images;
  std::vector<std::vector<const struct link_map *>> closed_with;
  bool hung = false;
  for (size_t i = 0; i < specs.size(); ++i) {
    out[i].finalized = true;
    hung = RefusedWhileHung(specs[i], out[i]) || hung;
    images.push_back(specs[i].lib.get());
    closed_with.push_back(ClosedWith(specs[i]));
  }
  if (hung) return;
  // A look again in the background: a thread that does not answer soon is simply looked at again
  // next time, rather than hold up the loads queued behind.
  std::vector<LibraryHandle::HolderScan> held = ScanHoldersOf(images, closed_with, std::chrono::milliseconds(100));
  bool closed_one = false;
  for (size_t i = 0; i < specs.size(); ++i) {
    const RetireSpec &spec = specs[i];
    RetireResult &r = out[i];
    // Each answer assumed the others stay: once one image was closed, what it shared with the
    // next one may now be the next one's alone, so that one is looked at again first.
    if (closed_one && held[i].threads.empty()) held[i] = spec.lib->ScanHolders(closed_with[i]);
    if (!StopOwnThreads(spec, held[i], r)) return;  // its destructors overran: the job was answered
    r.holders = std::move(held[i].threads);
    if (!r.holders.empty()) continue;
    std::vector<AddressRange> going_code;
    if (!NothingElseHolds(spec, held[i], r, going_code)) continue;
    CloseAndVerify(spec, r, going_code, t);
    closed_one = true;
  }
}

}  // namespace dlswap
