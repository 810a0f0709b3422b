// The private area (loader/private_area.h) as lib/load/temp_area.ts and the tests see it.
#include <unistd.h>

#include <string>

#include "common/errors.h"
#include "common/js_values.h"
#include "common/exports.h"
#include "loader/private_area.h"
#include "loader/source_copy.h"

namespace dlswap {

namespace {

Napi::Value PrivateAreaJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "privateArea(base)");
  NativeError err;
  if (!EnsurePrivateArea(info[0].As<Napi::String>().Utf8Value(), err)) throw CodedError(env, err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("root", UserRootPath());
  o.Set("dir", PrivateDirPath());
  return o;
}

// The copy step alone (tests of a source that changes while it is copied): leaves the copy in the
// private directory for the caller to read and remove.
Napi::Value CopyForTestJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  SourceFile src;
  NativeError err;
  if (!OpenSource(path, src, err)) throw CodedError(env, err);
  PrivateCopy copy;
  const bool ok = CopyToPrivate(src, path, copy, err);
  CloseSource(src);
  if (!ok) throw CodedError(env, err);
  close(copy.fd);
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", copy.name);
  o.Set("path", PrivateDirPath() + "/" + copy.name);
  o.Set("sha256", copy.sha256);
  o.Set("size", static_cast<double>(copy.size));
  return o;
}

Napi::Value RemovePrivateFileJs(const Napi::CallbackInfo &info) {
  RemovePrivateFile(info[0].As<Napi::String>().Utf8Value());
  return info.Env().Undefined();
}

Napi::Value PrivateFilesJs(const Napi::CallbackInfo &info) { return ToArray(info.Env(), PrivateFiles()); }
Napi::Value SweepStaleJs(const Napi::CallbackInfo &info) { return ToArray(info.Env(), SweepStaleDirectories()); }

Napi::Value ProcessExitingJs(const Napi::CallbackInfo &info) {
  ProcessExiting();
  return info.Env().Undefined();
}

Napi::Value LoaderPathNoteJs(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), LoaderPathNote()); }

}  // namespace

void RegisterPrivateArea(Napi::Env env, Napi::Object exports) {
  Export(env, exports,
         {{"privateArea", PrivateAreaJs},
          {"privateFiles", PrivateFilesJs},
          {"sweepStale", SweepStaleJs},
          {"copyForTest", CopyForTestJs},
          {"removePrivateFile", RemovePrivateFileJs},
          {"processExiting", ProcessExitingJs},
          {"loaderPathNote", LoaderPathNoteJs}});
}

}  // namespace dlswap
