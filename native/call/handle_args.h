// Handles (lib/signature/handle.ts): JS objects that stand for a C pointer one image made. A function
// takes one as a pointer argument only if it calls that image, and only until the handle is
// released; anything else is ERR_DLSWAP_STALE_HANDLE, never a call with a pointer into another
// image's memory (or into memory that is gone).
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>

#include "call/function_record.h"

namespace dlswap {

// False if `v` is not a handle. True with *ok set if it is: *address is its pointer when the call
// may pass it (*ok true), else a JS exception (ERR_DLSWAP_STALE_HANDLE) is pending (*ok false).
// On the pointer conversion's slow path only (after bigints, null, buffers and callbacks).
bool HandleArgAddress(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v, uint64_t *address, bool *ok);

}  // namespace dlswap
