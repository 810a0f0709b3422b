// ProcMaps for the tests: the mappings around an address as the ioctl and as the text say them,
// so that the two can be checked against each other on the machine the suite runs on.
#include "common/exports.h"
#include "common/proc_maps.h"

namespace dlswap {

namespace {

// mappingRun(address, source: 'best' | 'text') -> { queried, run: [{ start, end, exec, file }] }
Napi::Value MappingRunJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bool lossless = false;
  const uint64_t address = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  const bool text = info[1].IsString() && info[1].As<Napi::String>().Utf8Value() == "text";
  ProcMaps maps(text ? ProcMaps::Source::Text : ProcMaps::Source::Best);
  const std::vector<Mapping> run = maps.FileRun(static_cast<uintptr_t>(address));
  Napi::Array out = Napi::Array::New(env, run.size());
  for (size_t i = 0; i < run.size(); ++i) {
    Napi::Object m = Napi::Object::New(env);
    m.Set("start", Napi::BigInt::New(env, static_cast<uint64_t>(run[i].start)));
    m.Set("end", Napi::BigInt::New(env, static_cast<uint64_t>(run[i].end)));
    m.Set("exec", run[i].exec);
    m.Set("file", run[i].file);
    out.Set(static_cast<uint32_t>(i), m);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("queried", maps.Queried());
  result.Set("run", out);
  return result;
}

}  // namespace

void RegisterProcMaps(Napi::Env env, Napi::Object exports) { Export(env, exports, {{"mappingRun", MappingRunJs}}); }

}  // namespace dlswap
