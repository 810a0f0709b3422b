// The registry of mapped images (image/image_origins.h) as lib/load/mapped_images.ts sees it.
#include "common/exports.h"
#include "image/image_origins.h"
#include "namespace/namespace_pool.h"

namespace dlswap {

namespace {

const char *IsolationName(int iso) {
  static const char *const kNames[] = {"local", "deepbind", "namespace", "fresh-namespace"};
  return iso >= 0 && iso < 4 ? kNames[iso] : "unknown";
}

// mappedImages() -> [{ start, end, loadedAs, mappedPath, source, buildId, dependencyOf, isolation, lmid, redirected }]
Napi::Value MappedImagesJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::vector<ImageOrigin> images = RegisteredImages();
  Napi::Array out = Napi::Array::New(env, images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageOrigin &o = images[i];
    Napi::Object m = Napi::Object::New(env);
    m.Set("start", Napi::BigInt::New(env, static_cast<uint64_t>(o.start)));
    m.Set("end", Napi::BigInt::New(env, static_cast<uint64_t>(o.end)));
    m.Set("loadedAs", o.loaded_as);
    m.Set("mappedPath", o.mapped_path);
    m.Set("source", o.source);
    m.Set("buildId", o.build_id.empty() ? env.Null() : Napi::String::New(env, o.build_id));
    m.Set("dependencyOf", o.dependency_of.empty() ? env.Null() : Napi::String::New(env, o.dependency_of));
    m.Set("isolation", IsolationName(o.isolation));
    m.Set("lmid", Napi::Number::New(env, static_cast<double>(o.lmid)));
    m.Set("redirected", o.redirect);
    out.Set(static_cast<uint32_t>(i), m);
  }
  return out;
}

}  // namespace

void RegisterImageOrigins(Napi::Env env, Napi::Object exports) {
  // Before any namespace is made: their runtimes answer dladdr and $ORIGIN through these.
  SetOriginHost(OriginHost());
  Export(env, exports, {{"mappedImages", MappedImagesJs}});
}

}  // namespace dlswap
