// A thread_local object with a destructor: glibc registers it with __cxa_thread_atexit_impl, and
// whichever libc runs the thread's exit work must know about it.
#include <atomic>

namespace {
std::atomic<int> destroyed{0};
std::atomic<int> constructed{0};

struct Tracked {
  Tracked() { constructed++; }
  ~Tracked() { destroyed++; }
  int touch() { return 1; }
};

thread_local Tracked tracked;
}  // namespace

extern "C" {
__attribute__((visibility("default"))) int tls_touch(void) { return tracked.touch(); }
__attribute__((visibility("default"))) int tls_constructed(void) { return constructed.load(); }
__attribute__((visibility("default"))) int tls_destroyed(void) { return destroyed.load(); }
}

#include <thread>

// A thread of the library's own touches the object and exits: how many destructors have run then.
extern "C" __attribute__((visibility("default"))) int tls_in_thread(void) {
  std::thread t([] { tracked.touch(); });
  t.join();
  return destroyed.load();
}
