// libffi's side of a call, shared by the sync and async libffi paths: the target as libffi takes it,
// the arguments as it reads them, and a variadic call's prepared type list.
#pragma once
#include <ffi.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "call/convert.h"
#include "common/errors.h"

namespace dlswap {

// libffi takes the target as `void (*)(void)`; it calls it from its own assembly with the cif's
// types, so the type of this pointer is never used for a call.
inline void (*FfiTarget(const void *address))(void) { return FFI_FN(const_cast<void *>(address)); }

// One ffi_call, packed so that GuardedRun (call/trampoline.h) can run it under a recovery frame.
struct FfiInvocation {
  ffi_cif *cif;
  void (*target)(void);
  void *rvalue;
  void **avalues;
};
inline void InvokeFfi(void *p) {
  auto *c = static_cast<FfiInvocation *>(p);
  ffi_call(c->cif, c->target, c->rvalue, c->avalues);
}

// Rewrites a converted variadic value as its promoted type (float -> double). Integers are already
// sign/zero-extended to 64 bits, which as an int is the promoted value.
inline void PromoteVariadic(uint8_t kind, uint64_t *slot) {
  if (kind == kF32) {
    uint32_t bits = static_cast<uint32_t>(*slot);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    double d = f;
    std::memcpy(slot, &d, sizeof d);
  }
}

// A variadic call's first JS argument is the id prepareVariadic gave its list of value types; the
// arguments after it must match that list. Null, with a JS exception pending, if they do not.
DLSWAP_HOT const std::shared_ptr<VariadicCif> *VariadicOf(napi_env env, const FunctionRecord &rec, const napi_value *argv, size_t argc) {
  uint32_t id = 0;
  if (argc == 0 || napi_get_value_uint32(env, argv[0], &id) != napi_ok || id >= rec.variadic.size()) {
    ThrowCode(env, "ERR_DLSWAP_INTERNAL", rec.name + "(): variadic call without a prepared type list", true);
    return nullptr;
  }
  const std::shared_ptr<VariadicCif> &vc = rec.variadic[id];
  const size_t n = vc->kinds.size();
  if (argc - 1 != n) {
    ThrowArgCount(env, rec, argc - 1, n, false);
    return nullptr;
  }
  return &vc;
}

// Converts argv[0..n) (of kinds[0..n): the fixed params, then any variadic values, promoted) for
// ffi_call: slots[i] holds each value and avalues[i] points at what libffi reads for it. With
// `rvalue`, a struct result's address, which the caller passes after the arguments, goes there.
// False with a JS exception pending.
DLSWAP_HOT bool FfiArgs(napi_env env, const FunctionRecord &rec, const uint8_t *kinds, size_t n, const napi_value *argv,
                        StringStore *strings, KeepAlive *keep, uint64_t *slots, void **avalues, void **rvalue) {
  for (size_t i = 0; i < n; i++) {
    ArgBits a = ConvertArg(env, rec, i, kinds[i], argv[i], strings, keep);
    if (!a.ok) return false;
    slots[i] = a.bits;
    avalues[i] = &slots[i];
    if (i >= rec.nparams) {
      PromoteVariadic(kinds[i], &slots[i]);
    } else if (kinds[i] == kAggregate) {
      // libffi reads a struct argument from the address it is given.
      if (a.bits == 0) {
        ThrowArgError(env, rec, i, kAggregate, argv[i], "is a struct by value: it cannot be NULL");
        return false;
      }
      avalues[i] = reinterpret_cast<void *>(static_cast<uintptr_t>(a.bits));
    }
  }
  if (rvalue && rec.ret_in_arg) {
    ArgBits a = ConvertPointerArg(env, rec, n, kPointer, argv[n], keep);
    if (!a.ok) return false;
    if (a.bits == 0) {
      ThrowArgError(env, rec, n, kPointer, argv[n], "(where the struct result goes) cannot be NULL");
      return false;
    }
    *rvalue = reinterpret_cast<void *>(static_cast<uintptr_t>(a.bits));
  }
  return true;
}

}  // namespace dlswap
