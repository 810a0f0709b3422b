// The per-function record that every JS function made by lib.func() carries: everything a call can
// know in advance (kinds, register slots, the libffi cif, the errno address, names for messages),
// computed once by makeFunction (call/make_function.cc) so that a call does only conversions and
// the call.
#pragma once
#include <ffi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "call/aggregate.h"
#include "call/kinds.h"
#include "image/library_handle.h"
#include "signals/recovery.h"

namespace dlswap {

// A cif for one list of variadic argument types, shared with the async calls that use it.
struct VariadicCif {
  ffi_cif cif;
  std::vector<ffi_type *> types;
  std::vector<uint8_t> kinds;  // fixed params then variadic values, as declared (before promotion)
};

enum FunctionFlags : uint8_t {
  kFlagErrnoResult = 1,  // options.errno: errno zeroed before the call, result is { value, errno }
  kFlagHasStrings = 2,
  kFlagFast = 4,  // every argument fits a register: the trampoline, not libffi
  kFlagVariadic = 8,
  kFlagFloatArgs = 16,  // some argument goes in a vector register
};

// One per lib.func(). Owned jointly by the JS function objects made for it (each holds a reference
// released by its finalizer) and by the async calls in flight; all counting happens on the JS thread.
struct FunctionRecord {
  // Read on every call; rebindFunction rewrites these three together (JS thread only).
  const void *address = nullptr;
  LibraryRef lib;
  // The library's errno for the JS thread, resolved once: every sync call runs on this thread, and
  // __errno_location of the library's own libc would otherwise be an indirect call per call.
  int *errno_ptr = nullptr;
  // The JS thread's fault record (signals/recovery.h), for the same reason: sync calls link their
  // recovery frame into it without a thread-local lookup.
  ThreadFaults *faults = nullptr;

  uint8_t ret_kind = kVoid;
  uint8_t flags = 0;
  uint8_t nparams = 0;
  uint8_t kinds[kMaxArgs] = {};  // fixed params
  uint8_t slots[kMaxArgs] = {};  // fast path: register slot of each param

  // libffi path (not fast, or variadic): prepared once.
  ffi_cif cif;
  std::vector<ffi_type *> ffi_types;
  // Structs by value (kAggregate params, or the result): their libffi types, owned here.
  std::vector<std::unique_ptr<FfiAggregate>> aggregates;
  // The result is a struct: the caller passes, after the parameters, the address it is written to.
  bool ret_in_arg = false;
  std::map<std::string, uint32_t> variadic_index;  // key: the kind codes as bytes
  std::vector<std::shared_ptr<VariadicCif>> variadic;

  // For messages only.
  std::string name;
  std::vector<std::string> param_names;  // "" when the prototype has none
  std::vector<std::string> param_types;  // C spelling
  int fallback_errno = 0;                // errno_ptr target when the library has no libc

  std::string resource_name;  // async_hooks resource name of this function's async calls
  int refs = 0;

  bool errno_result() const { return flags & kFlagErrnoResult; }
};

// Record ownership (call/make_function.cc).
void RetainRecord(FunctionRecord *rec);
void ReleaseRecord(FunctionRecord *rec);

}  // namespace dlswap
