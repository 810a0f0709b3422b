#include "signals/fault_js.h"

#include <napi.h>

#include <mutex>

#include "common/addon_data.h"
#include "common/errors.h"
#include "common/exports.h"
#include "image/library_handle.h"
#include "image/native_library.h"
#include "signals/code_ranges.h"
#include "signals/image_registry.h"
#include "signals/signal_text.h"
#include "signals/signals.h"

namespace dlswap {

namespace {

const char *RoleName(const FaultRecord &r) {
  switch (r.role) {
    case ThreadRole::kJs: return r.main_thread ? "main" : "worker";
    case ThreadRole::kPool: return "pool";
    case ThreadRole::kLoader: return "loader";
    default: return "library";
  }
}

const char *AccessName(FaultAccess a) {
  switch (a) {
    case FaultAccess::kRead: return "read";
    case FaultAccess::kWrite: return "write";
    case FaultAccess::kExecute: return "execute";
    default: return "unknown";
  }
}

Napi::Object FaultObject(Napi::Env env, const FaultRecord &r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("signal", SignalName(r.signo));
  o.Set("signalCode", SignalCodeName(r.signo, r.code));
  o.Set("reason", SignalCodeText(r.signo, r.code));
  o.Set("access", AccessName(r.access));
  o.Set("address", Napi::BigInt::New(env, static_cast<uint64_t>(r.address)));
  o.Set("function", r.function);
  o.Set("library", r.library);
  o.Set("generation", r.generation > 0 ? Napi::Value(Napi::Number::New(env, r.generation)) : env.Null());
  Napi::Object thread = Napi::Object::New(env);
  thread.Set("tid", r.tid);
  thread.Set("role", RoleName(r));
  o.Set("thread", thread);
  Napi::Array frames = Napi::Array::New(env, r.frames.size());
  for (size_t i = 0; i < r.frames.size(); ++i) {
    const FaultFrame &f = r.frames[i];
    Napi::Object fo = Napi::Object::New(env);
    fo.Set("pc", Napi::BigInt::New(env, static_cast<uint64_t>(f.pc)));
    fo.Set("object", f.object);
    fo.Set("symbol", f.symbol.empty() ? env.Null() : Napi::Value(Napi::String::New(env, f.symbol)));
    fo.Set("offset", Napi::Number::New(env, static_cast<double>(f.offset)));
    fo.Set("objectAddress", Napi::Number::New(env, static_cast<double>(f.object_address)));
    fo.Set("inLibrary", f.in_library);
    frames.Set(static_cast<uint32_t>(i), fo);
  }
  o.Set("frames", frames);
  o.Set("where", r.Where());
  return o;
}

// describeLibrary(library, path, generation, buildId[, label]) -> id: what fault reports call this
// image, and the id the fault listener names it by (the handle's address: unique while it lives).
Napi::Value Describe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  LibraryRef lib = NativeLibrary::From(env, info[0]);
  if (info.Length() < 4 || !info[1].IsString() || !info[2].IsNumber()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "describeLibrary(library, path, generation, buildId)");
  }
  lib->display_path = info[1].As<Napi::String>().Utf8Value();
  lib->generation = info[2].As<Napi::Number>().Int32Value();
  lib->build_id = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
  std::string label = lib->display_path;
  if (info.Length() > 4 && info[4].IsString()) label = info[4].As<Napi::String>().Utf8Value();
  if (lib->map && !lib->closed) RegisterImage(lib->map, label, lib->generation);
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(lib.get())));
}

// setFaultListener(fn(library, error)): the environment's listener (lib/containment.ts).
Napi::Value SetFaultListener(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "setFaultListener(fn)");
  Data(env).fault_listener = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

// faultLibrary(library) -> the first fault's record as JS values, or null.
Napi::Value FaultOf(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  LibraryRef lib = NativeLibrary::From(env, info[0]);
  std::shared_ptr<const FaultRecord> first = FirstFault(*lib);
  if (!first) return env.Null();
  Napi::Object o = FaultObject(env, *first);
  o.Set("message", first->message);
  return o;
}

// faultHandlers() -> { installed: { SIGSEGV: true, ... } }: whether dlswap's handler is each
// signal's disposition now (doctor, tests).
Napi::Value FaultHandlers(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object installed = Napi::Object::New(env);
  for (int sig : kFaultSignals) installed.Set(SignalName(sig), FaultHandlerInstalled(sig));
  Napi::Object o = Napi::Object::New(env);
  o.Set("installed", installed);
  return o;
}

}  // namespace

Napi::Object FaultToJs(Napi::Env env, const FaultRecord &record) { return FaultObject(env, record); }

napi_value MakeFaultError(napi_env env, const FaultRecord &record) {
  napi_value err = MakeCodedError(env, "ERR_DLSWAP_FAULT", record.message);
  try {
    Napi::Object(env, err).Set("fault", FaultObject(Napi::Env(env), record));
  } catch (...) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  return err;
}

void NotifyFault(napi_env env, const LibraryHandle &lib, napi_value error) {
  AddonData *data = nullptr;
  if (napi_get_instance_data(env, reinterpret_cast<void **>(&data)) != napi_ok || !data || data->fault_listener.IsEmpty()) return;
  napi_value fn = data->fault_listener.Value(), recv, result;
  napi_get_undefined(env, &recv);
  napi_value argv[2] = {error, nullptr};
  napi_create_bigint_uint64(env, reinterpret_cast<uint64_t>(&lib), &argv[1]);
  if (napi_call_function(env, recv, fn, 2, argv, &result) != napi_ok) {
    // A listener that throws must not replace the fault's own error.
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
}

napi_value HandleSyncFault(napi_env env, const std::string &function, LibraryHandle &lib, const ThreadFaults &thread) {
  try {
    std::shared_ptr<const FaultRecord> record = MakeFaultRecord(thread.last, lib, function, thread);
    Quarantine(lib, record);
    lib.errors.fetch_add(1, std::memory_order_relaxed);
    napi_value err = MakeFaultError(env, *record);
    NotifyFault(env, lib, err);
    napi_throw(env, err);
  } catch (...) {
    napi_throw_error(env, "ERR_DLSWAP_FAULT", (function + "() faulted; the library is quarantined").c_str());
  }
  return nullptr;
}

napi_value MakeFaultedError(napi_env env, const std::string &function, const LibraryHandle &lib) {
  std::shared_ptr<const FaultRecord> first = FirstFault(lib);
  napi_value err = MakeCodedError(env, "ERR_DLSWAP_FAULTED", FaultedMessage(function, first.get()));
  if (first) {
    try {
      Napi::Object(env, err).Set("fault", FaultObject(Napi::Env(env), *first));
    } catch (...) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  return err;
}

napi_value ThrowFaulted(napi_env env, const std::string &function, const LibraryHandle &lib) {
  napi_throw(env, MakeFaultedError(env, function, lib));
  return nullptr;
}

void RegisterFaultContainment(Napi::Env env, Napi::Object exports) {
  // Once per process, whichever environment (the main thread, a worker) loads the addon first.
  static std::once_flag installed;
  std::call_once(installed, [] {
    ComputeCodeRanges();
    InstallFaultHandlers();
  });
  Export(
      env, exports,
      {{"describeLibrary", Describe}, {"setFaultListener", SetFaultListener}, {"libraryFault", FaultOf}, {"faultHandlers", FaultHandlers}});
}

}  // namespace dlswap
