// The native half of handles: the tag that marks a handle object, the image it belongs to, and
// whether it may still be passed. The policy (which generation a call goes to, when a handle is
// released, what pins a generation) is lib/hot/handles.ts's; this file only answers, for one
// argument of one call, "may this pointer go to this image?".
#include "call/handle_args.h"

#include <memory>
#include <string>

#include "call/arg_errors.h"
#include "common/errors.h"
#include "common/exports.h"
#include "image/native_library.h"

namespace dlswap {

namespace {

// Marks the JS objects that stand for a handle (another wrapped object is never taken for one).
constexpr napi_type_tag kHandleTag = {0x646c737761702d68ULL, 0x616e646c65763031ULL};

// What a handle object holds. JS thread only: handles are made, passed and released there.
struct HandleRecord {
  uint64_t address = 0;
  // The image that made it. Weak: a handle must not keep an image's bookkeeping alive, and an owner
  // that is gone still compares unequal to every other image (owner-based comparison).
  std::weak_ptr<LibraryHandle> owner;
  // For messages, copied when the handle is made: the owner may be gone when one is needed.
  std::string owner_path;
  int owner_generation = 0;
  bool live = true;
};

HandleRecord *RecordOf(napi_env env, napi_value v) {
  bool tagged = false;
  if (napi_check_object_type_tag(env, v, &kHandleTag, &tagged) != napi_ok || !tagged) return nullptr;
  void *data = nullptr;
  if (napi_unwrap(env, v, &data) != napi_ok) return nullptr;
  return static_cast<HandleRecord *>(data);
}

HandleRecord *RequireRecord(Napi::Env env, Napi::Value v) {
  HandleRecord *r = v.IsObject() ? RecordOf(env, v) : nullptr;
  if (!r) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "expected a handle made by a HotLibrary");
  return r;
}

void FinalizeRecord(napi_env, void *data, void *) { delete static_cast<HandleRecord *>(data); }

// "generation 2 of libsqlite3.so.0", or for an image that is no HotLibrary's generation (open()),
// its path: a copy of its own even when another image has the same path.
std::string Describe(const std::string &path, int generation) {
  return generation > 0 ? "generation " + std::to_string(generation) + " of " + path : "the copy of " + path + " that open() loaded";
}

// tagHandle(target, library, address): `target` (a fresh object) becomes the handle of `address`,
// a pointer the image of `library` made.
Napi::Value TagHandleJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[2].IsBigInt()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "tagHandle(target, library, address)");
  }
  LibraryRef lib = NativeLibrary::From(env, info[1]);
  bool lossless = false;
  uint64_t address = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless || address == 0) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "tagHandle: address must be a non-zero 64-bit address");
  auto record = std::make_unique<HandleRecord>();
  record->address = address;
  record->owner = lib;
  record->owner_path = lib->display_path;
  record->owner_generation = lib->generation;
  napi_value target = info[0];
  if (napi_type_tag_object(env, target, &kHandleTag) != napi_ok) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "tagHandle: the target is already tagged");
  }
  NAPI_THROW_IF_FAILED(env, napi_wrap(env, target, record.get(), FinalizeRecord, nullptr, nullptr), Napi::Value());
  record.release();
  return env.Undefined();
}

// setHandleLive(handle, live) -> whether it was live: a released handle is refused by every call.
Napi::Value SetHandleLiveJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  HandleRecord *r = RequireRecord(env, info[0]);
  bool was = r->live;
  r->live = info[1].ToBoolean().Value();
  return Napi::Boolean::New(env, was);
}

}  // namespace

bool HandleArgAddress(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v, uint64_t *address, bool *ok) {
  HandleRecord *r = RecordOf(env, v);
  if (!r) return false;
  *ok = false;
  try {
    const std::string made_by = Describe(r->owner_path, r->owner_generation);
    if (!r->live) {
      ThrowStaleHandle(env, rec, index, kind,
                       "is a handle that was released (made by " + made_by + "): what it pointed to is gone. Open a new one");
      return true;
    }
    const bool same = rec.lib && !r->owner.owner_before(rec.lib) && !rec.lib.owner_before(r->owner);
    if (!same) {
      const std::string target = rec.lib ? Describe(rec.lib->display_path, rec.lib->generation) : "no library";
      ThrowStaleHandle(env, rec, index, kind,
                       "is a handle made by " + made_by + ", and this function calls " + target +
                           ": a handle goes only to the code that made it. Call it through the HotLibrary's "
                           "hot.fn, which runs it on its own generation");
      return true;
    }
  } catch (...) {
    napi_throw_error(env, "ERR_DLSWAP_STALE_HANDLE", "a handle was given to a library that did not make it");
    return true;
  }
  *address = r->address;
  *ok = true;
  return true;
}

void RegisterHandles(Napi::Env env, Napi::Object exports) {
  Export(env, exports, {{"tagHandle", TagHandleJs}, {"setHandleLive", SetHandleLiveJs}});
}

}  // namespace dlswap
