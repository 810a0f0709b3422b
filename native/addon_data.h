// Per-environment state: every worker_thread that loads the addon gets its own copy, so nothing
// that belongs to one JS environment is stored in a process-wide global.
#pragma once
#include <napi.h>

namespace dlswap {

struct AddonData {
  Napi::FunctionReference native_library_ctor;
};

inline AddonData &Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace dlswap
