// What dlswap knows of the dynamic loader's lock. glibc holds one lock through every dlopen,
// dlmopen and dlclose, constructors and destructors included, and takes it in dlsym, dladdr and at
// exit (_dl_fini). A constructor or destructor that overran its deadline (loader/loader_pool.h)
// still holds it: anything that takes it would wait until that code returns, perhaps for ever.
// dlswap records such a step here, refuses at once what would wait for the lock, and exit, which
// would wait in _dl_fini, ends the process at once instead (stdio flushed, library destructors and
// later exit handlers not run).
#pragma once
#include <cstdint>
#include <string>

namespace dlswap {

// Library code that runs with the lock held (`what`: "the constructors of /x/liby.so") overran
// `ms`; `step` identifies it until it returns. The first call installs the exit handler.
void NoteLoaderLockHeld(uint64_t step, const std::string &what, double ms);
// That code returned: the lock is free again (as far as dlswap knows).
void NoteLoaderLockReleased(uint64_t step);
// "" while no known step holds the lock; otherwise what holds it, for messages.
std::string LoaderLockHolder();
// The refusal of `what` ("cannot load /x/z.so") while the lock is held, or "" when it is not: the
// message of ERR_DLSWAP_LOADER_HUNG.
std::string LoaderLockRefusal(const std::string &what);

}  // namespace dlswap
