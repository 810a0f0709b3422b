// The JS face of the loader's jobs (loader/load_job.h): open, retire and the handover's state
// transfer, inline on the JS thread (open(), the sync close) or on the loader thread with a promise
// (loader/job_channel.h). Specs arrive as plain objects that lib/ has already validated; results
// leave as plain objects that lib/ turns into Library, reports and coded errors.
#include <memory>
#include <string>
#include <vector>

#include "common/addon_data.h"
#include "common/errors.h"
#include "common/faults.h"
#include "common/js_values.h"
#include "common/exports.h"
#include "elf/elf_js.h"
#include "image/thread_scan.h"
#include "image/native_library.h"
#include "image/process_hooks.h"
#include "loader/dependencies_js.h"
#include "loader/job_channel.h"
#include "loader/job_timings.h"
#include "loader/load_job.h"
#include "loader/load_steps.h"
#include "loader/loader_pool.h"
#include "plugin/plugin_host.h"
#include "signals/fault_js.h"

namespace dlswap {

namespace {

// What a load's answer leaves to be read later (lib/load/load_details.ts): the ELF summary and the
// dependency plan, kept here and made into JS objects on their first read. A reload of a small plugin
// reads neither before its swap, and converting them was a fifth of its answer's cost.
struct LoadDetails {
  ElfInfoStruct elf;
  bool thread_local_destructors = false;
  DependencyPlan plan;
  ClosureCopies closure;
  std::vector<std::string> bound_to;
  std::vector<int> dep_nodes;
};

// Marks the externals this file made, so that loadDetails() refuses any other value.
constexpr napi_type_tag kLoadDetailsTag = {0x6c6f616464657461ULL, 0x696c73646c737770ULL};

Napi::Value DetailsHolder(Napi::Env env, LoadResult &r) {
  auto *d = new LoadDetails{std::move(r.elf),     r.thread_local_destructors, std::move(r.plan),
                            std::move(r.closure), std::move(r.bound_to),      r.dep_nodes};
  auto holder = Napi::External<LoadDetails>::New(env, d, [](Napi::Env, LoadDetails *p) { delete p; });
  if (napi_type_tag_object(env, holder, &kLoadDetailsTag) != napi_ok) throw Napi::Error::New(env);
  return holder;
}

// Whether a node of the plan has a file that LD_LIBRARY_PATH hid (lib/load/dependencies.ts warns).
bool AnyShadowed(const DependencyPlan &plan) {
  for (size_t i = 1; i < plan.nodes.size(); ++i) {
    if (!plan.nodes[i].shadowed.empty()) return true;
  }
  return false;
}

// loadDetails(holder) -> { elf, dependencies }: what a successful load's `details` holds.
Napi::Value LoadDetailsJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bool ours = false;
  if (info[0].Type() != napi_external || napi_check_object_type_tag(env, info[0], &kLoadDetailsTag, &ours) != napi_ok || !ours) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "loadDetails(holder): holder must be a load answer's details");
  }
  const LoadDetails &d = *info[0].As<Napi::External<LoadDetails>>().Data();
  Napi::Object elf = Napi::Object::New(env);
  SetDynamicNames(env, elf, d.elf);
  Fields(env)
      .Add("nodelete", d.elf.nodelete)
      .Add("uniqueSymbols", ToArray(env, d.elf.unique_symbols))
      .Add("threadLocalDestructors", d.thread_local_destructors)
      .Into(elf);
  return Fields(env).Add("elf", elf).Add("dependencies", DependenciesToJs(env, d.plan, &d.closure, &d.bound_to, d.dep_nodes)).Make();
}

}  // namespace

// A failure carries everything at once (it is read when it is reported). A success carries what the
// swap and the report read at once; the ELF summary and the plan stay here, in `details`.
Napi::Object ResultToJs(Napi::Env env, LoadResult &r) {
  Napi::Object o = Napi::Object::New(env);
  SetOutcome(o, r.error);
  Fields f(env);
  f.Add("phase", r.phase)
      .Add("copyMs", r.copy_ms)
      .Add("openMs", r.open_ms)
      .Add("verifyMs", r.verify_ms)
      .Add("depsMs", r.deps_ms)
      .Add("size", static_cast<double>(r.size));
  if (r.error.failed()) {
    f.Add("dlerror", r.dlerror)
        .Add("symbols", ToArray(env, r.symbols))
        .Add("loaderPath", r.loader_path)
        .Add("opened", r.opened)
        .Add("unloaded", r.undone_unloaded)
        .Add("refusedIn", r.refused_in)
        .Add("refusedInRegistry", r.refused_in_registry);
    if (!r.ended_call.empty()) {
      f.Add("ended", Fields(env).Add("call", r.ended_call).Add("by", r.ended_by).Add("in", r.ended_in).Add("image", r.ended_image).Make());
    }
    if (r.fault) f.Add("fault", FaultToJs(env, *r.fault));
    f.Into(o);
    return o;
  }
  Napi::Value lib = NativeLibrary::Wrap(env, r.lib);
  Napi::Array deps = Napi::Array::New(env, r.deps.size());
  for (size_t i = 0; i < r.deps.size(); ++i) deps.Set(static_cast<uint32_t>(i), NativeLibrary::Wrap(env, r.deps[i]));
  // Read before the holder takes the ELF summary and the plan.
  Napi::Value soname = OptString(env, r.elf.soname);
  Napi::Value build_id = OptString(env, r.elf.build_id);
  const bool shadowed = AnyShadowed(r.plan);
  Napi::Value details = DetailsHolder(env, r);
  f.Add("lib", lib)
      .Add("deps", deps)
      .Add("keepMapped", r.keep_mapped)
      .Add("originNote", r.origin_note)
      .Add("loaderPath", r.loader_path)
      .Add("realPath", r.real_path)
      .Add("sha256", r.sha256)
      .Add("mtimeMs", r.mtime_ms)
      .Add("hasVersion", r.has_version)
      .Add("version", r.version)
      .Add("initialized", r.initialized)
      .Add("abi", r.abi)
      .Add("soname", soname)
      .Add("buildId", build_id)
      .Add("shadowed", shadowed)
      .Add("details", details)
      .Into(o);
  return o;
}

namespace {

// { ok } and, when a step failed, { code, message, step }.
template <typename Result>
Napi::Object Outcome(Napi::Env env, const Result &r) {
  Napi::Object o = Napi::Object::New(env);
  SetOutcome(o, r.error);
  if (r.error.failed()) o.Set("step", r.step);
  return o;
}

}  // namespace

Napi::Object ResultToJs(Napi::Env env, const RetireResult &r) {
  Napi::Object o = Outcome(env, r);
  Napi::Array deps_mapped = Napi::Array::New(env, r.deps_mapped.size());
  for (size_t i = 0; i < r.deps_mapped.size(); ++i) deps_mapped.Set(static_cast<uint32_t>(i), Napi::Boolean::New(env, r.deps_mapped[i]));
  Fields f(env);
  f.Add("finalized", r.finalized)
      .Add("destructorsRan", r.destructors_ran)
      .Add("destructorsError", r.destructors_error)
      .Add("closed", r.closed)
      .Add("rc", r.rc)
      .Add("dlcloseError", r.dlclose_error)
      .Add("threads", ThreadNotesToJs(env, r.holders))
      .Add("heldSignals", ToArray(env, r.held_signals))
      .Add("heldKeys", ToArray(env, std::vector<int>(r.held_keys.begin(), r.held_keys.end())))
      .Add("restoredSignals", ToArray(env, r.restored_signals))
      .Add("restoredLocale", ToArray(env, r.restored_locale))
      .Add("altstackDisabled", r.altstack_disabled)
      .Add("stillLoaded", r.still_loaded)
      .Add("keptMapped", r.kept_mapped)
      .Add("depsMapped", deps_mapped)
      .Add("namespaceFreed", r.namespace_freed)
      .Add("finiMs", r.fini_ms)
      .Add("closeMs", r.close_ms)
      .Add("quarantined", r.quarantined);
  if (r.fault) f.Add("fault", FaultToJs(env, *r.fault));
  f.Into(o);
  return o;
}

Napi::Array ResultToJs(Napi::Env env, const RetireBatchResult &r) {
  Napi::Array a = Napi::Array::New(env, r.results.size());
  for (size_t i = 0; i < r.results.size(); ++i) a.Set(static_cast<uint32_t>(i), ResultToJs(env, r.results[i]));
  return a;
}

Napi::Object ResultToJs(Napi::Env env, const HandoverResult &r) {
  Napi::Object o = Outcome(env, r);
  o.Set("bytes", static_cast<double>(r.bytes));
  o.Set("transferred", r.transferred);
  o.Set("ms", r.ms);
  if (r.fault) o.Set("fault", FaultToJs(env, *r.fault));
  return o;
}

namespace {

// `v` parsed by `parse`, or, when `v` is the very array the last spec of this environment gave
// (lib/ freezes what it hands over, and hands the same array over while it does not change), what
// that one was parsed into: a reload of a small plugin would otherwise convert ~100 strings again.
// Only a frozen array is kept: one that can change is parsed each time.
bool IsFrozen(Napi::Env env, Napi::Value v) {
  Napi::Value is_frozen = env.Global().Get("Object").As<Napi::Object>().Get("isFrozen");
  return is_frozen.IsFunction() && is_frozen.As<Napi::Function>().Call({v}).ToBoolean();
}

template <typename T>
T Reparsed(Napi::Env env, AddonData::SpecPart &last, Napi::Value v, T (*parse)(Napi::Value)) {
  if (!last.given.IsEmpty() && v.IsObject() && last.given.Value().StrictEquals(v)) return *static_cast<const T *>(last.parsed.get());
  auto parsed = std::make_shared<const T>(parse(v));
  if (v.IsArray() && IsFrozen(env, v)) {
    last.given = Napi::Persistent(v.As<Napi::Object>());
    last.parsed = parsed;
  }
  return *parsed;
}

LoadSpec ParseLoadSpec(Napi::Env env, const Napi::CallbackInfo &info) {
  Napi::Value v = info[0];
  if (!v.IsObject()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "load(spec): spec must be an object");
  Napi::Object o = v.As<Napi::Object>();
  LoadSpec spec;
  if (!o.Get("path").IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "load(spec): spec.path must be a string");
  spec.path = o.Get("path").As<Napi::String>().Utf8Value();
  if (o.Get("tempBase").IsString()) spec.temp_base = o.Get("tempBase").As<Napi::String>().Utf8Value();
  if (o.Get("cwd").IsString()) spec.cwd = o.Get("cwd").As<Napi::String>().Utf8Value();
  AddonData &data = Data(env);
  Napi::Value environment = o.Get("environment");
  if (environment.IsArray()) {
    spec.environment = Reparsed(env, data.environment, environment, Strings);
    spec.has_environment = true;
  }
  spec.keep_copies = o.Get("keepCopies").ToBoolean();
  const int iso = o.Get("isolation").ToNumber().Int32Value();
  if (iso < 0 || iso > static_cast<int>(Isolation::FreshNamespace)) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "load(spec): unknown isolation code");
  }
  spec.isolation = static_cast<Isolation>(iso);
  if (o.Get("sha256").IsString()) spec.expect_sha256 = o.Get("sha256").As<Napi::String>().Utf8Value();
  if (o.Get("hash").IsBoolean()) spec.hash = o.Get("hash").As<Napi::Boolean>().Value();
  spec.refuse_imports = Strings(o.Get("refuseImports"));
  spec.refuse_node_init_fini = o.Get("refuseNodeInitFini").ToBoolean();
  spec.refuse_node_interposition = o.Get("refuseNodeInterposition").ToBoolean();
  spec.functions = Strings(o.Get("functions"));
  spec.share_dependencies = Strings(o.Get("shareDependencies"));
  spec.registries = Reparsed(env, data.registries, o.Get("registries"), RegistryRules);
  spec.allow_replaceable = o.Get("allowReplaceable").ToBoolean();
  spec.plugin = o.Get("plugin").ToBoolean();
  spec.abi_min = o.Get("abiMin").ToNumber().Uint32Value();
  spec.abi_max = o.Get("abiMax").ToNumber().Uint32Value();
  if (o.Get("initTimeoutMs").IsNumber()) spec.init_timeout_ms = o.Get("initTimeoutMs").As<Napi::Number>().DoubleValue();
  if (o.Get("finiTimeoutMs").IsNumber()) spec.fini_timeout_ms = o.Get("finiTimeoutMs").As<Napi::Number>().DoubleValue();
  spec.host_keepalive = HostKeepAlive(env, o.Get("pluginHostObject"));
  Napi::Value host = o.Get("pluginHost");
  if (host.IsBigInt()) {
    bool lossless = false;
    spec.plugin_host = reinterpret_cast<const void *>(static_cast<uintptr_t>(host.As<Napi::BigInt>().Uint64Value(&lossless)));
  }
  return spec;
}

// The images a retirement closes: the library and its dependencies (an array, or nothing).
void ParseImages(Napi::Env env, Napi::Value lib, Napi::Value deps, RetireSpec &spec) {
  spec.lib = NativeLibrary::From(env, lib);
  if (!deps.IsArray()) return;
  Napi::Array a = deps.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) spec.deps.push_back(NativeLibrary::From(env, a.Get(i)));
}

RetireSpec ParseRetireSpec(Napi::Env env, const Napi::CallbackInfo &info) {
  RetireSpec spec;
  ParseImages(env, info[0], info[1], spec);
  spec.run_fini = info[2].ToBoolean();
  if (info.Length() > 3 && info[3].IsNumber()) spec.fini_timeout_ms = info[3].As<Napi::Number>().DoubleValue();
  if (info.Length() > 4) spec.host_keepalive = HostKeepAlive(env, info[4]);
  if (info.Length() > 5) spec.keep_mapped = info[5].ToBoolean();
  if (spec.lib->in_flight.load() > 0) {
    throw CodedError(env, "ERR_DLSWAP_BUSY",
                     std::to_string(spec.lib->in_flight.load()) + " call(s) still running in this library; wait for them before closing");
  }
  // This (JS) thread made the sync calls: an alternate signal stack the library gave it is seen here.
  ObjectList mine;
  if (spec.lib->map && spec.lib->handle) mine.push_back(spec.lib->map);
  for (const LibraryRef &d : spec.deps) {
    if (d->map && d->handle && !d->copy_name.empty()) mine.push_back(d->map);
  }
  if (!spec.keep_mapped) spec.js_altstack_disabled = DisableAltStackIn(mine);
  // From here no call may start: the flag is read by every call path on this JS thread.
  spec.lib->closed = true;
  return spec;
}

HandoverSpec ParseHandoverSpec(Napi::Env env, const Napi::CallbackInfo &info) {
  HandoverSpec spec;
  spec.from = NativeLibrary::From(env, info[0]);
  spec.to = NativeLibrary::From(env, info[1]);
  if ((spec.from->closed && !spec.from->gated) || spec.to->closed)
    throw CodedError(env, "ERR_DLSWAP_CLOSED", "handover between closed libraries");
  spec.path = info[2].ToString().Utf8Value();
  spec.export_timeout_ms = info[3].ToNumber().DoubleValue();
  spec.import_timeout_ms = info[4].ToNumber().DoubleValue();
  if (info.Length() > 6) {
    spec.from_host = HostKeepAlive(env, info[5]);
    spec.to_host = HostKeepAlive(env, info[6]);
  }
  return spec;
}

// A job's result when its deadline passed, or when it was abandoned before it started.
void SetStep(LoadResult &r, const std::string &phase) { r.phase = phase; }
void SetStep(RetireResult &r, const std::string &step) { r.step = step; }
void SetStep(HandoverResult &r, const std::string &step) { r.step = step; }

template <typename Result>
std::unique_ptr<Result> TimedOut(const std::string &step, const std::string &why) {
  auto r = std::make_unique<Result>();
  Fail(r->error, "ERR_DLSWAP_TIMEOUT", why);
  SetStep(*r, step);
  return r;
}

// The deadline hooks of a job on the loader thread: past its bound, the library code it is in
// answers the promise with a timeout (the job goes on, and its late result is undone).
void ArmDeadline(LoadSpec &spec, const std::shared_ptr<Reply> &reply) {
  spec.on_timeout = [reply](const std::string &message, const std::string &phase) { reply->Answer(TimedOut<LoadResult>(phase, message)); };
}

void ArmDeadline(RetireSpec &spec, const std::shared_ptr<Reply> &reply) {
  spec.on_timeout = [reply](const std::string &message, const std::string &step) { reply->Answer(TimedOut<RetireResult>(step, message)); };
}

void ArmDeadline(HandoverSpec &spec, const std::shared_ptr<Reply> &reply) {
  spec.on_timeout = [reply, export_ms = spec.export_timeout_ms, import_ms = spec.import_timeout_ms](const std::string &step) {
    const double ms = step == "export" ? export_ms : import_ms;
    reply->Answer(TimedOut<HandoverResult>(step, Overran("dlswap_state_" + step, ms, false)));
  };
}

// The job inline, on this JS thread, in its fault scope.
template <typename Spec, typename Result>
Napi::Value RunHere(const Napi::CallbackInfo &info, Spec (*parse)(Napi::Env, const Napi::CallbackInfo &),
                    void (*run)(const Spec &, Result &)) {
  Napi::Env env = info.Env();
  FaultScope scope(static_cast<napi_env>(env));
  Spec spec = parse(env, info);
  Result r;
  run(spec, r);
  return ResultToJs(env, r);
}

// The job on the loader thread. `first_step` names where a job abandoned before it started stopped.
template <typename Spec, typename Result>
Napi::Value RunOnLoader(const Napi::CallbackInfo &info, Spec (*parse)(Napi::Env, const Napi::CallbackInfo &),
                        void (*run)(const Spec &, Result &), const char *first_step) {
  Napi::Env env = info.Env();
  Spec spec = parse(env, info);
  return Submit(
      env,
      // Moved, not copied: a load spec holds the environment and the registry rules.
      [spec = std::move(spec), run, first_step, queued = MonotonicMs()](std::shared_ptr<Reply> reply) mutable {
        JobTimer timer(first_step, queued);
        ArmDeadline(spec, reply);
        auto r = std::make_unique<Result>();
        run(spec, *r);
        timer.End();
        reply->Answer(std::move(r));
      },
      [first_step](std::shared_ptr<Reply> reply) { reply->Answer(TimedOut<Result>(first_step, "abandoned before it started")); });
}

Napi::Value LoadSyncJs(const Napi::CallbackInfo &info) { return RunHere(info, ParseLoadSpec, RunLoad); }
Napi::Value LoadAsyncJs(const Napi::CallbackInfo &info) { return RunOnLoader(info, ParseLoadSpec, RunLoad, "loading"); }
Napi::Value RetireSyncJs(const Napi::CallbackInfo &info) { return RunHere(info, ParseRetireSpec, RunRetire); }
Napi::Value RetireAsyncJs(const Napi::CallbackInfo &info) { return RunOnLoader(info, ParseRetireSpec, RunRetire, "fini"); }
Napi::Value HandoverSyncJs(const Napi::CallbackInfo &info) { return RunHere(info, ParseHandoverSpec, RunHandover); }
Napi::Value HandoverAsyncJs(const Napi::CallbackInfo &info) { return RunOnLoader(info, ParseHandoverSpec, RunHandover, "export"); }

// A batch of `n` retirements none of which went on, each failed at `step` with `error_of(i)`.
template <typename ErrorOf>
std::unique_ptr<RetireBatchResult> FailedBatch(size_t n, const std::string &step, ErrorOf error_of) {
  auto r = std::make_unique<RetireBatchResult>();
  r->results.resize(n);
  for (size_t i = 0; i < n; ++i) {
    r->results[i].error = error_of(i);
    r->results[i].step = step;
  }
  return r;
}

// retireHeldAsync([[lib, deps[], keepMapped], ...], finiTimeoutMs): images a retirement left mapped
// because threads held them, looked at again together (RunRetireHeld). In the background: the
// promise does not keep the event loop alive.
Napi::Value RetireHeldAsyncJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "retireHeldAsync(entries): entries must be an array");
  Napi::Array entries = info[0].As<Napi::Array>();
  const double fini_timeout_ms = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
  std::vector<RetireSpec> specs;
  for (uint32_t i = 0; i < entries.Length(); ++i) {
    Napi::Value e = entries.Get(i);
    if (!e.IsArray()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "retireHeldAsync(entries): each entry must be [lib, deps, keepMapped]");
    Napi::Array entry = e.As<Napi::Array>();
    RetireSpec spec;
    ParseImages(env, entry.Get(0u), entry.Get(1u), spec);
    spec.keep_mapped = entry.Get(2u).ToBoolean();
    spec.fini_timeout_ms = fini_timeout_ms;
    if (spec.lib->in_flight.load() > 0 || !spec.lib->closed) {
      throw CodedError(env, "ERR_DLSWAP_INTERNAL", "retireHeldAsync: only an image a retirement closed to calls can be looked at again");
    }
    specs.push_back(std::move(spec));
  }
  return Submit(
      env,
      [specs](std::shared_ptr<Reply> reply) mutable {
        // A destructor that overran answers for the whole batch: that image's result says so, the
        // others were not closed and are looked at again later.
        for (size_t i = 0; i < specs.size(); ++i) {
          specs[i].on_timeout = [reply, i, n = specs.size()](const std::string &message, const std::string &step) {
            reply->Answer(FailedBatch(n, step, [&](size_t j) {
              return j == i ? NativeError{"ERR_DLSWAP_TIMEOUT", message}
                            : NativeError{"ERR_DLSWAP_BUSY", "not looked at: another image's destructors overran"};
            }));
          };
        }
        auto r = std::make_unique<RetireBatchResult>();
        RunRetireHeld(specs, r->results);
        reply->Answer(std::move(r));
      },
      [n = specs.size()](std::shared_ptr<Reply> reply) {
        reply->Answer(FailedBatch(n, "dlclose", [](size_t) { return NativeError{"ERR_DLSWAP_BUSY", "abandoned before it started"}; }));
      },
      false);
}

// threadScanStats(): what the scans for threads in an image have cost so far (image/thread_scan.h).
Napi::Value ThreadScanStatsJs(const Napi::CallbackInfo &info) {
  const ScanCounters c = ScanCountersNow();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("scans", static_cast<double>(c.scans));
  o.Set("threads", static_cast<double>(c.threads));
  o.Set("sampled", static_cast<double>(c.sampled));
  o.Set("quiet", static_cast<double>(c.quiet));
  return o;
}

// jobTimings(on?): turns the loader jobs' timings on or off (loader/job_timings.h) when given a
// boolean, and returns those of the jobs that ended since the last call, for bench/reload.mjs:
// [{ kind, queuedAt, startedAt, endedAt (ms, the clock of process.hrtime), steps: [[name, ms]...] }].
Napi::Value JobTimingsJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsBoolean()) SetJobTimings(info[0].As<Napi::Boolean>().Value());
  const std::vector<JobTiming> jobs = TakeJobTimings();
  Napi::Array out = Napi::Array::New(env, jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", jobs[i].kind);
    o.Set("queuedAt", jobs[i].queued_at);
    o.Set("startedAt", jobs[i].started_at);
    o.Set("endedAt", jobs[i].ended_at);
    Napi::Array steps = Napi::Array::New(env, jobs[i].steps.size());
    for (size_t j = 0; j < jobs[i].steps.size(); ++j) {
      Napi::Array step = Napi::Array::New(env, 2);
      step.Set(0u, jobs[i].steps[j].first);
      step.Set(1u, jobs[i].steps[j].second);
      steps.Set(static_cast<uint32_t>(j), step);
    }
    o.Set("steps", steps);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value AbandonJobJs(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), LoaderPool::Abandon(static_cast<uint64_t>(info[0].ToNumber().Int64Value())));
}

Napi::Value AbandonedThreadsJs(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), LoaderPool::AbandonedRunning()); }

}  // namespace

void RegisterLoaderJobs(Napi::Env env, Napi::Object exports) {
  Export(env, exports,
         {{"loadSync", LoadSyncJs},
          {"loadAsync", LoadAsyncJs},
          {"retireSync", RetireSyncJs},
          {"retireAsync", RetireAsyncJs},
          {"handoverSync", HandoverSyncJs},
          {"handoverAsync", HandoverAsyncJs},
          {"abandonJob", AbandonJobJs},
          {"abandonedLoaderThreads", AbandonedThreadsJs},
          {"retireHeldAsync", RetireHeldAsyncJs},
          {"threadScanStats", ThreadScanStatsJs},
          {"jobTimings", JobTimingsJs},
          {"loadDetails", LoadDetailsJs}});
}

}  // namespace dlswap
