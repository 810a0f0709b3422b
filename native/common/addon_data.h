// Per-environment state: every worker_thread that loads the addon gets its own copy, so nothing
// that belongs to one JS environment is stored in a process-wide global.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

namespace dlswap {

struct AddonData {
  Napi::FunctionReference native_library_ctor;
  Napi::FunctionReference plugin_host_ctor;
  // loader/job_channel.cc's completion channel for this environment (an EnvLink), made on first use.
  std::shared_ptr<void> loader_link;
  // What the 'terminate' fault does in this environment (set by lib/faults.ts).
  Napi::FunctionReference terminator;
  // Told of every fault contained in a call made in this environment (signals/fault_js.h).
  Napi::FunctionReference fault_listener;
  // The last load spec's registry rules and environment, as parsed (loader/jobs_js.cc): lib/ hands
  // over the same frozen array while they do not change, and a spec that repeats it is not parsed
  // again. Opaque here (common/ knows no loader type): the parser owns what `parsed` holds.
  struct SpecPart {
    Napi::ObjectReference given;
    std::shared_ptr<const void> parsed;
  };
  SpecPart registries;
  SpecPart environment;
};

inline AddonData &Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace dlswap
