// The out-of-line conversions of call/convert.h: pointers (buffers, addresses, callbacks, handles), strings
// that do not fit the fast copy, and the 64-bit and bool kinds.
#include "call/convert.h"
#include "call/handle_args.h"

#include <cstdio>

namespace dlswap {

namespace {

// A conversion Node-API refused for a reason other than the value's type (or memory ran out).
ArgBits Unconvertible(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v) {
  ThrowArgError(env, rec, index, kind, v, "could not be converted (out of memory?)");
  return {0, false};
}

ArgBits FinishString(napi_env env, const FunctionRecord &rec, size_t index, napi_value v, char *dst, size_t len) {
  if (const char *nul = FindNul(dst, len)) {
    char detail[160];
    snprintf(detail, sizeof detail,
             "contains a NUL character at byte %td; C would see only the text before it. Pass a Buffer to send "
             "bytes that include NUL",
             nul - dst);
    ThrowArgError(env, rec, index, kString, v, detail);
    return {0, false};
  }
  return {static_cast<uint64_t>(reinterpret_cast<uintptr_t>(dst)), true};
}

}  // namespace

ArgBits ConvertWideArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v) {
  if (kind == kBool) {
    bool b;
    if (napi_get_value_bool(env, v, &b) == napi_ok) return {b ? 1u : 0u, true};
    double d;
    if (napi_get_value_double(env, v, &d) == napi_ok && (d == 0 || d == 1)) return {d == 1 ? 1u : 0u, true};
  } else if (kind == kI64) {
    int64_t i;
    bool lossless = false;
    if (napi_get_value_bigint_int64(env, v, &i, &lossless) == napi_ok) {
      if (lossless) return {static_cast<uint64_t>(i), true};
    } else {
      ArgBits r = IntArg<kI64>(env, v);
      if (r.ok) return r;
    }
  } else if (kind == kU64) {
    uint64_t u;
    bool lossless = false;
    if (napi_get_value_bigint_uint64(env, v, &u, &lossless) == napi_ok) {
      if (lossless) return {u, true};
    } else {
      ArgBits r = IntArg<kU64>(env, v);
      if (r.ok) return r;
    }
  }
  ThrowArgError(env, rec, index, kind, v);
  return {0, false};
}

ArgBits ConvertPointerArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v, KeepAlive *keep) {
  uint64_t addr;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, v, &addr, &lossless) == napi_ok) {
    if (lossless) return {addr, true};
    ThrowArgError(env, rec, index, kind, v, "expects an address in [0n, 2n ** 64n - 1n]; got a bigint outside it");
    return {0, false};
  }
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  if (t == napi_null) return {0, true};
  if (t == napi_object) {
    void *data = nullptr;
    napi_value backing = nullptr;  // the ArrayBuffer whose memory is passed
    bool is = false;
    bool ok = false;
    if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
      // Also materializes an on-heap typed array's storage, so the address stays put.
      ok = napi_get_typedarray_info(env, v, nullptr, nullptr, &data, &backing, nullptr) == napi_ok;
    } else if (napi_is_dataview(env, v, &is) == napi_ok && is) {
      ok = napi_get_dataview_info(env, v, nullptr, &data, &backing, nullptr) == napi_ok;
    } else if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
      ok = napi_get_arraybuffer_info(env, v, &data, nullptr) == napi_ok;
      backing = v;
    }
    // A detached buffer (transferred to a worker, structuredClone'd with transfer, ab.transfer())
    // has no memory: it would reach C as NULL, and a C function that takes a buffer rarely expects
    // NULL. Checked here, on the pointer conversion's slow path, never on the fast one.
    bool detached = false;
    if (ok && backing != nullptr && napi_is_detached_arraybuffer(env, backing, &detached) == napi_ok && detached) {
      ThrowArgError(env, rec, index, kind, v,
                    "is a detached ArrayBuffer (or a view of one): its memory was transferred away, and C would "
                    "get NULL. Pass a buffer that is still attached (copy it before transferring it), or null "
                    "to pass NULL on purpose");
      return {0, false};
    }
    if (ok) {
      if (keep) {
        napi_ref ref;
        if (napi_create_reference(env, v, 1, &ref) != napi_ok) return Unconvertible(env, rec, index, kind, v);
        keep->refs.push_back(ref);
      }
      return {static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data)), true};
    }
    // A callback (lib.callback() or a temporary one): its code address.
    uint64_t code = 0;
    bool live = false;
    if (CallbackHandleAddress(env, v, &code, &live)) {
      if (!live) {
        ThrowArgError(env, rec, index, kind, v, "is a callback that was released; make a new one");
        return {0, false};
      }
      return {code, true};
    }
    // A handle (lib/signature/handle.ts): its pointer, if this call goes to the image that made it.
    uint64_t pointer = 0;
    bool passable = false;
    if (HandleArgAddress(env, rec, index, kind, v, &pointer, &passable)) return {pointer, passable};
  }
  ThrowArgError(env, rec, index, kind, v);
  return {0, false};
}

ArgBits ConvertStringArg(napi_env env, const FunctionRecord &rec, size_t index, napi_value v, StringStore *strings, KeepAlive *keep) {
  size_t cap = strings->remaining();
  size_t len = 0;
  if (cap >= 16) {
    char *dst = strings->cursor();
    napi_status s = napi_get_value_string_utf8(env, v, dst, cap, &len);
    if (s == napi_string_expected) return ConvertPointerArg(env, rec, index, kString, v, keep);
    if (s != napi_ok) return Unconvertible(env, rec, index, kString, v);
    // Node copies whole characters only, so a copy that stopped short of the end may still be
    // truncated; with room for 4 more bytes (the longest UTF-8 character) left over, it is complete.
    if (len + 5 <= cap) {
      strings->commit(len + 1);
      return FinishString(env, rec, index, v, dst, len);
    }
  }
  napi_status s = napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  if (s == napi_string_expected) return ConvertPointerArg(env, rec, index, kString, v, keep);
  if (s != napi_ok) return Unconvertible(env, rec, index, kString, v);
  char *dst = strings->heap(len + 1);
  size_t copied = 0;
  if (!dst || napi_get_value_string_utf8(env, v, dst, len + 1, &copied) != napi_ok) {
    return Unconvertible(env, rec, index, kString, v);
  }
  return FinishString(env, rec, index, v, dst, copied);
}

napi_value WithErrno(napi_env env, napi_value value, int err) {
  napi_value obj, e;
  napi_create_object(env, &obj);
  napi_create_int32(env, err, &e);
  napi_set_named_property(env, obj, "value", value);
  napi_set_named_property(env, obj, "errno", e);
  return obj;
}

}  // namespace dlswap
