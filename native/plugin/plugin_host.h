// The dlswap_host a plugin's dlswap_init receives (include/dlswap.h), owned by a JS PluginHost.
#pragma once
#include <napi.h>

#include <cstddef>
#include <memory>

namespace dlswap {

// The bound of a plugin's log lines waiting for the JS thread (docs/reliability.md): a plugin
// thread that logs faster than JS takes its lines must not grow the process without limit (one
// logging in a loop queued 5.95 M lines, 1.1 GB, in 4 s). Exported as WIRE.logQueue.
constexpr size_t kLogQueueLines = 10'000;
constexpr size_t kLogQueueBytes = size_t(4) << 20;  // of text

// Keeps a PluginHost's dlswap_host alive for as long as the returned pointer lives: a loader job
// that may run plugin code (init, fini, a state transfer) holds one, so that the plugin's log calls
// never touch a host its environment freed meanwhile. Null for anything but a PluginHost.
std::shared_ptr<void> HostKeepAlive(Napi::Env env, Napi::Value host);

}  // namespace dlswap
