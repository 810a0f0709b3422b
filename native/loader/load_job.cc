// The load pipeline (load_job.h): the steps from the user's file to a mapped, verified image, and
// the undo of every one of them when a later one fails.
#include "loader/load_job.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include <dlswap.h>

#include "common/dl_symbol.h"
#include "common/faults.h"
#include "common/loader_lock.h"
#include "image/thread_scan.h"
#include "loader/load_steps.h"
#include "loader/job_timings.h"
#include "loader/loader_pool.h"
#include "loader/origin_step.h"
#include "loader/private_area.h"
#include "loader/source_copy.h"
#include "namespace/runtime_host.h"
#include "signals/plugin_code.h"

namespace dlswap {

namespace {

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
constexpr const char *kHostMachineName = "x86_64";
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
constexpr const char *kHostMachineName = "aarch64";
#endif

// The name the kernel shows for an image of the private directory: the file it was opened as. A
// copy in a dependency cycle may have been loaded by the dynamic loader under its second name,
// before dlswap opened it under its first.
std::string MappedName(void *h, const std::string &shown) {
  struct link_map *lm = nullptr;
  const std::string dir = LoaderPathOf("");
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_name) return shown;
  const std::string name = lm->l_name;
  if (shown.empty() || name.compare(0, dir.size(), dir) != 0) return shown;
  return PrivateDirPath() + "/" + name.substr(dir.size());
}

// Runs `step`, library code, bounded by `ms` on a loader thread. Returns false with
// ERR_DLSWAP_TIMEOUT in `out` when it overran (its job was answered with that meanwhile, and what it
// made is undone now that it returned). `holds_lock`: it runs inside the dynamic loader.
template <typename Step>
bool Bounded(const LoadSpec &spec, LoadResult &out, double ms, const std::string &what, const char *phase, bool holds_lock, Step step) {
  const std::string message = Overran(what, ms, holds_lock);
  LoaderPool::Deadline bound(
      ms,
      [cb = spec.on_timeout, message, phase = std::string(phase)] {
        if (cb) cb(message, phase);
      },
      holds_lock ? what : std::string());
  step();
  if (!bound.Expired()) return true;
  out.phase = phase;
  return Fail(out.error, "ERR_DLSWAP_TIMEOUT", what + " returned only after its timeout");
}

bool Faulted(LoadResult &out, const char *point) {
  if (HitFault(point) != FaultAction::Throw) return false;
  return !Fail(out.error, "ERR_DLSWAP_INTERNAL", std::string("injected fault at '") + point + "'");
}

// ---- The steps of Load, in order. Each returns false with the failure in out.error; what it made
// ---- is left in `out` (and `copy`) for RunLoad's undo, which removes it whatever step failed.

// Refuses at once while library code that hung holds the dynamic loader's lock: nothing made.
bool LoaderFree(const LoadSpec &spec, LoadResult &out) {
  const std::string hung = LoaderLockRefusal("cannot load " + spec.path);
  return hung.empty() || Fail(out.error, "ERR_DLSWAP_LOADER_HUNG", hung);
}

// The user's file copied into the private area (made on the first load), hashed in the same pass
// when the digest is read (LoadSpec::hash, a pin), and checked against a sha256 pin. Fills
// out.real_path, size, sha256 and mtime_ms. On failure the source is closed; a copy made is in
// `copy`.
bool CopySource(const LoadSpec &spec, LoadResult &out, PrivateCopy &copy) {
  SourceFile src;
  if (!OpenSource(spec.path, src, out.error, spec.cwd)) return false;
  std::string keep_why;
  bool ready = EnsurePrivateArea(spec.temp_base, out.error);
  if (ready && spec.keep_copies && !KeepCopies(keep_why)) {
    ready = Fail(out.error, "ERR_DLSWAP_TEMP_AREA", keep_why + ". Unset DLSWAP_KEEP_COPIES, or set DLSWAP_TMPDIR to a writable directory.");
  }
  if (!ready) {
    CloseSource(src);
    return false;
  }
  out.real_path = src.real_path;
  const bool copied = CopyToPrivate(src, spec.path, copy, out.error, spec.hash || !spec.expect_sha256.empty());
  CloseSource(src);
  if (!copied) return false;
  out.size = copy.size;
  out.sha256 = copy.sha256;
  out.mtime_ms = copy.mtime_ms;
  if (Faulted(out, "after-copy")) return false;
  if (!spec.expect_sha256.empty() && spec.expect_sha256 != copy.sha256) {
    return Fail(out.error, "ERR_DLSWAP_INTEGRITY",
                spec.path + " has sha256 " + copy.sha256 + ", not the pinned " + spec.expect_sha256 + "; refusing to load it.");
  }
  return true;
}

// The copy's headers (not the source's: the source could change under us, the copy cannot) read
// into out.elf and checked: a whole 64-bit shared library of this machine, not refused by the mode.
// Makes nothing.
bool CheckHeaders(const LoadSpec &spec, LoadResult &out, PrivateCopy &copy) {
  // The copy's bytes as written, when CopyToPrivate kept them: nothing has written into it since.
  const std::vector<uint8_t> bytes = std::move(copy.bytes);
  copy.bytes.clear();
  const bool read = bytes.empty() ? ReadElfFd(copy.fd, spec.path, out.elf, out.error)
                                  : ReadElfBytes(bytes.data(), bytes.size(), spec.path, out.elf, out.error);
  if (!read) return false;
  const ElfInfoStruct &elf = out.elf;
  if (elf.truncated) {
    return Fail(out.error, "ERR_DLSWAP_BAD_ELF",
                spec.path + " is truncated or corrupt: its tables point past the end of the file. Rebuild it.");
  }
  if (elf.elf_class != 64 || elf.machine != kHostMachine) {
    return Fail(out.error, "ERR_DLSWAP_WRONG_ARCH",
                spec.path + " is a " + std::to_string(elf.elf_class) + "-bit " + elf.machine_name + " ELF; this process is 64-bit " +
                    kHostMachineName + ". Build the library for this machine.");
  }
  if (elf.type != "dyn") {
    return Fail(out.error, "ERR_DLSWAP_BAD_ELF",
                spec.path + " is an ELF of type '" + elf.type + "', not a shared library; build it with -shared.");
  }
  return !Refused(spec, elf, out);
}

// Its dependencies planned from where the user's file is (what it would load by itself) into
// out.plan; the private ones checked like the library, copied and renamed with it (out.closure),
// and the questions of every copy about where it lives answered with its source's place. Fills
// out.deps_ms. On failure the closure's files and names are already gone (CopyClosure).
bool CopyDependencies(const LoadSpec &spec, LoadResult &out, PrivateCopy &copy) {
  const auto t = std::chrono::steady_clock::now();
  PlanOptions plan_options;
  plan_options.share = spec.share_dependencies;
  plan_options.registries = spec.registries;
  plan_options.cwd = spec.cwd;
  if (!PlanDependencies(spec.path, out.elf, plan_options, out.plan, out.error)) return false;
  if (PlanRefused(spec, out)) return false;
  for (const DependencyNode &n : out.plan.nodes) {
    if (n.kind != DependencyKind::Private || !n.elf) continue;
    if (Refused(spec, *n.elf, out)) {
      out.refused_in = n.path;
      out.refused_in_registry = n.registry;
      return false;
    }
  }
  // Renaming its dependencies and redirecting its origin imports write into the copy: a digest
  // not taken while copying is taken now, of the bytes as copied (lib/ would read the copy).
  const bool rewritten =
      ImportsOriginFunctions(out.elf.imports) ||
      std::any_of(out.plan.nodes.begin(), out.plan.nodes.end(), [](const DependencyNode &n) { return n.kind == DependencyKind::Private; });
  if (copy.sha256.empty() && rewritten) {
    if (!HashCopy(copy, out.error)) return false;
    out.sha256 = copy.sha256;
  }
  if (!CopyClosure(out.plan, copy, out.closure, out.error)) return false;
  RedirectOriginImports(spec.isolation, copy.fd, out.elf.imports, spec.path, out.origin_note);
  for (ClosureCopy &c : out.closure.copies) {
    const DependencyNode &n = out.plan.nodes[c.node];
    if (n.elf) RedirectOriginImports(spec.isolation, c.copy.fd, n.elf->imports, n.path, out.origin_note);
  }
  NoteCopySource(copy.name, out.real_path);
  out.deps_ms = Ms(t);
  return true;
}

// The namespace modes' namespace (the anchor, or a fresh one) made ready for the load's code: `ns`
// holds the caller's reference, which it releases (NamespaceHold). Then, in every mode, the process
// hooks as they were before any of the library's code ran (out.hooks), and every thread's CPU time
// (out.clocks: the holders check skips threads that have not run since). On failure nothing is held.
bool EnterNamespace(const LoadSpec &spec, LoadResult &out, NamespaceRecord *&ns) {
  if (spec.isolation == Isolation::Namespace || spec.isolation == Isolation::FreshNamespace) {
    std::string why;
    ns = spec.isolation == Isolation::Namespace ? EnsureAnchor(why) : CreateNamespace(why);
    if (!ns) {
      out.dlerror = why;
      return Fail(out.error, "ERR_DLSWAP_LOAD_FAILED", why);
    }
    RetainNamespace(ns);
    EnsureThreadReady(ns);  // constructors run on this thread, in the namespace's libc
    // Before any code of the load runs: constructors read the environment the load was asked with.
    GiveNamespaceEnvironment(ns, spec.has_environment ? &spec.environment : nullptr);
  }
  ReleaseExitedThreadPins();
  out.hooks = ProcessHooks::Capture();
  out.clocks = std::make_shared<const ThreadClocks>(TakeThreadClocks());
  return true;
}

// The caller's reference to the load's namespace, for the time of the load; each image takes its own.
struct NamespaceHold {
  NamespaceRecord *ns;
  ~NamespaceHold() {
    if (ns) ReleaseNamespace(ns);
  }
};

// Maps `file` (`from` names it in messages) into the load's namespace, its constructors running on
// this thread, bounded by initTimeoutMs as `what`. True with `h` once mapped, even when it returned
// only after its bound (`in_time` false: the caller records the image for the undo, then fails).
// False with the failure in out.error and nothing mapped.
bool OpenBounded(const LoadSpec &spec, LoadResult &out, NamespaceRecord *ns, const std::string &file, const std::string &from,
                 const std::string &what, void *&h, bool &in_time) {
  dlerror();
  bool ran = true;
  in_time =
      Bounded(spec, out, spec.init_timeout_ms, what, "loading", true, [&] { ran = OpenRunningConstructors(spec, ns, file, from, out, h); });
  if (!ran) return false;
  if (h) return true;
  if (!in_time) return false;
  out.dlerror = Unrenamed(TakeDlerror(), out);
  return Fail(out.error, "ERR_DLSWAP_LOAD_FAILED", out.dlerror);
}

// Dependency `i` of the plan loaded before the library, so that its requests find it by name: a
// private copy under its new names, a shared one as it is (the object already loaded under the
// name, if any: sharing means binding that one). Appends the image to out.deps, its copy marked
// mapped, before failing for an overrun bound.
bool OpenDependency(const LoadSpec &spec, LoadResult &out, NamespaceRecord *ns, int i) {
  const DependencyNode &n = out.plan.nodes[i];
  void *h = nullptr;
  std::string shown, copy_name, file, from;
  std::vector<std::string> names;
  ClosureCopy *c = nullptr;
  if (n.kind == DependencyKind::Shared) {
    h = OpenLoaded(spec.isolation, ns, n.soname ? *n.soname : n.needed);
    if (!h && n.path.empty()) return true;  // nothing to share yet: the loader says it is missing
    file = n.path;
    from = n.path;
  } else {
    c = &*std::find_if(out.closure.copies.begin(), out.closure.copies.end(), [&](const ClosureCopy &x) { return x.node == i; });
    copy_name = c->copy.name;
    shown = PrivateDirPath() + "/" + copy_name;
    if (!c->new_soname.empty()) names.push_back(c->new_soname);
    names.insert(names.end(), c->aliases.begin(), c->aliases.end());
    file = LoaderPathOf(copy_name);
    from = n.path.empty() ? n.needed : n.path;
  }
  bool in_time = true;
  if (!h && !OpenBounded(spec, out, ns, file, from, "the constructors of " + from + " (a dependency of " + spec.path + ")", h, in_time)) {
    return false;
  }
  if (ns) RetainNamespace(ns);
  LibraryRef dep = MakeHandle(h, spec.isolation, ns, MappedName(h, shown));
  dep->copy_name = copy_name;
  dep->private_names = names;
  if (c) {
    c->copy.mapped = true;
    NoteMapped(*dep, {n.file, n.rpath.value_or(""), n.runpath.value_or(""), n.build_id.value_or(""), out.real_path}, out.origin_note);
  }
  out.deps.push_back(dep);
  out.dep_nodes.push_back(i);
  return in_time;
}

// The library's copy mapped (constructors bounded like a dependency's) as out.lib, its files in the
// private directory left to the image (the copy's aliases and the closure's go), and the bindings
// its dependencies got checked. Fills out.loader_path, open_ms and keep_mapped. out.lib is set
// before any failure after the mapping.
bool OpenLibrary(const LoadSpec &spec, LoadResult &out, PrivateCopy &copy, NamespaceRecord *ns) {
  const auto t = std::chrono::steady_clock::now();
  out.loader_path = LoaderPathOf(copy.name);
  void *h = nullptr;
  bool in_time = true;
  if (!OpenBounded(spec, out, ns, out.loader_path, spec.path, "the constructors of " + spec.path, h, in_time)) return false;
  if (ns) RetainNamespace(ns);
  out.lib = MakeHandle(h, spec.isolation, ns, MappedName(h, PrivateDirPath() + "/" + copy.name));
  out.lib->copy_name = copy.name;
  out.lib->hooks = out.hooks;
  out.lib->clocks_before_load = out.clocks;
  if (!out.closure.root_soname.empty()) out.lib->private_names.push_back(out.closure.root_soname);
  out.lib->private_names.insert(out.lib->private_names.end(), out.closure.root_aliases.begin(), out.closure.root_aliases.end());
  // Mapped: the copy's file stays as long as the image (the name in the link map and in
  // /proc/self/maps is what debuggers, profilers and core files read); the aliases go.
  copy.mapped = true;
  const ElfInfoStruct &elf = out.elf;
  NoteMapped(*out.lib, {out.real_path, elf.rpath.value_or(""), elf.runpath.value_or(""), elf.build_id.value_or(""), ""}, out.origin_note);
  if (!in_time) return false;
  DiscardCopy(copy);
  DiscardClosureFiles(out.closure);
  out.open_ms = Ms(t);
  if (Faulted(out, "after-open")) return false;
  if (!CheckBindings(out)) return false;
  out.keep_mapped = DerivedFromShared(out);
  if (out.keep_mapped.empty()) out.keep_mapped = out.plan.keep_mapped;
  if (out.keep_mapped.empty()) out.keep_mapped = ExitHandlersOutlive(spec, out);
  return true;
}

// An entry point of the plugin: contained if it faults (a fault fails the load and quarantines the
// image, signals/plugin_code.h, which the undo then leaves mapped), failed if it tries to end the
// process.
template <typename Body>
bool RunPluginEntry(const LoadSpec &spec, LoadResult &out, const char *function, Body &&body) {
  if (!RunEntryPoint(spec, out, function, [&] { out.fault = RunPluginCode(*out.lib, function, body); })) return false;
  return out.fault ? Fail(out.error, "ERR_DLSWAP_FAULT", out.fault->message) : true;
}

// The same, bounded by initTimeoutMs.
template <typename Body>
bool RunBoundedEntry(const LoadSpec &spec, LoadResult &out, const char *function, Body &&body) {
  bool ok = true;
  return Bounded(spec, out, spec.init_timeout_ms, std::string(function) + " of " + spec.path, "verifying", false,
                 [&] { ok = RunPluginEntry(spec, out, function, body); }) &&
         ok;
}

// dlswap_abi_version, if it has one, within the host's range (out.abi). Runs no other code.
bool CheckPluginAbi(const LoadSpec &spec, LoadResult &out, void *h) {
  auto abi = ResolveSymbol<uint32_t (*)()>(h, "dlswap_abi_version");
  if (!abi) return true;
  if (!RunBoundedEntry(spec, out, "dlswap_abi_version", [&] { out.abi = abi(); })) return false;
  if (out.abi >= spec.abi_min && out.abi <= spec.abi_max) return true;
  const std::string range =
      spec.abi_min == spec.abi_max ? std::to_string(spec.abi_min) : std::to_string(spec.abi_min) + " to " + std::to_string(spec.abi_max);
  return Fail(out.error, "ERR_DLSWAP_ABI_VERSION",
              spec.path + " speaks plugin ABI version " + std::to_string(out.abi) + "; this host accepts " + range +
                  ". Rebuild the plugin against this dlswap's include/dlswap.h.");
}

// dlswap_version, if it has one (out.has_version, out.version).
bool ReadPluginVersion(const LoadSpec &spec, LoadResult &out, void *h) {
  auto version = ResolveSymbol<const char *(*)()>(h, "dlswap_version");
  if (!version) return true;
  const char *v = nullptr;
  if (!RunBoundedEntry(spec, out, "dlswap_version", [&] { v = version(); })) return false;
  out.has_version = true;
  if (v) out.version.assign(v, strnlen(v, 4096));
  return true;
}

// dlswap_init, or nothing when it has none (the plugin is ready as it is, and its fini, if any, is
// due at retirement). out.initialized true once init returned 0 (or there is none): from then on
// the undo runs dlswap_fini. The fault point 'in-verify' is passed here.
bool InitPlugin(const LoadSpec &spec, LoadResult &out, void *h, const dlswap_host *host) {
  auto init = ResolveSymbol<int (*)(const dlswap_host *)>(h, "dlswap_init");
  if (!init) {
    out.initialized = true;
    return !Faulted(out, "in-verify");
  }
  // The bound covers init and the 'in-verify' point right after it, where a test makes an init that
  // never returns ('hang').
  LoaderPool::Deadline bound(spec.init_timeout_ms,
                             [cb = spec.on_timeout, message = Overran("dlswap_init of " + spec.path, spec.init_timeout_ms, false)] {
                               if (cb) cb(message, "verifying");
                             });
  int rc = -1;
  if (!RunPluginEntry(spec, out, "dlswap_init", [&] { rc = init(host); })) return false;
  out.initialized = rc == 0;
  if (rc != 0) {
    return Fail(out.error, "ERR_DLSWAP_INIT_FAILED",
                "dlswap_init of " + spec.path + " returned " + std::to_string(rc) +
                    "; the generation was rejected and the previous one keeps serving.");
  }
  const bool fault = Faulted(out, "in-verify");
  if (bound.Expired()) return Fail(out.error, "ERR_DLSWAP_TIMEOUT", "dlswap_init of " + spec.path + " returned only after its timeout");
  return !fault;
}

// The plugin's entry points, in order, each bounded by initTimeoutMs: its ABI version checked, its
// version read, its init run. What a failure leaves: the image, for the undo (with fini when
// out.initialized).
bool StartPlugin(const LoadSpec &spec, LoadResult &out, void *h) {
  const auto *host = static_cast<const dlswap_host *>(spec.plugin_host);
  out.lib->display_path = spec.path;
  out.lib->generation = host ? static_cast<int>(host->generation) : 0;
  return CheckPluginAbi(spec, out, h) && ReadPluginVersion(spec, out, h) && InitPlugin(spec, out, h, host);
}

// Phase 'verifying': every function the caller declared resolves (the missing ones in out.symbols),
// then, for a plugin, its entry points run. Fills out.verify_ms. Makes nothing but what
// StartPlugin says.
bool Verify(const LoadSpec &spec, LoadResult &out) {
  const auto t = std::chrono::steady_clock::now();
  out.phase = "verifying";
  void *h = out.lib->handle.load();
  for (const std::string &name : spec.functions) {
    dlerror();
    if (!dlsym(h, name.c_str())) out.symbols.push_back(name);
  }
  dlerror();
  if (!out.symbols.empty()) return Fail(out.error, "ERR_DLSWAP_SYMBOL_NOT_FOUND", "missing-functions");
  if (spec.plugin ? !StartPlugin(spec, out, h) : Faulted(out, "in-verify")) return false;
  out.verify_ms = Ms(t);
  return true;
}

// The steps up to a mapped, verified image. Leaves what it made in `out` and `copy` for the caller
// (RunLoad) to undo.
// `ok`, the result of the step `name` that just ended; its time goes to the job's timings
// (loader/job_timings.h, for bench/reload.mjs's breakdown of a reload).
bool Timed(const char *name, bool ok) {
  StepDone(name);
  return ok;
}

bool Load(const LoadSpec &spec, LoadResult &out, PrivateCopy &copy) {
  // A fault in a constructor (inside the dynamic loader) is reported with this name (docs/faults.md).
  LoadingNote loading(spec.path.c_str());
  const auto t = std::chrono::steady_clock::now();
  if (!Timed("loader-free", LoaderFree(spec, out)) || !Timed("copy", CopySource(spec, out, copy)) ||
      !Timed("headers", CheckHeaders(spec, out, copy)) || !Timed("dependencies", CopyDependencies(spec, out, copy))) {
    return false;
  }
  NamespaceRecord *ns = nullptr;
  if (!Timed("namespace", EnterNamespace(spec, out, ns))) return false;
  NamespaceHold hold{ns};
  for (int i : out.plan.load_order) {
    if (!Timed("open-dependency", OpenDependency(spec, out, ns, i))) return false;
  }
  out.copy_ms = Ms(t);  // up to here: the copies, the plan and the dependencies' mappings
  return Timed("dlopen", OpenLibrary(spec, out, copy, ns)) && Timed("verify", Verify(spec, out));
}
}  // namespace

// What the JS thread needs of a loaded image's headers is a few fields; the symbol lists of a large
// library (libLLVM: 46,000 names) are dropped here, on the loader thread, rather than freed on the
// JS thread after the result was handed over.
void DropSymbolLists(LoadResult &out) {
  for (const std::string &s : out.elf.imports) {
    out.thread_local_destructors = out.thread_local_destructors || s == "__cxa_thread_atexit_impl" || s == "__cxa_thread_atexit";
  }
  for (auto *v : {&out.elf.exports, &out.elf.imports, &out.elf.weak_imports, &out.elf.copy_relocs, &out.elf.init_fini_symbols,
                  &out.elf.self_bound_symbols}) {
    std::vector<std::string>().swap(*v);
  }
  for (DependencyNode &n : out.plan.nodes) n.elf.reset();
}

void RunLoad(const LoadSpec &spec, LoadResult &out) {
  PrivateCopy copy;
  out.host_keepalive = spec.host_keepalive;
  if (Load(spec, out, copy)) {
    DropSymbolLists(out);
    StepDone("drop-symbol-lists");
    return;
  }
  // Undo: the plugin's fini if its init succeeded, then every image, as a retirement would.
  if (out.lib) {
    out.opened = true;
    RetireSpec undo;
    undo.lib = out.lib;
    undo.deps = out.deps;
    undo.run_fini = out.initialized;
    undo.keep_mapped = !out.keep_mapped.empty();
    // The undo runs library code too: bounded, and its overrun answers the load (unless a bound
    // of the load itself did so first).
    undo.fini_timeout_ms = spec.fini_timeout_ms;
    undo.on_timeout = [cb = spec.on_timeout, phase = out.phase](const std::string &message, const std::string &) {
      if (cb) cb(message, phase);
    };
    RetireResult r;
    RunRetire(undo, r);
    out.undone_unloaded = r.closed && !r.still_loaded;
  } else {
    if (out.hooks && !out.deps.empty()) {
      // The dependencies' constructors ran: what they installed goes back before they go.
      ObjectList going;
      for (const LibraryRef &d : out.deps) {
        if (d->map && !d->copy_name.empty()) going.push_back(d->map);
      }
      ProcMaps maps;
      out.hooks->Release(ExecutableRanges(going, maps));
    }
    for (auto it = out.deps.rbegin(); it != out.deps.rend(); ++it) {
      LibraryHandle &d = **it;
      LoaderPool::Deadline bound(
          spec.fini_timeout_ms,
          [cb = spec.on_timeout, phase = out.phase, message = Overran("the destructors of " + SourceName(d), spec.fini_timeout_ms, true)] {
            if (cb) cb(message, phase);
          },
          "the destructors of " + SourceName(d));
      d.Close(nullptr);
    }
    ProcMaps maps;
    std::vector<bool> mapped;
    for (const LibraryRef &d : out.deps) mapped.push_back(maps.Maps(d->mapped_path));
    ReleaseUnmapped(out.deps, mapped);
  }
  // Names reserved for copies that were never loaded, or that are gone.
  for (const std::string &n : out.closure.names) {
    auto holds = [&](const LibraryRef &d) {
      return d && std::find(d->private_names.begin(), d->private_names.end(), n) != d->private_names.end();
    };
    const bool held = holds(out.lib) || std::any_of(out.deps.begin(), out.deps.end(), holds);
    if (!held) ReleasePrivateName(n);
  }
  for (const ClosureCopy &c : out.closure.copies) {
    if (std::none_of(out.deps.begin(), out.deps.end(), [&](const LibraryRef &d) { return d->copy_name == c.copy.name; }))
      ForgetCopySource(c.copy.name);
  }
  if (!out.lib) ForgetCopySource(copy.name);
  out.initialized = false;
  out.lib.reset();
  out.hooks.reset();
  out.deps.clear();
  DiscardCopy(copy);
  DiscardClosureFiles(out.closure);
  DropSymbolLists(out);
}

}  // namespace dlswap
