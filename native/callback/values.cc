// C values and JS values as a callback's function sees them: its arguments arrive as JS values, and
// what it returns is checked against the C result type before C gets it.
#include <cstring>

#include "call/convert.h"
#include "call/int_ranges.h"
#include "callback/callback_slot.h"

namespace dlswap::callback {

napi_value ArgToJs(napi_env env, uint8_t kind, const void *p, uint32_t size) {
  if (kind == kAggregate) {
    napi_value out = nullptr;
    void *data = nullptr;
    if (napi_create_arraybuffer(env, size, &data, &out) == napi_ok) std::memcpy(data, p, size);
    return out;
  }
  // A scalar read into the low bytes of a register's worth: converted as a result of that kind is.
  size_t width = sizeof(uint64_t);
  if (kind == kBool || kind == kI8 || kind == kU8) width = 1;
  if (kind == kI16 || kind == kU16) width = 2;
  if (kind == kI32 || kind == kU32 || kind == kF32) width = 4;
  uint64_t bits = 0;
  std::memcpy(&bits, p, width);
  return ConvertResult(env, kind, bits);
}

// The JS value a function returned, as the C result in `ret` (libffi's layout: integers narrower
// than a register widened to ffi_arg). False with *why set when it does not fit the type.
bool RetFromJs(napi_env env, const Slot *s, napi_value v, void *ret, const char **why) {
  const uint8_t kind = s->ret_kind;
  if (kind == kVoid) return true;
  if (kind == kAggregate) {
    uint8_t *data = nullptr;
    size_t len = 0;
    bool is = false;
    void *p = nullptr;
    if (napi_is_arraybuffer(env, v, &is) == napi_ok && is && napi_get_arraybuffer_info(env, v, &p, &len) == napi_ok) {
      data = static_cast<uint8_t *>(p);
    } else if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
      napi_typedarray_type type;
      size_t count = 0;
      if (napi_get_typedarray_info(env, v, &type, &count, &p, nullptr, nullptr) == napi_ok && type == napi_uint8_array) {
        data = static_cast<uint8_t *>(p);
        len = count;
      }
    }
    if (!data || len < s->ret_size) {
      *why = "must return an object of the struct type";
      return false;
    }
    std::memcpy(ret, data, s->ret_size);
    return true;
  }
  if (kind == kF32 || kind == kF64) {
    double d;
    if (napi_get_value_double(env, v, &d) != napi_ok) {
      *why = "must return a number";
      return false;
    }
    if (kind == kF32) {
      float f = static_cast<float>(d);
      std::memcpy(ret, &f, sizeof f);
    } else {
      std::memcpy(ret, &d, sizeof d);
    }
    return true;
  }
  if (kind == kBool) {
    bool b;
    if (napi_get_value_bool(env, v, &b) != napi_ok) {
      double d;
      if (napi_get_value_double(env, v, &d) != napi_ok || !(d == 0 || d == 1)) {
        *why = "must return a boolean";
        return false;
      }
      b = d == 1;
    }
    ffi_arg a = b ? 1 : 0;
    std::memcpy(ret, &a, sizeof a);
    return true;
  }
  if (kind == kI64 || kind == kU64 || kind == kPointer) {
    uint64_t bits = 0;
    bool lossless = false;
    napi_valuetype t = napi_undefined;
    napi_typeof(env, v, &t);
    if (t == napi_bigint) {
      if (kind == kI64) {
        int64_t i;
        napi_get_value_bigint_int64(env, v, &i, &lossless);
        bits = static_cast<uint64_t>(i);
      } else {
        napi_get_value_bigint_uint64(env, v, &bits, &lossless);
      }
      if (!lossless) {
        *why = "returned a bigint out of the type's range";
        return false;
      }
    } else if (kind == kPointer && t == napi_null) {
      bits = 0;
    } else if (kind == kPointer && t == napi_object) {
      bool live = false;
      if (!CallbackHandleAddress(env, v, &bits, &live) || !live) {
        *why = "must return a bigint address, null or a live callback";
        return false;
      }
    } else if (kind != kPointer && t == napi_number) {
      IntRange r = NumberRangeOf(kind);
      ArgBits a = IntFromNumber(env, v, r.lo, r.hi);
      if (!a.ok) {
        *why = "returned a number that is not a safe integer of the type's range (return a bigint)";
        return false;
      }
      bits = a.bits;
    } else {
      *why = kind == kPointer ? "must return a bigint address or null" : "must return a bigint (or a safe integer)";
      return false;
    }
    std::memcpy(ret, &bits, sizeof bits);
    return true;
  }
  IntRange r = NumberRangeOf(kind);  // an integer kind of 32 bits or less here
  ArgBits a = IntFromNumber(env, v, r.lo, r.hi);
  if (!a.ok) {
    *why = "must return an integer in its C type's range";
    return false;
  }
  // Sign- or zero-extended already, as libffi wants a narrow integer result in an ffi_arg.
  ffi_arg wide = static_cast<ffi_arg>(a.bits);
  std::memcpy(ret, &wide, sizeof wide);
  return true;
}

}  // namespace dlswap::callback
