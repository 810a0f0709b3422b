// Library code that tries to end the process while dlswap loads it: exit, _exit, _Exit,
// quick_exit, abort or a failed assert() in a constructor (inside dlopen) or in a plugin entry point
// (dlswap_abi_version, dlswap_version, dlswap_init), on the thread running the load; and
// pthread_exit there, which would end the loader thread with the loader lock held (every later
// dlopen of the process would wait for it forever).
//
// In the namespace modes the runtime stands in front of those functions (runtime/runtime_exit.c) and
// hands the call here. If the thread is running library code of a load, the call is unwound back to
// where the load called into the library, the way pthread_exit unwinds a thread: a forced unwind
// runs the library's C++ cleanups (destructors, lock guards) frame by frame, up to the first frame
// whose own exception tables would stop an exception (a catch clause, a noexcept or static
// initialiser region: the C++ runtime would call terminate there), and a longjmp crosses the rest:
// the rest of the library's frames and the dynamic loader's, which have no cleanups. The forced
// unwind uses the unwinder the image's own C++ runtime is bound to (its libgcc_s); when that is not
// clear (glog's tree puts libunwind first) or it has none, the longjmp crosses every frame. dlopen's
// loader lock, which no cleanup gives back, is released afterwards (rtld_layout.h). The load then
// fails with ERR_DLSWAP_EXIT_DURING_LOAD and the half-initialised image is kept mapped, unused, for
// the life of the process: running its destructors or unmapping it could run or drop code its
// constructor left half-way. A lock the library held when it called exit stays held.
//
// Only when it is safe: the loader must be running constructors (they run after dlopen dropped its
// TLS lock, with ld.so's own error handling off) or no loader code at all. Otherwise the process
// ends as the library asked.
//
// In local and deepbind nothing can stand in front of libc's exit. An on_exit handler sees an exit
// called by library code of a load and ends the process at once with the library's status and a
// message, rather than running node's exit handlers while its JS thread goes on (which crashed).
#pragma once
#include <string>

namespace dlswap {

struct LibraryEnd {
  int how = 0;         // runtime_abi.h DLSWAP_END_*; 0 if nothing ended
  int status = 0;      // exit's argument
  std::string object;  // the file name of the object whose code made the call
};

// Where library code of a load runs.
struct LibraryCodeSite {
  std::string doing;  // for the message printed if the process ends anyway: "loading /x/liby.so"
  // The image whose code runs: its handle once it is open, else its namespace and the name the
  // loader was given (an image whose constructors are running). The unwinder of the image's own C++
  // runtime (its libgcc_s) unwinds its frames: one that never ran has state its personality routines
  // need, which only unwinding with it sets up.
  void *handle = nullptr;
  long lmid = 0;
  std::string file;
  // The code is a library's constructors, loaded where it calls node's libc (local, deepbind):
  // nothing stands in front of its exit, and dlswap's exit handler must be the newest (see .cc).
  bool constructors_in_node_libc = false;
};

// Runs fn(arg): library code of a load, on this thread. Returns false when the code called one of
// the functions above and was unwound: `end` says which, the loader lock is free again.
bool CallLibraryCode(const LibraryCodeSite &site, void (*fn)(void *), void *arg, LibraryEnd &end);

template <typename F>
bool CallLibraryCode(const LibraryCodeSite &site, F &&f, LibraryEnd &end) {
  return CallLibraryCode(
      site, [](void *p) { (*static_cast<F *>(p))(); }, &f, end);
}

// "exit(1)", "_exit(3)", "abort()", "a failed assert()".
std::string EndCallText(const LibraryEnd &end);

// Keeps a handle to an image whose constructors were cut short: never closed, so that neither its
// destructors nor an unmapping run code its constructor left half-way.
void KeepInterruptedImage(void *handle);
// How many such images this process holds (doctor, tests).
int InterruptedImages();

}  // namespace dlswap
