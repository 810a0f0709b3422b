// An image's ELF destructors, run before dlclose instead of by it: for a library whose worker
// threads only its destructor stops (OpenBLAS, FFTW with threads, RocksDB's Env, global pools).
// dlswap never dlcloses while threads of the library live (unmapping code a thread runs crashes the
// process), and without the destructor those threads live for ever: the image would stay mapped for
// good. Running the destructors first, waiting for exactly the threads the library started, and only
// then unmapping breaks that circle (loader/retire_job.cc).
//
// Why the destructors then run once (glibc 2.36, elf/dl-close.c call_destructors and
// elf/dl-fini.c): both dlclose and _dl_fini at exit read DT_FINI_ARRAY when they run it
// (l_addr + d_ptr, DT_FINI_ARRAYSZ bytes; glibc never relocates that entry of the dynamic
// section), call each entry as `void (*)(void)` from the last to the first, then call DT_FINI. So
// the entries are copied, every entry is overwritten with a function of the addon that does
// nothing, and then the copies run: whoever runs the array later (dlclose, or exit while the image
// stays mapped) calls nothing, and still runs the legacy DT_FINI after it, in glibc's own order.
// glibc's record that the image's constructors ran (l_init_called) is private and is not touched.
//
// Why running them early is no worse than what happens anyway: exit runs the same destructors with
// the library's threads alive (_dl_fini never waits for threads), so a destructor that is unsafe
// while its threads run crashes plain node at exit already.
#pragma once
#include <string>

#include "image/image_closure.h"

namespace dlswap {

// Runs the DT_FINI_ARRAY of each of `objects`, in DestructorOrder, having first pointed every
// entry at a no-op, so that each array runs exactly once in the life of the process. Objects
// without an array, or whose array already ran, are skipped; `ran` counts the arrays run now.
// Returns false, running nothing and changing nothing, if an array could not be made writable
// (`error` says why). Call on the loader thread, in a retirement: no dlclose of these objects runs
// meanwhile.
bool RunDestructorsEarly(const ObjectList &objects, size_t *ran, std::string *error);

// Whether `object`'s destructor array was already run by RunDestructorsEarly.
bool DestructorsRanEarly(const struct link_map *object);

}  // namespace dlswap
