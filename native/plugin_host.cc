// The `dlswap_host` struct handed to a plugin's dlswap_init, and its thread-safe log function.
//
// A plugin may log from any thread, including its own, at any time until dlswap_fini returns. The
// message is copied and queued to the JS thread through a threadsafe function; the JS side emits it
// as a 'log' event. The struct and its private part outlive the generation's code: they are freed
// only when JS drops the host object, which it does after dlclose, so a late call from a
// misbehaving plugin thread can never touch freed memory.
#include <dlswap.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "errors.h"
#include "module.h"

namespace dlswap {

namespace {

struct LogMessage {
  int level;
  std::string text;
};

struct HostPrivate {
  napi_threadsafe_function tsfn = nullptr;
  std::mutex mutex;   // guards `open` against release racing a plugin thread's call
  bool open = false;
  std::atomic<uint64_t> dropped{0};
};

struct HostBox {
  dlswap_host host{};
  HostPrivate priv;
};

void CallLogJs(napi_env env, napi_value js_cb, void * /*context*/, void *data) {
  std::unique_ptr<LogMessage> msg(static_cast<LogMessage *>(data));
  if (env == nullptr || js_cb == nullptr) return;  // environment shutting down: drop
  napi_value args[2];
  napi_create_int32(env, msg->level, &args[0]);
  napi_create_string_utf8(env, msg->text.data(), msg->text.size(), &args[1]);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 2, args, nullptr);
}

extern "C" void HostLog(const dlswap_host *host, int level, const char *message) {
  if (host == nullptr) return;
  auto *priv = static_cast<HostPrivate *>(host->host_private);
  if (priv == nullptr) return;
  // Bounded copy: a plugin passing an unterminated buffer costs at most 64 KiB of reading.
  size_t len = message ? strnlen(message, 64 * 1024) : 0;
  auto *msg = new LogMessage{level, std::string(message ? message : "", len)};
  std::lock_guard<std::mutex> lock(priv->mutex);
  if (!priv->open || napi_call_threadsafe_function(priv->tsfn, msg, napi_tsfn_nonblocking) != napi_ok) {
    priv->dropped++;
    delete msg;
  }
}

class PluginHost : public Napi::ObjectWrap<PluginHost> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PluginHost",
                       {InstanceAccessor("address", &PluginHost::Address, nullptr),
                        InstanceMethod("release", &PluginHost::Release),
                        InstanceAccessor("dropped", &PluginHost::Dropped, nullptr)});
  }

  // new PluginHost(generation: bigint, abiVersion: number, userData: bigint, onLog: (level, msg) => void)
  explicit PluginHost(const Napi::CallbackInfo &info) : Napi::ObjectWrap<PluginHost>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsBigInt() || !info[1].IsNumber() || !info[2].IsBigInt() || !info[3].IsFunction()) {
      throw CodedTypeError(env, "ERR_DLSWAP_ARG", "PluginHost(generation: bigint, abi: number, userData: bigint, onLog: function)");
    }
    bool lossless = false;
    box_ = std::make_unique<HostBox>();
    box_->host.struct_size = sizeof(dlswap_host);
    box_->host.abi_version = info[1].As<Napi::Number>().Uint32Value();
    box_->host.generation = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
    box_->host.log = &HostLog;
    box_->host.user_data = reinterpret_cast<void *>(static_cast<uintptr_t>(info[2].As<Napi::BigInt>().Uint64Value(&lossless)));
    box_->host.host_private = &box_->priv;
    napi_value name;
    napi_create_string_utf8(env, "dlswap.log", NAPI_AUTO_LENGTH, &name);
    napi_status st = napi_create_threadsafe_function(env, info[3], nullptr, name, 0, 1, nullptr, nullptr, nullptr,
                                                     CallLogJs, &box_->priv.tsfn);
    if (st != napi_ok) throw CodedError(env, "ERR_DLSWAP_INTERNAL", "cannot create the plugin log channel");
    // A plugin's log channel must not keep node alive on its own.
    napi_unref_threadsafe_function(env, box_->priv.tsfn);
    box_->priv.open = true;
  }

  // No release here: a host collected without release() is finalised while node tears its
  // environment down, when releasing the threadsafe function (mid-close itself) aborts the process.
  // An unreleased channel is unref'd and node finalises it with the environment; late log calls
  // are dropped (`open` false).
  ~PluginHost() override {
    if (!box_) return;
    std::lock_guard<std::mutex> lock(box_->priv.mutex);
    box_->priv.open = false;
  }

 private:
  void ReleaseChannel() {
    if (!box_) return;
    std::lock_guard<std::mutex> lock(box_->priv.mutex);
    if (box_->priv.open) {
      box_->priv.open = false;
      napi_release_threadsafe_function(box_->priv.tsfn, napi_tsfn_release);
    }
  }

  Napi::Value Address(const Napi::CallbackInfo &info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&box_->host)));
  }
  Napi::Value Dropped(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), static_cast<double>(box_->priv.dropped.load()));
  }
  // After dlswap_fini: further log calls are dropped (and counted), never delivered late.
  Napi::Value Release(const Napi::CallbackInfo &info) {
    ReleaseChannel();
    return info.Env().Undefined();
  }

  std::unique_ptr<HostBox> box_;
};

}  // namespace

void InitPluginHost(Napi::Env env, Napi::Object exports) {
  exports.Set("PluginHost", PluginHost::Define(env));
  exports.Set("PLUGIN_ABI_VERSION", Napi::Number::New(env, DLSWAP_ABI_VERSION));
}

}  // namespace dlswap
