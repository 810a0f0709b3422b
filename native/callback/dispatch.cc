// Every call of every callback arrives here, and runs where it may:
// - on the JS thread (C called from a sync call from JS): right there, in the caller's stack frame;
//   an exception thrown by the function stays pending and is thrown by the call JS made.
// - on any other thread (the thread pool during .async calls, threads the library created): the
//   call is queued to the JS thread through a threadsafe function and the C caller waits until the
//   function has returned. If it throws, the exception goes to the callback's onError, or becomes an
//   uncaught exception (as one thrown in a timer would), and C gets the fallback value.
#include <cstdio>
#include <cstring>
#include <string>

#include "call/convert.h"
#include "call/trampoline.h"
#include "callback/callback_slot.h"
#include "common/errors.h"
#include "common/hints.h"
#include "signals/recovery.h"

namespace dlswap::callback {

namespace {

const char *WhyRefused(uint32_t st) {
  switch (st) {
    case kSlotIdle:
      return "was called after the call it was passed to had returned (a JS function passed directly to a call "
             "lives for that call only; keep one that C stores with lib.callback())";
    case kSlotSyncActive:
      return "was called from another thread during the synchronous call it was passed to: the JS thread is "
             "blocked in that call and could never run it (use .async, or lib.callback())";
    case kSlotDead:
    case kSlotFree: return "was called after it was released";
    default:
      return g_process_exiting.load(std::memory_order_relaxed) ? "was called from another thread while the process exits"
                                                               : "was called after its JS environment shut down";
  }
}

void Refuse(Slot *s, const char *why) {
  uint64_t n = s->refused.fetch_add(1, std::memory_order_relaxed) + 1;
  if (s->cenv) s->cenv->refused.fetch_add(1, std::memory_order_relaxed);
  // The first few of each slot, then at powers of two: a loop calling a dead pointer stays visible
  // without flooding the log.
  if (n <= 3 || (n & (n - 1)) == 0) {
    char label[kLabelBytes];
    std::memcpy(label, s->label, sizeof label);
    label[kLabelBytes - 1] = 0;
    std::fprintf(stderr, "dlswap: callback %s %s; no JS ran and C got %s (refused %llu time%s)\n", label, why,
                 s->ret_kind == kVoid ? "nothing" : "the fallback value", static_cast<unsigned long long>(n), n == 1 ? "" : "s");
  }
}

// Calls on the JS thread are not counted in `running`: a release, the only thing that waits for
// running calls, runs on the JS thread too, so it can never overlap one (a function that releases
// its own callback runs to its end first: nothing below touches the slot's JS references once the
// function was called, and Collect runs after).
void AfterJsThreadRun(CallbackEnv *cenv, Slot *s) {
  if (s->state.load(std::memory_order_relaxed) == kSlotDead) Collect(cenv, s);
}

}  // namespace

void WriteFallback(const Slot *s, void *ret) {
  switch (s->ret_kind) {
    case kVoid: return;
    case kAggregate: std::memset(ret, 0, s->ret_size); return;
    case kF32: {
      uint32_t bits = static_cast<uint32_t>(s->fallback[0]);
      std::memcpy(ret, &bits, sizeof bits);
      return;
    }
    default: std::memcpy(ret, &s->fallback[0], sizeof(uint64_t));
  }
}

void RefuseCall(Slot *s, void *ret, uint32_t st) {
  Refuse(s, WhyRefused(st));
  WriteFallback(s, ret);
}

void ReportGaveUp(Slot *s, GaveUp why) {
  const bool deadlock = why == GaveUp::kDeadlock;
  uint64_t n = (deadlock ? s->deadlocked : s->timed_out).fetch_add(1, std::memory_order_relaxed) + 1;
  if (s->cenv) (deadlock ? s->cenv->deadlocked : s->cenv->timed_out).fetch_add(1, std::memory_order_relaxed);
  if (n > 3 && (n & (n - 1)) != 0) return;
  char label[kLabelBytes];
  std::memcpy(label, s->label, sizeof label);
  label[kLabelBytes - 1] = 0;
  const char *ret = s->ret_kind == kVoid ? "nothing" : "the fallback value";
  if (deadlock) {
    std::fprintf(stderr,
                 "dlswap: callback %s was called from another thread while the JS thread was joining that very thread "
                 "(a synchronous call waits for it to end): it could never run, so C got %s at once (deadlock %llu). "
                 "Make that call with .async.\n",
                 label, ret, static_cast<unsigned long long>(n));
  } else {
    std::fprintf(stderr,
                 "dlswap: callback %s was called from another thread and the JS thread did not run it within %u ms "
                 "(busy, or blocked): C got %s (timed out %llu time%s). Keep the JS thread free, or raise the "
                 "callback's timeoutMs.\n",
                 label, s->timeout_ms, ret, static_cast<unsigned long long>(n), n == 1 ? "" : "s");
  }
}

void DeleteRec(napi_env env, Slot *s) {
  if (!s->rec) return;
  if (s->rec->fn) napi_delete_reference(env, s->rec->fn);
  if (s->rec->on_error) napi_delete_reference(env, s->rec->on_error);
  delete s->rec;
  s->rec = nullptr;
}

// JS thread: a released slot nothing runs on any more gives its JS function back.
void Collect(CallbackEnv *cenv, Slot *s) {
  if (s->state.load() != kSlotDead || s->running.load() != 0 || !s->rec) return;
  if (!cenv->alive) return;
  DeleteRec(cenv->env, s);
}

void AfterRun(CallbackEnv *cenv, Slot *s) {
  if (s->running.fetch_sub(1) == 1 && s->state.load() == kSlotDead) Collect(cenv, s);
}

void RunOnJsThread(CallbackEnv *cenv, Slot *s, void *ret, void **args, Pending *queued) {
  napi_env env = cenv->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    WriteFallback(s, ret);
    return;
  }
  const size_t n = s->kinds.size();
  napi_value argv[kMaxFixedParams];
  napi_value fn = nullptr, recv = nullptr, result = nullptr;
  bool ok =
      s->rec && napi_get_reference_value(env, s->rec->fn, &fn) == napi_ok && fn != nullptr && napi_get_undefined(env, &recv) == napi_ok;
  for (size_t i = 0; ok && i < n; i++) {
    argv[i] = ArgToJs(env, s->kinds[i], args[i], s->sizes[i]);
    ok = argv[i] != nullptr;
  }
  // The arguments are JS values now: a caller on another thread may stop waiting from here on.
  if (queued) ArgsTaken(queued);
  napi_status st = ok ? napi_call_function(env, recv, fn, n, argv, &result) : napi_generic_failure;
  napi_value error = nullptr;
  if (st == napi_ok) {
    const char *why = nullptr;
    if (!RetFromJs(env, s, result, ret, &why)) {
      error = MakeCodedError(env, "ERR_DLSWAP_CALLBACK", std::string("callback ") + s->label + " " + why, ErrorClass::kTypeError);
      WriteFallback(s, ret);
    }
  } else {
    WriteFallback(s, ret);
    // A pending exception (the function threw, or an earlier callback of the same call did and no
    // JS may run until it is handled).
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending && queued != nullptr) napi_get_and_clear_last_exception(env, &error);
  }
  if (error) {
    if (queued == nullptr) {
      // Thrown by the call JS is in: the C caller returns first, with the fallback value.
      napi_throw(env, error);
    } else {
      napi_value handler = nullptr;
      if (s->rec && s->rec->on_error && napi_get_reference_value(env, s->rec->on_error, &handler) == napi_ok && handler) {
        napi_call_function(env, recv, handler, 1, &error, nullptr);  // if it throws: uncaught
      } else {
        napi_throw(env, error);  // left pending: node reports it as an uncaught exception
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

void Invoke(Slot *s, void *ret, void **args) {
  CallbackEnv *cenv = s->cenv;
  if (pthread_equal(pthread_self(), cenv->js_thread)) {
    // The JS thread: the state only changes here, so plain loads suffice (see AfterJsThreadRun).
    uint32_t st = s->state.load(std::memory_order_relaxed);
    if (DLSWAP_UNLIKELY(!Callable(st) || !cenv->alive)) return RefuseCall(s, ret, Callable(st) ? kEnvGone : st);
    // JS (and V8's own fault handling, a WebAssembly trap) runs above the library's frames: a
    // fault there is never the library's to contain.
    FaultBarrier barrier(RegisteredThreadFaults());
    RunOnJsThread(cenv, s, ret, args, nullptr);
    AfterJsThreadRun(cenv, s);
    return;
  }
  // Any other thread: counted before the state is read, so that a release on the JS thread either
  // sees this call running or this call sees the release (both sequentially consistent).
  s->running.fetch_add(1);
  uint32_t st = s->state.load();
  if (!Callable(st) || !cenv->alive_fast.load(std::memory_order_acquire) || g_process_exiting.load(std::memory_order_acquire)) {
    s->running.fetch_sub(1);
    return RefuseCall(s, ret, Callable(st) ? kEnvGone : st);
  }
  if (st == kSlotSyncActive) {
    s->running.fetch_sub(1);
    return RefuseCall(s, ret, kSlotSyncActive);
  }
  QueueAndWait(cenv, s, ret, args);
}

void Entry(ffi_cif * /*cif*/, void *ret, void **args, void *user_data) { Invoke(static_cast<Slot *>(user_data), ret, args); }

// A fixed stub was called: its frame holds the integer argument registers, then the vector ones,
// then the two result slots (integer, vector).
void DispatchStub(uint32_t index, uint64_t *frame) {
  Slot *s = index < DLSWAP_CB_STUBS ? StubSlots()[index].load(std::memory_order_acquire) : nullptr;
  if (DLSWAP_UNLIKELY(s == nullptr)) {
    std::fprintf(stderr, "dlswap: callback stub %u was called but never handed out; C got 0\n", index);
    return;
  }
  void *args[kMaxFixedParams];
  const size_t n = s->kinds.size();
  for (size_t i = 0; i < n; i++) args[i] = &frame[s->regs[i]];
  Invoke(s, &frame[IsFloatKind(s->ret_kind) ? kRegSlots + 1 : kRegSlots], args);
}

}  // namespace dlswap::callback

extern "C" void dlswap_cb_dispatch(uint32_t index, uint64_t *frame) { dlswap::callback::DispatchStub(index, frame); }
