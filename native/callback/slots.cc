// Making the slot a callback's C pointer leads to, and the per-environment state behind them.
//
// Entry points: a signature whose arguments all arrive in registers and whose result is a scalar
// gets one of the fixed stubs of native/abi/callbacks_*.S (no code made at run time, and a direct
// path from the registers to the JS values); any other signature a libffi closure.
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "call/trampoline.h"
#include "callback/callback_slot.h"
#include "common/errors.h"

namespace dlswap::callback {

thread_local CallbackEnv *t_env = nullptr;

// The fixed stubs (native/abi/callbacks_*.S) and the slots they serve, process-wide.
std::atomic<Slot *> *StubSlots() {
  static std::atomic<Slot *> *slots = new std::atomic<Slot *>[DLSWAP_CB_STUBS]();  // never freed, as the stubs
  return slots;
}

namespace {

std::mutex g_stub_mutex;
uint32_t g_stub_next = 0;

// Every environment that made a callback, for the process's exit. Never destroyed: exit() runs it
// after static destructors may have run.
struct Envs {
  std::mutex mutex;
  std::vector<CallbackEnv *> list;
};
Envs &AllEnvs() {
  static Envs *envs = new Envs();
  return *envs;
}

void EnvCleanup(void *arg) {
  auto *cenv = static_cast<CallbackEnv *>(arg);
  {
    std::lock_guard<std::mutex> lock(cenv->mutex);
    cenv->alive = false;
    cenv->alive_fast.store(false, std::memory_order_release);
  }
  // Slots stay allocated forever (C may still hold their addresses); their JS references go with the
  // environment.
  for (Slot *s : cenv->slots) s->state.store(kSlotDead);
  ReleaseWaiting(cenv);
  {
    std::lock_guard<std::mutex> lock(AllEnvs().mutex);
    auto &list = AllEnvs().list;
    list.erase(std::remove(list.begin(), list.end(), cenv), list.end());
  }
  if (t_env == cenv) t_env = nullptr;
}

// exit() from any thread (a library's, or node's own after process.exit): runs before the dynamic
// loader's destructors, and so before libuv's, which joins the thread pool. A pool thread waiting
// for a JS thread that will never run again would keep that join, and the process, for ever.
void AtExit() { ReleaseAllForExit(); }

}  // namespace

void ReleaseAllForExit() {
  g_process_exiting.store(true, std::memory_order_release);
  std::vector<CallbackEnv *> envs;
  {
    std::lock_guard<std::mutex> lock(AllEnvs().mutex);
    envs = AllEnvs().list;
  }
  for (CallbackEnv *cenv : envs) ReleaseWaiting(cenv);
}

CallbackEnv *EnvFor(Napi::Env env) {
  if (t_env && t_env->env == env) return t_env;
  auto *cenv = new CallbackEnv();  // never freed: slots keep pointing at it
  cenv->env = env;
  cenv->js_thread = pthread_self();
  cenv->js_tid = static_cast<pid_t>(syscall(SYS_gettid));
  napi_value name;
  napi_create_string_utf8(env, "dlswap:callback", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, cenv, CallJs, &cenv->tsfn) != napi_ok) {
    delete cenv;
    throw CodedError(env, "ERR_DLSWAP_INTERNAL", "cannot create the threadsafe function callbacks from other threads use");
  }
  // Callbacks do not keep the event loop alive by themselves.
  napi_unref_threadsafe_function(env, cenv->tsfn);
  napi_add_env_cleanup_hook(env, EnvCleanup, cenv);
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit(AtExit); });
  {
    std::lock_guard<std::mutex> lock(AllEnvs().mutex);
    AllEnvs().list.push_back(cenv);
  }
  t_env = cenv;
  return cenv;
}

Slot *NewSlot(Napi::Env env, CallbackEnv *cenv, Napi::Object spec, const std::string &key) {
  auto slot = std::make_unique<Slot>();
  slot->cenv = cenv;
  slot->key = key;
  slot->ret_kind = KindFromJs(env, spec.Get("returns"), true, "callback kind");
  Napi::Value params_v = spec.Get("params");
  if (!params_v.IsArray()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeCallback: spec.params must be an array");
  Napi::Array params = params_v.As<Napi::Array>();
  if (params.Length() > kMaxFixedParams) {
    throw CodedError(env, "ERR_DLSWAP_SIGNATURE", "a callback takes at most " + std::to_string(kMaxFixedParams) + " parameters");
  }
  Napi::Value shapes_v = spec.Get("paramShapes");
  Napi::Array shapes = shapes_v.IsArray() ? shapes_v.As<Napi::Array>() : Napi::Array::New(env, 0);
  for (uint32_t i = 0; i < params.Length(); i++) {
    uint8_t k = KindFromJs(env, params.Get(i), false, "callback kind");
    slot->kinds.push_back(k);
    if (k == kAggregate) {
      slot->aggregates.push_back(BuildAggregate(env, i < shapes.Length() ? shapes.Get(i) : env.Undefined()));
      slot->types.push_back(&slot->aggregates.back()->type);
      slot->sizes.push_back(static_cast<uint32_t>(slot->aggregates.back()->size));
    } else {
      slot->types.push_back(FfiType(k, false));
      slot->sizes.push_back(0);
    }
  }
  ffi_type *rtype = FfiType(slot->ret_kind, false);
  if (slot->ret_kind == kString) throw CodedError(env, "ERR_DLSWAP_SIGNATURE", "a callback cannot return a string");
  if (slot->ret_kind == kAggregate) {
    slot->aggregates.push_back(BuildAggregate(env, spec.Get("returnShape")));
    rtype = &slot->aggregates.back()->type;
    slot->ret_size = static_cast<uint32_t>(slot->aggregates.back()->size);
  }
  if (ffi_prep_cif(&slot->cif, FFI_DEFAULT_ABI, static_cast<unsigned>(slot->kinds.size()), rtype, slot->types.data()) != FFI_OK) {
    throw CodedError(env, "ERR_DLSWAP_SIGNATURE", "libffi cannot prepare this callback's signature");
  }
  for (const auto &agg : slot->aggregates) {
    if (!AggregateMatches(*agg)) throw CodedError(env, "ERR_DLSWAP_INTERNAL", "libffi lays a callback's struct out differently");
  }
  // Every argument in a register and a scalar result: one of the fixed stubs, while they last.
  int gpr = 0, fpr = 0;
  bool regs_only = slot->ret_kind != kAggregate;
  for (size_t i = 0; i < slot->kinds.size() && regs_only; i++) {
    uint8_t k = slot->kinds[i];
    if (k == kAggregate) {
      regs_only = false;
    } else if (IsFloatKind(k)) {
      slot->regs[i] = static_cast<uint8_t>(kGprSlots + fpr++);
    } else {
      slot->regs[i] = static_cast<uint8_t>(gpr++);
    }
  }
  regs_only = regs_only && gpr <= kGprSlots && fpr <= kFprSlots;
  if (regs_only) {
    std::lock_guard<std::mutex> lock(g_stub_mutex);
    if (g_stub_next < DLSWAP_CB_STUBS) slot->stub = static_cast<int32_t>(g_stub_next++);
  }
  if (slot->stub >= 0) {
    slot->code = dlswap_cb_stubs + DLSWAP_CB_STUB_BYTES * static_cast<size_t>(slot->stub);
    StubSlots()[slot->stub].store(slot.get(), std::memory_order_release);
  } else {
    slot->closure = static_cast<ffi_closure *>(ffi_closure_alloc(sizeof(ffi_closure), &slot->code));
    if (!slot->closure) throw CodedError(env, "ERR_DLSWAP_NO_MEMORY", "cannot allocate a callback trampoline");
    if (ffi_prep_closure_loc(slot->closure, &slot->cif, Entry, slot.get(), slot->code) != FFI_OK) {
      // The closure is kept (never freed, like every other), unused.
      throw CodedError(env, "ERR_DLSWAP_INTERNAL", "libffi cannot prepare a callback trampoline");
    }
  }
  Slot *raw = slot.release();
  cenv->slots.push_back(raw);
  cenv->created++;
  return raw;
}

}  // namespace dlswap::callback
