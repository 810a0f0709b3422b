#include "common/loader_lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>

namespace dlswap {

namespace {

struct Holder {
  std::string what;
  double ms = 0;
};

// Never destroyed: read by the exit handler, after static destructors may have run.
std::mutex &Mutex() {
  static auto *m = new std::mutex();
  return *m;
}
std::map<uint64_t, Holder> &Holders() {
  static auto *h = new std::map<uint64_t, Holder>();
  return *h;
}
std::atomic<int> g_held{0};
std::once_flag g_exit_handler;

// Runs in exit(), before _dl_fini (registered long after it): with the lock held, _dl_fini would
// wait for it for ever. What was written to stdio is flushed, unless the stream is locked (the hung
// code may hold it), and the process ends with the status exit() was given.
void ExitWithLockHeld(int status, void *) {
  if (g_held.load() == 0) return;
  for (FILE *f : {stdout, stderr}) {
    if (ftrylockfile(f) != 0) continue;
    fflush_unlocked(f);
    funlockfile(f);
  }
  _exit(status);
}

}  // namespace

void NoteLoaderLockHeld(uint64_t step, const std::string &what, double ms) {
  {
    std::lock_guard<std::mutex> lock(Mutex());
    if (!Holders().emplace(step, Holder{what, ms}).second) return;
  }
  g_held.fetch_add(1);
  std::call_once(g_exit_handler, [] { on_exit(ExitWithLockHeld, nullptr); });
}

void NoteLoaderLockReleased(uint64_t step) {
  std::lock_guard<std::mutex> lock(Mutex());
  if (Holders().erase(step)) g_held.fetch_sub(1);
}

std::string LoaderLockHolder() {
  if (g_held.load() == 0) return "";
  std::lock_guard<std::mutex> lock(Mutex());
  if (Holders().empty()) return "";
  const Holder &h = Holders().begin()->second;
  return h.what + ", which did not return within " + std::to_string(static_cast<long>(h.ms)) + " ms";
}

std::string LoaderLockRefusal(const std::string &what) {
  const std::string holder = LoaderLockHolder();
  if (holder.empty()) return "";
  return what + ": the dynamic loader's lock is held by " + holder +
         " and still runs on a loader thread dlswap gave up. Until it returns, no library can be loaded or unloaded in this process "
         "(dlswap refuses at once rather than wait), and exit ends the process without running library destructors. Restart the process, "
         "and fix or remove that library.";
}

}  // namespace dlswap
