#include "load_job.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <mutex>
#include <unordered_set>

#include <dlswap.h>

#include "../faults.h"
#include "../namespace_pool.h"
#include "../proc_maps.h"
#include "loader_pool.h"
#include "private_area.h"
#include "source_copy.h"

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

// Directories of RUNPATH (or RPATH) entries that use $ORIGIN, expanded against the source's
// directory: the copy's own $ORIGIN is the private directory, where they are not.
std::vector<std::string> OriginDirs(const ElfInfoStruct &elf, const std::string &real_path) {
  std::vector<std::string> out;
  const std::string origin = real_path.substr(0, real_path.rfind('/'));
  const std::string list = elf.runpath ? *elf.runpath : elf.rpath ? *elf.rpath : "";
  std::stringstream in(list);
  for (std::string d; std::getline(in, d, ':');) {
    if (d.find("$ORIGIN") == std::string::npos && d.find("${ORIGIN}") == std::string::npos) continue;
    for (const char *tok : {"${ORIGIN}", "$ORIGIN"}) {
      for (size_t at; (at = d.find(tok)) != std::string::npos;) d.replace(at, std::strlen(tok), origin);
    }
    out.push_back(d);
  }
  return out;
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
    GiveNamespaceStableEnviron(ns->runtime);
  }
  return ref;
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
  if (!spec.refuse_imports.empty()) {
    for (const std::string &s : elf.imports) {
      if (std::find(spec.refuse_imports.begin(), spec.refuse_imports.end(), s) != spec.refuse_imports.end()) out.symbols.push_back(s);
    }
    if (!out.symbols.empty()) return Fail(out, "ERR_DLSWAP_UNSAFE_MODE", "refused-imports");
  }
  if (spec.refuse_node_init_fini) {
    const auto &node = NodeExports();
    for (const std::string &s : elf.init_fini_symbols) {
      if (node.count(s)) out.symbols.push_back(s);
    }
    if (!out.symbols.empty()) return Fail(out, "ERR_DLSWAP_UNSAFE_MODE", "node-init-fini");
  }
  if (spec.refuse_node_interposition) {
    const auto &node = NodeExports();
    for (const std::string &s : elf.self_bound_symbols) {
      if (node.count(s)) out.symbols.push_back(s);
    }
    if (!out.symbols.empty()) return Fail(out, "ERR_DLSWAP_UNSAFE_MODE", "node-interposition");
  }

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

  // Dependencies the library finds through $ORIGIN would be looked up next to the private copy; load
  // them from the source's directory first, into the same namespace, so that the soname match finds
  // them.
  const std::vector<std::string> dirs = OriginDirs(elf, out.real_path);
  for (const std::string &needed : dirs.empty() ? std::vector<std::string>{} : elf.needed) {
    for (const std::string &d : dirs) {
      const std::string candidate = d + "/" + needed;
      if (access(candidate.c_str(), F_OK) != 0) continue;
      dlerror();
      void *h = Open(spec.isolation, ns, candidate);
      if (!h) {
        out.dlerror = TakeDlerror();
        return Fail(out, "ERR_DLSWAP_LOAD_FAILED", out.dlerror);
      }
      if (ns) RetainNamespace(ns);
      out.deps.push_back(MakeHandle(h, spec.isolation, ns, candidate));
      out.origin_dependencies.push_back(candidate);
      break;
    }
  }

  out.copy_ms = Ms(t);
  t = clock::now();
  out.loader_path = LoaderPathOf(copy.name);
  dlerror();
  void *h = Open(spec.isolation, ns, out.loader_path);
  if (!h) {
    out.dlerror = TakeDlerror();
    return Fail(out, "ERR_DLSWAP_LOAD_FAILED", out.dlerror);
  }
  if (ns) RetainNamespace(ns);
  out.lib = MakeHandle(h, spec.isolation, ns, PrivateDirPath() + "/" + copy.name);
  // Mapped: the name stays in the link map and /proc/self/maps (as "(deleted)"), the file goes.
  DiscardCopy(copy);
  out.open_ms = Ms(t);
  if (Faulted(out, "after-open")) return false;

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

}  // namespace

void RunLoad(const LoadSpec &spec, LoadResult &out) {
  PrivateCopy copy;
  out.host_keepalive = spec.host_keepalive;
  if (Load(spec, out, copy)) return;
  // Undo: the plugin's fini if its init succeeded, then every image, as a retirement would.
  if (out.lib) {
    out.opened = true;
    RetireSpec undo;
    undo.lib = out.lib;
    undo.deps = out.deps;
    undo.run_fini = out.initialized;
    RetireResult r;
    RunRetire(undo, r);
    out.undone_unloaded = r.closed && !r.still_loaded;
  } else {
    for (auto it = out.deps.rbegin(); it != out.deps.rend(); ++it) (*it)->Close(nullptr);
  }
  out.initialized = false;
  out.lib.reset();
  out.deps.clear();
  DiscardCopy(copy);
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
  for (const LibraryRef &d : spec.deps) {
    for (ThreadNote &n : d->Holders()) {
      if (std::none_of(out.holders.begin(), out.holders.end(), [&](const ThreadNote &x) { return x.tid == n.tid; })) out.holders.push_back(n);
    }
  }
  if (!out.holders.empty()) return;
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
  out.still_loaded = probe != nullptr || ProcMaps().Maps(shown);
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
