// Shared by the call paths (register trampoline, libffi, async): the per-function record that a JS
// function object carries, the kind codes of lib/signature.ts, and the register layout of the
// trampolines in native/abi/.
//
// The sync callbacks use the raw C Node-API on purpose: node-addon-api's CallbackInfo allocates and
// its C++ exceptions are costly, against a budget of a few nanoseconds per call (docs/calls.md,
// "How a call works, and what it costs").
#pragma once
#include <ffi.h>
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <new>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "call/aggregate.h"
#include "image/library_handle.h"

// The per-call helpers below must be inlined into each specialized callback (GCC otherwise keeps
// the larger ones out of line, and the call costs more than the work).
#define DLSWAP_HOT inline __attribute__((always_inline))
// Failure paths (bad argument, closed library) are the rare ones: keep them out of the straight line.
#define DLSWAP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DLSWAP_LIKELY(x) __builtin_expect(!!(x), 1)

namespace dlswap {

// Wire codes of lib/signature.ts (KIND_CODES); the TS side sends these numbers.
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

inline bool IsFloatKind(uint8_t k) { return k == kF32 || k == kF64; }

// Argument values travel as 64-bit slots whose low bytes hold the C value: a float's bits in the low
// 32 bits of a vector register, an int8_t in the low byte of a 64-bit integer register. Both the
// trampolines and libffi (which reads `*(T *)slot`) depend on that, i.e. on little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "dlswap's argument slots assume little-endian");
// float params take any JS number: out-of-range values become +-Infinity as IEEE 754 rounds them.
static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559,
              "IEEE 754 floating point required");

#if defined(__x86_64__)
constexpr int kGprSlots = 6;  // rdi rsi rdx rcx r8 r9
constexpr int kFprSlots = 8;  // xmm0-xmm7
#elif defined(__aarch64__)
constexpr int kGprSlots = 8;  // x0-x7
constexpr int kFprSlots = 8;  // d0-d7 (s0-s7 for floats: the same registers' low lanes)
#else
#error "dlswap's call trampolines exist for x86-64 SysV and AAPCS64 only"
#endif
constexpr int kRegSlots = kGprSlots + kFprSlots;

// Fixed parameters a prototype can have (lib/signature.ts MAX_PARAMS).
constexpr size_t kMaxFixedParams = 64;

// Most JS arguments a single call takes (fixed params are capped at 64 by the parser; the rest are
// variadic values). Sized so that the libffi path keeps everything on the stack.
constexpr size_t kMaxArgs = 128;

// Bytes of string copies a sync call keeps on its stack before it falls back to the heap.
constexpr size_t kSyncStringBytes = 512;
// Same for an async call, inside the heap-allocated work item.
constexpr size_t kAsyncStringBytes = 128;

// native/abi/trampoline_*.S: one tail-jumping shim under four declarations. The arguments are
// already in the registers the target takes them in; the target's address comes last, on the
// stack. The `_m` forms pass the vector argument registers too (a float's bits in the low half of
// a double's); the `_v` forms read the vector return register instead of the integer one. See the
// .S files for why. Going through assembly means no C++ code ever calls through a function pointer
// of the wrong type.
using VecBits = uint64_t __attribute__((vector_size(16)));
#if defined(__x86_64__)
#define DLSWAP_GPR_ARGS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#else
#define DLSWAP_GPR_ARGS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#endif
#define DLSWAP_FPR_ARGS double, double, double, double, double, double, double, double
extern "C" uint64_t dlswap_call_i(DLSWAP_GPR_ARGS, const void *fn);
extern "C" VecBits dlswap_call_iv(DLSWAP_GPR_ARGS, const void *fn);
extern "C" uint64_t dlswap_call_m(DLSWAP_GPR_ARGS, DLSWAP_FPR_ARGS, const void *fn);
extern "C" VecBits dlswap_call_mv(DLSWAP_GPR_ARGS, DLSWAP_FPR_ARGS, const void *fn);
#undef DLSWAP_GPR_ARGS
#undef DLSWAP_FPR_ARGS

DLSWAP_HOT double BitsAsDouble(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

template <size_t... G, size_t... F>
DLSWAP_HOT uint64_t CallUnpacked(const void *fn, const uint64_t *r, bool floats, bool vec_result, std::index_sequence<G...>,
                             std::index_sequence<F...>) {
  if (floats) {
    if (vec_result) return dlswap_call_mv(r[G]..., BitsAsDouble(r[kGprSlots + F])..., fn)[0];
    return dlswap_call_m(r[G]..., BitsAsDouble(r[kGprSlots + F])..., fn);
  }
  if (vec_result) return dlswap_call_iv(r[G]..., fn)[0];
  return dlswap_call_i(r[G]..., fn);
}

// Calls `fn` with regs[0..kGprSlots) in the integer argument registers and, when `floats`,
// regs[kGprSlots..kRegSlots) in the vector ones. Returns the low 64 bits of the return register a
// result of `ret_kind` comes back in: the vector one for float/double, else the integer one.
DLSWAP_HOT uint64_t CallWithRegs(const void *fn, const uint64_t *regs, bool floats, uint8_t ret_kind) {
  return CallUnpacked(fn, regs, floats, IsFloatKind(ret_kind), std::make_index_sequence<kGprSlots>(),
                      std::make_index_sequence<kFprSlots>());
}

// libffi takes the target as `void (*)(void)`; it calls it from its own assembly with the cif's
// types, so the type of this pointer is never used for a call.
inline void (*FfiTarget(const void *address))(void) { return FFI_FN(const_cast<void *>(address)); }

// A cif for one list of variadic argument types, shared with the async calls that use it.
struct VariadicCif {
  ffi_cif cif;
  std::vector<ffi_type *> types;
  std::vector<uint8_t> kinds;  // fixed params then variadic values, as declared (before promotion)
};

enum FunctionFlags : uint8_t {
  kFlagErrnoResult = 1,  // options.errno: errno zeroed before the call, result is { value, errno }
  kFlagHasStrings = 2,
  kFlagFast = 4,         // every argument fits a register: the trampoline, not libffi
  kFlagVariadic = 8,
  kFlagFloatArgs = 16,   // some argument goes in a vector register
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

// Bump allocator for the string copies of one call: the first bytes live in a caller-provided buffer
// (the C stack for sync calls), longer strings in heap blocks, all released together. The heap
// blocks form an intrusive list so that a store that never overflowed costs one null test.
class StringStore {
 public:
  StringStore(char *buf, size_t cap) : buf_(buf), cap_(cap) {}
  StringStore(const StringStore &) = delete;
  StringStore &operator=(const StringStore &) = delete;
  ~StringStore() {
    while (heap_) {
      Block *next = heap_->next;
      delete[] reinterpret_cast<char *>(heap_);
      heap_ = next;
    }
  }

  char *cursor() { return buf_ + used_; }
  size_t remaining() const { return cap_ - used_; }
  void commit(size_t n) { used_ += n; }
  // nullptr when out of memory: callers throw a JS error rather than let bad_alloc escape a
  // Node-API callback (which would terminate the process).
  char *heap(size_t n) {
    if (n > SIZE_MAX - sizeof(Block)) return nullptr;
    char *raw = new (std::nothrow) char[sizeof(Block) + n];
    if (!raw) return nullptr;
    Block *b = new (raw) Block{heap_};
    heap_ = b;
    return raw + sizeof(Block);
  }

 private:
  struct Block {
    Block *next;
  };
  char *buf_;
  size_t cap_;
  size_t used_ = 0;
  Block *heap_ = nullptr;
};

// Where the JS-thread half of an async call keeps what the C call will read later. Null for sync
// calls, whose arguments are alive in the callback's handle scope until the call returns.
struct KeepAlive {
  napi_env env;
  std::vector<napi_ref> refs;
};

// --- shared helpers (function.cc) ---------------------------------------------------------------

// Each throws a pending JS exception and returns nullptr, so that callbacks can `return Throw...`.
napi_value ThrowArgError(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value value,
                         const char *detail = nullptr);
napi_value ThrowArgCount(napi_env env, const FunctionRecord &rec, size_t got, size_t want, bool variadic);
napi_value ThrowClosed(napi_env env, const FunctionRecord &rec);
napi_value ThrowCode(napi_env env, const char *code, const std::string &message, bool type_error = false);
// An error object (not thrown) with a code, for promise rejections.
napi_value MakeCodedError(napi_env env, const char *code, const std::string &message);

// A converted argument: its 64-bit slot, or !ok with a JS exception pending. Returned by value (in
// two registers) so that the fast path can keep arguments in registers rather than memory.
struct ArgBits {
  uint64_t bits;
  bool ok;
};

// A callback made by makeCallback (callbacks.cc): its code address, for a pointer argument. False if
// `v` is not one; true with *ok false (and a JS exception pending) if it was released.
bool CallbackHandleAddress(napi_env env, napi_value v, uint64_t *address, bool *ok);

// Pointer and string arguments and the 64-bit kinds: the rarer and costlier conversions, out of line.
ArgBits ConvertPointerArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v,
                          KeepAlive *keep);
ArgBits ConvertStringArg(napi_env env, const FunctionRecord &rec, size_t index, napi_value v, StringStore *strings,
                         KeepAlive *keep);
ArgBits ConvertWideArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v);

// { value, errno } for functions made with options.errno.
napi_value WithErrno(napi_env env, napi_value value, int err);

// ffi_type of a kind as a fixed parameter, or after C's default argument promotions (variadic).
ffi_type *FfiType(uint8_t kind, bool promoted);
// Rewrites a converted variadic value as its promoted type (float -> double, small ints -> int).
void PromoteVariadic(uint8_t kind, uint64_t *slot);

// Sync callbacks (call_fast.cc, call_ffi.cc) and async entry points (async_call.cc).
napi_callback FastCallback(const FunctionRecord &rec);
napi_value CallFfi(napi_env env, napi_callback_info info);
napi_value CallVariadic(napi_env env, napi_callback_info info);
napi_value CallAsync(napi_env env, napi_callback_info info);
napi_value CallVariadicAsync(napi_env env, napi_callback_info info);

// Record ownership (function.cc).
void RetainRecord(FunctionRecord *rec);
void ReleaseRecord(FunctionRecord *rec);

// ---------------------------------------------------------------------------------------------------
// Inline conversions: the hot path of every call.

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
DLSWAP_HOT ArgBits StringFast(napi_env env, const FunctionRecord &rec, size_t index, napi_value v,
                              StringStore *strings) {
  size_t cap = strings->remaining();
  char *dst = strings->cursor();
  size_t len = 0;
  // Node copies whole characters only: with room for 4 more bytes (the longest UTF-8 character)
  // left over, the copy is complete.
  if (cap >= 16 && DLSWAP_LIKELY(napi_get_value_string_utf8(env, v, dst, cap, &len) == napi_ok) &&
      DLSWAP_LIKELY(len + 5 <= cap) && DLSWAP_LIKELY(FindNul(dst, len) == nullptr)) {
    strings->commit(len + 1);
    return {static_cast<uint64_t>(reinterpret_cast<uintptr_t>(dst)), true};
  }
  return ConvertStringArg(env, rec, index, v, strings, nullptr);
}

// Converts argument `index` of kind `kind`. On failure a JS exception is pending.
DLSWAP_HOT ArgBits ConvertArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v,
                          StringStore *strings, KeepAlive *keep) {
  // The two commonest kinds skip the switch: a compare is cheaper than its indirect jump.
  if (DLSWAP_LIKELY(kind == kI32)) return Checked(env, rec, index, kind, v, IntFromNumber(env, v, -2147483648.0, 2147483647.0));
  if (DLSWAP_LIKELY(kind == kF64)) {
    double d;
    bool ok = napi_get_value_double(env, v, &d) == napi_ok;
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof d);
    return Checked(env, rec, index, kind, v, {ok ? bits : 0, ok});
  }
  switch (kind) {
    case kU32:
      return Checked(env, rec, index, kind, v, IntFromNumber(env, v, 0.0, 4294967295.0));
    case kI8:
      return Checked(env, rec, index, kind, v, IntFromNumber(env, v, -128.0, 127.0));
    case kU8:
      return Checked(env, rec, index, kind, v, IntFromNumber(env, v, 0.0, 255.0));
    case kI16:
      return Checked(env, rec, index, kind, v, IntFromNumber(env, v, -32768.0, 32767.0));
    case kU16:
      return Checked(env, rec, index, kind, v, IntFromNumber(env, v, 0.0, 65535.0));
    case kF32: {
      double d;
      bool ok = napi_get_value_double(env, v, &d) == napi_ok;
      float f = ok ? static_cast<float>(d) : 0.0f;  // rounds like Math.fround
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof f);
      return Checked(env, rec, index, kind, v, {bits, ok});
    }
    case kString:
      return ConvertStringArg(env, rec, index, v, strings, keep);
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
  switch (kind) {
    case kVoid:
    case kAggregate:  // written to the memory the caller passed; the JS side decodes it
      napi_get_undefined(env, &out);
      break;
    case kBool:
      napi_get_boolean(env, (r & 0xff) != 0, &out);  // a C bool occupies only the low byte
      break;
    case kI8:
      napi_create_int32(env, static_cast<int8_t>(static_cast<uint8_t>(r)), &out);
      break;
    case kU8:
      napi_create_uint32(env, static_cast<uint8_t>(r), &out);
      break;
    case kI16:
      napi_create_int32(env, static_cast<int16_t>(static_cast<uint16_t>(r)), &out);
      break;
    case kU16:
      napi_create_uint32(env, static_cast<uint16_t>(r), &out);
      break;
    case kI32:
      napi_create_int32(env, static_cast<int32_t>(static_cast<uint32_t>(r)), &out);
      break;
    case kU32:
      napi_create_uint32(env, static_cast<uint32_t>(r), &out);
      break;
    case kI64:
      napi_create_bigint_int64(env, static_cast<int64_t>(r), &out);
      break;
    case kU64:
    case kPointer:
      napi_create_bigint_uint64(env, r, &out);
      break;
    case kF32: {
      uint32_t bits = static_cast<uint32_t>(r);
      float f;
      std::memcpy(&f, &bits, sizeof f);
      napi_create_double(env, f, &out);
      break;
    }
    case kF64: {
      double d;
      std::memcpy(&d, &r, sizeof d);
      napi_create_double(env, d, &out);
      break;
    }
    case kString:
      if (r == 0) {
        napi_get_null(env, &out);
      } else {
        napi_create_string_utf8(env, reinterpret_cast<const char *>(static_cast<uintptr_t>(r)), NAPI_AUTO_LENGTH,
                                &out);
      }
      break;
  }
  return out;
}

// The JS-thread part of every sync call's epilogue: errno into the library, the call counted.
// Must run before any napi_* call, which could itself change errno in the local modes.
DLSWAP_HOT int AfterSyncCall(const FunctionRecord &rec, LibraryHandle *lib) {
  int err = *rec.errno_ptr;
  lib->last_errno = err;
  // Only JS threads count calls (async completions run there too), so a plain load+store suffices
  // and avoids a locked read-modify-write on every call.
  lib->calls.store(lib->calls.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return err;
}

}  // namespace dlswap
