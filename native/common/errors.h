// Errors thrown from native code carry a stable `code` (ERR_DLSWAP_...) so that the TypeScript layer
// and users can branch on it without parsing messages.
#pragma once
#include <napi.h>
#include <string>

namespace dlswap {

inline Napi::Error CodedError(Napi::Env env, const char *code, const std::string &message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

inline Napi::Error CodedTypeError(Napi::Env env, const char *code, const std::string &message) {
  Napi::Error err = Napi::TypeError::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

}  // namespace dlswap
