// The anchor library: the first object dlmopen'ed into dlswap's long-lived namespace.
//
// Why it exists: the first object of a namespace acts as that namespace's global scope, and a
// namespace that has loaded libstdc++ can never be freed (libstdc++ is NODELETE and has unique
// symbols). Making a tiny C++ library the first object means libstdc++ is pinned exactly once, here,
// and no plugin ever becomes the global scope of the namespace its successors load into.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

// A real use of libstdc++ so that the linker keeps it as a dependency even with --as-needed.
static const std::string kName = "dlswap-anchor";

extern "C" {

__attribute__((visibility("default"))) const char *dlswap_anchor_name(void) { return kName.c_str(); }

// The namespace's own libc entry points, for libraries that do not link libc themselves.
__attribute__((visibility("default"))) void dlswap_anchor_free(void *p) { std::free(p); }
__attribute__((visibility("default"))) int dlswap_anchor_fflush_all(void) { return std::fflush(nullptr); }
__attribute__((visibility("default"))) int *dlswap_anchor_errno(void) { return &errno; }

}
