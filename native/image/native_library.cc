// The JS object that owns one LibraryHandle (native_library.h): what lib/ asks of a loaded image
// besides calls: its symbols, its libc's free and fflush, close, holders, the handover gate, stats.
#include "image/native_library.h"

#include <dlfcn.h>

#include <string>

#include "common/addon_data.h"
#include "common/addresses.h"
#include "common/errors.h"
#include "common/exports.h"
#include "common/loader_lock.h"

namespace dlswap {

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

// Made by the loader (loader/jobs_js.cc) around an image it opened: new NativeLibrary(External).
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
  // dlsym takes the dynamic loader's lock: never wait on this thread for code that hung holding it.
  const std::string hung = LoaderLockRefusal("cannot look up " + name);
  if (!hung.empty()) throw CodedError(env, "ERR_DLSWAP_LOADER_HUNG", hung);
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
  // Every allocator returns blocks aligned to 8 bytes at least, where memory can be: anything else
  // would make free() abort the process.
  if (addr != 0 && (NeverMapped(addr) || addr % 8 != 0)) {
    throw CodedError(env, "ERR_DLSWAP_ARG",
                     "free(ptr): " + std::to_string(addr) + " cannot be a block an allocator returned (" +
                         (addr % 8 != 0 ? "not aligned to 8 bytes" : "no memory can be there") + ")");
  }
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
    return o;
  }
  int64_t busy = ref_->in_flight.load();
  if (busy > 0) {
    throw CodedError(env, "ERR_DLSWAP_BUSY", std::to_string(busy) + " call(s) still running in this library; wait for them before closing");
  }
  std::string error;
  int rc = ref_->Close(&error);
  o.Set("rc", Napi::Number::New(env, rc));
  if (rc != 0) o.Set("error", Napi::String::New(env, error));
  return o;
}

Napi::Array ThreadNotesToJs(Napi::Env env, const std::vector<ThreadNote> &notes) {
  Napi::Array out = Napi::Array::New(env, notes.size());
  for (size_t i = 0; i < notes.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tid", Napi::Number::New(env, notes[i].tid));
    o.Set("name", Napi::String::New(env, notes[i].name));
    o.Set("why", Napi::String::New(env, notes[i].why));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value NativeLibrary::Holders(const Napi::CallbackInfo &info) { return ThreadNotesToJs(info.Env(), ref_->Holders()); }

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
  o.Set("calls", Napi::Number::New(env, static_cast<double>(ref_->calls)));
  o.Set("errors", Napi::Number::New(env, static_cast<double>(ref_->errors.load())));
  o.Set("inFlight", Napi::Number::New(env, static_cast<double>(ref_->in_flight.load())));
  o.Set("closed", Napi::Boolean::New(env, ref_->closed));
  return o;
}

Napi::Value NativeLibrary::Errno(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), ref_->last_errno); }

void RegisterNativeLibrary(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = NativeLibrary::Define(env);
  Data(env).native_library_ctor = Napi::Persistent(ctor);
  exports.Set("NativeLibrary", ctor);
}

}  // namespace dlswap
