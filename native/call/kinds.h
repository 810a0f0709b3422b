// The kind codes: how lib/ names the C type of each parameter and result to the native side (calls,
// callbacks, struct shapes), and the limits on how many there are. lib/signature/signature.ts has the same
// numbers as KIND_CODES and MAX_PARAMS; the addon's WIRE export (native/wire.cc) lets
// test/package/wire_constants.test.ts check that both sides agree.
#pragma once
#include <ffi.h>
#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace dlswap {

enum Kind : uint8_t {
  kVoid = 0,
  kBool = 1,
  kI8 = 2,
  kU8 = 3,
  kI16 = 4,
  kU16 = 5,
  kI32 = 6,
  kU32 = 7,
  kI64 = 8,
  kU64 = 9,
  kF32 = 10,
  kF64 = 11,
  kPointer = 12,
  kString = 13,
  kAggregate = 14,  // a struct by value: the argument is the address of its bytes (libffi path only)
  kKindCount = 15,
};

constexpr bool IsFloatKind(uint8_t k) { return k == kF32 || k == kF64; }

// Fixed parameters a prototype can have (lib/signature/signature.ts MAX_PARAMS).
constexpr size_t kMaxFixedParams = 64;

// Most JS arguments a single call takes (fixed params are capped at 64 by the parser; the rest are
// variadic values). Sized so that the libffi path keeps everything on the stack.
constexpr size_t kMaxArgs = 128;

// A kind code sent from JS; throws ERR_DLSWAP_ARG if it is none (or void where a value is needed).
// `what` names the codes in the message ("kind code", "callback kind").
uint8_t KindFromJs(Napi::Env env, Napi::Value v, bool allow_void, const char *what);

// ffi_type of a kind as a fixed parameter, or after C's default argument promotions (variadic).
ffi_type *FfiType(uint8_t kind, bool promoted);

}  // namespace dlswap
