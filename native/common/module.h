// Each concept of the addon registers its exports here; addon.cc calls them in order.
#pragma once
#include <napi.h>

#include <memory>

namespace dlswap {

void InitNativeLibrary(Napi::Env env, Napi::Object exports);  // image/native_library.cc: NativeLibrary
void InitNamespaces(Napi::Env env, Napi::Object exports);  // namespace/namespace_js.cc: runtime, anchor, stats
void InitLoaderJobs(Napi::Env env, Napi::Object exports); // loader/jobs_js.cc: load, retire, handover
void InitPrivateArea(Napi::Env env, Napi::Object exports);
void InitDependencies(Napi::Env env, Napi::Object exports);
void InitFaults(Napi::Env env, Napi::Object exports);
void InitElf(Napi::Env env, Napi::Object exports);        // elf/elf_js.cc: readElf, readElfBytes
void InitNamespaceProbe(Napi::Env env, Napi::Object exports);  // namespace/namespace_probe.cc: probeNamespaces
void InitCalls(Napi::Env env, Napi::Object exports);      // call/make_function.cc: makeFunction, ...
void InitPluginHost(Napi::Env env, Napi::Object exports); // plugin_host.cc: the dlswap_host struct
void InitMemory(Napi::Env env, Napi::Object exports);     // call/memory.cc: addresses, copies, C strings, alloc
void InitCallbacks(Napi::Env env, Napi::Object exports);  // callback/callbacks_js.cc: JS functions as C function pointers

}  // namespace dlswap
