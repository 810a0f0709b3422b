#include <napi.h>
#include "module.h"

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  dlswap::InitLoader(env, exports);
  dlswap::InitElf(env, exports);
  dlswap::InitCalls(env, exports);
  return exports;
}

NODE_API_MODULE(dlswap, InitAddon)
