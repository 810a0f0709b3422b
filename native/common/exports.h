// How a module adds its functions to the addon's exports. Every module has one Register function;
// addon.cc, the one list of what the addon exports, calls them all.
#pragma once
#include <napi.h>

#include <initializer_list>

namespace dlswap {

struct ExportedFunction {
  const char *name;
  Napi::Function::Callback fn;
};

inline void Export(Napi::Env env, Napi::Object exports, std::initializer_list<ExportedFunction> functions) {
  for (const ExportedFunction &f : functions) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
}

}  // namespace dlswap
