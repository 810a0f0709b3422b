// Each concept of the addon registers its exports here; addon.cc calls them in order.
#pragma once
#include <napi.h>

#include <memory>

namespace dlswap {

void InitLoader(Napi::Env env, Napi::Object exports);     // loader.cc: NativeLibrary, probes
void InitLoaderJobs(Napi::Env env, Napi::Object exports); // loader/loader_js.cc: load, retire, private area, faults
void InitElf(Napi::Env env, Napi::Object exports);        // elf/elf_js.cc: readElf, readElfBytes
void InitNamespaceProbe(Napi::Env env, Napi::Object exports);  // namespace/namespace_probe.cc: probeNamespaces
void InitCalls(Napi::Env env, Napi::Object exports);      // call/make_function.cc: makeFunction, ...
void InitPluginHost(Napi::Env env, Napi::Object exports); // plugin_host.cc: the dlswap_host struct
void InitMemory(Napi::Env env, Napi::Object exports);     // call/memory.cc: addresses, copies, C strings, alloc
void InitCallbacks(Napi::Env env, Napi::Object exports);  // callback/callbacks_js.cc: JS functions as C function pointers
// Keeps a PluginHost's dlswap_host alive for as long as the returned pointer lives: a loader job
// that may run plugin code (init, fini, a state transfer) holds one, so that the plugin's log calls
// never touch a host its environment freed meanwhile. Null for anything but a PluginHost.
std::shared_ptr<void> HostKeepAlive(Napi::Env env, Napi::Value host);

}  // namespace dlswap
