// The sync fast path: functions whose arguments all fit in argument registers. One callback per
// arity, per "has string params" and, for short signatures, per placement of float parameters, so
// that argv is exactly as long as the call needs, the conversion loop is unrolled and the arguments
// stay in registers; the target is reached through the guard trampoline of native/abi/. Functions
// of int32_t parameters with an int32_t or void result have callbacks of their own (CallInt32s).
#include <array>
#include <utility>

#include "call/call_paths.h"
#include "call/convert.h"
#include "call/trampoline.h"
#include "signals/fault_js.h"

namespace dlswap {

namespace {

// Which parameters go in vector registers: bit i set = parameter i is a float or double. Known at
// compile time for the short signatures that cover most functions, so that every register slot is
// a constant and the compiler keeps the arguments in registers; kDynamic reads the slots from the
// record instead.
constexpr uint32_t kDynamic = ~0u;
constexpr size_t kMaskedMaxParams = 4;

constexpr size_t SlotOf(uint32_t mask, size_t i) {
  size_t floats_before = 0;
  for (size_t k = 0; k < i; k++) floats_before += (mask >> k) & 1;
  return ((mask >> i) & 1) ? kGprSlots + floats_before : i - floats_before;
}

// Both zero the register slots unrolled by hand: GCC turns a zeroing loop (or `= {}`) of this size
// into `rep stos`, whose start-up cost alone is a tenth of a call. ZeroEach is for arrays the
// compiler keeps in registers, ZeroPairs (16-byte stores) for arrays that live in memory.
template <size_t... I>
DLSWAP_HOT void ZeroEach(uint64_t *regs, std::index_sequence<I...>) {
  ((regs[I] = 0), ...);
}

using Pair = uint64_t __attribute__((vector_size(16), aligned(8), may_alias));
template <size_t... I>
DLSWAP_HOT void ZeroPairs(uint64_t *regs, std::index_sequence<I...>) {
  ((*reinterpret_cast<Pair *>(regs + 2 * I) = Pair{0, 0}), ...);
}

// What a masked callback knows about a parameter at compile time: it goes in a vector register
// (float or double), in an integer one, or (kDynamic callbacks) either.
enum class Class { kInt, kFloat, kAny };

template <bool kStrings, Class kClass>
DLSWAP_HOT ArgBits ConvertFast(napi_env env, const FunctionRecord &rec, size_t i, napi_value v, StringStore *strings) {
  uint8_t kind = rec.kinds[i];
  if constexpr (kClass == Class::kFloat) {
    // Only two kinds travel in vector registers: no switch needed.
    double d;
    bool ok = napi_get_value_double(env, v, &d) == napi_ok;
    uint64_t bits;
    if (DLSWAP_LIKELY(kind == kF64)) {
      std::memcpy(&bits, &d, sizeof d);
    } else {
      float f = ok ? static_cast<float>(d) : 0.0f;  // rounds like Math.fround
      uint32_t fb;
      std::memcpy(&fb, &f, sizeof f);
      bits = fb;
    }
    return Checked(env, rec, i, kind, v, {ok ? bits : 0, ok});
  } else {
    if (kStrings && kind == kString) return StringFast(env, rec, i, v, strings);
    return ConvertArg(env, rec, i, kind, v, strings, nullptr);
  }
}

constexpr Class ClassOf(uint32_t mask, size_t i) { return ((mask >> i) & 1) ? Class::kFloat : Class::kInt; }

template <bool kStrings, uint32_t kMask, size_t... I>
DLSWAP_HOT bool ConvertMasked([[maybe_unused]] napi_env env, const FunctionRecord &rec, [[maybe_unused]] const napi_value *argv,
                              [[maybe_unused]] uint64_t *regs, [[maybe_unused]] StringStore *store, std::index_sequence<I...>) {
  // Left to right, stopping at the first failure (&& short-circuits across the fold).
  return ([&] {
    ArgBits a = ConvertFast<kStrings, ClassOf(kMask, I)>(env, rec, I, argv[I], store);
    if (DLSWAP_UNLIKELY(!a.ok)) return false;
    regs[SlotOf(kMask, I)] = a.bits;
    return true;
  }() && ...);
}

// The call once its JS arguments are fetched: argc of them passed, the first min(argc, N) in argv.
// kErrno: the function was made with { errno: true } (only the dynamic variants, which serve any
// placement of arguments: the option is rare, and not worth doubling every other variant for).
template <size_t N, bool kStrings, uint32_t kMask, bool kErrno = false>
DLSWAP_HOT napi_value CallRegsWith(napi_env env, size_t argc, const napi_value *argv, const FunctionRecord &rec) {
  if (DLSWAP_UNLIKELY(argc != N)) return ThrowArgCount(env, rec, argc, N, false);
  LibraryHandle *lib = rec.lib.get();
  // A closed library's code is unmapped: calling into it would be a SIGSEGV.
  if (DLSWAP_UNLIKELY(lib->closed)) return ThrowClosed(env, rec);

  // Registers no parameter uses get zero rather than whatever the stack held. Without float
  // arguments only the integer registers are passed, and only their slots exist.
  constexpr bool kFloats = kMask != 0;
  constexpr size_t kSlots = kFloats ? kRegSlots : kGprSlots;
  // The integer registers the target takes, when known here: the guard gets only those, and its
  // own two arguments in the registers after them.
  constexpr int kIntArgs = kMask == kDynamic ? kGprSlots : static_cast<int>(N) - __builtin_popcount(kMask);
  uint64_t regs[kSlots];
  if constexpr (kMask != kDynamic) {
    // Every index is a constant here, so the compiler keeps the array in registers: plain zeros
    // (unrolled by hand, as a loop would become a memset).
    ZeroEach(regs, std::make_index_sequence<kSlots>());
  } else {
    ZeroPairs(regs, std::make_index_sequence<kSlots / 2>());
  }
  [[maybe_unused]] char string_buf[kStrings ? kSyncStringBytes : 1];
  [[maybe_unused]] StringStore strings(string_buf, kStrings ? sizeof string_buf : 0);
  StringStore *store = kStrings ? &strings : nullptr;
  if constexpr (kMask != kDynamic) {
    // Unrolled at compile time: each parameter's class and slot are constants.
    if (!ConvertMasked<kStrings, kMask>(env, rec, argv, regs, store, std::make_index_sequence<N>())) return nullptr;
  } else {
    // Slots from the record, so the array lives in memory anyway: a rolled loop keeps the code small.
#pragma GCC unroll 1
    for (size_t i = 0; i < N; i++) {
      ArgBits a = ConvertFast<kStrings, Class::kAny>(env, rec, i, argv[i], store);
      if (DLSWAP_UNLIKELY(!a.ok)) return nullptr;
      regs[rec.slots[i]] = a.bits;
    }
  }
  if (kErrno) *rec.errno_ptr = 0;
  // A fault in the library ends the call here (frame.outcome) rather than the process. The
  // thread's record is read from the function record again after the call rather than kept in a
  // register across it: one load instead of a callee-saved register and the spills it costs.
  // A faulted one is quarantined: its state may be inconsistent (checked here, after the
  // conversions, where nothing else needs the register).
  if (DLSWAP_UNLIKELY(lib->faulted.load(std::memory_order_relaxed))) return ThrowClosed(env, rec);
  RecoveryFrame frame;
  PushFrame(rec.faults, &frame, FrameKind::kCall);
  uint64_t r = GuardedCallWithRegs<kIntArgs>(rec.address, regs, kFloats, rec.ret_kind, &frame);
  PopFrame(rec.faults, &frame);
  if (DLSWAP_UNLIKELY(frame.outcome != kReturned)) return HandleSyncFault(env, rec.name, *lib, *rec.faults);
  int err = AfterSyncCall(rec, lib);
  napi_value result = ConvertResult(env, rec.ret_kind, r);
  return kErrno ? WithErrno(env, result, err) : result;
}

template <size_t N, bool kStrings, uint32_t kMask, bool kErrno = false>
napi_value CallRegs(napi_env env, napi_callback_info info) {
  napi_value argv[N > 0 ? N : 1];
  size_t argc = N;
  void *data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  return CallRegsWith<N, kStrings, kMask, kErrno>(env, argc, argv, *static_cast<const FunctionRecord *>(data));
}

// CallRegs for the arguments CallInt32s fetched: its way out when anything is amiss. Out of line,
// and the arguments come by value, so that the fast path keeps nothing alive for it.
template <size_t N>
__attribute__((noinline, cold)) napi_value CallRegsAgain(napi_env env, size_t argc, std::array<napi_value, N> argv,
                                                         const FunctionRecord &rec) {
  return CallRegsWith<N, false, 0>(env, argc, argv.data(), rec);
}

template <size_t... I>
DLSWAP_HOT bool FetchNumbers([[maybe_unused]] napi_env env, [[maybe_unused]] const napi_value *argv, [[maybe_unused]] double *d,
                             std::index_sequence<I...>) {
  // Stops at the first failure, so that no status has to live across the next call.
  return ((napi_get_value_double(env, argv[I], &d[I]) == napi_ok) && ... && true);
}

// Each d[i] an exact int32 (ExactInt32), into regs[i] zero-extended, as a C compiler passes an
// int (the callee reads the low 32 bits only).
template <size_t N>
DLSWAP_HOT bool ExactInt32s([[maybe_unused]] const double *d, [[maybe_unused]] uint64_t *regs) {
  size_t i = 0;
#if defined(__x86_64__)
  // Two at a time: ExactInt32's test on both lanes of a vector register, one branch per pair.
  for (; i + 2 <= N; i += 2) {
    const __m128d v = _mm_loadu_pd(d + i);
    const __m128i ints = _mm_cvttpd_epi32(v);
    if (DLSWAP_UNLIKELY(_mm_movemask_pd(_mm_cmpneq_pd(_mm_cvtepi32_pd(ints), v)) != 0)) return false;
    regs[i] = static_cast<uint32_t>(_mm_cvtsi128_si32(ints));
    regs[i + 1] = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_shuffle_epi32(ints, 1)));
  }
#endif
  for (; i < N; i++) {
    int32_t v;
    if (DLSWAP_UNLIKELY(!ExactInt32(d[i], &v))) return false;
    regs[i] = static_cast<uint32_t>(v);
  }
  return true;
}

template <uint8_t kRet, size_t... I>
DLSWAP_HOT uint64_t GuardedInts(const void *fn, [[maybe_unused]] const uint64_t *regs, RecoveryFrame *frame, std::index_sequence<I...>) {
  using Guard = GuardForms<static_cast<int>(sizeof...(I))>;
  static_assert(!IsFloatKind(kRet), "an integer or void result");
  return Guard::i(regs[I]..., fn, frame);
}

// `int f(int, ...)` and `void f(int, ...)`, the commonest C shape: every parameter an int32_t and
// the kinds known at compile time, so there is no kind to test. Every argument is fetched before any
// is checked, so that no converted value has to live across a Node-API call (a callee-saved
// register costs a save and a restore). Anything amiss (a bad argument or count, a closed or
// quarantined library) is left to the general path, which checks again in its own order and
// reports exactly as it does for every other function. The fault guard, the call count and errno
// are as in CallRegs.
template <size_t N, uint8_t kRet>
napi_value CallInt32s(napi_env env, napi_callback_info info) {
  std::array<napi_value, N> argv;
  size_t argc = N;
  void *data = nullptr;
  napi_get_cb_info(env, info, &argc, argv.data(), nullptr, &data);
  const FunctionRecord &rec = *static_cast<const FunctionRecord *>(data);
  [[maybe_unused]] double d[N > 0 ? N : 1];
  uint64_t regs[N > 0 ? N : 1];
  if (DLSWAP_UNLIKELY(argc != N) || DLSWAP_UNLIKELY(!FetchNumbers(env, argv.data(), d, std::make_index_sequence<N>())) ||
      DLSWAP_UNLIKELY(!ExactInt32s<N>(d, regs))) {
    return CallRegsAgain<N>(env, argc, argv, rec);
  }
  // The library the call runs in, as the call starts: a JS callback during the call may rebind the
  // function (a swap), and the count, the errno and a fault belong to this one.
  LibraryHandle *lib = rec.lib.get();
  if (DLSWAP_UNLIKELY(lib->closed.load() | lib->faulted.load(std::memory_order_relaxed))) {
    return CallRegsAgain<N>(env, argc, argv, rec);
  }
  RecoveryFrame frame;
  PushFrame(rec.faults, &frame, FrameKind::kCall);
  uint64_t r = GuardedInts<kRet>(rec.address, regs, &frame, std::make_index_sequence<N>());
  PopFrame(rec.faults, &frame);
  if (DLSWAP_UNLIKELY(frame.outcome != kReturned)) return HandleSyncFault(env, rec.name, *lib, *rec.faults);
  AfterSyncCall(rec, lib);
  return ConvertResult(env, kRet, r);
}

template <size_t N, bool kStrings, size_t... M>
constexpr std::array<napi_callback, (1u << kMaskedMaxParams)> MaskRow(std::index_sequence<M...>) {
  return {{&CallRegs<N, kStrings, static_cast<uint32_t>(M & ((1u << N) - 1))>...}};
}

template <bool kStrings, size_t... N>
constexpr auto MaskTable(std::index_sequence<N...>) {
  return std::array<std::array<napi_callback, (1u << kMaskedMaxParams)>, sizeof...(N)>{
      {MaskRow<N, kStrings>(std::make_index_sequence<(1u << kMaskedMaxParams)>())...}};
}

template <bool kStrings, uint32_t kMask, bool kErrno, size_t... I>
constexpr auto ArityTable(std::index_sequence<I...>) {
  return std::array<napi_callback, sizeof...(I)>{{&CallRegs<I, kStrings, kMask, kErrno>...}};
}

// [N][mask] for N <= kMaskedMaxParams; integer-only up to kGprSlots; dynamic slots up to kRegSlots.
constexpr auto kMasked = MaskTable<false>(std::make_index_sequence<kMaskedMaxParams + 1>());
constexpr auto kMaskedStrings = MaskTable<true>(std::make_index_sequence<kMaskedMaxParams + 1>());
constexpr auto kInts = ArityTable<false, 0, false>(std::make_index_sequence<kGprSlots + 1>());
constexpr auto kIntsStrings = ArityTable<true, 0, false>(std::make_index_sequence<kGprSlots + 1>());
constexpr auto kMixed = ArityTable<false, kDynamic, false>(std::make_index_sequence<kRegSlots + 1>());
constexpr auto kMixedStrings = ArityTable<true, kDynamic, false>(std::make_index_sequence<kRegSlots + 1>());
constexpr auto kErrnoMixed = ArityTable<false, kDynamic, true>(std::make_index_sequence<kRegSlots + 1>());
constexpr auto kErrnoMixedStrings = ArityTable<true, kDynamic, true>(std::make_index_sequence<kRegSlots + 1>());

template <uint8_t kRet, size_t... N>
constexpr auto Int32Table(std::index_sequence<N...>) {
  return std::array<napi_callback, sizeof...(N)>{{&CallInt32s<N, kRet>...}};
}
constexpr auto kInt32sToInt32 = Int32Table<kI32>(std::make_index_sequence<kGprSlots + 1>());
constexpr auto kInt32sToVoid = Int32Table<kVoid>(std::make_index_sequence<kGprSlots + 1>());

bool AllInt32(const FunctionRecord &rec) {
  for (size_t i = 0; i < rec.nparams; i++) {
    if (rec.kinds[i] != kI32) return false;
  }
  return true;
}

}  // namespace

napi_callback FastCallback(const FunctionRecord &rec) {
  const size_t n = rec.nparams;
  const bool strings = rec.flags & kFlagHasStrings;
  uint32_t mask = 0;
  for (size_t i = 0; i < n; i++) mask |= static_cast<uint32_t>(IsFloatKind(rec.kinds[i])) << i;
  if (rec.errno_result()) return strings ? kErrnoMixedStrings[n] : kErrnoMixed[n];
  if (!strings && n <= kGprSlots && AllInt32(rec)) {
    if (rec.ret_kind == kI32) return kInt32sToInt32[n];
    if (rec.ret_kind == kVoid) return kInt32sToVoid[n];
  }
  if (n <= kMaskedMaxParams) return strings ? kMaskedStrings[n][mask] : kMasked[n][mask];
  if (mask == 0) return strings ? kIntsStrings[n] : kInts[n];
  return strings ? kMixedStrings[n] : kMixed[n];
}

}  // namespace dlswap
