// C++ library that writes to the standard streams. Node copy-relocates std::cout and std::cerr into
// its own executable; a library that binds to libstdc++'s originals instead (RTLD_DEEPBIND) writes
// through stream objects that were never constructed and crashes. That crash is what this fixture
// exists to provoke and what the loader must refuse to walk into.
#include <iostream>

extern "C" int cerr_hello(void) {
  std::cerr << "dlswap-cerr-fixture\n";
  return 42;
}

extern "C" int cout_hello(void) {
  // Flushed here: the output must be visible even if the test kills the process right after.
  std::cout << "dlswap-cout-fixture\n" << std::flush;
  return 43;
}
