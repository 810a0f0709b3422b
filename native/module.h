// Each concept of the addon registers its exports here; addon.cc calls them in order.
#pragma once
#include <napi.h>

namespace dlswap {

void InitLoader(Napi::Env env, Napi::Object exports);     // loader.cc: NativeLibrary, probes
void InitElf(Napi::Env env, Napi::Object exports);        // elf_reader.cc: readElf
void InitCalls(Napi::Env env, Napi::Object exports);      // function.cc: makeFunction, ...
void InitPluginHost(Napi::Env env, Napi::Object exports); // plugin_host.cc: the dlswap_host struct
void InitMemory(Napi::Env env, Napi::Object exports);     // memory.cc: addresses, copies, alloc
void InitCallbacks(Napi::Env env, Napi::Object exports);  // callbacks.cc: JS functions as C function pointers

}  // namespace dlswap
