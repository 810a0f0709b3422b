// Plain values between C++ and JS, for the modules that take specs from lib/ and hand it results
// as plain objects.
#pragma once
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

namespace dlswap {

inline Napi::Array ToArray(Napi::Env env, const std::vector<std::string> &v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, v[i]));
  return a;
}

inline Napi::Array ToArray(Napi::Env env, const std::vector<int> &v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, v[i]));
  return a;
}

// null when absent.
inline Napi::Value OptString(Napi::Env env, const std::optional<std::string> &s) {
  return s ? Napi::Value(Napi::String::New(env, *s)) : env.Null();
}

// null when empty.
inline Napi::Value StringOrNull(Napi::Env env, const std::string &s) {
  return s.empty() ? env.Null() : Napi::Value(Napi::String::New(env, s));
}

// The fields of a plain result object, defined in one napi_define_properties call: a result of a
// few dozen fields is made about 2.5x faster than by one Set per field (each its own trip into V8,
// growing the object one property at a time). On the JS thread's path of every reload. The names
// must outlive the call (string literals).
class Fields {
 public:
  explicit Fields(Napi::Env env) : env_(env) {}

  template <typename T>
  Fields &Add(const char *name, const T &value) {
    fields_.push_back({name, nullptr, nullptr, nullptr, nullptr, Napi::Value::From(env_, value), napi_default_jsproperty, nullptr});
    return *this;
  }

  // Defines them on `o` (after what it already holds, in the order they were added).
  void Into(Napi::Object o) const {
    if (fields_.empty()) return;
    if (napi_define_properties(env_, o, fields_.size(), fields_.data()) != napi_ok) throw Napi::Error::New(env_);
  }

  Napi::Object Make() const {
    Napi::Object o = Napi::Object::New(env_);
    Into(o);
    return o;
  }

 private:
  Napi::Env env_;
  std::vector<napi_property_descriptor> fields_;
};

// The strings of an array (its other elements skipped); empty for anything but an array.
inline std::vector<std::string> Strings(Napi::Value v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (e.IsString()) out.push_back(e.As<Napi::String>().Utf8Value());
  }
  return out;
}

}  // namespace dlswap
