// fn.async(...): arguments are converted and checked on the JS thread (string copies and references
// to the Buffers they point into go into the work item), the C call runs on libuv's thread pool,
// and the promise settles on the JS thread.
//
// An async call captures (library, address) when it is queued, so it finishes on the generation it
// started on even if the function is rebound meanwhile; its LibraryRef keeps that image loaded and
// the library's in_flight count makes a native close refuse until it has completed.
#include "call/call_paths.h"
#include "call/ffi_args.h"
#include "call/trampoline.h"
#include "common/errors.h"
#include "common/pool_exit.h"
#include "image/thread_scan.h"
#include "signals/fault_js.h"

namespace dlswap {

namespace {

struct AsyncCall {
  napi_env env = nullptr;
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  FunctionRecord *rec = nullptr;  // a reference is held until completion
  LibraryRef lib;
  const void *address = nullptr;
  const ffi_cif *cif = nullptr;  // null: the register trampoline
  std::shared_ptr<VariadicCif> variadic;
  uint8_t ret_kind = kVoid;
  bool errno_result = false;
  bool floats = false;                       // trampoline: some argument is in a vector register
  bool counted = false;                      // in_flight was incremented
  bool refused = false;                      // the library was quarantined before the call could start
  std::shared_ptr<const FaultRecord> fault;  // the call faulted (contained)

  int err = 0;
  alignas(16) uint64_t ret[2] = {};
  void *rvalue = nullptr;  // a struct result: written where the caller said
  uint64_t regs[kRegSlots] = {};
  std::unique_ptr<uint64_t[]> slots;
  std::unique_ptr<void *[]> avalues;
  char string_buf[kAsyncStringBytes];
  StringStore strings{string_buf, sizeof string_buf};
  KeepAlive keep;

  ~AsyncCall() {
    for (napi_ref r : keep.refs) napi_delete_reference(env, r);
    if (work) napi_delete_async_work(env, work);
    if (counted) lib->in_flight.fetch_sub(1, std::memory_order_acq_rel);
    if (rec) ReleaseRecord(rec);
  }
};

void Execute(napi_env, void *data) {
  // Worker thread: no napi_* calls here.
  AsyncCall &call = *static_cast<AsyncCall *>(data);
  LibraryHandle &lib = *call.lib;
  NotePoolThread();
  // Quarantined since the call was queued (a fault on another thread): refused, never entered.
  if (lib.faulted.load(std::memory_order_acquire)) {
    call.refused = true;
    return;
  }
  // A pool thread is node's: the namespace's libc has no per-thread state for it until told (one
  // thread-local compare after the first call).
  EnsureThreadReady(lib.ns);
  NoteCountedThread();
  ThreadFaults *tf = ThisThreadFaults(ThreadRole::kPool);
  // errno is per thread: this thread's, in the library's own libc.
  if (call.errno_result && lib.errno_location) *lib.errno_location() = 0;
  int32_t outcome;
  PoolCallStarts();  // an exit waits for it, bounded (common/pool_exit.h)
  if (call.cif) {
    FfiInvocation ffi{const_cast<ffi_cif *>(call.cif), FfiTarget(call.address), call.rvalue ? call.rvalue : call.ret, call.avalues.get()};
    outcome = GuardedRun(tf, &InvokeFfi, &ffi);
  } else {
    RecoveryFrame frame;
    PushFrame(tf, &frame, FrameKind::kCall);
    call.ret[0] = GuardedCallWithRegs(call.address, call.regs, call.floats, call.ret_kind, &frame);
    PopFrame(tf, &frame);
    outcome = frame.outcome;
  }
  PoolCallEnds();
  if (outcome != kReturned) {
    // Quarantined at once, from this thread: calls queued behind this one are refused as they start.
    call.fault = MakeFaultRecord(tf->last, lib, call.rec->name, *tf);
    Quarantine(lib, call.fault);
    return;
  }
  call.err = lib.ReadErrno();
}

void Complete(napi_env env, napi_status status, void *data) {
  std::unique_ptr<AsyncCall> call(static_cast<AsyncCall *>(data));
  LibraryHandle &lib = *call->lib;
  // Count the call as done before the promise settles, so that code reacting to it can close.
  lib.in_flight.fetch_sub(1, std::memory_order_acq_rel);
  call->counted = false;
  if (status != napi_ok) {
    napi_reject_deferred(env, call->deferred, MakeCodedError(env, "ERR_DLSWAP_INTERNAL", "the async call was cancelled"));
    return;
  }
  if (call->refused) {
    napi_reject_deferred(env, call->deferred, MakeFaultedError(env, call->rec->name, lib));
    return;
  }
  if (call->fault) {
    lib.errors.fetch_add(1, std::memory_order_relaxed);
    napi_value err = MakeFaultError(env, *call->fault);
    NotifyFault(env, lib, err);
    napi_reject_deferred(env, call->deferred, err);
    return;
  }
  lib.last_errno = call->err;
  lib.calls++;
  napi_value result = ConvertResult(env, call->ret_kind, call->ret[0]);
  if (call->errno_result) result = WithErrno(env, result, call->err);
  napi_resolve_deferred(env, call->deferred, result);
}

// Converts `n` JS arguments (argv) with `kinds` into the call, then queues it. The first
// `rec.nparams` are fixed params; any further ones are variadic values, promoted.
napi_value SubmitImpl(napi_env env, FunctionRecord &rec, const uint8_t *kinds, size_t n, const napi_value *argv, const ffi_cif *cif,
                      std::shared_ptr<VariadicCif> variadic);

// Called from raw Node-API callbacks: an allocation failure must become a JS error, not escape.
napi_value Submit(napi_env env, FunctionRecord &rec, const uint8_t *kinds, size_t n, const napi_value *argv, const ffi_cif *cif,
                  std::shared_ptr<VariadicCif> variadic) {
  try {
    return SubmitImpl(env, rec, kinds, n, argv, cif, std::move(variadic));
  } catch (...) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "ERR_DLSWAP_INTERNAL", "out of memory queuing an async call");
    return nullptr;
  }
}

napi_value SubmitImpl(napi_env env, FunctionRecord &rec, const uint8_t *kinds, size_t n, const napi_value *argv, const ffi_cif *cif,
                      std::shared_ptr<VariadicCif> variadic) {
  LibraryHandle *lib = rec.lib.get();
  if (lib->closed || lib->faulted.load(std::memory_order_acquire)) return ThrowClosed(env, rec);
  auto call = std::make_unique<AsyncCall>();
  call->env = env;
  call->keep.env = env;
  call->lib = rec.lib;
  call->address = rec.address;
  call->ret_kind = rec.ret_kind;
  call->errno_result = rec.errno_result();
  call->cif = cif;
  call->floats = rec.flags & kFlagFloatArgs;
  call->variadic = std::move(variadic);
  if (cif) {
    call->slots.reset(new uint64_t[n > 0 ? n : 1]);
    call->avalues.reset(new void *[n > 0 ? n : 1]);
    if (!FfiArgs(env, rec, kinds, n, argv, &call->strings, &call->keep, call->slots.get(), call->avalues.get(), &call->rvalue)) {
      return nullptr;
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      ArgBits a = ConvertArg(env, rec, i, kinds[i], argv[i], &call->strings, &call->keep);
      if (!a.ok) return nullptr;
      call->regs[rec.slots[i]] = a.bits;
    }
  }

  napi_value promise, name;
  if (napi_create_promise(env, &call->deferred, &promise) != napi_ok) {
    return ThrowCode(env, "ERR_DLSWAP_INTERNAL", rec.name + "(): cannot create a promise");
  }
  if (napi_create_string_utf8(env, rec.resource_name.data(), rec.resource_name.size(), &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, Execute, Complete, call.get(), &call->work) != napi_ok) {
    // The deferred would otherwise never settle; nothing waits on it yet.
    napi_reject_deferred(env, call->deferred, MakeCodedError(env, "ERR_DLSWAP_INTERNAL", "cannot create async work"));
    return ThrowCode(env, "ERR_DLSWAP_INTERNAL", rec.name + "(): cannot create async work");
  }
  RetainRecord(&rec);
  call->rec = &rec;
  lib->in_flight.fetch_add(1, std::memory_order_acq_rel);
  call->counted = true;
  if (napi_queue_async_work(env, call->work) != napi_ok) {
    napi_reject_deferred(env, call->deferred, MakeCodedError(env, "ERR_DLSWAP_INTERNAL", "cannot queue async work"));
    return ThrowCode(env, "ERR_DLSWAP_INTERNAL", rec.name + "(): cannot queue async work");
  }
  call.release();  // Complete owns it now
  return promise;
}

}  // namespace

napi_value CallAsync(napi_env env, napi_callback_info info) {
  JsArgs<kMaxArgs> args(env, info);
  FunctionRecord &rec = args.record();
  const size_t want = rec.nparams + (rec.ret_in_arg ? 1 : 0);
  if (args.argc != want) return ThrowArgCount(env, rec, args.argc, want, false);
  const ffi_cif *cif = (rec.flags & kFlagFast) ? nullptr : &rec.cif;
  return Submit(env, rec, rec.kinds, rec.nparams, args.argv, cif, nullptr);
}

napi_value CallVariadicAsync(napi_env env, napi_callback_info info) {
  JsArgs<kMaxArgs + 1> args(env, info);
  FunctionRecord &rec = args.record();
  const std::shared_ptr<VariadicCif> *vc = VariadicOf(env, rec, args.argv, args.argc);
  if (!vc) return nullptr;
  return Submit(env, rec, (*vc)->kinds.data(), (*vc)->kinds.size(), args.argv + 1, &(*vc)->cif, *vc);
}

}  // namespace dlswap
