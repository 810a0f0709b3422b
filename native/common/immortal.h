// Process-wide state that outlives exit().
//
// exit() runs the addon's static destructors (its __cxa_atexit entries) before _dl_fini runs the
// destructors of the libraries in dlswap's namespaces, and while dlswap's own threads (the loader,
// its watchdog) may still be in a job. A library destructor that joins its threads makes those
// threads run dlswap's thread-exit hooks (runtime_threads.cc, runtime_keys.cc) after the statics
// they use were destroyed. So every object with static storage that a thread-exit hook, a key
// destructor, a loader job, the watchdog or the job channel can touch is Immortal: constructed once,
// never destroyed (its memory goes with the process). test/package/exit_safe_statics.test.ts checks
// that no function of the addon registers a destructor with __cxa_atexit.
#pragma once
#include <new>
#include <utility>

namespace dlswap {

template <typename T>
class Immortal {
 public:
  template <typename... Args>
  explicit Immortal(Args &&...args) {
    new (storage_) T(std::forward<Args>(args)...);
  }
  Immortal(const Immortal &) = delete;
  Immortal &operator=(const Immortal &) = delete;
  // No destructor: the point of the class.

  T &operator*() { return *ptr(); }
  T *operator->() { return ptr(); }
  T *get() { return ptr(); }

 private:
  T *ptr() { return std::launder(reinterpret_cast<T *>(storage_)); }
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace dlswap
