#include "common/errors.h"

namespace dlswap {

napi_value MakeCodedError(napi_env env, const char *code, const std::string &message, ErrorClass cls) {
  napi_value c, m, err = nullptr;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message.c_str(), message.size(), &m);
  switch (cls) {
    case ErrorClass::kError: napi_create_error(env, c, m, &err); break;
    case ErrorClass::kTypeError: napi_create_type_error(env, c, m, &err); break;
    case ErrorClass::kRangeError: napi_create_range_error(env, c, m, &err); break;
  }
  return err;
}

napi_value ThrowCode(napi_env env, const char *code, const std::string &message, bool type_error) {
  napi_throw(env, MakeCodedError(env, code, message, type_error ? ErrorClass::kTypeError : ErrorClass::kError));
  return nullptr;
}

}  // namespace dlswap
