// Errors thrown from native code carry a stable `code` (ERR_DLSWAP_...) so that the TypeScript layer
// and users can branch on it without parsing messages. Every code must be one of lib/errors.ts's
// DlswapErrorCode (test/package/wire_constants.test.ts checks the string literals of native/).
#pragma once
#include <napi.h>

#include <string>

#include "common/native_error.h"

namespace dlswap {

inline Napi::Error CodedError(Napi::Env env, const char *code, const std::string &message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

// A failure of a native step (common/native_error.h), to throw.
inline Napi::Error CodedError(Napi::Env env, const NativeError &err) { return CodedError(env, err.code.c_str(), err.message); }

// A job's result as lib/ reads it: { ok } and, when it failed, { code, message }.
inline void SetOutcome(Napi::Object o, const NativeError &err) {
  o.Set("ok", !err.failed());
  if (!err.failed()) return;
  o.Set("code", err.code);
  o.Set("message", err.message);
}

inline Napi::Error CodedTypeError(Napi::Env env, const char *code, const std::string &message) {
  Napi::Error err = Napi::TypeError::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

// The raw Node-API forms, for callbacks that use the C API and must let no C++ exception escape
// (the call paths, callbacks from C).
enum class ErrorClass { kError, kTypeError, kRangeError };

// An error object with a code, not thrown: for promise rejections, or to throw later.
napi_value MakeCodedError(napi_env env, const char *code, const std::string &message, ErrorClass cls = ErrorClass::kError);
// Throws it and returns nullptr, so that a callback can `return ThrowCode(...)`.
napi_value ThrowCode(napi_env env, const char *code, const std::string &message, bool type_error = false);

}  // namespace dlswap
