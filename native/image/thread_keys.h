// Thread-specific data keys of node's libc whose destructor lies in given code. A library loaded in
// `local` or `deepbind` creates its keys in node's libc (jemalloc's per-thread cache, a library's
// per-thread state): when a thread that set one exits, that libc calls the key's destructor, also
// after dlclose unmapped the library, and the process dies with SIGSEGV (at exit, when node's own
// threads end). dlswap cannot stand in front of pthread_key_create there as the namespace runtime does
// (native/namespace/runtime_keys.cc), so a retirement looks at the table instead
// (loader/retire_job.cc): a key still in use whose destructor is in the code the close would unmap
// keeps the image mapped.
//
// The table is glibc's own (`__pthread_keys`, exported GLIBC_PRIVATE; {sequence, destructor} per key,
// in use when the sequence is odd: nptl's layout since glibc 2.3). It is read only when the symbol
// has exactly that size; otherwise the check says it cannot tell.
#pragma once
#include <optional>
#include <vector>

#include "image/image_closure.h"

namespace dlswap {

// The keys in use now whose destructor is in `code`; nullopt when node's libc's key table cannot be
// read (not glibc's layout).
std::optional<std::vector<unsigned>> KeysWithDestructorsIn(const std::vector<AddressRange> &code);

}  // namespace dlswap
