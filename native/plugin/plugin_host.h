// The dlswap_host a plugin's dlswap_init receives (include/dlswap.h), owned by a JS PluginHost.
#pragma once
#include <napi.h>

#include <memory>

namespace dlswap {

// Keeps a PluginHost's dlswap_host alive for as long as the returned pointer lives: a loader job
// that may run plugin code (init, fini, a state transfer) holds one, so that the plugin's log calls
// never touch a host its environment freed meanwhile. Null for anything but a PluginHost.
std::shared_ptr<void> HostKeepAlive(Napi::Env env, Napi::Value host);

}  // namespace dlswap
