// The sync libffi path: functions with more arguments than registers, and variadic functions.
// Their cif is prepared once (at lib.func() time, or once per variadic type list).
#include "call/call_paths.h"
#include "call/ffi_args.h"
#include "call/trampoline.h"
#include "signals/fault_js.h"

namespace dlswap {

namespace {

// Converts the arguments into arrays on this stack and makes the call. A struct result is written
// where the caller said (`with_result`: its address follows the arguments).
napi_value Call(napi_env env, const FunctionRecord &rec, const uint8_t *kinds, size_t n, const napi_value *argv, const ffi_cif *cif,
                bool with_result) {
  LibraryHandle *lib = rec.lib.get();
  if (lib->closed || lib->faulted.load(std::memory_order_relaxed)) return ThrowClosed(env, rec);
  uint64_t slots[kMaxArgs];
  void *avalues[kMaxArgs];
  char string_buf[kSyncStringBytes];
  StringStore strings(string_buf, sizeof string_buf);
  void *rvalue = nullptr;
  if (!FfiArgs(env, rec, kinds, n, argv, &strings, nullptr, slots, avalues, with_result ? &rvalue : nullptr)) return nullptr;
  if (rec.errno_result()) *rec.errno_ptr = 0;
  // Large enough for any scalar libffi returns (it widens small integers to ffi_arg).
  alignas(16) uint64_t ret[2] = {};
  FfiInvocation call{const_cast<ffi_cif *>(cif), FfiTarget(rec.address), rvalue ? rvalue : ret, avalues};
  if (GuardedRun(rec.faults, &InvokeFfi, &call) != kReturned) return HandleSyncFault(env, rec.name, *lib, *rec.faults);
  int err = AfterSyncCall(rec, lib);
  napi_value result = ConvertResult(env, rec.ret_kind, ret[0]);
  return rec.errno_result() ? WithErrno(env, result, err) : result;
}

}  // namespace

napi_value CallFfi(napi_env env, napi_callback_info info) {
  // One more than the parameters: a struct result's address comes after them.
  JsArgs<kMaxFixedParams + 1> args(env, info);
  const FunctionRecord &rec = args.record();
  const size_t want = rec.nparams + (rec.ret_in_arg ? 1 : 0);
  if (args.argc != want) return ThrowArgCount(env, rec, args.argc, want, false);
  return Call(env, rec, rec.kinds, rec.nparams, args.argv, &rec.cif, true);
}

// Arguments: (cif id from prepareVariadic, fixed args..., variadic values...).
napi_value CallVariadic(napi_env env, napi_callback_info info) {
  JsArgs<kMaxArgs + 1> args(env, info);
  const FunctionRecord &rec = args.record();
  const std::shared_ptr<VariadicCif> *vc = VariadicOf(env, rec, args.argv, args.argc);
  if (!vc) return nullptr;
  return Call(env, rec, (*vc)->kinds.data(), (*vc)->kinds.size(), args.argv + 1, &(*vc)->cif, false);
}

}  // namespace dlswap
