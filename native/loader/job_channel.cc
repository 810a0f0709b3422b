#include "loader/job_channel.h"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "common/addon_data.h"
#include "common/errors.h"
#include "common/faults.h"
#include "loader/loader_pool.h"

namespace dlswap {

namespace {

struct Completion {
  bool terminate = false;   // the 'terminate' fault: stop this environment's thread (a worker)
  bool keeps_alive = true;  // counted in EnvLink::pending
  napi_deferred deferred = nullptr;
  std::unique_ptr<LoadResult> load;
  std::unique_ptr<RetireResult> retire;
  std::unique_ptr<HandoverResult> handover;
  std::unique_ptr<RetireBatchResult> batch;
};

// Undoes a load nobody will receive (its environment is gone, or it timed out and was answered
// already): what the caller would have closed. On the loader thread, whichever thread found it
// unwanted (the JS thread of an environment being torn down).
void Dispose(std::unique_ptr<LoadResult> &load) {
  if (!load || !load->lib) return;
  auto spec = std::make_shared<RetireSpec>();
  spec->lib = load->lib;
  spec->deps = load->deps;
  spec->run_fini = load->initialized;
  spec->host_keepalive = load->host_keepalive;
  spec->keep_mapped = !load->keep_mapped.empty();
  load.reset();
  LoaderPool::RunOrQueue([spec] {
    RetireResult ignored;
    RunRetire(*spec, ignored);
  });
}

// Only a load leaves something behind to undo.
void Dispose(std::unique_ptr<RetireResult> &) {}
void Dispose(std::unique_ptr<HandoverResult> &) {}
void Dispose(std::unique_ptr<RetireBatchResult> &) {}

void Put(Completion &c, std::unique_ptr<LoadResult> r) { c.load = std::move(r); }
void Put(Completion &c, std::unique_ptr<RetireResult> r) { c.retire = std::move(r); }
void Put(Completion &c, std::unique_ptr<HandoverResult> r) { c.handover = std::move(r); }
void Put(Completion &c, std::unique_ptr<RetireBatchResult> r) { c.batch = std::move(r); }

}  // namespace

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

namespace {

template <typename Result>
void Deliver(Reply &reply, std::unique_ptr<Result> r) {
  if (reply.claimed.exchange(true)) {  // answered already (timeout): nobody will use what it made
    Dispose(r);
    return;
  }
  auto *c = new Completion();
  c->deferred = reply.deferred;
  c->keeps_alive = reply.keeps_alive;
  Put(*c, std::move(r));
  reply.link->Post(c);
}

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
    if (c->keeps_alive && --link->pending == 0) napi_unref_threadsafe_function(env, link->tsfn);
    try {
      Napi::Value v = c->load       ? Napi::Value(ResultToJs(e, *c->load))
                      : c->retire   ? Napi::Value(ResultToJs(e, *c->retire))
                      : c->handover ? Napi::Value(ResultToJs(e, *c->handover))
                                    : Napi::Value(ResultToJs(e, *c->batch));
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

}  // namespace

void Reply::Answer(std::unique_ptr<LoadResult> r) { Deliver(*this, std::move(r)); }
void Reply::Answer(std::unique_ptr<RetireResult> r) { Deliver(*this, std::move(r)); }
void Reply::Answer(std::unique_ptr<HandoverResult> r) { Deliver(*this, std::move(r)); }
void Reply::Answer(std::unique_ptr<RetireBatchResult> r) { Deliver(*this, std::move(r)); }

Napi::Value Submit(Napi::Env env, Job run, Job cancelled, bool keeps_alive) {
  auto reply = std::make_shared<Reply>();
  reply->link = LinkOf(env);
  reply->keeps_alive = keeps_alive;
  napi_value promise;
  if (napi_create_promise(env, &reply->deferred, &promise) != napi_ok) {
    throw CodedError(env, "ERR_DLSWAP_INTERNAL", "cannot create a promise");
  }
  if (keeps_alive && reply->link->pending++ == 0) napi_ref_threadsafe_function(env, reply->link->tsfn);
  const void *owner = static_cast<napi_env>(env);
  const uint64_t id = LoaderPool::Submit(
      [run = std::move(run), reply, owner]() {
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

}  // namespace dlswap
