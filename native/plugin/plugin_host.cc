// The `dlswap_host` struct handed to a plugin's dlswap_init, its thread-safe log function, and the
// plugin's init/fini calls.
//
// A plugin may log from any thread, including its own, at any time until dlswap_fini returns. The
// message is copied and queued to the JS thread through a threadsafe function; the JS side emits it
// as a 'log' event. The struct and its private part are shared by the JS host object and the
// threadsafe function, and freed only when both are gone: the JS object is dropped after dlclose,
// so a late call from a misbehaving plugin thread can never touch freed memory.
//
// Teardown of the environment (a worker_thread terminated in the middle of a reload, or the main
// thread exiting) runs in an order nobody controls: node closes every threadsafe function, then
// finalizes the remaining JS objects, this host included, possibly after the channel is gone. So:
// - the threadsafe function's own finalizer marks the channel closed (under the mutex a plugin
//   thread's log call takes), and a host released later never touches it;
// - an env cleanup hook, registered after the channel was created and so run before node closes it,
//   has the plugin's dlswap_fini run if its dlswap_init succeeded and no one has run fini yet, then
//   releases the channel. Without it a terminated worker would leave the plugin's threads running
//   in an image that is then closed.
// init runs in the loader's pipeline (native/loader/load_job.cc), fini in the retirement's; in
// between, this host owes fini (adopt/disown), so that a termination at any point runs it exactly
// once: a load or retirement in flight when the environment goes finishes on the loader thread and
// undoes itself, fini included. An owed fini also runs on the loader thread, never on a JS thread,
// when the environment goes or this host is collected: queued there, holding the image and this
// host, while the JS thread goes on (at process exit, the loader finishes what was queued before
// the libraries' destructors run: loader_pool.h).
#include <dlfcn.h>
#include <dlswap.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "common/addon_data.h"
#include "common/errors.h"
#include "common/exports.h"
#include "plugin/plugin_host.h"
#include "image/native_library.h"
#include "loader/loader_pool.h"
#include "namespace/namespace_pool.h"
#include "signals/plugin_code.h"

namespace dlswap {

namespace {

// Past the queue's bound (plugin_host.h), lines are dropped and counted, and JS is told how many
// ('log-dropped') once the lines queued before them have been delivered.
constexpr size_t kMaxQueuedLines = kLogQueueLines;
constexpr size_t kMaxQueuedBytes = kLogQueueBytes;

struct LogMessage {
  int level = 0;
  std::string text;
  bool dropped_notice = false;  // not a line: tells JS how many were dropped since the last notice
  // Not a line either: settles delivered()'s promise once every line queued before it was handed
  // to JS.
  napi_deferred delivered = nullptr;
};

struct HostPrivate {
  napi_threadsafe_function tsfn = nullptr;
  // Guards `open` against a release or the channel's finalizer racing a plugin thread's call, and
  // the counts of the queue.
  std::mutex mutex;
  bool open = false;
  std::atomic<uint64_t> dropped{0};  // every line not delivered: over the bound, or after the channel closed
  size_t queued_lines = 0, queued_bytes = 0;
  uint64_t overflow = 0;  // dropped over the bound and not yet reported
  bool notice_queued = false;
  // delivered() markers in the queue: the channel keeps node alive while one is (JS thread only).
  size_t markers = 0;
};

struct HostBox {
  dlswap_host host{};
  HostPrivate priv;
  // Set by init(): the image whose dlswap_fini must run before it goes, and that fini while it is
  // owed (dlswap_init returned 0 and nobody has run fini yet). JS thread only.
  LibraryRef lib;
  void (*fini)(void) = nullptr;
  // The env cleanup hook is registered and has not run. JS thread only.
  bool hook_pending = false;
  // dlswap_fini's bound when this host runs it (HotLibrary's finiTimeoutMs). JS thread only.
  double fini_timeout_ms = 0;
};

using BoxRef = std::shared_ptr<HostBox>;

// onLog(level, message) for a line; onLog(0, '', dropped) for a notice of lines dropped over the bound.
void CallLogJs(napi_env env, napi_value js_cb, void *context, void *data) {
  std::unique_ptr<LogMessage> msg(static_cast<LogMessage *>(data));
  auto *priv = static_cast<HostPrivate *>(context);
  if (msg->delivered) {
    if (env == nullptr) return;  // environment shutting down: nobody waits any more
    std::lock_guard<std::mutex> lock(priv->mutex);
    if (--priv->markers == 0 && priv->tsfn) napi_unref_threadsafe_function(env, priv->tsfn);
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, msg->delivered, undefined);
    return;
  }
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(priv->mutex);
    if (msg->dropped_notice) {
      dropped = priv->overflow;
      priv->overflow = 0;
      priv->notice_queued = false;
    } else {
      priv->queued_lines--;
      priv->queued_bytes -= msg->text.size();
    }
  }
  if (env == nullptr || js_cb == nullptr) return;  // environment shutting down: drop
  napi_value args[3];
  size_t argc = msg->dropped_notice ? 3 : 2;
  if (napi_create_int32(env, msg->level, &args[0]) != napi_ok ||
      napi_create_string_utf8(env, msg->text.data(), msg->text.size(), &args[1]) != napi_ok ||
      (argc == 3 && napi_create_double(env, static_cast<double>(dropped), &args[2]) != napi_ok)) {
    return;
  }
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, argc, args, nullptr);
}

// The threadsafe function is being destroyed (released by us, or closed by node at teardown): from
// here on nobody may call or release it. Runs on the JS thread, without node's tsfn lock held.
void ChannelFinalized(napi_env /*env*/, void *data, void * /*hint*/) {
  std::unique_ptr<BoxRef> box(static_cast<BoxRef *>(data));
  std::lock_guard<std::mutex> lock((*box)->priv.mutex);
  (*box)->priv.open = false;
  (*box)->priv.tsfn = nullptr;
}

extern "C" void HostLog(const dlswap_host *host, int level, const char *message) {
  if (host == nullptr) return;
  auto *priv = static_cast<HostPrivate *>(host->host_private);
  if (priv == nullptr) return;
  // Bounded copy: a plugin passing an unterminated buffer costs at most 64 KiB of reading.
  size_t len = message ? strnlen(message, 64 * 1024) : 0;
  std::lock_guard<std::mutex> lock(priv->mutex);
  if (priv->open && (priv->queued_lines >= kMaxQueuedLines || priv->queued_bytes + len > kMaxQueuedBytes)) {
    priv->dropped++;
    priv->overflow++;
    if (!priv->notice_queued) {
      // Over the bound itself: one notice at a time, and it carries no text.
      auto *notice = new LogMessage{0, std::string(), true};
      if (napi_call_threadsafe_function(priv->tsfn, notice, napi_tsfn_nonblocking) == napi_ok) {
        priv->notice_queued = true;
      } else {
        delete notice;
      }
    }
    return;
  }
  auto *msg = priv->open ? new LogMessage{level, std::string(message ? message : "", len)} : nullptr;
  napi_status st = msg ? napi_call_threadsafe_function(priv->tsfn, msg, napi_tsfn_nonblocking) : napi_closing;
  if (st == napi_ok) {
    priv->queued_lines++;
    priv->queued_bytes += len;
    return;
  }
  // napi_closing also gave up our use of the channel: it must not be released again.
  if (st == napi_closing) priv->open = false;
  priv->dropped++;
  delete msg;
}

void ReleaseChannel(HostBox &box) {
  std::lock_guard<std::mutex> lock(box.priv.mutex);
  if (box.priv.open) {
    box.priv.open = false;
    napi_release_threadsafe_function(box.priv.tsfn, napi_tsfn_release);
  }
}

// Has the plugin's dlswap_fini run if it is owed and its image is still mapped: on the loader thread,
// bounded like a retirement's fini (past the bound the loader thread is given up, as for a
// retirement). The job holds the image (mapped until fini returns) and the host (fini may log; its
// lines are dropped and counted once the channel is released).
void RunFini(const BoxRef &box) {
  void (*fini)(void) = box->fini;
  LibraryRef lib = std::move(box->lib);
  box->fini = nullptr;
  // A quarantined image's fini is never run (signals/fault_record.h).
  if (fini == nullptr || !lib || lib->closed || lib->handle == nullptr || lib->faulted.load()) return;
  const double bound_ms = box->fini_timeout_ms;
  LoaderPool::Work work = [box, lib, fini, bound_ms] {
    LoaderPool::Deadline bound(bound_ms, nullptr);
    EnsureThreadReady(lib->ns);
    RunPluginCode(*lib, "dlswap_fini", [&] { fini(); });
  };
  LoaderPool::RunOrQueue(std::move(work));
}

class PluginHost : public Napi::ObjectWrap<PluginHost> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PluginHost",
                       {InstanceAccessor("address", &PluginHost::Address, nullptr), InstanceMethod("adopt", &PluginHost::Adopt),
                        InstanceMethod("disown", &PluginHost::Disown), InstanceMethod("release", &PluginHost::Release),
                        InstanceMethod("delivered", &PluginHost::Delivered), InstanceAccessor("finiOwed", &PluginHost::FiniOwed, nullptr),
                        InstanceAccessor("dropped", &PluginHost::Dropped, nullptr)});
  }

  // new PluginHost(generation: bigint, abiVersion: number, userData: bigint,
  //                onLog: (level, msg) => void, and (0, '', dropped) after lines were dropped)
  explicit PluginHost(const Napi::CallbackInfo &info) : Napi::ObjectWrap<PluginHost>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsBigInt() || !info[1].IsNumber() || !info[2].IsBigInt() || !info[3].IsFunction()) {
      throw CodedTypeError(env, "ERR_DLSWAP_ARG", "PluginHost(generation: bigint, abi: number, userData: bigint, onLog: function)");
    }
    bool lossless = false;
    box_ = std::make_shared<HostBox>();
    box_->host.struct_size = sizeof(dlswap_host);
    box_->host.abi_version = info[1].As<Napi::Number>().Uint32Value();
    box_->host.generation = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
    box_->host.log = &HostLog;
    box_->host.user_data = reinterpret_cast<void *>(static_cast<uintptr_t>(info[2].As<Napi::BigInt>().Uint64Value(&lossless)));
    box_->host.host_private = &box_->priv;
    napi_value name;
    napi_create_string_utf8(env, "dlswap.log", NAPI_AUTO_LENGTH, &name);
    auto *shared = new BoxRef(box_);
    napi_status st = napi_create_threadsafe_function(env, info[3], nullptr, name, 0, 1, shared, ChannelFinalized, &box_->priv, CallLogJs,
                                                     &box_->priv.tsfn);
    if (st != napi_ok) {
      delete shared;
      throw CodedError(env, "ERR_DLSWAP_INTERNAL", "cannot create the plugin log channel");
    }
    // A plugin's log channel must not keep node alive on its own.
    napi_unref_threadsafe_function(env, box_->priv.tsfn);
    box_->priv.open = true;
    // Registered after the channel: cleanup hooks run in reverse order, so this one runs while the
    // channel is still usable (fini may log).
    env_ = env;
    box_->hook_pending = napi_add_env_cleanup_hook(env, &PluginHost::OnEnvCleanup, this) == napi_ok;
  }

  ~PluginHost() override {
    // At teardown the hook has run already (it runs before node finalizes any object).
    if (box_->hook_pending) napi_remove_env_cleanup_hook(env_, &PluginHost::OnEnvCleanup, this);
    box_->hook_pending = false;
    // Dropped with fini still owed (a generation left pinned, then collected): its last chance to
    // run before the image can be closed (the job holds the image until fini has returned).
    RunFini(box_);
    ReleaseChannel(*box_);
  }

 private:
  static void OnEnvCleanup(void *arg) {
    auto *self = static_cast<PluginHost *>(arg);
    self->box_->hook_pending = false;
    RunFini(self->box_);
    ReleaseChannel(*self->box_);
  }

  Napi::Value Address(const Napi::CallbackInfo &info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&box_->host)));
  }
  Napi::Value Dropped(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), static_cast<double>(box_->priv.dropped.load()));
  }
  Napi::Value FiniOwed(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), box_->fini != nullptr); }

  // adopt(library, finiTimeoutMs): the plugin's dlswap_init (run by the loader) returned 0, so
  // dlswap_fini is owed from here: it runs exactly once, in the generation's retirement (which
  // disown()s it first), or at the environment's teardown, or when this object is collected,
  // whichever comes first; in the last two, bounded by finiTimeoutMs.
  Napi::Value Adopt(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    LibraryRef lib = NativeLibrary::From(env, info[0]);
    if (info.Length() > 1 && info[1].IsNumber()) box_->fini_timeout_ms = info[1].As<Napi::Number>().DoubleValue();
    if (lib->closed || lib->handle == nullptr) throw CodedError(env, "ERR_DLSWAP_CLOSED", "the library is closed");
    dlerror();
    auto fini = reinterpret_cast<void (*)(void)>(dlsym(lib->handle, "dlswap_fini"));
    dlerror();
    if (fini) {
      box_->fini = fini;
      box_->lib = std::move(lib);
    }
    return env.Undefined();
  }

  // disown() -> whether fini was owed: the caller now runs it (the retirement, on the loader thread).
  Napi::Value Disown(const Napi::CallbackInfo &info) {
    const bool owed = box_->fini != nullptr;
    box_->fini = nullptr;
    box_->lib.reset();
    return Napi::Boolean::New(info.Env(), owed);
  }

  // delivered() -> a promise settled once every line logged before this call has been handed to
  // onLog (at once when none waits): the channel is first in, first out, so a marker queued behind
  // them settles it. Bounded: at most the queue's bound of lines, and a notice, are ahead of it.
  Napi::Value Delivered(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    napi_deferred deferred;
    napi_value promise, undefined;
    if (napi_create_promise(env, &deferred, &promise) != napi_ok) throw CodedError(env, "ERR_DLSWAP_INTERNAL", "cannot create a promise");
    napi_get_undefined(env, &undefined);
    HostPrivate &priv = box_->priv;
    std::lock_guard<std::mutex> lock(priv.mutex);
    if (priv.open && (priv.queued_lines > 0 || priv.notice_queued)) {
      auto *marker = new LogMessage{0, std::string(), false, deferred};
      if (napi_call_threadsafe_function(priv.tsfn, marker, napi_tsfn_nonblocking) == napi_ok) {
        // The log channel does not keep node alive on its own, but a caller awaits this.
        if (priv.markers++ == 0) napi_ref_threadsafe_function(env, priv.tsfn);
        return Napi::Value(env, promise);
      }
      delete marker;
    }
    napi_resolve_deferred(env, deferred, undefined);
    return Napi::Value(env, promise);
  }

  // After dlswap_fini: further log calls are dropped (and counted), never delivered late.
  Napi::Value Release(const Napi::CallbackInfo &info) {
    ReleaseChannel(*box_);
    return info.Env().Undefined();
  }

  BoxRef box_;
  napi_env env_ = nullptr;

 public:
  const BoxRef &box() const { return box_; }
};

}  // namespace

std::shared_ptr<void> HostKeepAlive(Napi::Env env, Napi::Value host) {
  if (!host.IsObject()) return nullptr;
  Napi::Object o = host.As<Napi::Object>();
  if (!o.InstanceOf(Data(env).plugin_host_ctor.Value())) return nullptr;
  return Napi::ObjectWrap<PluginHost>::Unwrap(o)->box();
}

void RegisterPluginHost(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = PluginHost::Define(env);
  Data(env).plugin_host_ctor = Napi::Persistent(ctor);
  exports.Set("PluginHost", ctor);
  exports.Set("PLUGIN_ABI_VERSION", Napi::Number::New(env, DLSWAP_ABI_VERSION));
}

}  // namespace dlswap
