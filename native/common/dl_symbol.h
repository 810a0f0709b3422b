// dlsym for optional entry points: null when the symbol is absent, and dlerror's state left clean
// for whoever asks next.
#pragma once
#include <dlfcn.h>

namespace dlswap {

template <typename Fn>
Fn ResolveSymbol(void *handle, const char *name) {
  dlerror();
  void *p = dlsym(handle, name);
  dlerror();
  return reinterpret_cast<Fn>(p);
}

}  // namespace dlswap
