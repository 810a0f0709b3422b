// libffi descriptions of structs passed or returned by value (calls) and received or returned by
// callbacks. lib/signature/ctypes.ts lays the struct out; the JS side sends its shape here as
//   { size, align, elements: (kindCode | shape)[] }
// with arrays already expanded into repeated elements (libffi has no array type, and classifies an
// array member exactly like that many members). libffi recomputes the layout from the elements; the
// result must match the size and alignment sent, or the shape is refused.
#pragma once
#include <ffi.h>
#include <napi.h>

#include <memory>
#include <vector>

namespace dlswap {

struct FfiAggregate {
  ffi_type type{};
  std::vector<ffi_type *> elements;  // null-terminated
  std::vector<std::unique_ptr<FfiAggregate>> children;
  size_t size = 0;  // what the JS layout says
  size_t align = 0;
};

// Throws a JS error (ERR_DLSWAP_SIGNATURE) on a malformed shape.
std::unique_ptr<FfiAggregate> BuildAggregate(Napi::Env env, Napi::Value shape);

// After ffi_prep_cif computed the layout: false if libffi disagrees with the JS layout.
bool AggregateMatches(const FfiAggregate &agg);

}  // namespace dlswap
