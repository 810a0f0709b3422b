// The fault table (common/faults.h) as lib/faults.ts drives it: arm, clear, list, and the points
// reached on the JS thread.
#include <cmath>
#include <string>

#include "common/addon_data.h"
#include "common/faults.h"
#include "common/js_values.h"
#include "common/exports.h"

namespace dlswap {

namespace {

Napi::Value ArmFaultJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string point = info[0].As<Napi::String>().Utf8Value();
  const std::string action = info[1].As<Napi::String>().Utf8Value();
  const FaultAction a = action == "kill"        ? FaultAction::Kill
                        : action == "hang"      ? FaultAction::Hang
                        : action == "terminate" ? FaultAction::Terminate
                                                : FaultAction::Throw;
  const double times = info[3].ToNumber().DoubleValue();
  ArmFault(static_cast<napi_env>(env), point, a, info[2].ToNumber().Int64Value(), std::isfinite(times) ? static_cast<long>(times) : -1);
  return env.Undefined();
}

Napi::Value ClearFaultsJs(const Napi::CallbackInfo &info) {
  ClearFaults(static_cast<napi_env>(info.Env()));
  return info.Env().Undefined();
}

Napi::Value SetTerminatorJs(const Napi::CallbackInfo &info) {
  if (info[0].IsFunction()) Data(info.Env()).terminator = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value ArmedFaultsJs(const Napi::CallbackInfo &info) { return ToArray(info.Env(), ArmedFaults(static_cast<napi_env>(info.Env()))); }

// A point reached on the JS thread: 'throw' for the caller to raise; kill and hang act here.
Napi::Value HitFaultJs(const Napi::CallbackInfo &info) {
  const std::string point = info[0].As<Napi::String>().Utf8Value();
  FaultScope scope(static_cast<napi_env>(info.Env()));
  const FaultAction a = HitFault(point.c_str());
  return Napi::String::New(info.Env(), a == FaultAction::Throw ? "throw" : a == FaultAction::Terminate ? "terminate" : "");
}

}  // namespace

void RegisterFaults(Napi::Env env, Napi::Object exports) {
  Export(env, exports,
         {{"armFault", ArmFaultJs},
          {"clearFaults", ClearFaultsJs},
          {"setTerminator", SetTerminatorJs},
          {"armedFaults", ArmedFaultsJs},
          {"hitFault", HitFaultJs}});
}

}  // namespace dlswap
