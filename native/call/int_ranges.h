// The integers a JS number may carry into each integer kind: the one table that argument conversion
// (call/convert.h, convert.cc), callback results (callback/values.cc) and the argument errors'
// wording (call/arg_errors.cc) read. The bounds come from the C types themselves; a 64-bit kind takes
// a number only as a safe integer (a bigint carries the rest). Every bound is exact as a double.
#pragma once
#include <cstdint>
#include <limits>

#include "call/kinds.h"

namespace dlswap {

struct IntRange {
  double lo;
  double hi;
};

// Largest integer a double holds exactly together with its neighbours (Number.MAX_SAFE_INTEGER).
constexpr double kMaxSafeInteger = 9007199254740991.0;

template <typename T>
constexpr IntRange RangeOf() {
  return {static_cast<double>(std::numeric_limits<T>::min()), static_cast<double>(std::numeric_limits<T>::max())};
}

// {0, 0} for a kind that is not an integer.
constexpr IntRange NumberRangeOf(uint8_t kind) {
  switch (kind) {
    case kI8: return RangeOf<int8_t>();
    case kU8: return RangeOf<uint8_t>();
    case kI16: return RangeOf<int16_t>();
    case kU16: return RangeOf<uint16_t>();
    case kI32: return RangeOf<int32_t>();
    case kU32: return RangeOf<uint32_t>();
    case kI64: return {-kMaxSafeInteger, kMaxSafeInteger};
    case kU64: return {0.0, kMaxSafeInteger};
    default: return {0.0, 0.0};
  }
}

}  // namespace dlswap
