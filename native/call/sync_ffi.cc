// The sync libffi path: functions with more arguments than registers, and variadic functions.
// Their cif is prepared once (at lib.func() time, or once per variadic type list).
#include "call/convert.h"

namespace dlswap {

namespace {

napi_value Finish(napi_env env, const FunctionRecord &rec, LibraryHandle *lib, const ffi_cif *cif, void **avalues,
                  void *rvalue = nullptr) {
  if (rec.errno_result()) *rec.errno_ptr = 0;
  // Large enough for any scalar libffi returns (it widens small integers to ffi_arg).
  alignas(16) uint64_t ret[2] = {};
  ffi_call(const_cast<ffi_cif *>(cif), FfiTarget(rec.address), rvalue ? rvalue : ret, avalues);
  int err = AfterSyncCall(rec, lib);
  napi_value result = ConvertResult(env, rec.ret_kind, ret[0]);
  return rec.errno_result() ? WithErrno(env, result, err) : result;
}

}  // namespace

napi_value CallFfi(napi_env env, napi_callback_info info) {
  napi_value argv[kMaxFixedParams];
  size_t argc = kMaxFixedParams;
  void *data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  const FunctionRecord &rec = *static_cast<const FunctionRecord *>(data);
  const size_t n = rec.nparams;
  // A struct result: the address to write it to comes after the parameters.
  const size_t want = n + (rec.ret_in_arg ? 1 : 0);
  if (argc != want) return ThrowArgCount(env, rec, argc, want, false);
  LibraryHandle *lib = rec.lib.get();
  if (lib->closed) return ThrowClosed(env, rec);

  uint64_t slots[kMaxFixedParams];
  void *avalues[kMaxFixedParams];
  char string_buf[kSyncStringBytes];
  StringStore strings(string_buf, sizeof string_buf);
  for (size_t i = 0; i < n; i++) {
    ArgBits a = ConvertArg(env, rec, i, rec.kinds[i], argv[i], &strings, nullptr);
    if (!a.ok) return nullptr;
    slots[i] = a.bits;
    if (rec.kinds[i] == kAggregate) {
      // libffi reads a struct argument from the address it is given.
      if (a.bits == 0) return ThrowArgError(env, rec, i, kAggregate, argv[i], "is a struct by value: it cannot be NULL");
      avalues[i] = reinterpret_cast<void *>(static_cast<uintptr_t>(a.bits));
    } else {
      avalues[i] = &slots[i];
    }
  }
  void *rvalue = nullptr;
  if (rec.ret_in_arg) {
    ArgBits a = ConvertPointerArg(env, rec, n, kPointer, argv[n], nullptr);
    if (!a.ok) return nullptr;
    if (a.bits == 0) return ThrowArgError(env, rec, n, kPointer, argv[n], "(where the struct result goes) cannot be NULL");
    rvalue = reinterpret_cast<void *>(static_cast<uintptr_t>(a.bits));
  }
  return Finish(env, rec, lib, &rec.cif, avalues, rvalue);
}

// Arguments: (cif id from prepareVariadic, fixed args..., variadic values...).
napi_value CallVariadic(napi_env env, napi_callback_info info) {
  napi_value argv[kMaxArgs + 1];
  size_t argc = kMaxArgs + 1;
  void *data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  const FunctionRecord &rec = *static_cast<const FunctionRecord *>(data);
  uint32_t id = 0;
  if (argc == 0 || napi_get_value_uint32(env, argv[0], &id) != napi_ok || id >= rec.variadic.size()) {
    return ThrowCode(env, "ERR_DLSWAP_INTERNAL", rec.name + "(): variadic call without a prepared type list", true);
  }
  const VariadicCif &vc = *rec.variadic[id];
  const size_t n = vc.kinds.size();
  if (argc - 1 != n) return ThrowArgCount(env, rec, argc - 1, n, false);
  LibraryHandle *lib = rec.lib.get();
  if (lib->closed) return ThrowClosed(env, rec);

  uint64_t slots[kMaxArgs];
  void *avalues[kMaxArgs];
  char string_buf[kSyncStringBytes];
  StringStore strings(string_buf, sizeof string_buf);
  for (size_t i = 0; i < n; i++) {
    ArgBits a = ConvertArg(env, rec, i, vc.kinds[i], argv[i + 1], &strings, nullptr);
    if (!a.ok) return nullptr;
    slots[i] = a.bits;
    if (i >= rec.nparams) PromoteVariadic(vc.kinds[i], &slots[i]);
    avalues[i] = &slots[i];
  }
  return Finish(env, rec, lib, &vc.cif, avalues);
}

}  // namespace dlswap
