#include <napi.h>
#include "common/addon_data.h"
#include "common/module.h"

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new dlswap::AddonData());
  dlswap::InitNativeLibrary(env, exports);
  dlswap::InitNamespaces(env, exports);
  dlswap::InitLoaderJobs(env, exports);
  dlswap::InitPrivateArea(env, exports);
  dlswap::InitDependencies(env, exports);
  dlswap::InitFaults(env, exports);
  dlswap::InitElf(env, exports);
  dlswap::InitNamespaceProbe(env, exports);
  dlswap::InitCalls(env, exports);
  dlswap::InitPluginHost(env, exports);
  dlswap::InitMemory(env, exports);
  dlswap::InitCallbacks(env, exports);
  return exports;
}

NODE_API_MODULE(dlswap, InitAddon)
