// load_end_cxx: a C++ static initialiser that calls exit(7) (DLSWAP_FIXTURE_END=exit) while a
// guard object is alive. The guard's destructor writes "cleanup ran" to $DLSWAP_FIXTURE_MARKER: the
// file says whether unwinding the load ran the library's C++ cleanups (a lock guard would release
// its lock the same way). The initialiser itself is a region the C++ runtime ends with terminate.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

struct Guard {
  ~Guard() {
    const char *marker = std::getenv("DLSWAP_FIXTURE_MARKER");
    if (!marker) return;
    if (FILE *f = std::fopen(marker, "w")) {
      std::fputs("cleanup ran\n", f);
      std::fclose(f);
    }
  }
};

// exit() is declared noexcept, so a direct call has no cleanup around it: what runs the guard's
// destructor is a call through a plain function pointer, which may throw as far as the compiler
// knows. gflags calls exit the same way (its gflags_exitfunc).
void (*volatile end_process)(int) = &std::exit;

// Not inlined, so that the guard lives in a frame of its own, below the static initialiser's.
__attribute__((noinline)) int Register() {
  Guard guard;
  const char *how = std::getenv("DLSWAP_FIXTURE_END");
  if (how && std::strcmp(how, "exit") == 0) end_process(7);
  return 42;
}

int registered = Register();

}  // namespace

extern "C" int load_end_cxx_alive(void) { return registered; }
