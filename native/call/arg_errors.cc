// Messages of the argument errors: what was expected, what was given, and which argument it was.
#include "call/arg_errors.h"

#include <cstdio>
#include <limits>
#include <string>

#include "call/int_ranges.h"
#include "common/errors.h"
#include "signals/fault_js.h"

namespace dlswap {

namespace {

const char *KindName(uint8_t kind) {
  static const char *const names[kKindCount] = {"void",  "bool",   "int8",  "uint8",  "int16",   "uint16", "int32", "uint32",
                                                "int64", "uint64", "float", "double", "pointer", "string", "struct"};
  return kind < kKindCount ? names[kind] : "?";
}

// "an integer in [lo, hi]", from the table the conversion itself checks against.
std::string IntegerIn(uint8_t kind) {
  IntRange r = NumberRangeOf(kind);
  char text[64];
  std::snprintf(text, sizeof text, "an integer in [%.0f, %.0f]", r.lo, r.hi);
  return text;
}

// A bigint's bounds, from the C type.
template <typename T>
std::string BigintIn() {
  return "a bigint in [" + std::to_string(std::numeric_limits<T>::min()) + "n, " + std::to_string(std::numeric_limits<T>::max()) + "n]";
}

std::string Expectation(uint8_t kind) {
  switch (kind) {
    case kBool: return "a boolean (or the number 0 or 1)";
    case kI8:
    case kU8:
    case kI16:
    case kU16:
    case kI32:
    case kU32: return IntegerIn(kind);
    case kI64: return BigintIn<int64_t>() + " (or a safe-integer number)";
    case kU64: return BigintIn<uint64_t>() + " (or a non-negative safe-integer number)";
    case kF32:
    case kF64: return "a number";
    case kPointer: return "a bigint address, null, or a Buffer, TypedArray, DataView or ArrayBuffer";
    case kString: return "a string, null, a Buffer or TypedArray, or a bigint address";
    case kAggregate: return "the address of the struct's bytes (a bigint or a Buffer)";
    default: return "nothing (void)";
  }
}

std::string Describe(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  auto coerced = [&]() {
    napi_value s;
    char buf[64];
    size_t len = 0;
    if (napi_coerce_to_string(env, v, &s) != napi_ok || napi_get_value_string_utf8(env, s, buf, sizeof buf, &len) != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
      return std::string("?");
    }
    return std::string(buf, len);
  };
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean:
    case napi_number: return coerced();
    case napi_bigint: return coerced() + "n";
    case napi_string: {
      char buf[40];
      size_t len = 0;
      napi_get_value_string_utf8(env, v, buf, sizeof buf, &len);
      std::string out = "the string \"" + std::string(buf, len);
      return out + (len >= sizeof buf - 5 ? "...\"" : "\"");
    }
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_external: return "an external";
    case napi_object: {
      bool is = false;
      if (napi_is_array(env, v, &is) == napi_ok && is) return "an array";
      if (napi_is_buffer(env, v, &is) == napi_ok && is) return "a Buffer";
      if (napi_is_typedarray(env, v, &is) == napi_ok && is) return "a TypedArray";
      if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) return "an ArrayBuffer";
      if (napi_is_dataview(env, v, &is) == napi_ok && is) return "a DataView";
      return "an object";
    }
  }
  return "a value";
}

// "argument 'a' (#1, int)", "argument #2 (const char *)", "variadic value #1 (int32)".
std::string ArgLabel(const FunctionRecord &rec, size_t index, uint8_t kind) {
  if (index < rec.param_names.size()) {
    const std::string &type = rec.param_types[index];
    const std::string &name = rec.param_names[index];
    if (!name.empty()) return "argument '" + name + "' (#" + std::to_string(index + 1) + ", " + type + ")";
    return "argument #" + std::to_string(index + 1) + " (" + type + ")";
  }
  return "variadic value #" + std::to_string(index - rec.param_names.size() + 1) + " (" + KindName(kind) + ")";
}

bool IsNumericKind(uint8_t kind) { return kind >= kI8 && kind <= kF64; }

napi_value ThrowArgErrorImpl(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value value, const char *detail) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return nullptr;  // a getter or coercion already threw: that is the better error
  napi_valuetype t = napi_undefined;
  napi_typeof(env, value, &t);
  // A value of the right JS type that does not fit is a RangeError; anything else a TypeError.
  bool right_type = (IsNumericKind(kind) && t == napi_number) || ((kind == kI64 || kind == kU64) && t == napi_bigint) ||
                    (kind == kPointer && t == napi_bigint) || (kind == kString && t == napi_string);
  std::string msg = rec.name + "(): " + ArgLabel(rec, index, kind) + " ";
  if (detail) {
    msg += detail;
  } else {
    msg += std::string("expects ") + Expectation(kind) + "; got " + Describe(env, value);
    if ((kind == kI64 || kind == kU64) && t == napi_number) msg += " (numbers beyond 2^53 lose precision: pass a bigint)";
    if (IsNumericKind(kind) && kind != kI64 && kind != kU64 && t == napi_bigint) msg += " (pass a number, not a bigint)";
  }
  napi_throw(env, MakeCodedError(env, "ERR_DLSWAP_ARG", msg, right_type ? ErrorClass::kRangeError : ErrorClass::kTypeError));
  return nullptr;
}

}  // namespace

// Called from raw Node-API callbacks: nothing may escape as a C++ exception.
napi_value ThrowArgError(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value value, const char *detail) {
  try {
    return ThrowArgErrorImpl(env, rec, index, kind, value, detail);
  } catch (...) {
    napi_throw_error(env, "ERR_DLSWAP_ARG", "invalid argument (and no memory left to describe it)");
    return nullptr;
  }
}

napi_value ThrowStaleHandle(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, const std::string &detail) {
  try {
    return ThrowCode(env, "ERR_DLSWAP_STALE_HANDLE", rec.name + "(): " + ArgLabel(rec, index, kind) + " " + detail);
  } catch (...) {
    napi_throw_error(env, "ERR_DLSWAP_STALE_HANDLE", "a handle was given to a library that did not make it");
    return nullptr;
  }
}

napi_value ThrowArgCount(napi_env env, const FunctionRecord &rec, size_t got, size_t want, bool variadic) {
  char msg[96];
  snprintf(msg, sizeof msg, "() takes %s%zu argument%s, got %zu", variadic ? "at least " : "", want, want == 1 ? "" : "s", got);
  try {
    return ThrowCode(env, "ERR_DLSWAP_ARG", rec.name + msg, true);
  } catch (...) {
    napi_throw_type_error(env, "ERR_DLSWAP_ARG", msg);
    return nullptr;
  }
}

napi_value ThrowClosed(napi_env env, const FunctionRecord &rec) {
  try {
    if (rec.lib && rec.lib->faulted.load(std::memory_order_acquire)) return ThrowFaulted(env, rec.name, *rec.lib);
    if (rec.lib && rec.lib->gated) {
      return ThrowCode(env, "ERR_DLSWAP_BUSY",
                       rec.name +
                           "(): a handover is moving this library's state to its next generation; call again "
                           "when the reload resolves, or use .async(), which waits for it");
    }
    return ThrowCode(env, "ERR_DLSWAP_CLOSED", rec.name + "(): its library is closed; open the library again and make the function anew");
  } catch (...) {
    napi_throw_error(env, "ERR_DLSWAP_CLOSED", "the library is closed");
    return nullptr;
  }
}

}  // namespace dlswap
