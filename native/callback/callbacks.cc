// JS functions as C function pointers (docs/callbacks.md).
//
// Each callback is a slot: a libffi closure (the code address C calls) whose user data is the slot.
// Slots and their closures are never freed: C may call a pointer it kept long after JS released it,
// and that call must find a slot that says "released" rather than freed memory. A released slot is
// reused only for a callback of the same C signature, and only after kQuarantine other slots of that
// signature were released after it, so a late call most likely finds "released", and in the worst
// case calls a function with the very argument and return types the caller passes and expects.
//
// Where a call runs:
// - on the JS thread (C called from a sync call from JS): right there, in the caller's stack frame;
//   an exception thrown by the function stays pending and is thrown by the call JS made.
// - on any other thread (the thread pool during .async calls, threads the library created): the
//   call is queued to the JS thread through a threadsafe function and the C caller waits until the
//   function has returned. If it throws, the exception goes to the callback's onError, or becomes an
//   uncaught exception (as one thrown in a timer would), and C gets the fallback value.
//
// Slot states:
//   live        registered (lib.callback): callable from any thread until released
//   sync-active a function passed straight to a sync call, during that call: JS thread only (any
//               other thread would wait for a JS thread that is blocked in the call: refused)
//   async-active the same for an .async call, during it: any thread
//   idle        such a function between calls: refused
//   dead        released: refused
// A refused call is logged to stderr (the first few per slot, then at powers of two), counted, and
// returns the slot's fallback value (zero unless given) without running any JS.
//
// `running` counts calls admitted and not finished; it is decremented on the JS thread only (after
// the function ran, or in the refusal path by the caller itself before any JS runs). A slot's JS
// references are deleted once it is released and nothing runs on it; lib.close() waits for that.
//
// Entry points: a signature whose arguments all arrive in registers and whose result is a scalar
// gets one of the fixed stubs of native/abi/callbacks_*.S (no code made at run time, and a direct
// path from the registers to the JS values); any other signature a libffi closure.
//
// Calls from other threads go through a queue of this environment: the first call wakes the JS
// thread (one threadsafe-function call), which then runs every queued call and, before it returns
// to the event loop, watches the queue for a few microseconds more; the calling thread also watches
// for its result briefly before it sleeps. A thread calling back in a loop thus pays a round trip
// between two running threads, not an event-loop wakeup, per call. The JS thread gives the event
// loop its turn again after a few milliseconds of callbacks.
#include <pthread.h>
#include <sched.h>

#include <chrono>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "call/aggregate.h"
#include "call/convert.h"
#include "common/errors.h"
#include "common/module.h"

// native/abi/callbacks_*.S
extern "C" char dlswap_cb_stubs[];
extern "C" const uint32_t dlswap_cb_stub_count;
extern "C" void dlswap_cb_dispatch(uint32_t index, uint64_t *frame) __attribute__((visibility("hidden")));

namespace dlswap {

namespace {

// Marks the JS objects that stand for a callback.
constexpr napi_type_tag kCallbackTag = {0x646c737761702d63ULL, 0x616c6c6261636b31ULL};

enum SlotState : uint32_t {
  kSlotFree = 0,
  kSlotLive = 1,
  kSlotSyncActive = 2,
  kSlotAsyncActive = 3,
  kSlotIdle = 4,
  kSlotDead = 5,
};

// Not a slot state: the environment the callback belongs to has shut down.
constexpr uint32_t kEnvGone = 99;

// Released slots of one signature waiting before they may be reused.
constexpr size_t kQuarantine = 256;
constexpr size_t kLabelBytes = 200;

struct CallbackEnv;

// JS-thread-only part of a slot: the function and what it needs to run.
struct Rec {
  napi_ref fn = nullptr;
  napi_ref on_error = nullptr;
};

struct Slot {
  // Fixed when the slot is made: every callback that reuses it has this signature.
  ffi_closure *closure = nullptr;  // null for a slot served by a fixed stub
  void *code = nullptr;
  int32_t stub = -1;               // the fixed stub's index, or -1
  uint8_t regs[kMaxFixedParams] = {};  // stub slots: where each argument is in the stub's frame
  ffi_cif cif{};
  std::vector<ffi_type *> types;
  std::vector<std::unique_ptr<FfiAggregate>> aggregates;
  std::string key;
  uint8_t ret_kind = kVoid;
  uint32_t ret_size = 0;           // struct results
  std::vector<uint8_t> kinds;
  std::vector<uint32_t> sizes;     // struct parameters (0 for the others)
  CallbackEnv *cenv = nullptr;     // never freed

  std::atomic<uint32_t> state{kSlotFree};
  std::atomic<int32_t> running{0};
  std::atomic<uint64_t> refused{0};
  // Written on the JS thread while the slot is free or dead and nothing runs on it, read after a
  // caller saw a callable state (or, for messages, at any time: bounded and always terminated).
  uint64_t serial = 0;
  Rec *rec = nullptr;
  uint64_t fallback[2] = {0, 0};   // returned when refused or when the function fails
  char label[kLabelBytes] = {};
};

struct Pending;

struct CallbackEnv {
  napi_env env = nullptr;
  pthread_t js_thread{};
  napi_threadsafe_function tsfn = nullptr;
  std::mutex mutex;     // guards `alive` against the environment's teardown racing a queued call
  bool alive = true;
  std::atomic<bool> alive_fast{true};
  std::vector<Slot *> slots;                          // JS thread
  std::map<std::string, std::deque<Slot *>> released; // JS thread: by signature, oldest first
  std::vector<Slot *> zombies;                        // dead, with JS references still to delete
  std::atomic<uint64_t> refused{0};
  uint64_t created = 0;

  // Calls from other threads (see the top of this file).
  std::mutex qmutex;
  std::deque<Pending *> queue;
  bool js_active = false;    // the JS thread is running queued calls: no wakeup needed
  bool wake_posted = false;  // a wakeup is on its way through the threadsafe function
  bool queue_open = true;    // false once the environment shuts down
  std::atomic<uint64_t> pushed{0};
};

// The environment whose JS thread this is (one per main or worker thread).
thread_local CallbackEnv *t_env = nullptr;

// What a JS object made by makeCallback holds.
struct Handle {
  Slot *slot;
  uint64_t serial;
};

inline void CpuRelax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How long each side watches for the other before sleeping (the JS thread: for more calls; a calling
// thread: for its result), and how long the JS thread runs queued calls before the event loop.
constexpr auto kCallerSpin = std::chrono::microseconds(50);
constexpr auto kJsSpin = std::chrono::microseconds(30);
constexpr auto kJsBatch = std::chrono::milliseconds(5);

// A call from another thread, waiting on that thread's stack for the JS thread to run it.
struct Pending {
  Slot *slot;
  void *ret;
  void **args;
  std::atomic<bool> done{false};
  std::mutex mutex;
  std::condition_variable cv;
  bool sleeping = false;
  // JS thread (or teardown): the result is in `ret`.
  void Finish() {
    std::lock_guard<std::mutex> lock(mutex);
    done.store(true, std::memory_order_release);
    if (sleeping) cv.notify_one();
  }
  void Wait() {
    auto until = std::chrono::steady_clock::now() + kCallerSpin;
    for (unsigned i = 1;; i++) {
      if (done.load(std::memory_order_acquire)) {
        // Finish may still hold the mutex: take it once so that it has let go before this frame ends.
        std::lock_guard<std::mutex> lock(mutex);
        return;
      }
      CpuRelax();
      if ((i & 63) == 0 && std::chrono::steady_clock::now() > until) break;
    }
    std::unique_lock<std::mutex> lock(mutex);
    sleeping = true;
    cv.wait(lock, [this] { return done.load(std::memory_order_acquire); });
  }
};

bool Callable(uint32_t st) { return st == kSlotLive || st == kSlotSyncActive || st == kSlotAsyncActive; }

void WriteFallback(const Slot *s, void *ret) {
  switch (s->ret_kind) {
    case kVoid:
      return;
    case kAggregate:
      std::memset(ret, 0, s->ret_size);
      return;
    case kF32: {
      uint32_t bits = static_cast<uint32_t>(s->fallback[0]);
      std::memcpy(ret, &bits, sizeof bits);
      return;
    }
    default:
      std::memcpy(ret, &s->fallback[0], sizeof(uint64_t));
  }
}

const char *WhyRefused(uint32_t st) {
  switch (st) {
    case kSlotIdle:
      return "was called after the call it was passed to had returned (a JS function passed directly to a call "
             "lives for that call only; keep one that C stores with lib.callback())";
    case kSlotSyncActive:
      return "was called from another thread during the synchronous call it was passed to: the JS thread is "
             "blocked in that call and could never run it (use .async, or lib.callback())";
    case kSlotDead:
    case kSlotFree:
      return "was called after it was released";
    default:
      return "was called after its JS environment shut down";
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
                 s->ret_kind == kVoid ? "nothing" : "the fallback value", static_cast<unsigned long long>(n),
                 n == 1 ? "" : "s");
  }
}

// The C value at `p` (a parameter of kind `kind`) as a JS value, or nullptr on failure.
napi_value ArgToJs(napi_env env, uint8_t kind, const void *p, uint32_t size) {
  napi_value out = nullptr;
  switch (kind) {
    case kBool:
      napi_get_boolean(env, *static_cast<const uint8_t *>(p) != 0, &out);
      break;
    case kI8:
      napi_create_int32(env, *static_cast<const int8_t *>(p), &out);
      break;
    case kU8:
      napi_create_uint32(env, *static_cast<const uint8_t *>(p), &out);
      break;
    case kI16:
      napi_create_int32(env, *static_cast<const int16_t *>(p), &out);
      break;
    case kU16:
      napi_create_uint32(env, *static_cast<const uint16_t *>(p), &out);
      break;
    case kI32:
      napi_create_int32(env, *static_cast<const int32_t *>(p), &out);
      break;
    case kU32:
      napi_create_uint32(env, *static_cast<const uint32_t *>(p), &out);
      break;
    case kI64:
      napi_create_bigint_int64(env, *static_cast<const int64_t *>(p), &out);
      break;
    case kU64:
      napi_create_bigint_uint64(env, *static_cast<const uint64_t *>(p), &out);
      break;
    case kPointer: {
      uintptr_t a;
      std::memcpy(&a, p, sizeof a);
      napi_create_bigint_uint64(env, a, &out);
      break;
    }
    case kF32:
      napi_create_double(env, *static_cast<const float *>(p), &out);
      break;
    case kF64:
      napi_create_double(env, *static_cast<const double *>(p), &out);
      break;
    case kString: {
      const char *s;
      std::memcpy(&s, p, sizeof s);
      if (s == nullptr) {
        napi_get_null(env, &out);
      } else {
        napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out);
      }
      break;
    }
    case kAggregate: {
      void *data = nullptr;
      if (napi_create_arraybuffer(env, size, &data, &out) == napi_ok) std::memcpy(data, p, size);
      break;
    }
  }
  return out;
}

// The JS value a function returned, as the C result in `ret` (libffi's layout: integers narrower
// than a register widened to ffi_arg). False with *why set when it does not fit the type.
bool RetFromJs(napi_env env, const Slot *s, napi_value v, void *ret, const char **why) {
  const uint8_t kind = s->ret_kind;
  if (kind == kVoid) return true;
  if (kind == kAggregate) {
    uint8_t *data = nullptr;
    size_t len = 0;
    bool is = false;
    void *p = nullptr;
    if (napi_is_arraybuffer(env, v, &is) == napi_ok && is && napi_get_arraybuffer_info(env, v, &p, &len) == napi_ok) {
      data = static_cast<uint8_t *>(p);
    } else if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
      napi_typedarray_type type;
      size_t count = 0;
      if (napi_get_typedarray_info(env, v, &type, &count, &p, nullptr, nullptr) == napi_ok && type == napi_uint8_array) {
        data = static_cast<uint8_t *>(p);
        len = count;
      }
    }
    if (!data || len < s->ret_size) {
      *why = "must return an object of the struct type";
      return false;
    }
    std::memcpy(ret, data, s->ret_size);
    return true;
  }
  if (kind == kF32 || kind == kF64) {
    double d;
    if (napi_get_value_double(env, v, &d) != napi_ok) {
      *why = "must return a number";
      return false;
    }
    if (kind == kF32) {
      float f = static_cast<float>(d);
      std::memcpy(ret, &f, sizeof f);
    } else {
      std::memcpy(ret, &d, sizeof d);
    }
    return true;
  }
  if (kind == kBool) {
    bool b;
    if (napi_get_value_bool(env, v, &b) != napi_ok) {
      double d;
      if (napi_get_value_double(env, v, &d) != napi_ok || !(d == 0 || d == 1)) {
        *why = "must return a boolean";
        return false;
      }
      b = d == 1;
    }
    ffi_arg a = b ? 1 : 0;
    std::memcpy(ret, &a, sizeof a);
    return true;
  }
  if (kind == kI64 || kind == kU64 || kind == kPointer) {
    uint64_t bits = 0;
    bool lossless = false;
    napi_valuetype t = napi_undefined;
    napi_typeof(env, v, &t);
    if (t == napi_bigint) {
      if (kind == kI64) {
        int64_t i;
        napi_get_value_bigint_int64(env, v, &i, &lossless);
        bits = static_cast<uint64_t>(i);
      } else {
        napi_get_value_bigint_uint64(env, v, &bits, &lossless);
      }
      if (!lossless) {
        *why = "returned a bigint out of the type's range";
        return false;
      }
    } else if (kind == kPointer && t == napi_null) {
      bits = 0;
    } else if (kind == kPointer && t == napi_object) {
      bool live = false;
      if (!CallbackHandleAddress(env, v, &bits, &live) || !live) {
        *why = "must return a bigint address, null or a live callback";
        return false;
      }
    } else if (kind != kPointer && t == napi_number) {
      ArgBits a = IntFromNumber(env, v, kind == kI64 ? -9007199254740991.0 : 0.0, 9007199254740991.0);
      if (!a.ok) {
        *why = "returned a number that is not a safe integer of the type's range (return a bigint)";
        return false;
      }
      bits = a.bits;
    } else {
      *why = kind == kPointer ? "must return a bigint address or null" : "must return a bigint (or a safe integer)";
      return false;
    }
    std::memcpy(ret, &bits, sizeof bits);
    return true;
  }
  double lo = 0, hi = 0;
  switch (kind) {
    case kI8:
      lo = -128, hi = 127;
      break;
    case kU8:
      hi = 255;
      break;
    case kI16:
      lo = -32768, hi = 32767;
      break;
    case kU16:
      hi = 65535;
      break;
    case kI32:
      lo = -2147483648.0, hi = 2147483647.0;
      break;
    default:  // kU32
      hi = 4294967295.0;
      break;
  }
  ArgBits a = IntFromNumber(env, v, lo, hi);
  if (!a.ok) {
    *why = "must return an integer in its C type's range";
    return false;
  }
  // Sign- or zero-extended already, as libffi wants a narrow integer result in an ffi_arg.
  ffi_arg wide = static_cast<ffi_arg>(a.bits);
  std::memcpy(ret, &wide, sizeof wide);
  return true;
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

// Calls on the JS thread are not counted in `running`: a release, the only thing that waits for
// running calls, runs on the JS thread too, so it can never overlap one (a function that releases
// its own callback runs to its end first: nothing below touches the slot's JS references once the
// function was called, and Collect runs after).
void AfterJsThreadRun(CallbackEnv *cenv, Slot *s) {
  if (s->state.load(std::memory_order_relaxed) == kSlotDead) Collect(cenv, s);
}

// Runs the function of `s` on the JS thread. `queued`: it came from another thread through the
// threadsafe function (no JS frame of ours is below it to rethrow into).
void RunOnJsThread(CallbackEnv *cenv, Slot *s, void *ret, void **args, bool queued) {
  napi_env env = cenv->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    WriteFallback(s, ret);
    return;
  }
  const size_t n = s->kinds.size();
  napi_value argv[kMaxFixedParams];
  napi_value fn = nullptr, recv = nullptr, result = nullptr;
  bool ok = s->rec && napi_get_reference_value(env, s->rec->fn, &fn) == napi_ok && fn != nullptr &&
            napi_get_undefined(env, &recv) == napi_ok;
  for (size_t i = 0; ok && i < n; i++) {
    argv[i] = ArgToJs(env, s->kinds[i], args[i], s->sizes[i]);
    ok = argv[i] != nullptr;
  }
  napi_status st = ok ? napi_call_function(env, recv, fn, n, argv, &result) : napi_generic_failure;
  napi_value error = nullptr;
  if (st == napi_ok) {
    const char *why = nullptr;
    if (!RetFromJs(env, s, result, ret, &why)) {
      std::string message = std::string("callback ") + s->label + " " + why;
      napi_value code, msg;
      napi_create_string_utf8(env, "ERR_DLSWAP_CALLBACK", NAPI_AUTO_LENGTH, &code);
      napi_create_string_utf8(env, message.c_str(), message.size(), &msg);
      napi_create_type_error(env, code, msg, &error);
      WriteFallback(s, ret);
    }
  } else {
    WriteFallback(s, ret);
    // A pending exception (the function threw, or an earlier callback of the same call did and no
    // JS may run until it is handled).
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending && queued) napi_get_and_clear_last_exception(env, &error);
  }
  if (error) {
    if (!queued) {
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

// Every queued call gets the fallback value (the environment is shutting down).
void DrainWithFallback(CallbackEnv *cenv) {
  std::deque<Pending *> left;
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    cenv->queue_open = false;
    left.swap(cenv->queue);
  }
  for (Pending *p : left) {
    WriteFallback(p->slot, p->ret);
    p->slot->running.fetch_sub(1);
    p->Finish();
  }
}

// Posts a wakeup to the JS thread. Called with qmutex not held. When the environment is shutting
// down, its cleanup (or the threadsafe function's) drains the queue instead.
void PostWake(CallbackEnv *cenv) {
  std::lock_guard<std::mutex> lock(cenv->mutex);
  if (cenv->alive) napi_call_threadsafe_function(cenv->tsfn, nullptr, napi_tsfn_nonblocking);
}

// The JS thread, woken by a call from another thread: runs queued calls until the queue stays empty
// for kJsSpin, or for at most kJsBatch (then the event loop gets its turn, and a wakeup is posted
// for what is left).
void CallJs(napi_env env, napi_value /*js_cb*/, void *context, void * /*data*/) {
  auto *cenv = static_cast<CallbackEnv *>(context);
  if (env == nullptr) {
    DrainWithFallback(cenv);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    cenv->wake_posted = false;
    cenv->js_active = true;
  }
  const auto batch_end = std::chrono::steady_clock::now() + kJsBatch;
  for (;;) {
    Pending *p = nullptr;
    {
      std::lock_guard<std::mutex> lock(cenv->qmutex);
      if (!cenv->queue.empty()) {
        p = cenv->queue.front();
        cenv->queue.pop_front();
      }
    }
    if (p) {
      Slot *s = p->slot;
      RunOnJsThread(cenv, s, p->ret, p->args, true);
      AfterRun(cenv, s);
      p->Finish();
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      // An exception left for node to report (no onError), or a long batch: let the event loop run.
      if (pending || std::chrono::steady_clock::now() > batch_end) break;
      continue;
    }
    // Empty: watch for a little while (a thread calling back in a loop posts its next call soon).
    uint64_t seen = cenv->pushed.load(std::memory_order_acquire);
    auto until = std::chrono::steady_clock::now() + kJsSpin;
    bool more = false;
    for (unsigned i = 1;; i++) {
      if (cenv->pushed.load(std::memory_order_acquire) != seen) {
        more = true;
        break;
      }
      CpuRelax();
      if ((i & 63) == 0 && std::chrono::steady_clock::now() > until) break;
    }
    if (more) continue;
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    if (cenv->queue.empty()) {
      cenv->js_active = false;
      return;
    }
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    cenv->js_active = false;
    wake = !cenv->queue.empty() && !cenv->wake_posted;
    if (wake) cenv->wake_posted = true;
  }
  if (wake) PostWake(cenv);
}

// Every call of every callback arrives here, on whatever thread C is on. `args[i]` points at
// argument i, `ret` where the result goes (libffi's conventions).
void Invoke(Slot *s, void *ret, void **args) {
  CallbackEnv *cenv = s->cenv;
  if (pthread_equal(pthread_self(), cenv->js_thread)) {
    // The JS thread: the state only changes here, so plain loads suffice (see AfterJsThreadRun).
    uint32_t st = s->state.load(std::memory_order_relaxed);
    if (DLSWAP_UNLIKELY(!Callable(st) || !cenv->alive)) {
      Refuse(s, WhyRefused(Callable(st) ? kEnvGone : st));
      WriteFallback(s, ret);
      return;
    }
    RunOnJsThread(cenv, s, ret, args, false);
    AfterJsThreadRun(cenv, s);
    return;
  }
  // Any other thread: counted before the state is read, so that a release on the JS thread either
  // sees this call running or this call sees the release (both sequentially consistent).
  s->running.fetch_add(1);
  uint32_t st = s->state.load();
  if (!Callable(st) || !cenv->alive_fast.load(std::memory_order_acquire)) {
    s->running.fetch_sub(1);
    Refuse(s, WhyRefused(Callable(st) ? kEnvGone : st));
    WriteFallback(s, ret);
    return;
  }
  if (st == kSlotSyncActive) {
    s->running.fetch_sub(1);
    Refuse(s, WhyRefused(kSlotSyncActive));
    WriteFallback(s, ret);
    return;
  }
  Pending p;
  p.slot = s;
  p.ret = ret;
  p.args = args;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(cenv->qmutex);
    if (!cenv->queue_open) {
      s->running.fetch_sub(1);
      Refuse(s, WhyRefused(kEnvGone));
      WriteFallback(s, ret);
      return;
    }
    cenv->queue.push_back(&p);
    cenv->pushed.fetch_add(1, std::memory_order_release);
    if (!cenv->js_active && !cenv->wake_posted) wake = cenv->wake_posted = true;
  }
  if (wake) PostWake(cenv);
  p.Wait();
}

// A libffi closure's entry.
void Entry(ffi_cif * /*cif*/, void *ret, void **args, void *user_data) { Invoke(static_cast<Slot *>(user_data), ret, args); }

// The fixed stubs (native/abi/callbacks_*.S) and the slots they serve, process-wide.
std::atomic<Slot *> *StubSlots() {
  static std::atomic<Slot *> *slots = new std::atomic<Slot *>[4096]();  // never freed, as the stubs
  return slots;
}
std::mutex g_stub_mutex;
uint32_t g_stub_next = 0;

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
  DrainWithFallback(cenv);
  if (t_env == cenv) t_env = nullptr;
}

CallbackEnv *EnvFor(Napi::Env env) {
  if (t_env && t_env->env == env) return t_env;
  auto *cenv = new CallbackEnv();  // never freed: slots keep pointing at it
  cenv->env = env;
  cenv->js_thread = pthread_self();
  napi_value name;
  napi_create_string_utf8(env, "dlswap:callback", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, cenv, CallJs, &cenv->tsfn) !=
      napi_ok) {
    delete cenv;
    throw CodedError(env, "ERR_DLSWAP_INTERNAL", "cannot create the threadsafe function callbacks from other threads use");
  }
  // Callbacks do not keep the event loop alive by themselves.
  napi_unref_threadsafe_function(env, cenv->tsfn);
  napi_add_env_cleanup_hook(env, EnvCleanup, cenv);
  t_env = cenv;
  return cenv;
}

uint8_t KindArg(Napi::Env env, Napi::Value v, bool allow_void) {
  if (!v.IsNumber()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "callback kinds must be numbers");
  int32_t k = v.As<Napi::Number>().Int32Value();
  if (k < 0 || k >= kKindCount || (!allow_void && k == kVoid)) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "invalid callback kind " + std::to_string(k));
  }
  return static_cast<uint8_t>(k);
}

// A new slot for the signature in `spec`: { returns, params, returnShape?, paramShapes?, key }.
Slot *NewSlot(Napi::Env env, CallbackEnv *cenv, Napi::Object spec, const std::string &key) {
  auto slot = std::make_unique<Slot>();
  slot->cenv = cenv;
  slot->key = key;
  slot->ret_kind = KindArg(env, spec.Get("returns"), true);
  Napi::Value params_v = spec.Get("params");
  if (!params_v.IsArray()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeCallback: spec.params must be an array");
  Napi::Array params = params_v.As<Napi::Array>();
  if (params.Length() > kMaxFixedParams) throw CodedError(env, "ERR_DLSWAP_SIGNATURE", "a callback takes at most 64 parameters");
  Napi::Value shapes_v = spec.Get("paramShapes");
  Napi::Array shapes = shapes_v.IsArray() ? shapes_v.As<Napi::Array>() : Napi::Array::New(env, 0);
  for (uint32_t i = 0; i < params.Length(); i++) {
    uint8_t k = KindArg(env, params.Get(i), false);
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
  if (ffi_prep_cif(&slot->cif, FFI_DEFAULT_ABI, static_cast<unsigned>(slot->kinds.size()), rtype, slot->types.data()) !=
      FFI_OK) {
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
    if (g_stub_next < dlswap_cb_stub_count) slot->stub = static_cast<int32_t>(g_stub_next++);
  }
  if (slot->stub >= 0) {
    slot->code = dlswap_cb_stubs + 16 * static_cast<size_t>(slot->stub);
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
//   options: { state: 'live' | 'idle', label, fallback?: bigint bits, onError?: function }
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

// callbackInfo(handle) -> { address, state, running, refused, current }
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
  return o;
}

// callbackStats() -> { slots, live, refused }: this environment's.
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
  return o;
}

}  // namespace

// A fixed stub was called: its frame holds the integer argument registers, then the vector ones,
// then the two result slots (integer, vector).
void DispatchStub(uint32_t index, uint64_t *frame) {
  Slot *s = index < dlswap_cb_stub_count ? StubSlots()[index].load(std::memory_order_acquire) : nullptr;
  if (DLSWAP_UNLIKELY(s == nullptr)) {
    std::fprintf(stderr, "dlswap: callback stub %u was called but never handed out; C got 0\n", index);
    return;
  }
  void *args[kMaxFixedParams];
  const size_t n = s->kinds.size();
  for (size_t i = 0; i < n; i++) args[i] = &frame[s->regs[i]];
  Invoke(s, &frame[IsFloatKind(s->ret_kind) ? kRegSlots + 1 : kRegSlots], args);
}

bool CallbackHandleAddress(napi_env env, napi_value v, uint64_t *address, bool *ok) {
  Handle *h = HandleOf(env, v);
  if (!h) return false;
  *ok = Current(h) && h->slot->state.load() != kSlotDead;
  *address = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h->slot->code));
  return true;
}

void InitCallbacks(Napi::Env env, Napi::Object exports) {
  exports.Set("makeCallback", Napi::Function::New(env, MakeCallbackJs, "makeCallback"));
  exports.Set("setCallbackState", Napi::Function::New(env, SetCallbackStateJs, "setCallbackState"));
  exports.Set("releaseCallback", Napi::Function::New(env, ReleaseCallbackJs, "releaseCallback"));
  exports.Set("callbackInfo", Napi::Function::New(env, CallbackInfoJs, "callbackInfo"));
  exports.Set("callbackStats", Napi::Function::New(env, CallbackStatsJs, "callbackStats"));
}

}  // namespace dlswap

extern "C" void dlswap_cb_dispatch(uint32_t index, uint64_t *frame) { dlswap::DispatchStub(index, frame); }
