// The namespaces dlswap makes, as lib/ sees them: where the runtime is, the anchor namespace, and
// what a namespace holds (for doctor, budgets and tests).
#include <dlfcn.h>

#include <string>

#include "common/errors.h"
#include "common/exports.h"
#include "namespace/namespace_pool.h"
#include "namespace/runtime_exit.h"
#include "namespace/runtime_host.h"
#include "namespace/runtime_notes.h"

namespace dlswap {

namespace {

Lmid_t LmidFromJs(Napi::Env env, Napi::Value v) {
  if (!v.IsBigInt()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "lmid must be a bigint");
  bool lossless = false;
  int64_t id = v.As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "lmid out of range");
  return static_cast<Lmid_t>(id);
}

Napi::Value ConfigureRuntimeJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "runtime path must be a string");
  SetRuntimePath(info[0].As<Napi::String>().Utf8Value());
  return env.Undefined();
}

Napi::Value AnchorNamespaceJs(const Napi::CallbackInfo &info) {
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
Napi::Value RuntimeStatsJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  NamespaceRecord *ns = LastNamespace(LmidFromJs(env, info[0]));
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", Napi::Number::New(env, ns ? LiveNamespaceKeys(ns) : 0));
  o.Set("threads", Napi::Number::New(env, ns ? LiveRuntimeThreads(ns) : 0));
  return o;
}

Napi::Value FreshNamespaceCountJs(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), LiveFreshNamespaces()); }

// namespacesCreated(): how many namespaces dlswap made in this process (anchor included, freed or
// not), and the static TLS each new one's libc takes.
Napi::Value NamespacesCreatedJs(const Napi::CallbackInfo &info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("created", CreatedNamespaces());
  o.Set("libcStaticTls", static_cast<double>(LibcStaticTls()));
  return o;
}

Napi::Value NamespaceAliveJs(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), NamespaceAlive(LmidFromJs(info.Env(), info[0])));
}

// What the runtime did on libraries' behalf since the last call (lib/load/runtime_notes.ts).
Napi::Value TakeRuntimeNotesJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint64_t dropped = 0;
  const std::vector<std::string> notes = TakeRuntimeNotes(dropped);
  Napi::Array list = Napi::Array::New(env, notes.size());
  for (size_t i = 0; i < notes.size(); ++i) list.Set(static_cast<uint32_t>(i), Napi::String::New(env, notes[i]));
  Napi::Object o = Napi::Object::New(env);
  o.Set("notes", list);
  o.Set("dropped", Napi::Number::New(env, static_cast<double>(dropped)));
  return o;
}

// Images kept mapped because library code of their load tried to end the process (runtime_exit.h).
Napi::Value InterruptedImagesJs(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), InterruptedImages()); }

}  // namespace

void RegisterNamespaces(Napi::Env env, Napi::Object exports) {
  Export(env, exports,
         {{"configureRuntime", ConfigureRuntimeJs},
          {"anchorNamespace", AnchorNamespaceJs},
          {"runtimeStats", RuntimeStatsJs},
          {"freshNamespaceCount", FreshNamespaceCountJs},
          {"namespaceAlive", NamespaceAliveJs},
          {"namespacesCreated", NamespacesCreatedJs},
          {"takeRuntimeNotes", TakeRuntimeNotesJs},
          {"interruptedImages", InterruptedImagesJs}});
}

}  // namespace dlswap
