// Each concept of the addon registers its exports here; addon.cc calls them in order.
#pragma once
#include <napi.h>

namespace dlswap {

void InitLoader(Napi::Env env, Napi::Object exports);     // loader.cc: NativeLibrary, probes
void InitLoaderJobs(Napi::Env env, Napi::Object exports); // loader/loader_js.cc: load, retire, private area, faults
void InitElf(Napi::Env env, Napi::Object exports);        // elf_reader.cc: readElf
void InitCalls(Napi::Env env, Napi::Object exports);      // function.cc: makeFunction, ...
void InitPluginHost(Napi::Env env, Napi::Object exports); // plugin_host.cc: the dlswap_host struct

}  // namespace dlswap
