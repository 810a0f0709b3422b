// probeNamespaces(path, max): how many link-map namespaces this process can still create, by
// creating them. It consumes what it measures (a namespace whose libc took static TLS never gives
// it back, and one that loaded libstdc++ is never freed), so `dlswap doctor` calls it only in a
// throwaway child process, never in a process that will load libraries afterwards.
#include <dlfcn.h>
#include <napi.h>

#include <string>
#include <vector>

#include "common/errors.h"
#include "common/exports.h"
#include "common/loader_lock.h"
#include "namespace/namespace_pool.h"

namespace dlswap {
namespace {

// glibc's hard ceiling is kMaxNamespaces (DL_NNS); the cap only guards against a runaway argument.
constexpr uint32_t kMaxProbe = 1024;

Napi::Value ProbeNamespaces(const Napi::CallbackInfo &cb) {
  Napi::Env env = cb.Env();
  if (cb.Length() < 2 || !cb[0].IsString() || !cb[1].IsNumber()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "probeNamespaces(path, max): expected a string and a number");
  }
  const std::string path = cb[0].As<Napi::String>().Utf8Value();
  const double max_d = cb[1].As<Napi::Number>().DoubleValue();
  if (!(max_d >= 0) || max_d > kMaxProbe) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "probeNamespaces: max must be between 0 and 1024");
  }
  const uint32_t max = static_cast<uint32_t>(max_d);
  const std::string hung = LoaderLockRefusal("cannot probe namespaces");
  if (!hung.empty()) throw CodedError(env, "ERR_DLSWAP_LOADER_HUNG", hung);
  std::vector<void *> handles;
  std::string first_error;
  bool failed = false;
  for (uint32_t i = 0; i < max; ++i) {
    dlerror();
    void *h = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char *e = dlerror();
      first_error = e ? e : "dlmopen failed without a dlerror message";
      failed = true;
      break;
    }
    handles.push_back(h);
  }
  // Newest first: the same order a reload pattern would release them in reverse.
  for (auto it = handles.rbegin(); it != handles.rend(); ++it) dlclose(*it);

  Napi::Object o = Napi::Object::New(env);
  o.Set("opened", static_cast<double>(handles.size()));
  o.Set("error", failed ? Napi::Value(Napi::String::New(env, first_error)) : env.Null());
  return o;
}

}  // namespace

void RegisterNamespaceProbe(Napi::Env env, Napi::Object exports) { Export(env, exports, {{"probeNamespaces", ProbeNamespaces}}); }

}  // namespace dlswap
