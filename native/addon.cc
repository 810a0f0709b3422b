#include <napi.h>
#include "common/addon_data.h"
#include "common/module.h"

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new dlswap::AddonData());
  dlswap::InitLoader(env, exports);
  dlswap::InitLoaderJobs(env, exports);
  dlswap::InitElf(env, exports);
  dlswap::InitNamespaceProbe(env, exports);
  dlswap::InitCalls(env, exports);
  dlswap::InitPluginHost(env, exports);
  dlswap::InitMemory(env, exports);
  dlswap::InitCallbacks(env, exports);
  return exports;
}

NODE_API_MODULE(dlswap, InitAddon)
