#include "call/kinds.h"

#include <string>

#include "common/errors.h"

namespace dlswap {

uint8_t KindFromJs(Napi::Env env, Napi::Value v, bool allow_void, const char *what) {
  if (!v.IsNumber()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", std::string(what) + "s must be numbers");
  int32_t k = v.As<Napi::Number>().Int32Value();
  if (k < 0 || k >= kKindCount || (!allow_void && k == kVoid)) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "invalid " + std::string(what) + " " + std::to_string(k));
  }
  return static_cast<uint8_t>(k);
}

ffi_type *FfiType(uint8_t kind, bool promoted) {
  switch (kind) {
    case kVoid: return &ffi_type_void;
    case kBool: return promoted ? &ffi_type_sint32 : &ffi_type_uint8;
    case kI8: return promoted ? &ffi_type_sint32 : &ffi_type_sint8;
    case kU8: return promoted ? &ffi_type_sint32 : &ffi_type_uint8;
    case kI16: return promoted ? &ffi_type_sint32 : &ffi_type_sint16;
    case kU16: return promoted ? &ffi_type_sint32 : &ffi_type_uint16;
    case kI32: return &ffi_type_sint32;
    case kU32: return &ffi_type_uint32;
    case kI64: return &ffi_type_sint64;
    case kU64: return &ffi_type_uint64;
    case kF32: return promoted ? &ffi_type_double : &ffi_type_float;
    case kF64: return &ffi_type_double;
    default: return &ffi_type_pointer;
  }
}

}  // namespace dlswap
