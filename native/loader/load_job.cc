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
#include "image/thread_scan.h"
#include "loader/load_steps.h"
#include "loader/loader_pool.h"
#include "loader/origin_step.h"
#include "loader/private_area.h"
#include "loader/source_copy.h"
#include "namespace/runtime_host.h"

namespace dlswap {

namespace {

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
constexpr const char *kHostMachineName = "x86_64";
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
constexpr const char *kHostMachineName = "aarch64";
#endif

bool Faulted(LoadResult &out, const char *point) {
  if (HitFault(point) != FaultAction::Throw) return false;
  return !Fail(out, "ERR_DLSWAP_INTERNAL", std::string("injected fault at '") + point + "'");
}

// The steps up to a mapped, verified image. Leaves what it made in `out` for the caller to undo.
bool Load(const LoadSpec &spec, LoadResult &out, PrivateCopy &copy) {
  using clock = std::chrono::steady_clock;
  auto t = clock::now();
  SourceFile src;
  CopyError cerr;
  if (!OpenSource(spec.path, src, cerr)) return Fail(out, cerr.code, cerr.message);
  AreaError aerr;
  if (!EnsurePrivateArea(spec.temp_base, aerr)) {
    CloseSource(src);
    return Fail(out, aerr.code, aerr.message);
  }
  std::string keep_why;
  if (spec.keep_copies && !KeepCopies(keep_why)) {
    CloseSource(src);
    return Fail(out, "ERR_DLSWAP_TEMP_AREA", keep_why + ". Unset DLSWAP_KEEP_COPIES, or set DLSWAP_TMPDIR to a writable directory.");
  }
  out.real_path = src.real_path;
  const bool copied = CopyToPrivate(src, spec.path, copy, cerr);
  CloseSource(src);
  if (!copied) return Fail(out, cerr.code, cerr.message);
  out.size = copy.size;
  out.sha256 = copy.sha256;
  out.mtime_ms = copy.mtime_ms;
  if (Faulted(out, "after-copy")) return false;
  if (!spec.expect_sha256.empty() && spec.expect_sha256 != copy.sha256) {
    return Fail(out, "ERR_DLSWAP_INTEGRITY",
                spec.path + " has sha256 " + copy.sha256 + ", not the pinned " + spec.expect_sha256 + "; refusing to load it.");
  }

  // The copy's headers, not the source's: the source could change under us, the copy cannot.
  std::string code, msg;
  if (!ReadElfFd(copy.fd, spec.path, out.elf, code, msg)) return Fail(out, code, msg);
  const ElfInfoStruct &elf = out.elf;
  if (elf.truncated) {
    return Fail(out, "ERR_DLSWAP_BAD_ELF", spec.path + " is truncated or corrupt: its tables point past the end of the file. Rebuild it.");
  }
  if (elf.elf_class != 64 || elf.machine != kHostMachine) {
    return Fail(out, "ERR_DLSWAP_WRONG_ARCH",
                spec.path + " is a " + std::to_string(elf.elf_class) + "-bit " + elf.machine_name + " ELF; this process is 64-bit " +
                    kHostMachineName + ". Build the library for this machine.");
  }
  if (elf.type != "dyn") {
    return Fail(out, "ERR_DLSWAP_BAD_ELF", spec.path + " is an ELF of type '" + elf.type + "', not a shared library; build it with -shared.");
  }
  if (Refused(spec, elf, out)) return false;

  // Its dependencies, planned from where the user's file is (what it would load by itself); the
  // private ones are copied and renamed with it, and checked like it.
  auto t_deps = clock::now();
  {
    PlanOptions plan_options;
    plan_options.share = spec.share_dependencies;
    if (!PlanDependencies(spec.path, elf.rpath, elf.runpath, elf.needed, plan_options, out.plan, code, msg)) {
      return Fail(out, code.empty() ? "ERR_DLSWAP_DEPENDENCY" : code, msg);
    }
    for (const DependencyNode &n : out.plan.nodes) {
      if (n.kind != DependencyKind::Private || !n.elf) continue;
      if (Refused(spec, *n.elf, out)) {
        out.refused_in = n.path;
        return false;
      }
    }
    CopyError derr;
    if (!CopyClosure(out.plan, copy, out.closure, derr)) return Fail(out, derr.code, derr.message);
    // What the library asks about where it lives is answered with the source's place.
    RedirectOriginImports(spec.isolation, copy.fd, elf.imports, spec.path, out.origin_note);
    for (ClosureCopy &c : out.closure.copies) {
      const DependencyNode &n = out.plan.nodes[c.node];
      if (n.elf) RedirectOriginImports(spec.isolation, c.copy.fd, n.elf->imports, n.path, out.origin_note);
    }
  }
  NoteCopySource(copy.name, out.real_path);
  out.deps_ms = Ms(t_deps);

  NamespaceRecord *ns = nullptr;
  if (spec.isolation == Isolation::Namespace || spec.isolation == Isolation::FreshNamespace) {
    std::string why;
    ns = spec.isolation == Isolation::Namespace ? EnsureAnchor(why) : CreateNamespace(why);
    if (!ns) {
      out.dlerror = why;
      return Fail(out, "ERR_DLSWAP_LOAD_FAILED", why);
    }
    // The caller's reference for the time of the load; each image takes its own.
    RetainNamespace(ns);
    EnsureThreadReady(ns);  // constructors run on this thread, in the namespace's libc
  }
  ReleaseExitedThreadPins();
  // Before any of its code runs (constructors run in the dlopen calls below).
  out.hooks = ProcessHooks::Capture();
  struct NamespaceHold {
    NamespaceRecord *ns;
    ~NamespaceHold() {
      if (ns) ReleaseNamespace(ns);
    }
  } hold{ns};

  // The dependencies before the library, so that its requests find them by name: private copies
  // under their new names, shared ones as they are (the object already loaded under the name, if
  // any: sharing means binding that one).
  for (int i : out.plan.load_order) {
    const DependencyNode &n = out.plan.nodes[i];
    void *h = nullptr;
    std::string shown, copy_name;
    std::vector<std::string> names;
    if (n.kind == DependencyKind::Shared) {
      h = OpenLoaded(spec.isolation, ns, n.soname ? *n.soname : n.needed);
      if (!h && n.path.empty()) continue;  // nothing to share yet: the loader says it is missing
      dlerror();
      if (!h) h = OpenImage(spec.isolation, ns, n.path);
    } else {
      auto c = std::find_if(out.closure.copies.begin(), out.closure.copies.end(), [&](const ClosureCopy &x) { return x.node == i; });
      copy_name = c->copy.name;
      shown = PrivateDirPath() + "/" + copy_name;
      if (!c->new_soname.empty()) names.push_back(c->new_soname);
      names.insert(names.end(), c->aliases.begin(), c->aliases.end());
      fchmod(c->copy.fd, 0500);  // read-only from here: nothing may write into a mapped file
      dlerror();
      h = OpenImage(spec.isolation, ns, LoaderPathOf(copy_name));
    }
    if (!h) {
      out.dlerror = Unrenamed(TakeDlerror(), out);
      return Fail(out, "ERR_DLSWAP_LOAD_FAILED", out.dlerror);
    }
    if (ns) RetainNamespace(ns);
    LibraryRef dep = MakeHandle(h, spec.isolation, ns, shown);
    dep->copy_name = copy_name;
    dep->private_names = names;
    if (n.kind == DependencyKind::Private) {
      auto c = std::find_if(out.closure.copies.begin(), out.closure.copies.end(), [&](const ClosureCopy &x) { return x.node == i; });
      c->copy.mapped = true;
      NoteMapped(*dep, {n.file, n.rpath.value_or(""), n.runpath.value_or(""), n.build_id.value_or(""), out.real_path}, out.origin_note);
    }
    out.deps.push_back(dep);
    out.dep_nodes.push_back(i);
  }

  out.copy_ms = Ms(t);
  t = clock::now();
  out.loader_path = LoaderPathOf(copy.name);
  fchmod(copy.fd, 0500);
  dlerror();
  void *h = OpenImage(spec.isolation, ns, out.loader_path);
  if (!h) {
    out.dlerror = Unrenamed(TakeDlerror(), out);
    return Fail(out, "ERR_DLSWAP_LOAD_FAILED", out.dlerror);
  }
  if (ns) RetainNamespace(ns);
  out.lib = MakeHandle(h, spec.isolation, ns, PrivateDirPath() + "/" + copy.name);
  out.lib->copy_name = copy.name;
  out.lib->hooks = out.hooks;
  if (ns) GiveNamespaceStableEnviron(ns->runtime);
  // Mapped: the copy's file stays as long as the image (the name in the link map and in
  // /proc/self/maps is what debuggers, profilers and core files read); the aliases go.
  copy.mapped = true;
  NoteMapped(*out.lib, {out.real_path, elf.rpath.value_or(""), elf.runpath.value_or(""), elf.build_id.value_or(""), ""}, out.origin_note);
  DiscardCopy(copy);
  DiscardClosureFiles(out.closure);
  out.open_ms = Ms(t);
  if (Faulted(out, "after-open")) return false;
  if (!CheckBindings(out)) return false;
  out.keep_mapped = DerivedFromShared(out);
  if (out.keep_mapped.empty()) out.keep_mapped = ExitHandlersOutlive(spec, out);

  t = clock::now();
  out.phase = "verifying";
  for (const std::string &name : spec.functions) {
    dlerror();
    if (!dlsym(h, name.c_str())) out.symbols.push_back(name);
  }
  dlerror();
  if (!out.symbols.empty()) return Fail(out, "ERR_DLSWAP_SYMBOL_NOT_FOUND", "missing-functions");
  if (spec.plugin) {
    if (auto abi = ResolveSymbol<uint32_t (*)()>(h, "dlswap_abi_version")) {
      out.abi = abi();
      if (out.abi < spec.abi_min || out.abi > spec.abi_max) {
        const std::string range = spec.abi_min == spec.abi_max ? std::to_string(spec.abi_min)
                                                               : std::to_string(spec.abi_min) + " to " + std::to_string(spec.abi_max);
        return Fail(out, "ERR_DLSWAP_ABI_VERSION",
                    spec.path + " speaks plugin ABI version " + std::to_string(out.abi) + "; this host accepts " + range +
                        ". Rebuild the plugin against this dlswap's include/dlswap.h.");
      }
    }
    if (auto version = ResolveSymbol<const char *(*)()>(h, "dlswap_version")) {
      const char *v = version();
      out.has_version = true;
      if (v) out.version.assign(v, strnlen(v, 4096));
    }
    if (auto init = ResolveSymbol<int (*)(const dlswap_host *)>(h, "dlswap_init")) {
      // The bound covers init and the 'in-verify' point right after it, where a test makes an
      // init that never returns ('hang').
      LoaderPool::Deadline bound(spec.init_timeout_ms, spec.on_init_timeout);
      const int rc = init(static_cast<const dlswap_host *>(spec.plugin_host));
      out.initialized = rc == 0;  // from here a failure runs fini before the close
      if (rc != 0) {
        return Fail(out, "ERR_DLSWAP_INIT_FAILED",
                    "dlswap_init of " + spec.path + " returned " + std::to_string(rc) +
                        "; the generation was rejected and the previous one keeps serving.");
      }
      const bool fault = Faulted(out, "in-verify");
      if (bound.Expired()) return Fail(out, "ERR_DLSWAP_TIMEOUT", "dlswap_init of " + spec.path + " returned only after its timeout");
      if (fault) return false;
      out.verify_ms = Ms(t);
      return true;
    }
    // No init: the plugin is ready as it is, and its fini (if any) is due at retirement.
    out.initialized = true;
  }
  if (Faulted(out, "in-verify")) return false;
  out.verify_ms = Ms(t);
  return true;
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
    for (auto it = out.deps.rbegin(); it != out.deps.rend(); ++it) (*it)->Close(nullptr);
    ProcMaps maps;
    std::vector<bool> mapped;
    for (const LibraryRef &d : out.deps) mapped.push_back(maps.Maps(d->mapped_path));
    ReleaseUnmapped(out.deps, mapped);
  }
  // Names reserved for copies that were never loaded.
  for (const std::string &n : out.closure.names) {
    const bool held = std::any_of(out.deps.begin(), out.deps.end(), [&](const LibraryRef &d) {
      return std::find(d->private_names.begin(), d->private_names.end(), n) != d->private_names.end();
    });
    if (!held) ReleasePrivateName(n);
  }
  for (const ClosureCopy &c : out.closure.copies) {
    if (std::none_of(out.deps.begin(), out.deps.end(), [&](const LibraryRef &d) { return d->copy_name == c.copy.name; })) ForgetCopySource(c.copy.name);
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
