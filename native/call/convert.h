// JS values into argument slots and C results into JS values: the conversions every call makes,
// inline here for the hot path; the rarer and costlier ones (pointers, strings, 64-bit integers)
// are in call/convert.cc.
//
// The sync callbacks use the raw C Node-API on purpose: node-addon-api's CallbackInfo allocates and
// its C++ exceptions are costly, against a budget of a few nanoseconds per call (docs/calls.md,
// "How a call works, and what it costs").
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "call/arg_errors.h"
#include "call/arg_storage.h"
#include "call/function_record.h"
#include "call/int_ranges.h"
#include "call/kinds.h"
#include "common/hints.h"

namespace dlswap {

// Argument values travel as 64-bit slots whose low bytes hold the C value: a float's bits in the low
// 32 bits of a vector register, an int8_t in the low byte of a 64-bit integer register. Both the
// trampolines and libffi (which reads `*(T *)slot`) depend on that, i.e. on little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "dlswap's argument slots assume little-endian");
// float params take any JS number: out-of-range values become +-Infinity as IEEE 754 rounds them.
static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559, "IEEE 754 floating point required");

// A converted argument: its 64-bit slot, or !ok with a JS exception pending. Returned by value (in
// two registers) so that the fast path can keep arguments in registers rather than memory.
struct ArgBits {
  uint64_t bits;
  bool ok;
};

// A callback made by makeCallback (native/callback/): its code address, for a pointer argument.
// False if `v` is not one; true with *ok false (and a JS exception pending) if it was released.
bool CallbackHandleAddress(napi_env env, napi_value v, uint64_t *address, bool *ok);

// Pointer and string arguments and the 64-bit kinds: the rarer and costlier conversions, out of line.
ArgBits ConvertPointerArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v, KeepAlive *keep);
ArgBits ConvertStringArg(napi_env env, const FunctionRecord &rec, size_t index, napi_value v, StringStore *strings, KeepAlive *keep);
ArgBits ConvertWideArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v);

// { value, errno } for functions made with options.errno.
napi_value WithErrno(napi_env env, napi_value value, int err);

// An integer kind from a JS number: exact integers in [lo, hi] only. The range test comes first so
// that the cast to int64_t is always defined (NaN fails it too).
DLSWAP_HOT ArgBits IntFromNumber(napi_env env, napi_value v, double lo, double hi) {
  double d;
  if (DLSWAP_UNLIKELY(napi_get_value_double(env, v, &d) != napi_ok)) return {0, false};
  if (DLSWAP_UNLIKELY(!(d >= lo && d <= hi))) return {0, false};
  int64_t i = static_cast<int64_t>(d);
  // Sign- or zero-extended to 64 bits: the ABI leaves the upper bits to the callee, but compilers
  // rely on at least 32-bit extension, and full extension is right for every reader.
  return {static_cast<uint64_t>(i), static_cast<double>(i) == d};
}

// An int32_t argument from a JS number: true if `d` is an exact integer in int32_t's range. On
// x86-64 the truncating conversion instruction is defined for every double (NaN and out-of-range
// values give the "integer indefinite", -2^31, which does not convert back to them), so "converts
// back to the same double" alone is the test; -2^31 itself comes back as itself, correctly.
DLSWAP_HOT bool ExactInt32(double d, int32_t *out) {
#if defined(__x86_64__)
  *out = _mm_cvttsd_si32(_mm_set_sd(d));
  return static_cast<double>(*out) == d;
#else
  // The range test first, so that the cast is defined (NaN fails it too).
  *out = (d >= -2147483648.0 && d <= 2147483647.0) ? static_cast<int32_t>(d) : 0;
  return static_cast<double>(*out) == d;
#endif
}

// IntFromNumber over the kind's range (call/int_ranges.h), with the bounds as compile-time constants.
// On x86-64 the kinds of 32 bits and less take a shorter test with the same answer: the truncating
// conversion instruction is defined for every double (NaN and out-of-range values give the
// "integer indefinite", the most negative integer), so "converts back to the same double" alone
// says "an integer that fits", and for the narrower kinds an integer compare does the range. Two
// double compares and their branches fewer per argument, on every call.
template <uint8_t K>
DLSWAP_HOT ArgBits IntArg(napi_env env, napi_value v) {
  constexpr IntRange r = NumberRangeOf(K);
  static_assert(r.lo < r.hi, "an integer kind");
#if defined(__x86_64__)
  if constexpr (K == kI32) {
    double d;
    if (DLSWAP_UNLIKELY(napi_get_value_double(env, v, &d) != napi_ok)) return {0, false};
    int32_t i;
    const bool exact = ExactInt32(d, &i);
    return {static_cast<uint64_t>(static_cast<int64_t>(i)), exact};
  } else if constexpr (r.hi <= 4294967295.0) {
    double d;
    if (DLSWAP_UNLIKELY(napi_get_value_double(env, v, &d) != napi_ok)) return {0, false};
    // -2^63, the indefinite value, is outside every range tested here.
    const int64_t i = _mm_cvttsd_si64(_mm_set_sd(d));
    constexpr int64_t lo = static_cast<int64_t>(r.lo);
    constexpr uint64_t span = static_cast<uint64_t>(static_cast<int64_t>(r.hi) - lo);
    return {static_cast<uint64_t>(i), static_cast<double>(i) == d && static_cast<uint64_t>(i) - static_cast<uint64_t>(lo) <= span};
  } else {
    return IntFromNumber(env, v, r.lo, r.hi);
  }
#else
  return IntFromNumber(env, v, r.lo, r.hi);
#endif
}

DLSWAP_HOT ArgBits Checked(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v, ArgBits r) {
  if (DLSWAP_UNLIKELY(!r.ok)) ThrowArgError(env, rec, index, kind, v);
  return r;
}

// memchr's set-up cost dominates for the short strings most calls pass: test a word at a time
// (the last word overlapping the previous one, so that no byte past the copy is read), and look
// byte by byte only once a word is known to hold a zero.
DLSWAP_HOT bool HasZeroByte(uint64_t w) { return ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL) != 0; }
DLSWAP_HOT bool HasZeroByte(uint32_t w) { return ((w - 0x01010101U) & ~w & 0x80808080U) != 0; }

template <typename W>
DLSWAP_HOT W LoadWord(const char *p) {
  W w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

DLSWAP_HOT const char *FindNul(const char *p, size_t len) {
  if (len > 64) return static_cast<const char *>(std::memchr(p, 0, len));
  bool maybe = true;
  if (len >= 8) {
    maybe = HasZeroByte(LoadWord<uint64_t>(p + len - 8));
    for (size_t i = 0; !maybe && i + 8 < len; i += 8) maybe = HasZeroByte(LoadWord<uint64_t>(p + i));
  } else if (len >= 4) {
    maybe = HasZeroByte(LoadWord<uint32_t>(p)) || HasZeroByte(LoadWord<uint32_t>(p + len - 4));
  }
  if (!maybe) return nullptr;
  for (size_t i = 0; i < len; i++) {
    if (p[i] == 0) return p + i;
  }
  return nullptr;
}

// A string argument, when it is short and clean: copied straight into the stack buffer. Everything
// else (not a string, too long for the buffer, a NUL inside) takes ConvertStringArg, which also
// produces the error.
DLSWAP_HOT ArgBits StringFast(napi_env env, const FunctionRecord &rec, size_t index, napi_value v, StringStore *strings) {
  size_t cap = strings->remaining();
  char *dst = strings->cursor();
  size_t len = 0;
  // Node copies whole characters only: with room for 4 more bytes (the longest UTF-8 character)
  // left over, the copy is complete.
  if (cap >= 16 && DLSWAP_LIKELY(napi_get_value_string_utf8(env, v, dst, cap, &len) == napi_ok) && DLSWAP_LIKELY(len + 5 <= cap) &&
      DLSWAP_LIKELY(FindNul(dst, len) == nullptr)) {
    strings->commit(len + 1);
    return {static_cast<uint64_t>(reinterpret_cast<uintptr_t>(dst)), true};
  }
  return ConvertStringArg(env, rec, index, v, strings, nullptr);
}

// Converts argument `index` of kind `kind`. On failure a JS exception is pending.
DLSWAP_HOT ArgBits ConvertArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v, StringStore *strings,
                              KeepAlive *keep) {
  // The two commonest kinds skip the switch: a compare is cheaper than its indirect jump.
  if (DLSWAP_LIKELY(kind == kI32)) return Checked(env, rec, index, kind, v, IntArg<kI32>(env, v));
  if (DLSWAP_LIKELY(kind == kF64)) {
    double d;
    bool ok = napi_get_value_double(env, v, &d) == napi_ok;
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof d);
    return Checked(env, rec, index, kind, v, {ok ? bits : 0, ok});
  }
  switch (kind) {
    case kU32: return Checked(env, rec, index, kind, v, IntArg<kU32>(env, v));
    case kI8: return Checked(env, rec, index, kind, v, IntArg<kI8>(env, v));
    case kU8: return Checked(env, rec, index, kind, v, IntArg<kU8>(env, v));
    case kI16: return Checked(env, rec, index, kind, v, IntArg<kI16>(env, v));
    case kU16: return Checked(env, rec, index, kind, v, IntArg<kU16>(env, v));
    case kF32: {
      double d;
      bool ok = napi_get_value_double(env, v, &d) == napi_ok;
      float f = ok ? static_cast<float>(d) : 0.0f;  // rounds like Math.fround
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof f);
      return Checked(env, rec, index, kind, v, {bits, ok});
    }
    case kString: return ConvertStringArg(env, rec, index, v, strings, keep);
    case kPointer:
    case kAggregate:  // the address of the struct's bytes
      return ConvertPointerArg(env, rec, index, kind, v, keep);
    default:  // bool, i64, u64
      return ConvertWideArg(env, rec, index, kind, v);
  }
}

// The C result as a JS value. `r` is the return register's low 64 bits (the vector register's for
// float and double). Narrow results are truncated to their type first: the upper bits are garbage.
DLSWAP_HOT napi_value ConvertResult(napi_env env, uint8_t kind, uint64_t r) {
  napi_value out = nullptr;
  // The commonest results skip the switch's indirect jump.
  if (DLSWAP_LIKELY(kind == kI32)) {
    napi_create_int32(env, static_cast<int32_t>(static_cast<uint32_t>(r)), &out);
    return out;
  }
  if (kind == kF64) {
    double d;
    std::memcpy(&d, &r, sizeof d);
    napi_create_double(env, d, &out);
    return out;
  }
  switch (kind) {  // kI32 and kF64 returned above
    case kVoid:
    case kAggregate:  // written to the memory the caller passed; the JS side decodes it
      napi_get_undefined(env, &out);
      break;
    case kBool:
      napi_get_boolean(env, (r & 0xff) != 0, &out);  // a C bool occupies only the low byte
      break;
    case kI8: napi_create_int32(env, static_cast<int8_t>(static_cast<uint8_t>(r)), &out); break;
    case kU8: napi_create_uint32(env, static_cast<uint8_t>(r), &out); break;
    case kI16: napi_create_int32(env, static_cast<int16_t>(static_cast<uint16_t>(r)), &out); break;
    case kU16: napi_create_uint32(env, static_cast<uint16_t>(r), &out); break;
    case kU32: napi_create_uint32(env, static_cast<uint32_t>(r), &out); break;
    case kI64: napi_create_bigint_int64(env, static_cast<int64_t>(r), &out); break;
    case kU64:
    case kPointer: napi_create_bigint_uint64(env, r, &out); break;
    case kF32: {
      uint32_t bits = static_cast<uint32_t>(r);
      float f;
      std::memcpy(&f, &bits, sizeof f);
      napi_create_double(env, f, &out);
      break;
    }
    case kString:
      if (r == 0) {
        napi_get_null(env, &out);
      } else {
        napi_create_string_utf8(env, reinterpret_cast<const char *>(static_cast<uintptr_t>(r)), NAPI_AUTO_LENGTH, &out);
      }
      break;
  }
  return out;
}

}  // namespace dlswap
