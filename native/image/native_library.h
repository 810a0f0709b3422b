// The JS object that owns one LibraryHandle. Other native files take a LibraryRef out of it.
#pragma once
#include <napi.h>

#include <vector>

#include "image/library_handle.h"

namespace dlswap {

// Threads as holders() and a retirement's result list them: { tid, name, why }.
Napi::Array ThreadNotesToJs(Napi::Env env, const std::vector<ThreadNote> &notes);

class NativeLibrary : public Napi::ObjectWrap<NativeLibrary> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The handle behind a JS NativeLibrary object; throws ERR_DLSWAP_ARG if `value` is not one.
  static LibraryRef From(Napi::Env env, Napi::Value value);
  // The JS object for an image the loader opened.
  static Napi::Object Wrap(Napi::Env env, LibraryRef ref);

  explicit NativeLibrary(const Napi::CallbackInfo &info);
  ~NativeLibrary() override;

  const LibraryRef &ref() const { return ref_; }

 private:
  Napi::Value Info(const Napi::CallbackInfo &info);
  Napi::Value Symbol(const Napi::CallbackInfo &info);
  Napi::Value Free(const Napi::CallbackInfo &info);
  Napi::Value Flush(const Napi::CallbackInfo &info);
  Napi::Value Close(const Napi::CallbackInfo &info);
  Napi::Value Holders(const Napi::CallbackInfo &info);
  Napi::Value Gate(const Napi::CallbackInfo &info);
  Napi::Value Stats(const Napi::CallbackInfo &info);
  Napi::Value Errno(const Napi::CallbackInfo &info);

  LibraryRef ref_;
};

}  // namespace dlswap
