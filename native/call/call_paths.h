// The callbacks behind the JS functions lib.func() makes, and what every call path shares at its
// start and its end. makeFunction picks one sync and one async callback per function:
//   sync: FastCallback(rec) when every argument fits a register (call/sync_fast.cc), CallFfi for
//         the rest and CallVariadic for variadic functions (call/sync_ffi.cc);
//   async: CallAsync, CallVariadicAsync (call/async_call.cc).
#pragma once
#include <node_api.h>

#include <atomic>
#include <cstddef>

#include "call/function_record.h"
#include "common/hints.h"

namespace dlswap {

napi_callback FastCallback(const FunctionRecord &rec);
napi_value CallFfi(napi_env env, napi_callback_info info);
napi_value CallVariadic(napi_env env, napi_callback_info info);
napi_value CallAsync(napi_env env, napi_callback_info info);
napi_value CallVariadicAsync(napi_env env, napi_callback_info info);

// A call's JS arguments (at most N are copied; argc is how many were passed) and its record.
template <size_t N>
struct JsArgs {
  napi_value argv[N];
  size_t argc = N;
  void *data = nullptr;
  DLSWAP_HOT JsArgs(napi_env env, napi_callback_info info) { napi_get_cb_info(env, info, &argc, argv, nullptr, &data); }
  FunctionRecord &record() const { return *static_cast<FunctionRecord *>(data); }
};

// The JS-thread part of every sync call's epilogue: errno into the library, the call counted.
// Must run before any napi_* call, which could itself change errno in the local modes.
DLSWAP_HOT int AfterSyncCall(const FunctionRecord &rec, LibraryHandle *lib) {
  int err = *rec.errno_ptr;
  lib->last_errno = err;
  lib->calls++;
  return err;
}

}  // namespace dlswap
