// The JS face of callbacks: makeCallback and the handle object it attaches to, the window a
// temporary callback may be called in, release, and the counts tests and lib.close() read.
#include <cstdio>
#include <memory>
#include <string>

#include "call/convert.h"
#include "callback/callback_slot.h"
#include "common/errors.h"
#include "common/exports.h"

namespace dlswap {

namespace callback {
namespace {

// Marks the JS objects that stand for a callback.
constexpr napi_type_tag kCallbackTag = {0x646c737761702d63ULL, 0x616c6c6261636b31ULL};

// What a JS object made by makeCallback holds.
struct Handle {
  Slot *slot;
  uint64_t serial;
};

Handle *HandleOf(napi_env env, napi_value v) {
  bool tagged = false;
  if (napi_check_object_type_tag(env, v, &kCallbackTag, &tagged) != napi_ok || !tagged) return nullptr;
  void *h = nullptr;
  if (napi_unwrap(env, v, &h) != napi_ok) return nullptr;
  return static_cast<Handle *>(h);
}

Handle *RequireHandle(Napi::Env env, Napi::Value v) {
  Handle *h = v.IsObject() ? HandleOf(env, v) : nullptr;
  if (!h) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "expected a callback made by lib.callback()");
  return h;
}

bool Current(const Handle *h) { return h->slot->serial == h->serial; }

void FinalizeHandle(napi_env, void *data, void *) { delete static_cast<Handle *>(data); }

// makeCallback(target, spec, fn, options) -> address
//   spec: { key, returns, params, returnShape?, paramShapes? }  (key: identifies the signature)
//   options: { state: 'live' | 'idle', label, timeoutMs, fallback?: bigint bits, onError?: function }
//   (timeoutMs: how long a call from another thread waits for the JS thread; lib/options.ts checks
//   and defaults it)
// `target` (an object) becomes the callback's handle: tagged, and accepted wherever a pointer is.
Napi::Value MakeCallbackJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsObject() || !info[1].IsObject() || !info[2].IsFunction() || !info[3].IsObject()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeCallback(target, spec, fn, options)");
  }
  CallbackEnv *cenv = EnvFor(env);
  Napi::Object spec = info[1].As<Napi::Object>();
  Napi::Object options = info[3].As<Napi::Object>();
  Napi::Value key_v = spec.Get("key");
  if (!key_v.IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeCallback: spec.key must be a string");
  std::string key = key_v.As<Napi::String>().Utf8Value();

  Slot *s = nullptr;
  auto &queue = cenv->released[key];
  if (queue.size() > kQuarantine) {
    Slot *oldest = queue.front();
    if (oldest->running.load() == 0) {
      queue.pop_front();
      DeleteRec(env, oldest);
      s = oldest;
    }
  }
  if (!s) s = NewSlot(env, cenv, spec, key);

  auto rec = std::make_unique<Rec>();
  NAPI_THROW_IF_FAILED(env, napi_create_reference(env, info[2], 1, &rec->fn), Napi::Value());
  Napi::Value on_error = options.Get("onError");
  if (on_error.IsFunction()) NAPI_THROW_IF_FAILED(env, napi_create_reference(env, on_error, 1, &rec->on_error), Napi::Value());
  s->rec = rec.release();
  std::string label = options.Get("label").IsString() ? options.Get("label").As<Napi::String>().Utf8Value() : "(unnamed)";
  std::snprintf(s->label, sizeof s->label, "%s", label.c_str());
  Napi::Value timeout = options.Get("timeoutMs");
  const double timeout_ms = timeout.IsNumber() ? timeout.As<Napi::Number>().DoubleValue() : 0;
  if (!(timeout_ms >= 1 && timeout_ms <= 2147483647.0)) {
    throw CodedTypeError(env, "ERR_DLSWAP_INTERNAL", "makeCallback: options.timeoutMs must be a number of milliseconds");
  }
  s->timeout_ms = static_cast<uint32_t>(timeout_ms);
  s->fallback[0] = s->fallback[1] = 0;
  Napi::Value fallback = options.Get("fallback");
  if (fallback.IsBigInt()) {
    bool lossless = false;
    s->fallback[0] = fallback.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  s->serial++;
  auto *h = new Handle{s, s->serial};
  napi_value target = info[0];
  if (napi_type_tag_object(env, target, &kCallbackTag) != napi_ok ||
      napi_wrap(env, target, h, FinalizeHandle, nullptr, nullptr) != napi_ok) {
    delete h;
    s->state.store(kSlotDead);
    queue.push_back(s);
    throw CodedError(env, "ERR_DLSWAP_INTERNAL", "cannot attach the callback to its object");
  }
  std::string state = options.Get("state").IsString() ? options.Get("state").As<Napi::String>().Utf8Value() : "live";
  s->state.store(state == "idle" ? kSlotIdle : kSlotLive);
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(s->code)));
}

// setCallbackState(handle, state): a temporary callback's window, 'sync' | 'async' | 'idle'.
Napi::Value SetCallbackStateJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Handle *h = RequireHandle(env, info[0]);
  if (!Current(h)) return env.Undefined();
  uint32_t st = h->slot->state.load();
  if (st == kSlotDead || st == kSlotFree) return env.Undefined();
  int32_t want = info[1].As<Napi::Number>().Int32Value();
  h->slot->state.store(want == 1 ? kSlotSyncActive : want == 2 ? kSlotAsyncActive : kSlotIdle);
  return env.Undefined();
}

// releaseCallback(handle) -> calls still running on it. Idempotent.
Napi::Value ReleaseCallbackJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Handle *h = RequireHandle(env, info[0]);
  Slot *s = h->slot;
  if (!Current(h)) return Napi::Number::New(env, 0);
  uint32_t st = s->state.exchange(kSlotDead);
  if (st != kSlotDead && st != kSlotFree) {
    CallbackEnv *cenv = s->cenv;
    cenv->released[s->key].push_back(s);
    Collect(cenv, s);
  }
  return Napi::Number::New(env, s->running.load());
}

// callbackInfo(handle) -> { address, state, running, refused, timedOut, deadlocked }
Napi::Value CallbackInfoJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Handle *h = RequireHandle(env, info[0]);
  Slot *s = h->slot;
  bool current = Current(h);
  static const char *const names[] = {"released", "live", "sync", "async", "idle", "released"};
  uint32_t st = current ? s->state.load() : kSlotDead;
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(s->code))));
  o.Set("state", Napi::String::New(env, names[st <= kSlotDead ? st : kSlotDead]));
  o.Set("running", Napi::Number::New(env, current ? s->running.load() : 0));
  o.Set("refused", Napi::Number::New(env, static_cast<double>(s->refused.load())));
  o.Set("timedOut", Napi::Number::New(env, static_cast<double>(s->timed_out.load())));
  o.Set("deadlocked", Napi::Number::New(env, static_cast<double>(s->deadlocked.load())));
  return o;
}

// callbackStats() -> { slots, live, refused, timedOut, deadlocked }: this environment's.
Napi::Value CallbackStatsJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  CallbackEnv *cenv = t_env && t_env->env == static_cast<napi_env>(env) ? t_env : nullptr;
  size_t live = 0;
  if (cenv) {
    for (Slot *s : cenv->slots) live += Callable(s->state.load()) || s->state.load() == kSlotIdle ? 1 : 0;
  }
  o.Set("slots", Napi::Number::New(env, cenv ? static_cast<double>(cenv->slots.size()) : 0));
  o.Set("live", Napi::Number::New(env, static_cast<double>(live)));
  o.Set("refused", Napi::Number::New(env, cenv ? static_cast<double>(cenv->refused.load()) : 0));
  o.Set("timedOut", Napi::Number::New(env, cenv ? static_cast<double>(cenv->timed_out.load()) : 0));
  o.Set("deadlocked", Napi::Number::New(env, cenv ? static_cast<double>(cenv->deadlocked.load()) : 0));
  return o;
}

// releaseCallbacksAtExit(processExits): this environment's JS thread is exiting (process.exit: its
// 'exit' event; `processExits` on the main thread, where the whole process goes). Every call waiting
// for it gets the fallback now, and later ones are refused: node joins the thread pool next, and a
// pool thread waiting here would hold that join for ever.
Napi::Value ReleaseCallbacksAtExitJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].ToBoolean().Value()) ReleaseAllForExit();
  else if (t_env && t_env->env == static_cast<napi_env>(env)) ReleaseWaiting(t_env);
  return env.Undefined();
}

}  // namespace
}  // namespace callback

bool CallbackHandleAddress(napi_env env, napi_value v, uint64_t *address, bool *ok) {
  callback::Handle *h = callback::HandleOf(env, v);
  if (!h) return false;
  *ok = callback::Current(h) && h->slot->state.load() != callback::kSlotDead;
  *address = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h->slot->code));
  return true;
}

void RegisterCallbacks(Napi::Env env, Napi::Object exports) {
  using namespace callback;
  Export(env, exports,
         {{"makeCallback", MakeCallbackJs},
          {"setCallbackState", SetCallbackStateJs},
          {"releaseCallback", ReleaseCallbackJs},
          {"callbackInfo", CallbackInfoJs},
          {"callbackStats", CallbackStatsJs},
          {"releaseCallbacksAtExit", ReleaseCallbacksAtExitJs}});
}

}  // namespace dlswap
