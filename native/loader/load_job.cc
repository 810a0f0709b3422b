#include "loader/load_job.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <link.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <mutex>
#include <unordered_set>

#include <dlswap.h>

#include "common/faults.h"
#include "image/image_closure.h"
#include "namespace/namespace_pool.h"
#include "common/proc_maps.h"
#include "loader/loader_pool.h"
#include "loader/private_area.h"
#include "loader/source_copy.h"

namespace dlswap {

namespace {

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
constexpr const char *kHostMachineName = "x86_64";
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
constexpr const char *kHostMachineName = "aarch64";
#endif

double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

std::string TakeDlerror() {
  const char *e = dlerror();
  return e ? std::string(e) : std::string("the dynamic loader gave no reason");
}

template <typename Fn>
Fn Symbol(void *handle, const char *name) {
  dlerror();
  void *p = dlsym(handle, name);
  dlerror();
  return reinterpret_cast<Fn>(p);
}

// node's exports (~74,000): read from the running executable once.
const std::unordered_set<std::string> &NodeExports() {
  static std::unordered_set<std::string> set;
  static std::once_flag once;
  std::call_once(once, [] {
    ElfInfoStruct self;
    std::string code, msg;
    if (ReadElfFile("/proc/self/exe", self, code, msg)) set.insert(self.exports.begin(), self.exports.end());
  });
  return set;
}

void *Open(Isolation iso, NamespaceRecord *ns, const std::string &file) {
  switch (iso) {
    case Isolation::Local:
      return dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    case Isolation::DeepBind:
      return dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    default:
      return dlmopen(ns->lmid, file.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
}

// The object already loaded under `name` in the namespace the load goes to, or null.
void *OpenLoaded(Isolation iso, NamespaceRecord *ns, const std::string &name) {
  dlerror();
  void *h = iso == Isolation::Local || iso == Isolation::DeepBind ? dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD)
                                                                  : dlmopen(ns->lmid, name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  dlerror();
  return h;
}

// The handle's libc entry points and identity, as NativeLibrary exposes them.
LibraryRef MakeHandle(void *h, Isolation iso, NamespaceRecord *ns, const std::string &shown_path) {
  auto ref = std::make_shared<LibraryHandle>();
  ref->handle = h;
  ref->isolation = iso;
  ref->ns = ns;
  Lmid_t lmid = 0;
  if (dlinfo(h, RTLD_DI_LMID, &lmid) == 0) ref->lmid = lmid;
  struct link_map *lm = nullptr;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
    ref->map = lm;
    if (lm->l_name) ref->loader_name = lm->l_name;
  }
  dlerror();
  ref->mapped_path = shown_path.empty() ? ref->loader_name : shown_path;
  NoteImageOpened(ref->map);
  // In `local` the library's own malloc binds through the global scope first, so an allocator that
  // node was started with (LD_PRELOAD jemalloc, ASan) is the one that allocated: free through the
  // same scope. The other modes bind the library to its own dependencies first; in the namespace
  // modes a library that does not link libc itself still has the runtime's.
  void *scope = iso == Isolation::Local ? RTLD_DEFAULT : h;
  ref->errno_location = Symbol<int *(*)()>(scope, "__errno_location");
  ref->free_fn = Symbol<void (*)(void *)>(scope, "free");
  ref->malloc_fn = Symbol<void *(*)(size_t)>(scope, "malloc");
  ref->fflush_fn = Symbol<int (*)(void *)>(scope, "fflush");
  if (ns) {
    if (!ref->errno_location) ref->errno_location = ns->errno_location;
    if (!ref->free_fn) ref->free_fn = ns->free_fn;
    if (!ref->fflush_fn) ref->fflush_fn = Symbol<int (*)(void *)>(ns->runtime, "fflush");
    if (!ref->malloc_fn) ref->malloc_fn = Symbol<void *(*)(size_t)>(ns->runtime, "malloc");
  }
  return ref;
}

// The mode's refusals, decided on one file's headers (the library's or a private dependency's)
// before any of its code runs.
bool Refused(const LoadSpec &spec, const ElfInfoStruct &elf, LoadResult &out) {
  auto refuse = [&](const char *why) {
    out.code = "ERR_DLSWAP_UNSAFE_MODE";
    out.message = why;
    return true;
  };
  if (!spec.refuse_imports.empty()) {
    for (const std::string &s : elf.imports) {
      if (std::find(spec.refuse_imports.begin(), spec.refuse_imports.end(), s) != spec.refuse_imports.end()) out.symbols.push_back(s);
    }
    if (!out.symbols.empty()) return refuse("refused-imports");
  }
  if (spec.refuse_node_init_fini) {
    const auto &node = NodeExports();
    for (const std::string &s : elf.init_fini_symbols) {
      if (node.count(s)) out.symbols.push_back(s);
    }
    if (!out.symbols.empty()) return refuse("node-init-fini");
  }
  if (spec.refuse_node_interposition) {
    const auto &node = NodeExports();
    for (const std::string &s : elf.self_bound_symbols) {
      if (node.count(s)) out.symbols.push_back(s);
    }
    if (!out.symbols.empty()) return refuse("node-interposition");
  }
  return false;
}

bool Fail(LoadResult &out, const std::string &code, const std::string &message) {
  out.code = code;
  out.message = message;
  return false;
}

bool Faulted(LoadResult &out, const char *point) {
  if (HitFault(point) != FaultAction::Throw) return false;
  return !Fail(out, "ERR_DLSWAP_INTERNAL", std::string("injected fault at '") + point + "'");
}


// The dynamic loader's words with dlswap's private names put back: the copy of a dependency becomes
// the file it was made from, a renamed DT_NEEDED the name the library asked for.
std::string Unrenamed(std::string text, const LoadResult &out) {
  auto replace = [&](const std::string &from, const std::string &to) {
    if (from.empty()) return;
    for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) text.replace(at, from.size(), to);
  };
  for (const ClosureCopy &c : out.closure.copies) replace(LoaderPathOf(c.copy.name), out.plan.nodes[c.node].path);
  for (const auto &[edge, name] : out.closure.edge_names) replace(name, edge.second);
  return text;
}

bool SameFile(const std::string &a, const std::string &b) {
  struct stat sa, sb;
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// The file an object was loaded from: for a copy in the private area, the file it copied.
std::string SourceOf(const std::string &l_name) {
  const std::string dir = LoaderPathOf("");
  if (l_name.compare(0, dir.size(), dir) == 0) {
    const std::string source = SourceOfCopy(l_name.substr(dir.size()));
    return source.empty() ? l_name : source;
  }
  return l_name;
}

// Never silent: every dependency of the library and of its private copies must be bound to the file
// it would load on its own. A private one to its own copy (its name is unique); a system one to the
// file the search finds, not an object of the same name some other code loaded from elsewhere (in
// 'local', anything in node's namespace; in 'namespace', another generation's copy). Shared ones
// are recorded. Fails with ERR_DLSWAP_DEPENDENCY_MISMATCH, naming both files.
bool CheckBindings(LoadResult &out) {
  struct Requester {
    int node;
    const struct link_map *map;
  };
  std::vector<Requester> requesters{{0, out.lib->map}};
  for (size_t i = 0; i < out.deps.size(); ++i) {
    if (out.plan.nodes[out.dep_nodes[i]].kind == DependencyKind::Private) requesters.push_back({out.dep_nodes[i], out.deps[i]->map});
  }
  struct Binding {
    int from;
    std::string name;
    const struct link_map *map;
    std::string l_name;
  };
  std::vector<Binding> bound;
  WithLinkMapsLocked([&] {
    for (const Requester &r : requesters) {
      if (!r.map) continue;
      for (const auto &[name, m] : BoundNeeded(r.map)) bound.push_back({r.node, name, m, m && m->l_name ? m->l_name : ""});
    }
  });
  out.bound_to.assign(out.plan.nodes.size(), "");
  for (const DependencyEdge &e : out.plan.edges) {
    auto renamed = out.closure.edge_names.find({e.from, e.needed});
    const std::string asked = renamed == out.closure.edge_names.end() ? e.needed : renamed->second;
    auto b = std::find_if(bound.begin(), bound.end(), [&](const Binding &x) { return x.from == e.from && x.name == asked; });
    if (b == bound.end() || !b->map) continue;  // found by a search under a further name: its own copy
    const DependencyNode &n = out.plan.nodes[e.to];
    const std::string source = SourceOf(b->l_name);
    if (out.bound_to[e.to].empty()) out.bound_to[e.to] = source;
    bool ok = true;
    switch (n.kind) {
      case DependencyKind::Private: {
        auto d = std::find(out.dep_nodes.begin(), out.dep_nodes.end(), e.to);
        ok = d != out.dep_nodes.end() && out.deps[d - out.dep_nodes.begin()]->map == b->map;
        break;
      }
      case DependencyKind::Shared: break;
      case DependencyKind::System: {
        // Not looked up before the load (the loader searches the system directories itself): what it
        // bound must be a file of those directories.
        ok = n.file.empty() ? InSystemDirectory(source) : source == n.file || SameFile(source, n.file);
        if (ok && n.file.empty()) {
          DependencyNode &m = out.plan.nodes[e.to];
          m.path = source;
          m.file = source;
        }
        break;
      }
      case DependencyKind::Missing: ok = false; break;
    }
    if (ok) continue;
    const std::string who = e.from == 0 ? out.plan.nodes[0].path : out.plan.nodes[e.from].path + " (a private dependency of " + out.plan.nodes[0].path + ")";
    std::string own = n.path.empty() && n.kind == DependencyKind::System ? FindInSystemDirs(e.needed) : n.path;
    own = own.empty() ? "no file of that name in the directories it searches" : own + (n.found_via.empty() ? "" : " (" + n.found_via + ")");
    return Fail(out, "ERR_DLSWAP_DEPENDENCY_MISMATCH",
                who + " needs " + e.needed + ": on its own it would load " + own + ", but the dynamic loader bound it to " + source +
                    ", already loaded under that name. A different file must not serve it unannounced, so the load was refused. "
                    "Close whatever loaded the other file, or list " + e.needed + " in shareDependencies to accept the loaded one.");
  }
  return true;
}

bool RuntimeLibrary(const std::string &file) {
  const std::string base = file.substr(file.rfind('/') == std::string::npos ? 0 : file.rfind('/') + 1);
  for (const char *p : {"libstdc++.so", "libc++.so", "libc++abi.so", "libgcc_s.so", "libc.so", "libm.so", "ld-linux"}) {
    if (base.rfind(p, 0) == 0) return true;
  }
  return false;
}

// A generation whose C++ classes derive from those of a library that outlives it (it imports their
// typeinfo) may have handed objects of those classes to that library, which calls their virtual
// functions later (ICU's caches do): unmapping the generation would leave it calling into nothing.
// Such a generation is kept mapped, and the reason says which library and class.
std::string DerivedFromShared(const LoadResult &out) {
  std::vector<std::pair<const std::vector<std::string> *, void *>> files{{&out.elf.imports, out.lib->handle}};
  std::vector<const struct link_map *> own{out.lib->map};
  for (size_t i = 0; i < out.deps.size(); ++i) {
    const DependencyNode &n = out.plan.nodes[out.dep_nodes[i]];
    if (n.kind != DependencyKind::Private) continue;
    own.push_back(out.deps[i]->map);
    if (n.elf) files.push_back({&n.elf->imports, out.deps[i]->handle});
  }
  for (const auto &[imports, handle] : files) {
    for (const std::string &sym : *imports) {
      if (sym.rfind("_ZTI", 0) != 0) continue;
      dlerror();
      void *p = dlsym(handle, sym.c_str());
      dlerror();
      Dl_info info;
      void *extra = nullptr;
      if (!p || !dladdr1(p, &info, &extra, RTLD_DL_LINKMAP) || !extra) continue;
      const auto *m = static_cast<const struct link_map *>(extra);
      if (std::find(own.begin(), own.end(), m) != own.end()) continue;
      const std::string file = m->l_name && *m->l_name ? m->l_name : "the executable";
      if (RuntimeLibrary(file)) continue;
      return "its C++ classes derive from classes of " + SourceOf(file) + " (it imports " + sym +
             "), which stays loaded after it: that library may still hold objects of its classes and call their virtual functions";
    }
  }
  return "";
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
      if (!h) h = Open(spec.isolation, ns, n.path);
    } else {
      auto c = std::find_if(out.closure.copies.begin(), out.closure.copies.end(), [&](const ClosureCopy &x) { return x.node == i; });
      copy_name = c->copy.name;
      shown = PrivateDirPath() + "/" + copy_name;
      if (!c->new_soname.empty()) names.push_back(c->new_soname);
      names.insert(names.end(), c->aliases.begin(), c->aliases.end());
      dlerror();
      h = Open(spec.isolation, ns, LoaderPathOf(copy_name));
    }
    if (!h) {
      out.dlerror = Unrenamed(TakeDlerror(), out);
      return Fail(out, "ERR_DLSWAP_LOAD_FAILED", out.dlerror);
    }
    if (ns) RetainNamespace(ns);
    LibraryRef dep = MakeHandle(h, spec.isolation, ns, shown);
    dep->copy_name = copy_name;
    dep->private_names = names;
    out.deps.push_back(dep);
    out.dep_nodes.push_back(i);
  }

  out.copy_ms = Ms(t);
  t = clock::now();
  out.loader_path = LoaderPathOf(copy.name);
  dlerror();
  void *h = Open(spec.isolation, ns, out.loader_path);
  if (!h) {
    out.dlerror = Unrenamed(TakeDlerror(), out);
    return Fail(out, "ERR_DLSWAP_LOAD_FAILED", out.dlerror);
  }
  if (ns) RetainNamespace(ns);
  out.lib = MakeHandle(h, spec.isolation, ns, PrivateDirPath() + "/" + copy.name);
  out.lib->copy_name = copy.name;
  if (ns) GiveNamespaceStableEnviron(ns->runtime);
  // Mapped: the name stays in the link map and /proc/self/maps (as "(deleted)"), the file goes.
  DiscardCopy(copy);
  DiscardClosureFiles(out.closure);
  out.open_ms = Ms(t);
  if (Faulted(out, "after-open")) return false;
  if (!CheckBindings(out)) return false;
  out.keep_mapped = DerivedFromShared(out);

  t = clock::now();
  out.phase = "verifying";
  for (const std::string &name : spec.functions) {
    dlerror();
    if (!dlsym(h, name.c_str())) out.symbols.push_back(name);
  }
  dlerror();
  if (!out.symbols.empty()) return Fail(out, "ERR_DLSWAP_SYMBOL_NOT_FOUND", "missing-functions");
  if (spec.plugin) {
    if (auto abi = Symbol<uint32_t (*)()>(h, "dlswap_abi_version")) {
      out.abi = abi();
      if (out.abi < spec.abi_min || out.abi > spec.abi_max) {
        const std::string range = spec.abi_min == spec.abi_max ? std::to_string(spec.abi_min)
                                                               : std::to_string(spec.abi_min) + " to " + std::to_string(spec.abi_max);
        return Fail(out, "ERR_DLSWAP_ABI_VERSION",
                    spec.path + " speaks plugin ABI version " + std::to_string(out.abi) + "; this host accepts " + range +
                        ". Rebuild the plugin against this dlswap's include/dlswap.h.");
      }
    }
    if (auto version = Symbol<const char *(*)()>(h, "dlswap_version")) {
      const char *v = version();
      out.has_version = true;
      if (v) out.version.assign(v, strnlen(v, 4096));
    }
    if (auto init = Symbol<int (*)(const dlswap_host *)>(h, "dlswap_init")) {
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

// Names and source notes of images that are gone; those of images still mapped stay reserved.
void ReleaseUnmapped(const std::vector<LibraryRef> &images, const ProcMaps &maps = ProcMaps()) {
  for (const LibraryRef &r : images) {
    if (!r || r->copy_name.empty() || maps.Maps(r->mapped_path)) continue;
    ForgetCopySource(r->copy_name);
    for (const std::string &n : r->private_names) ReleasePrivateName(n);
    r->private_names.clear();
  }
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
    for (auto it = out.deps.rbegin(); it != out.deps.rend(); ++it) (*it)->Close(nullptr);
    std::vector<LibraryRef> images = out.deps;
    ReleaseUnmapped(images);
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
  out.deps.clear();
  DiscardCopy(copy);
  DiscardClosureFiles(out.closure);
  DropSymbolLists(out);
}

void RunRetire(const RetireSpec &spec, RetireResult &out) {
  using clock = std::chrono::steady_clock;
  LibraryHandle &lib = *spec.lib;
  auto t = clock::now();
  out.finalized = !spec.run_fini;
  if (spec.run_fini) {
    if (auto fini = Symbol<void (*)()>(lib.handle, "dlswap_fini")) {
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

void RunHandover(const HandoverSpec &spec, HandoverResult &out) {
  const auto t = std::chrono::steady_clock::now();
  auto exp = Symbol<size_t (*)(void *, size_t)>(spec.from->handle, "dlswap_state_export");
  auto imp = Symbol<int (*)(const void *, size_t)>(spec.to->handle, "dlswap_state_import");
  if (!exp || !imp) return;  // nothing to move: the swap alone is the handover
  // A plugin that announces more than this is broken; refusing is better than allocating it.
  constexpr size_t kMaxState = size_t(1) << 30;
  auto fail = [&](const char *step, const std::string &code, const std::string &message) {
    out.step = step;
    out.code = code;
    out.message = message;
  };
  std::vector<uint8_t> buf;
  {
    LoaderPool::Deadline bound(spec.export_timeout_ms, [cb = spec.on_timeout] { if (cb) cb("export"); });
    if (HitFault("in-state-export") == FaultAction::Throw) return fail("export", "ERR_DLSWAP_INTERNAL", "injected fault at 'in-state-export'");
    const size_t size = exp(nullptr, 0);
    if (size > kMaxState) {
      return fail("export", "ERR_DLSWAP_STATE_TRANSFER",
                  "dlswap_state_export of the old generation announced " + std::to_string(size) +
                      " bytes of state (more than 1 GiB); rolled back to the old generation. Return the real size from "
                      "dlswap_state_export(NULL, 0).");
    }
    buf.resize(size);
    const size_t written = exp(buf.data(), size);
    if (bound.Expired()) return fail("export", "ERR_DLSWAP_TIMEOUT", "dlswap_state_export returned only after its timeout");
    if (written != size) {
      return fail("export", "ERR_DLSWAP_STATE_TRANSFER",
                  "dlswap_state_export wrote " + std::to_string(written) + " bytes after announcing " + std::to_string(size) +
                      "; rolled back to the old generation. It must fill exactly the size it announced.");
    }
  }
  {
    LoaderPool::Deadline bound(spec.import_timeout_ms, [cb = spec.on_timeout] { if (cb) cb("import"); });
    if (HitFault("in-state-import") == FaultAction::Throw) return fail("import", "ERR_DLSWAP_INTERNAL", "injected fault at 'in-state-import'");
    const int rc = imp(buf.data(), buf.size());
    if (bound.Expired()) return fail("import", "ERR_DLSWAP_TIMEOUT", "dlswap_state_import returned only after its timeout");
    if (rc != 0) {
      return fail("import", "ERR_DLSWAP_STATE_TRANSFER",
                  "dlswap_state_import of the new generation returned " + std::to_string(rc) + " for " + std::to_string(buf.size()) +
                      " bytes of state (" + spec.path + "); rolled back to the old generation, which keeps serving.");
    }
  }
  out.bytes = buf.size();
  out.transferred = true;
  out.ms = Ms(t);
}

}  // namespace dlswap
