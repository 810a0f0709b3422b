// JS functions as C function pointers (docs/callbacks.md): the slot each callback is, and what the
// files of native/callback/ share about it.
//
// Each callback is a slot: a libffi closure (the code address C calls) whose user data is the slot.
// Slots and their closures are never freed: C may call a pointer it kept long after JS released it,
// and that call must find a slot that says "released" rather than freed memory. A released slot is
// reused only for a callback of the same C signature, and only after kQuarantine other slots of that
// signature were released after it, so a late call most likely finds "released", and in the worst
// case calls a function with the very argument and return types the caller passes and expects.
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
// A call from another thread waits for the JS thread, but never without bound (cross_thread.cc): it
// gives up, with the fallback value, after the slot's deadline (`timeout_ms`), at once when the JS
// thread is joining the calling thread (a certain deadlock), and when the environment or the process
// exits. Each is counted and logged like a refusal.
//
// `running` counts calls admitted and not finished; it is decremented on the JS thread only (after
// the function ran, or in the refusal path by the caller itself before any JS runs). A slot's JS
// references are deleted once it is released and nothing runs on it; lib.close() waits for that.
#pragma once
#include <ffi.h>
#include <napi.h>
#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "abi/callback_stubs.h"
#include "call/aggregate.h"
#include "call/kinds.h"

// native/abi/callbacks_*.S: the fixed stubs (how many, how far apart: abi/callback_stubs.h), and the
// function each one calls.
extern "C" char dlswap_cb_stubs[];
extern "C" void dlswap_cb_dispatch(uint32_t index, uint64_t *frame) __attribute__((visibility("hidden")));

namespace dlswap::callback {

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
  int32_t stub = -1;                   // the fixed stub's index, or -1
  uint8_t regs[kMaxFixedParams] = {};  // stub slots: where each argument is in the stub's frame
  ffi_cif cif{};
  std::vector<ffi_type *> types;
  std::vector<std::unique_ptr<FfiAggregate>> aggregates;
  std::string key;
  uint8_t ret_kind = kVoid;
  uint32_t ret_size = 0;  // struct results
  std::vector<uint8_t> kinds;
  std::vector<uint32_t> sizes;  // struct parameters (0 for the others)
  CallbackEnv *cenv = nullptr;  // never freed

  std::atomic<uint32_t> state{kSlotFree};
  std::atomic<int32_t> running{0};
  std::atomic<uint64_t> refused{0};
  // Written on the JS thread while the slot is free or dead and nothing runs on it, read after a
  // caller saw a callable state (or, for messages, at any time: bounded and always terminated).
  uint64_t serial = 0;
  Rec *rec = nullptr;
  uint64_t fallback[2] = {0, 0};  // returned when refused or when the function fails
  uint32_t timeout_ms = 0;        // how long a call from another thread waits for the JS thread
  char label[kLabelBytes] = {};
  std::atomic<uint64_t> timed_out{0};   // calls that gave up at the deadline
  std::atomic<uint64_t> deadlocked{0};  // calls given up because the JS thread was joining the caller
};

struct Pending;

struct CallbackEnv {
  napi_env env = nullptr;
  pthread_t js_thread{};
  pid_t js_tid = 0;  // the JS thread's kernel id, to see what it is blocked in
  napi_threadsafe_function tsfn = nullptr;
  std::mutex mutex;  // guards `alive` against the environment's teardown racing a queued call
  bool alive = true;
  std::atomic<bool> alive_fast{true};
  std::vector<Slot *> slots;                           // JS thread
  std::map<std::string, std::deque<Slot *>> released;  // JS thread: by signature, oldest first
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> timed_out{0};
  std::atomic<uint64_t> deadlocked{0};
  uint64_t created = 0;

  // Calls from other threads (callback/cross_thread.cc).
  std::mutex qmutex;
  std::deque<Pending *> queue;
  bool js_active = false;      // the JS thread is running queued calls: no wakeup needed
  bool wake_posted = false;    // a wakeup is on its way through the threadsafe function
  bool queue_open = true;      // false once the environment shuts down (or the process exits)
  Pending *current = nullptr;  // the queued call the JS thread is running now
  std::atomic<uint64_t> pushed{0};
};

// Set once the process exits (process.exit, or exit() from any thread): calls from other threads
// get their fallback value at once instead of waiting for a JS thread that will never run them.
extern std::atomic<bool> g_process_exiting;

// The environment whose JS thread this is (one per main or worker thread), once it made a callback.
extern thread_local CallbackEnv *t_env;

inline bool Callable(uint32_t st) { return st == kSlotLive || st == kSlotSyncActive || st == kSlotAsyncActive; }

// ---- dispatch.cc: every call of every callback, on whatever thread C is on ----------------------
// `args[i]` points at argument i, `ret` where the result goes (libffi's conventions).
void Invoke(Slot *s, void *ret, void **args);
// A libffi closure's entry.
void Entry(ffi_cif *cif, void *ret, void **args, void *user_data);
// Runs the function of `s` on the JS thread. `queued` (the call that came from another thread
// through the threadsafe function: no JS frame of ours is below it to rethrow into) is told when
// `args` have been read (ArgsTaken), since its caller may give up waiting from then on.
void RunOnJsThread(CallbackEnv *cenv, Slot *s, void *ret, void **args, Pending *queued);
// Refuses a call C made: logged, counted, and C gets the fallback value. `st` says why.
void RefuseCall(Slot *s, void *ret, uint32_t st);
// A call from another thread that stopped waiting for the JS thread (its deadline passed, or the
// JS thread was joining the caller): logged and counted; C gets the fallback value.
enum class GaveUp { kDeadline, kDeadlock };
void ReportGaveUp(Slot *s, GaveUp why);
void WriteFallback(const Slot *s, void *ret);
// JS thread: the slot's JS references are deleted once it is released and nothing runs on it.
void DeleteRec(napi_env env, Slot *s);
void Collect(CallbackEnv *cenv, Slot *s);
// After a queued call ran: it no longer counts in `running`.
void AfterRun(CallbackEnv *cenv, Slot *s);

// ---- cross_thread.cc: calls from threads other than the JS thread ---------------------------------
// Queues the call for the JS thread and waits for its result, until the slot's deadline at most
// (or refuses it: the queue is closed).
void QueueAndWait(CallbackEnv *cenv, Slot *s, void *ret, void **args);
// The threadsafe function's callback: the JS thread runs what is queued.
void CallJs(napi_env env, napi_value js_cb, void *context, void *data);
// RunOnJsThread has read the arguments of the queued call `p`.
void ArgsTaken(Pending *p);
// Closes the queue: every call waiting for this environment's JS thread (queued, or being run by
// it) gets the fallback value now, and later ones are refused. The environment is shutting down, or
// the JS thread is about to exit the process (it will never finish what it runs).
void ReleaseWaiting(CallbackEnv *cenv);

// ---- deadlock.cc: what the JS thread is blocked in -----------------------------------------------
// True when thread `tid` is blocked joining the calling thread (pthread_join waits on the futex of
// the caller's thread id, which the kernel clears when the caller exits): the caller waiting for it
// would wait for ever.
bool JoinsCallingThread(pid_t tid);

// ---- exit (slots.cc) ------------------------------------------------------------------------------
// Every environment's waiting calls get their fallback: the process is exiting.
void ReleaseAllForExit();

// ---- values.cc: C values and JS values ----------------------------------------------------------
// The C value at `p` (a parameter of kind `kind`, `size` bytes for a struct) as a JS value, or
// nullptr on failure.
napi_value ArgToJs(napi_env env, uint8_t kind, const void *p, uint32_t size);
// The JS value a function returned, as the C result in `ret` (libffi's layout: integers narrower
// than a register widened to ffi_arg). False with *why set when it does not fit the type.
bool RetFromJs(napi_env env, const Slot *s, napi_value v, void *ret, const char **why);

// ---- slots.cc: making slots ------------------------------------------------------------------------
// The slot each fixed stub serves (process-wide; null until handed out).
std::atomic<Slot *> *StubSlots();
// This JS thread's CallbackEnv, made (with its threadsafe function) on first use. Throws.
CallbackEnv *EnvFor(Napi::Env env);
// A new slot for the signature in `spec` ({ returns, params, returnShape?, paramShapes?, key }). Throws.
Slot *NewSlot(Napi::Env env, CallbackEnv *cenv, Napi::Object spec, const std::string &key);

}  // namespace dlswap::callback
