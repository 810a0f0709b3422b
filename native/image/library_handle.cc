// The loader: opens one image per NativeLibrary in the requested isolation mode, and tells the
// truth about what was mapped (dlinfo) and whether dlclose really unmapped it (RTLD_NOLOAD probe).
// Which mode to use, the private copy, and what an error means to a user are decided in lib/.
#include <dlfcn.h>
#include <link.h>

#include <cstring>
#include <string>

#include <algorithm>

#include "common/addon_data.h"
#include "common/errors.h"
#include "image/image_closure.h"
#include "common/module.h"
#include "namespace/namespace_pool.h"
#include "image/native_library.h"
#include "image/thread_scan.h"

namespace dlswap {

int LibraryHandle::Close(std::string *error) {
  if (!handle) return 0;
  if (fflush_fn) fflush_fn(nullptr);
  if (ns && !SuspendKeyDestructors(ns, 1000)) {
    ResumeKeyDestructors(ns);
    if (error) *error = "a pthread key destructor of the library is still running in its code";
    return -1;
  }
  dlerror();
  int rc = dlclose(handle);
  if (rc != 0 && error) {
    const char *e = dlerror();
    *error = e ? e : "dlclose failed";
  }
  if (ns) ResumeKeyDestructors(ns);
  NoteImageClosed(map);
  handle = nullptr;
  closed = true;
  if (ns) ReleaseNamespace(ns);
  ReleaseExitedThreadPins();
  return rc;
}

LibraryHandle::~LibraryHandle() {
  if (keep_mapped || (handle && !Holders().empty())) return;
  Close(nullptr);
}

// The address of a function of the addon itself: its object never unloads, nor what it needs.
static void AddonMarker() {}

std::vector<ThreadNote> LibraryHandle::Holders() const {
  if (!handle || !map) return {};
  ObjectList scan;
  std::vector<AddressRange> ranges;
  const ProcMaps maps;
  // Everything that takes the dynamic loader's locks (dladdr, dlinfo) happens before: inside
  // WithLinkMapsLocked only the link maps are read, or the lock order would invert against a dlopen.
  ObjectList keepers = ThreadPinnedObjects();
  for (const struct link_map *m : OpenImages()) keepers.push_back(m);
  if (ns && ns->runtime) {
    struct link_map *rt = nullptr;
    if (dlinfo(ns->runtime, RTLD_DI_LINKMAP, &rt) == 0) keepers.push_back(rt);
  } else if (!ns) {
    static const struct link_map *addon = [] {
      Dl_info info;
      void *self = nullptr;
      return dladdr1(reinterpret_cast<void *>(&AddonMarker), &info, &self, RTLD_DL_LINKMAP) ? static_cast<const struct link_map *>(self) : nullptr;
    }();
    if (addon) keepers.push_back(addon);
  }
  WithLinkMapsLocked([&] {
    const ObjectList objects = NamespaceObjects(map);
    if (!ns) keepers.push_back(objects.front());  // the program: node and what it links
    ObjectList same_namespace;
    for (const struct link_map *k : keepers) {
      if (std::find(objects.begin(), objects.end(), k) != objects.end()) same_namespace.push_back(k);
    }
    scan = UnmappableWith(map, same_namespace);
    ranges = ExecutableRanges(scan, maps);
  });
  std::vector<ThreadNote> notes = RuntimeThreadsIn(scan);
  for (pid_t tid : ScanThreads(ranges, maps).executing) {
    if (std::none_of(notes.begin(), notes.end(), [&](const ThreadNote &n) { return n.tid == tid; })) {
      notes.push_back({tid, ThreadName(tid), "running its code"});
    }
  }
  return notes;
}


static Lmid_t LmidFromJs(Napi::Env env, Napi::Value v) {
  if (!v.IsBigInt()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "lmid must be a bigint");
  bool lossless = false;
  int64_t id = v.As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "lmid out of range");
  return static_cast<Lmid_t>(id);
}


Napi::Function NativeLibrary::Define(Napi::Env env) {
  return DefineClass(env, "NativeLibrary",
                     {
                         InstanceMethod("info", &NativeLibrary::Info),
                         InstanceMethod("symbol", &NativeLibrary::Symbol),
                         InstanceMethod("free", &NativeLibrary::Free),
                         InstanceMethod("flush", &NativeLibrary::Flush),
                         InstanceMethod("close", &NativeLibrary::Close),
                         InstanceMethod("holders", &NativeLibrary::Holders),
                         InstanceMethod("gate", &NativeLibrary::Gate),
                         InstanceMethod("stats", &NativeLibrary::Stats),
                         InstanceMethod("errno", &NativeLibrary::Errno),
                     });
}

LibraryRef NativeLibrary::From(Napi::Env env, Napi::Value value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(Data(env).native_library_ctor.Value())) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "expected a NativeLibrary");
  }
  return Napi::ObjectWrap<NativeLibrary>::Unwrap(value.As<Napi::Object>())->ref_;
}

// Made by the loader (loader/loader_js.cc) around an image it opened: new NativeLibrary(External).
NativeLibrary::NativeLibrary(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeLibrary>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "NativeLibrary is made by dlswap's loader; use open() or openAsync()");
  }
  ref_ = *info[0].As<Napi::External<LibraryRef>>().Data();
}

Napi::Object NativeLibrary::Wrap(Napi::Env env, LibraryRef ref) {
  return Data(env).native_library_ctor.New({Napi::External<LibraryRef>::New(env, &ref)});
}

NativeLibrary::~NativeLibrary() = default;

Napi::Value NativeLibrary::Info(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("mappedPath", Napi::String::New(env, ref_->mapped_path));
  o.Set("lmid", Napi::BigInt::New(env, static_cast<int64_t>(ref_->lmid)));
  return o;
}

static void RequireOpen(Napi::Env env, const LibraryHandle &h) {
  if (h.closed || !h.handle) throw CodedError(env, "ERR_DLSWAP_CLOSED", "the library is closed; open it again");
}

Napi::Value NativeLibrary::Symbol(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  RequireOpen(env, *ref_);
  if (info.Length() < 1 || !info[0].IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "symbol name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  dlerror();
  void *p = dlsym(ref_->handle, name.c_str());
  if (dlerror() != nullptr || p == nullptr) return env.Undefined();
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

Napi::Value NativeLibrary::Free(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  RequireOpen(env, *ref_);
  if (info.Length() < 1 || !info[0].IsBigInt()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "free(ptr): ptr must be a bigint address");
  bool lossless = false;
  uint64_t addr = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "free(ptr): ptr is not a valid address");
  if (!ref_->free_fn) {
    throw CodedError(env, "ERR_DLSWAP_MODE_UNSUPPORTED",
                     "this library has no libc in its namespace, so it cannot have allocated with malloc");
  }
  ref_->free_fn(reinterpret_cast<void *>(static_cast<uintptr_t>(addr)));
  return env.Undefined();
}

Napi::Value NativeLibrary::Flush(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  RequireOpen(env, *ref_);
  return Napi::Number::New(env, ref_->fflush_fn ? ref_->fflush_fn(nullptr) : 0);
}

Napi::Value NativeLibrary::Close(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  if (ref_->closed) {
    o.Set("rc", Napi::Number::New(env, 0));
    o.Set("alreadyClosed", Napi::Boolean::New(env, true));
    return o;
  }
  int64_t busy = ref_->in_flight.load();
  if (busy > 0) {
    throw CodedError(env, "ERR_DLSWAP_BUSY",
                     std::to_string(busy) + " call(s) still running in this library; wait for them before closing");
  }
  std::string error;
  int rc = ref_->Close(&error);
  o.Set("rc", Napi::Number::New(env, rc));
  if (rc != 0) o.Set("error", Napi::String::New(env, error));
  return o;
}

Napi::Value NativeLibrary::Holders(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const ThreadNote &n : ref_->Holders()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tid", Napi::Number::New(env, n.tid));
    o.Set("name", Napi::String::New(env, n.name));
    o.Set("why", Napi::String::New(env, n.why));
    out.Set(i++, o);
  }
  return out;
}

// gate(true): sync calls are refused as busy while a handover moves the state; gate(false) ends it.
Napi::Value NativeLibrary::Gate(const Napi::CallbackInfo &info) {
  const bool on = info[0].ToBoolean();
  if (on && !ref_->closed) {
    ref_->gated = ref_->closed = true;
  } else if (!on && ref_->gated) {
    ref_->gated = ref_->closed = false;
  }
  return info.Env().Undefined();
}

Napi::Value NativeLibrary::Stats(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("calls", Napi::Number::New(env, static_cast<double>(ref_->calls.load())));
  o.Set("errors", Napi::Number::New(env, static_cast<double>(ref_->errors.load())));
  o.Set("inFlight", Napi::Number::New(env, static_cast<double>(ref_->in_flight.load())));
  o.Set("closed", Napi::Boolean::New(env, ref_->closed));
  return o;
}

Napi::Value NativeLibrary::Errno(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), ref_->last_errno);
}

static Napi::Value ConfigureRuntimeJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "runtime path must be a string");
  SetRuntimePath(info[0].As<Napi::String>().Utf8Value());
  return env.Undefined();
}

static Napi::Value AnchorNamespaceJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string error;
  const NamespaceRecord *a = EnsureAnchor(error);
  if (!a) {
    Napi::Error err = CodedError(env, "ERR_DLSWAP_LOAD_FAILED", "cannot create dlswap's namespace: " + error);
    err.Set("dlerror", Napi::String::New(env, error));
    throw err;
  }
  return Napi::BigInt::New(env, static_cast<int64_t>(a->lmid));
}

// What the runtime of a namespace dlswap made is tracking: keys created through it, threads
// started through it and alive. Zeros for a namespace dlswap did not make.
static Napi::Value RuntimeStatsJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  NamespaceRecord *ns = LastNamespace(LmidFromJs(env, info[0]));
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", Napi::Number::New(env, ns ? LiveNamespaceKeys(ns) : 0));
  o.Set("threads", Napi::Number::New(env, ns ? LiveRuntimeThreads(ns) : 0));
  return o;
}

static Napi::Value FreshNamespaceCountJs(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), LiveFreshNamespaces());
}

static Napi::Value NamespaceAliveJs(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), NamespaceAlive(LmidFromJs(info.Env(), info[0])));
}


void InitLoader(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = NativeLibrary::Define(env);
  Data(env).native_library_ctor = Napi::Persistent(ctor);
  exports.Set("NativeLibrary", ctor);
  exports.Set("configureRuntime", Napi::Function::New(env, ConfigureRuntimeJs, "configureRuntime"));
  exports.Set("anchorNamespace", Napi::Function::New(env, AnchorNamespaceJs, "anchorNamespace"));
  exports.Set("runtimeStats", Napi::Function::New(env, RuntimeStatsJs, "runtimeStats"));
  exports.Set("freshNamespaceCount", Napi::Function::New(env, FreshNamespaceCountJs, "freshNamespaceCount"));
  exports.Set("namespaceAlive", Napi::Function::New(env, NamespaceAliveJs, "namespaceAlive"));
}

}  // namespace dlswap
