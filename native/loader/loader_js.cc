// The JS face of the loader: open (inline or on the loader thread), retire, the private area and
// the fault table. Specs arrive as plain objects that lib/ has already validated; results leave as
// plain objects that lib/ turns into Library, reports and coded errors.
#include <napi.h>

#include <cmath>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <algorithm>

#include "common/addon_data.h"
#include "common/errors.h"
#include "common/faults.h"
#include "common/js_values.h"
#include "elf/elf_js.h"
#include "common/module.h"
#include "image/native_library.h"
#include "loader/dynamic_names.h"
#include "loader/load_job.h"
#include "loader/loader_pool.h"
#include "loader/private_area.h"
#include "loader/source_copy.h"

#include <fcntl.h>
#include <unistd.h>

namespace dlswap {

// The plan's nodes after the library itself, as lib/ shows them (LibraryInfo.dependencies, inspect).
// With a load's closure: each private node's copy and new name, what each was bound to, and which
// entry of `deps` (the loaded images) it is.
Napi::Array DependenciesToJs(Napi::Env env, const DependencyPlan &plan, const ClosureCopies *closure,
                             const std::vector<std::string> *bound_to, const std::vector<int> &dep_nodes) {
  Napi::Array a = Napi::Array::New(env);
  for (size_t i = 1; i < plan.nodes.size(); ++i) {
    const DependencyNode &n = plan.nodes[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", n.needed);
    o.Set("kind", KindName(n.kind));
    o.Set("reason", n.reason);
    o.Set("path", StringOrNull(env, n.path));
    o.Set("file", StringOrNull(env, n.file));
    o.Set("foundVia", StringOrNull(env, n.found_via));
    o.Set("searchEntry", StringOrNull(env, n.search_entry));
    o.Set("shadowed", StringOrNull(env, n.shadowed));
    o.Set("requiredBy", n.requester <= 0 ? env.Null() : Napi::Value(Napi::String::New(env, plan.nodes[n.requester].needed)));
    o.Set("soname", OptString(env, n.soname));
    o.Set("buildId", OptString(env, n.build_id));
    o.Set("nodelete", n.nodelete);
    o.Set("uniqueSymbols", static_cast<double>(n.unique_symbols));
    Napi::Array needs = Napi::Array::New(env);
    for (const DependencyEdge &e : plan.edges) {
      if (e.from == static_cast<int>(i)) needs.Set(needs.Length(), plan.nodes[e.to].needed);
    }
    o.Set("needs", needs);
    o.Set("copy", env.Null());
    o.Set("privateName", env.Null());
    if (closure) {
      for (const ClosureCopy &c : closure->copies) {
        if (c.node != static_cast<int>(i)) continue;
        o.Set("copy", PrivateDirPath() + "/" + c.copy.name);
        o.Set("privateName", c.new_soname.empty() ? (c.aliases.empty() ? std::string() : c.aliases[0]) : c.new_soname);
      }
    }
    if (bound_to) o.Set("boundTo", StringOrNull(env, (*bound_to)[i]));
    auto d = std::find(dep_nodes.begin(), dep_nodes.end(), static_cast<int>(i));
    o.Set("image", d == dep_nodes.end() ? env.Null() : Napi::Value(Napi::Number::New(env, double(d - dep_nodes.begin()))));
    a.Set(a.Length(), o);
  }
  return a;
}

namespace {

LoadSpec ParseLoadSpec(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "load(spec): spec must be an object");
  Napi::Object o = v.As<Napi::Object>();
  LoadSpec spec;
  if (!o.Get("path").IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "load(spec): spec.path must be a string");
  spec.path = o.Get("path").As<Napi::String>().Utf8Value();
  if (o.Get("tempBase").IsString()) spec.temp_base = o.Get("tempBase").As<Napi::String>().Utf8Value();
  const int iso = o.Get("isolation").ToNumber().Int32Value();
  if (iso < 0 || iso > 3) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "load(spec): unknown isolation code");
  spec.isolation = static_cast<Isolation>(iso);
  if (o.Get("sha256").IsString()) spec.expect_sha256 = o.Get("sha256").As<Napi::String>().Utf8Value();
  spec.refuse_imports = Strings(o.Get("refuseImports"));
  spec.refuse_node_init_fini = o.Get("refuseNodeInitFini").ToBoolean();
  spec.refuse_node_interposition = o.Get("refuseNodeInterposition").ToBoolean();
  spec.functions = Strings(o.Get("functions"));
  spec.share_dependencies = Strings(o.Get("shareDependencies"));
  spec.plugin = o.Get("plugin").ToBoolean();
  spec.abi_min = o.Get("abiMin").ToNumber().Uint32Value();
  spec.abi_max = o.Get("abiMax").ToNumber().Uint32Value();
  if (o.Get("initTimeoutMs").IsNumber()) spec.init_timeout_ms = o.Get("initTimeoutMs").As<Napi::Number>().DoubleValue();
  spec.host_keepalive = HostKeepAlive(env, o.Get("pluginHostObject"));
  Napi::Value host = o.Get("pluginHost");
  if (host.IsBigInt()) {
    bool lossless = false;
    spec.plugin_host = reinterpret_cast<const void *>(static_cast<uintptr_t>(host.As<Napi::BigInt>().Uint64Value(&lossless)));
  }
  return spec;
}

Napi::Object LoadResultToJs(Napi::Env env, LoadResult &r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", r.code.empty());
  o.Set("phase", r.phase);
  o.Set("copyMs", r.copy_ms);
  o.Set("openMs", r.open_ms);
  o.Set("verifyMs", r.verify_ms);
  o.Set("depsMs", r.deps_ms);
  o.Set("size", static_cast<double>(r.size));
  if (!r.code.empty()) {
    o.Set("code", r.code);
    o.Set("message", r.message);
    o.Set("dlerror", r.dlerror);
    o.Set("symbols", ToArray(env, r.symbols));
    o.Set("loaderPath", r.loader_path);
    o.Set("opened", r.opened);
    o.Set("unloaded", r.undone_unloaded);
    o.Set("refusedIn", r.refused_in);
    return o;
  }
  o.Set("lib", NativeLibrary::Wrap(env, r.lib));
  Napi::Array deps = Napi::Array::New(env, r.deps.size());
  for (size_t i = 0; i < r.deps.size(); ++i) deps.Set(static_cast<uint32_t>(i), NativeLibrary::Wrap(env, r.deps[i]));
  o.Set("deps", deps);
  o.Set("dependencies", DependenciesToJs(env, r.plan, &r.closure, &r.bound_to, r.dep_nodes));
  o.Set("keepMapped", r.keep_mapped);
  o.Set("realPath", r.real_path);
  o.Set("sha256", r.sha256);
  o.Set("mtimeMs", r.mtime_ms);
  o.Set("hasVersion", r.has_version);
  o.Set("version", r.version);
  o.Set("initialized", r.initialized);
  o.Set("abi", r.abi);
  const ElfInfoStruct &e = r.elf;
  Napi::Object elf = Napi::Object::New(env);
  SetDynamicNames(env, elf, e);
  elf.Set("nodelete", e.nodelete);
  elf.Set("uniqueSymbols", ToArray(env, e.unique_symbols));
  elf.Set("threadLocalDestructors", r.thread_local_destructors);
  o.Set("elf", elf);
  return o;
}

RetireSpec ParseRetireSpec(Napi::Env env, const Napi::CallbackInfo &info) {
  RetireSpec spec;
  spec.lib = NativeLibrary::From(env, info[0]);
  if (info[1].IsArray()) {
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) spec.deps.push_back(NativeLibrary::From(env, a.Get(i)));
  }
  spec.run_fini = info[2].ToBoolean();
  if (info.Length() > 3 && info[3].IsNumber()) spec.fini_timeout_ms = info[3].As<Napi::Number>().DoubleValue();
  if (info.Length() > 4) spec.host_keepalive = HostKeepAlive(env, info[4]);
  if (info.Length() > 5) spec.keep_mapped = info[5].ToBoolean();
  if (spec.lib->in_flight.load() > 0) {
    throw CodedError(env, "ERR_DLSWAP_BUSY", std::to_string(spec.lib->in_flight.load()) +
                                                 " call(s) still running in this library; wait for them before closing");
  }
  // From here no call may start: the flag is read by every call path on this JS thread.
  spec.lib->closed = true;
  return spec;
}

Napi::Object RetireResultToJs(Napi::Env env, const RetireResult &r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", r.code.empty());
  if (!r.code.empty()) {
    o.Set("code", r.code);
    o.Set("message", r.message);
    o.Set("step", r.step);
  }
  o.Set("finalized", r.finalized);
  o.Set("closed", r.closed);
  o.Set("rc", r.rc);
  o.Set("dlcloseError", r.dlclose_error);
  Napi::Array threads = Napi::Array::New(env, r.holders.size());
  for (size_t i = 0; i < r.holders.size(); ++i) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("tid", r.holders[i].tid);
    t.Set("name", r.holders[i].name);
    t.Set("why", r.holders[i].why);
    threads.Set(static_cast<uint32_t>(i), t);
  }
  o.Set("threads", threads);
  o.Set("stillLoaded", r.still_loaded);
  o.Set("keptMapped", r.kept_mapped);
  Napi::Array deps_mapped = Napi::Array::New(env, r.deps_mapped.size());
  for (size_t i = 0; i < r.deps_mapped.size(); ++i) deps_mapped.Set(static_cast<uint32_t>(i), Napi::Boolean::New(env, r.deps_mapped[i]));
  o.Set("depsMapped", deps_mapped);
  o.Set("namespaceFreed", r.namespace_freed);
  o.Set("finiMs", r.fini_ms);
  o.Set("closeMs", r.close_ms);
  return o;
}

Napi::Object HandoverResultToJs(Napi::Env env, const HandoverResult &r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", r.code.empty());
  if (!r.code.empty()) {
    o.Set("code", r.code);
    o.Set("message", r.message);
    o.Set("step", r.step);
  }
  o.Set("bytes", static_cast<double>(r.bytes));
  o.Set("transferred", r.transferred);
  o.Set("ms", r.ms);
  return o;
}

HandoverSpec ParseHandoverSpec(Napi::Env env, const Napi::CallbackInfo &info) {
  HandoverSpec spec;
  spec.from = NativeLibrary::From(env, info[0]);
  spec.to = NativeLibrary::From(env, info[1]);
  if ((spec.from->closed && !spec.from->gated) || spec.to->closed) throw CodedError(env, "ERR_DLSWAP_CLOSED", "handover between closed libraries");
  spec.path = info[2].ToString().Utf8Value();
  spec.export_timeout_ms = info[3].ToNumber().DoubleValue();
  spec.import_timeout_ms = info[4].ToNumber().DoubleValue();
  if (info.Length() > 6) {
    spec.from_host = HostKeepAlive(env, info[5]);
    spec.to_host = HostKeepAlive(env, info[6]);
  }
  return spec;
}

// ---- completions: from the loader thread back to this environment's JS thread -------------------

struct Completion {
  bool terminate = false;  // the 'terminate' fault: stop this environment's thread (a worker)
  napi_deferred deferred = nullptr;
  std::unique_ptr<LoadResult> load;
  std::unique_ptr<RetireResult> retire;
  std::unique_ptr<HandoverResult> handover;
};

// Undoes a load nobody will receive (its environment is gone, or it timed out and was answered
// already): what the caller would have closed.
void Dispose(std::unique_ptr<LoadResult> &load) {
  if (!load || !load->lib) return;
  RetireSpec spec;
  spec.lib = load->lib;
  spec.deps = load->deps;
  spec.run_fini = load->initialized;
  spec.host_keepalive = load->host_keepalive;
  spec.keep_mapped = !load->keep_mapped.empty();
  RetireResult ignored;
  RunRetire(spec, ignored);
}

// One per environment (each worker_thread has its own). Jobs hold it; when the environment is torn
// down, `alive` goes false under the mutex and nothing is posted to its threadsafe function again.
struct EnvLink {
  std::mutex mutex;
  std::condition_variable gone;  // signalled when `alive` goes false
  napi_threadsafe_function tsfn = nullptr;
  bool alive = false;
  int pending = 0;  // jobs in flight: the loop is kept alive while there are any (JS thread only)

  // The 'terminate' fault reached by a job: asks the environment's thread to stop (process.exit()
  // in a worker, as worker.terminate() would), then waits for its teardown, so that the job goes on
  // with nobody left to take its result, as in a real termination.
  void TerminateAndWait() {
    std::unique_lock<std::mutex> lock(mutex);
    auto *c = new Completion();
    c->terminate = true;
    if (!alive || napi_call_threadsafe_function(tsfn, c, napi_tsfn_nonblocking) != napi_ok) {
      delete c;
      return;
    }
    gone.wait_for(lock, std::chrono::seconds(10), [this] { return !alive; });
  }

  void Post(Completion *c) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (alive && napi_call_threadsafe_function(tsfn, c, napi_tsfn_nonblocking) == napi_ok) return;
    }
    Dispose(c->load);
    delete c;
  }
};

// The answer to one job's promise, given once: by the job, or earlier by its deadline.
struct Reply {
  std::shared_ptr<EnvLink> link;
  napi_deferred deferred = nullptr;
  std::atomic<bool> claimed{false};

  void Load(std::unique_ptr<LoadResult> r) {
    if (claimed.exchange(true)) {  // answered already (timeout): nobody will use this image
      Dispose(r);
      return;
    }
    auto *c = new Completion();
    c->deferred = deferred;
    c->load = std::move(r);
    link->Post(c);
  }
  void Retire(std::unique_ptr<RetireResult> r) {
    if (claimed.exchange(true)) return;
    auto *c = new Completion();
    c->deferred = deferred;
    c->retire = std::move(r);
    link->Post(c);
  }
  void Handover(std::unique_ptr<HandoverResult> r) {
    if (claimed.exchange(true)) return;
    auto *c = new Completion();
    c->deferred = deferred;
    c->handover = std::move(r);
    link->Post(c);
  }
};

void CallJs(napi_env env, napi_value, void *context, void *data) {
  std::unique_ptr<Completion> c(static_cast<Completion *>(data));
  auto *link = static_cast<EnvLink *>(context);
  if (env == nullptr) {  // the environment is going away
    Dispose(c->load);
    return;
  }
  // Nothing may throw out of here: this runs from node's event loop, not from a JS call, and an
  // environment that is being terminated (worker.terminate(), process.exit() in a worker) makes
  // every Node-API call fail.
  try {
    Napi::Env e(env);
    Napi::HandleScope scope(e);
    if (c->terminate) {
      // lib/faults.ts registered what 'terminate' means in this environment.
      AddonData &data = Data(e);
      if (!data.terminator.IsEmpty()) data.terminator.Call({});
      return;
    }
    if (--link->pending == 0) napi_unref_threadsafe_function(env, link->tsfn);
    try {
      Napi::Value v = c->load      ? Napi::Value(LoadResultToJs(e, *c->load))
                       : c->retire ? Napi::Value(RetireResultToJs(e, *c->retire))
                                   : Napi::Value(HandoverResultToJs(e, *c->handover));
      napi_resolve_deferred(env, c->deferred, v);
    } catch (const Napi::Error &err) {
      napi_reject_deferred(env, c->deferred, err.Value());
    }
  } catch (...) {
    // The result cannot reach JS any more: undo what it holds.
    Dispose(c->load);
  }
}

std::shared_ptr<EnvLink> LinkOf(Napi::Env env) {
  AddonData &data = Data(env);
  if (data.loader_link) return std::static_pointer_cast<EnvLink>(data.loader_link);
  auto link = std::make_shared<EnvLink>();
  napi_value name;
  napi_create_string_utf8(env, "dlswap.loader", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, link.get(), CallJs, &link->tsfn) != napi_ok) {
    throw CodedError(env, "ERR_DLSWAP_INTERNAL", "cannot create the loader's completion channel");
  }
  napi_unref_threadsafe_function(env, link->tsfn);
  link->alive = true;
  // Teardown order: this hook runs before node finalises the threadsafe function, so nothing can
  // post to it after it is gone; a job that completes later disposes of its own result.
  env.AddCleanupHook([link] {
    std::lock_guard<std::mutex> lock(link->mutex);
    if (!link->alive) return;
    link->alive = false;
    napi_release_threadsafe_function(link->tsfn, napi_tsfn_abort);
    link->gone.notify_all();
  });
  data.loader_link = link;
  return link;
}

// A promise for one loader job, and the reply that settles it. Returns { promise, id }.
Napi::Value Submit(Napi::Env env, std::shared_ptr<Reply> &reply_out,
                   std::function<void(std::shared_ptr<Reply>)> run, std::function<void(std::shared_ptr<Reply>)> cancelled) {
  auto reply = std::make_shared<Reply>();
  reply->link = LinkOf(env);
  napi_value promise;
  if (napi_create_promise(env, &reply->deferred, &promise) != napi_ok) {
    throw CodedError(env, "ERR_DLSWAP_INTERNAL", "cannot create a promise");
  }
  if (reply->link->pending++ == 0) napi_ref_threadsafe_function(env, reply->link->tsfn);
  reply_out = reply;
  const void *owner = static_cast<napi_env>(env);
  const uint64_t id = LoaderPool::Submit(
      [run, reply, owner]() {
        FaultScope scope(owner);
        SetTerminateHandler([reply] { reply->link->TerminateAndWait(); });
        run(reply);
        SetTerminateHandler(nullptr);
      },
      [cancelled, reply]() { cancelled(reply); });
  Napi::Object out = Napi::Object::New(env);
  out.Set("promise", Napi::Value(env, promise));
  out.Set("id", static_cast<double>(id));
  return out;
}

std::unique_ptr<LoadResult> Abandoned(const std::string &what) {
  auto r = std::make_unique<LoadResult>();
  r->code = "ERR_DLSWAP_TIMEOUT";
  r->message = what;
  return r;
}

Napi::Value LoadSyncJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  FaultScope scope(static_cast<napi_env>(env));
  LoadSpec spec = ParseLoadSpec(env, info[0]);
  LoadResult r;
  RunLoad(spec, r);
  return LoadResultToJs(env, r);
}

Napi::Value LoadAsyncJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  LoadSpec spec = ParseLoadSpec(env, info[0]);
  std::shared_ptr<Reply> reply;
  return Submit(
      env, reply,
      [spec](std::shared_ptr<Reply> reply) mutable {
        spec.on_init_timeout = [reply, path = spec.path, ms = spec.init_timeout_ms]() {
          auto r = Abandoned("dlswap_init of " + path + " did not return within " + std::to_string(static_cast<long>(ms)) + " ms");
          r->phase = "verifying";
          reply->Load(std::move(r));
        };
        auto r = std::make_unique<LoadResult>();
        RunLoad(spec, *r);
        reply->Load(std::move(r));
      },
      [](std::shared_ptr<Reply> reply) { reply->Load(Abandoned("abandoned before it started")); });
}

Napi::Value RetireSyncJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  FaultScope scope(static_cast<napi_env>(env));
  RetireSpec spec = ParseRetireSpec(env, info);
  RetireResult r;
  RunRetire(spec, r);
  return RetireResultToJs(env, r);
}

Napi::Value RetireAsyncJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  RetireSpec spec = ParseRetireSpec(env, info);
  std::shared_ptr<Reply> reply;
  auto timeout = [](const std::string &why) {
    auto r = std::make_unique<RetireResult>();
    r->code = "ERR_DLSWAP_TIMEOUT";
    r->message = why;
    r->step = "fini";
    return r;
  };
  return Submit(
      env, reply,
      [spec, timeout](std::shared_ptr<Reply> reply) mutable {
        spec.on_fini_timeout = [reply, timeout, ms = spec.fini_timeout_ms]() {
          reply->Retire(timeout("dlswap_fini did not return within " + std::to_string(static_cast<long>(ms)) + " ms"));
        };
        auto r = std::make_unique<RetireResult>();
        RunRetire(spec, *r);
        reply->Retire(std::move(r));
      },
      [timeout](std::shared_ptr<Reply> reply) { reply->Retire(timeout("abandoned before it started")); });
}

Napi::Value HandoverSyncJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  FaultScope scope(static_cast<napi_env>(env));
  HandoverSpec spec = ParseHandoverSpec(env, info);
  HandoverResult r;
  RunHandover(spec, r);
  return HandoverResultToJs(env, r);
}

Napi::Value HandoverAsyncJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  HandoverSpec spec = ParseHandoverSpec(env, info);
  std::shared_ptr<Reply> reply;
  auto timeout = [](const std::string &step, const std::string &why) {
    auto r = std::make_unique<HandoverResult>();
    r->code = "ERR_DLSWAP_TIMEOUT";
    r->message = why;
    r->step = step;
    return r;
  };
  return Submit(
      env, reply,
      [spec, timeout](std::shared_ptr<Reply> reply) mutable {
        spec.on_timeout = [reply, timeout, spec](const std::string &step) {
          const double ms = step == "export" ? spec.export_timeout_ms : spec.import_timeout_ms;
          reply->Handover(timeout(step, "dlswap_state_" + step + " did not return within " + std::to_string(static_cast<long>(ms)) + " ms"));
        };
        auto r = std::make_unique<HandoverResult>();
        RunHandover(spec, *r);
        reply->Handover(std::move(r));
      },
      [timeout](std::shared_ptr<Reply> reply) { reply->Handover(timeout("export", "abandoned before it started")); });
}

Napi::Value AbandonJobJs(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), LoaderPool::Abandon(static_cast<uint64_t>(info[0].ToNumber().Int64Value())));
}

Napi::Value AbandonedThreadsJs(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), LoaderPool::AbandonedRunning());
}

Napi::Value PrivateAreaJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "privateArea(base)");
  AreaError err;
  if (!EnsurePrivateArea(info[0].As<Napi::String>().Utf8Value(), err)) throw CodedError(env, err.code.c_str(), err.message);
  Napi::Object o = Napi::Object::New(env);
  o.Set("root", UserRootPath());
  o.Set("dir", PrivateDirPath());
  return o;
}

// The copy step alone (tests of a source that changes while it is copied): leaves the copy in the
// private directory for the caller to read and remove.
Napi::Value CopyForTestJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  SourceFile src;
  CopyError err;
  if (!OpenSource(path, src, err)) throw CodedError(env, err.code.c_str(), err.message);
  PrivateCopy copy;
  const bool ok = CopyToPrivate(src, path, copy, err);
  CloseSource(src);
  if (!ok) throw CodedError(env, err.code.c_str(), err.message);
  close(copy.fd);
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", copy.name);
  o.Set("path", PrivateDirPath() + "/" + copy.name);
  o.Set("sha256", copy.sha256);
  o.Set("size", static_cast<double>(copy.size));
  return o;
}

// planDependencies(path, share[], followSystem): what a load would copy, share or leave to the
// system, without loading anything (inspect).
Napi::Value PlanDependenciesJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "planDependencies(path): path must be a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  ElfInfoStruct elf;
  std::string code, msg;
  if (!ReadElfFile(path, elf, code, msg)) throw CodedError(env, code.c_str(), msg);
  PlanOptions options;
  options.share = Strings(info[1]);
  options.follow_system = info[2].ToBoolean();
  DependencyPlan plan;
  if (!PlanDependencies(path, elf.rpath, elf.runpath, elf.needed, options, plan, code, msg)) {
    throw CodedError(env, code.empty() ? "ERR_DLSWAP_DEPENDENCY" : code.c_str(), msg);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("dependencies", DependenciesToJs(env, plan, nullptr, nullptr, {}));
  o.Set("truncated", plan.truncated);
  Napi::Array dirs = Napi::Array::New(env);
  for (const std::string &d : SystemLibraryDirs()) dirs.Set(dirs.Length(), d);
  o.Set("systemDirs", dirs);
  return o;
}

// renameForTest(file, { old: new }, searchOwnDirectory): the private-copy rename, on a file the
// test made, so that readelf can check the result.
Napi::Value RenameForTestJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  NameEdit edit;
  Napi::Object m = info[1].As<Napi::Object>();
  Napi::Array keys = m.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
    edit.renames[k] = m.Get(k).As<Napi::String>().Utf8Value();
  }
  edit.search_own_directory = info[2].ToBoolean();
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw CodedError(env, "ERR_DLSWAP_ACCESS", "cannot open " + path);
  std::string why;
  const bool ok = RewriteDynamicNames(fd, path, edit, why);
  close(fd);
  if (!ok) throw CodedError(env, "ERR_DLSWAP_DEPENDENCY", why);
  return env.Undefined();
}

Napi::Value RemovePrivateFileJs(const Napi::CallbackInfo &info) {
  RemovePrivateFile(info[0].As<Napi::String>().Utf8Value());
  return info.Env().Undefined();
}

Napi::Value PrivateFilesJs(const Napi::CallbackInfo &info) { return ToArray(info.Env(), PrivateFiles()); }
Napi::Value SweepStaleJs(const Napi::CallbackInfo &info) { return ToArray(info.Env(), SweepStaleDirectories()); }

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

Napi::Value ArmedFaultsJs(const Napi::CallbackInfo &info) {
  return ToArray(info.Env(), ArmedFaults(static_cast<napi_env>(info.Env())));
}

// A point reached on the JS thread: 'throw' for the caller to raise; kill and hang act here.
Napi::Value HitFaultJs(const Napi::CallbackInfo &info) {
  const std::string point = info[0].As<Napi::String>().Utf8Value();
  FaultScope scope(static_cast<napi_env>(info.Env()));
  const FaultAction a = HitFault(point.c_str());
  return Napi::String::New(info.Env(), a == FaultAction::Throw ? "throw" : a == FaultAction::Terminate ? "terminate" : "");
}

}  // namespace

void InitLoaderJobs(Napi::Env env, Napi::Object exports) {
  exports.Set("loadSync", Napi::Function::New(env, LoadSyncJs, "loadSync"));
  exports.Set("loadAsync", Napi::Function::New(env, LoadAsyncJs, "loadAsync"));
  exports.Set("retireSync", Napi::Function::New(env, RetireSyncJs, "retireSync"));
  exports.Set("retireAsync", Napi::Function::New(env, RetireAsyncJs, "retireAsync"));
  exports.Set("handoverSync", Napi::Function::New(env, HandoverSyncJs, "handoverSync"));
  exports.Set("handoverAsync", Napi::Function::New(env, HandoverAsyncJs, "handoverAsync"));
  exports.Set("abandonJob", Napi::Function::New(env, AbandonJobJs, "abandonJob"));
  exports.Set("abandonedLoaderThreads", Napi::Function::New(env, AbandonedThreadsJs, "abandonedLoaderThreads"));
  exports.Set("privateArea", Napi::Function::New(env, PrivateAreaJs, "privateArea"));
  exports.Set("privateFiles", Napi::Function::New(env, PrivateFilesJs, "privateFiles"));
  exports.Set("sweepStale", Napi::Function::New(env, SweepStaleJs, "sweepStale"));
  exports.Set("copyForTest", Napi::Function::New(env, CopyForTestJs, "copyForTest"));
  exports.Set("planDependencies", Napi::Function::New(env, PlanDependenciesJs, "planDependencies"));
  exports.Set("renameForTest", Napi::Function::New(env, RenameForTestJs, "renameForTest"));
  exports.Set("removePrivateFile", Napi::Function::New(env, RemovePrivateFileJs, "removePrivateFile"));
  exports.Set("armFault", Napi::Function::New(env, ArmFaultJs, "armFault"));
  exports.Set("clearFaults", Napi::Function::New(env, ClearFaultsJs, "clearFaults"));
  exports.Set("setTerminator", Napi::Function::New(env, SetTerminatorJs, "setTerminator"));
  exports.Set("armedFaults", Napi::Function::New(env, ArmedFaultsJs, "armedFaults"));
  exports.Set("hitFault", Napi::Function::New(env, HitFaultJs, "hitFault"));
}

}  // namespace dlswap
