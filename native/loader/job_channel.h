// How a loader job's result reaches the environment that asked for it: a promise per job, settled
// on that environment's JS thread through one threadsafe function per environment. A result that
// can no longer be delivered (the environment is gone, or the job was answered by its deadline
// already) is undone: a load nobody receives is retired.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>

#include "loader/load_job.h"

namespace dlswap {

struct EnvLink;

// The answer to one job's promise, given once: by the job, or earlier by its deadline.
struct Reply {
  std::shared_ptr<EnvLink> link;
  napi_deferred deferred = nullptr;
  bool keeps_alive = true;  // counted in the environment's pending jobs (see Submit)
  std::atomic<bool> claimed{false};

  void Answer(std::unique_ptr<LoadResult> r);
  void Answer(std::unique_ptr<RetireResult> r);
  void Answer(std::unique_ptr<HandoverResult> r);
  void Answer(std::unique_ptr<RetireBatchResult> r);
};

using Job = std::function<void(std::shared_ptr<Reply>)>;

// Queues `run` on the loader thread, with the reply that settles a new promise; `cancelled` answers
// instead if the job is abandoned before it started. Returns { promise, id } (id: for abandonJob).
// A job that is not `keeps_alive` (a background look at pinned images) does not keep the event
// loop alive while it waits: a process with nothing else to do exits meanwhile.
Napi::Value Submit(Napi::Env env, Job run, Job cancelled, bool keeps_alive = true);

// What each result is in JS (loader/jobs_js.cc).
Napi::Object ResultToJs(Napi::Env env, LoadResult &r);
Napi::Object ResultToJs(Napi::Env env, const RetireResult &r);
Napi::Object ResultToJs(Napi::Env env, const HandoverResult &r);
Napi::Array ResultToJs(Napi::Env env, const RetireBatchResult &r);

}  // namespace dlswap
