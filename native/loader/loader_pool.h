// The loader thread: where every load and retirement runs, one at a time, so that the event loop
// only ever does the swap. One at a time because glibc serialises dlopen and dlclose anyway
// (one loader lock), and because a plugin's init and fini are simpler to reason about when they
// never overlap.
//
// A job that does not finish in time (a plugin init or fini that hangs) can be abandoned: the
// thread running it is given up, never reused (it may still be running plugin code), and a new
// loader thread takes the jobs that were waiting.
//
// At process exit (an atexit handler, which runs before _dl_fini runs the libraries' destructors),
// the jobs queued or running then are given kExitDrainMs to finish (a fini owed by a collected
// host, the close of an image nobody closed, a load in flight), and from then on no job starts: a
// loader thread never runs a library's code or the dynamic loader while exit() destroys them.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace dlswap {

class LoaderPool {
 public:
  using Work = std::function<void()>;
  // Queues `work`; `cancelled` runs instead if the job is abandoned before it started.
  static uint64_t Submit(Work work, Work cancelled);
  // true if the job was still queued (cancelled) or running (its thread given up); false if it had
  // finished.
  static bool Abandon(uint64_t id);
  // Threads that were given up and are still running their job (for tests and doctor).
  static int AbandonedRunning();

  // Whether the calling thread is a loader thread.
  static bool OnLoaderThread();
  // Runs `work` here if this is a loader thread, or queues it: for what must never run on a JS
  // thread (plugin code, dlclose) when it becomes due there (a finalizer, an environment's teardown).
  static void RunOrQueue(Work work);

  // Bounds one step of the job running on this loader thread (library code, which may never
  // return: constructors, destructors, plugin entry points): if the step is still running after
  // `ms`, the job is abandoned and `on_timeout` runs on the watchdog thread. The step itself cannot
  // be stopped; it goes on, on a thread that is never reused. Ends with the scope. ms <= 0: no
  // bound. Outside a loader thread (the synchronous open()), there is no bound either: nothing
  // could take over the thread.
  //
  // `holds_loader_lock` names a step that runs with the dynamic loader's lock held ("the
  // constructors of /x/liby.so"): once it overran, common/loader_lock.h knows the lock is held,
  // before any other job can start, until the step returns.
  class Deadline {
   public:
    Deadline(double ms, Work on_timeout, std::string holds_loader_lock = {});
    ~Deadline();
    Deadline(const Deadline &) = delete;
    Deadline &operator=(const Deadline &) = delete;
    // Whether the step overran (its job was abandoned meanwhile).
    bool Expired() const;

   private:
    uint64_t id_ = 0;
  };
  // Whether the job on this loader thread was abandoned (the caller gave up on its result).
  static bool CurrentAbandoned();
};

}  // namespace dlswap
