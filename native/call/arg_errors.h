// The errors a call throws before it reaches C: a bad argument, a wrong count, a closed library.
// Each throws a pending JS exception and returns nullptr, so that callbacks can `return Throw...`;
// none lets a C++ exception escape (they are called from raw Node-API callbacks).
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "call/function_record.h"

namespace dlswap {

// A RangeError when `value` has the right JS type but does not fit, a TypeError otherwise. `detail`
// replaces the generic "expects ...; got ..." text.
napi_value ThrowArgError(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value value,
                         const char *detail = nullptr);
napi_value ThrowArgCount(napi_env env, const FunctionRecord &rec, size_t got, size_t want, bool variadic);
// ERR_DLSWAP_STALE_HANDLE: a handle argument (call/handle_args.h) this call may not pass; `detail`
// says why, after the argument's label.
napi_value ThrowStaleHandle(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, const std::string &detail);
// ERR_DLSWAP_CLOSED, or ERR_DLSWAP_BUSY while a handover has the library gated.
napi_value ThrowClosed(napi_env env, const FunctionRecord &rec);

}  // namespace dlswap
