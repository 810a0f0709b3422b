// What JS sees of a contained fault: the ERR_DLSWAP_FAULT error (with its `fault` record), the
// ERR_DLSWAP_FAULTED refusal of a quarantined library, and the environment's fault listener that
// lib/ registers (lib/containment.ts), told of every fault before the caller sees the error.
#pragma once
#include <napi.h>
#include <node_api.h>

#include <memory>
#include <string>

#include "signals/fault_record.h"

namespace dlswap {

struct LibraryHandle;
struct FunctionRecord;

// The record as JS values (the `fault` of the errors below; lib/containment.ts FaultInfo).
Napi::Object FaultToJs(Napi::Env env, const FaultRecord &record);

// The error of a call that faulted: code ERR_DLSWAP_FAULT, `fault` the record as JS values.
napi_value MakeFaultError(napi_env env, const FaultRecord &record);

// The sync paths' ending of a call whose frame came back with a fault: symbolizes it, quarantines
// `lib`, tells the listener, and throws. Returns nullptr (for `return HandleSyncFault(...)`).
napi_value HandleSyncFault(napi_env env, const std::string &function, LibraryHandle &lib, const ThreadFaults &thread);

// Tells the environment's fault listener (if lib/ registered one) that `lib` faulted: called on
// the JS thread before the error is thrown or the promise rejected. Never throws.
void NotifyFault(napi_env env, const LibraryHandle &lib, napi_value error);

// Throws ERR_DLSWAP_FAULTED for a call of `function` refused because `lib` is quarantined.
napi_value ThrowFaulted(napi_env env, const std::string &function, const LibraryHandle &lib);
napi_value MakeFaultedError(napi_env env, const std::string &function, const LibraryHandle &lib);

}  // namespace dlswap
