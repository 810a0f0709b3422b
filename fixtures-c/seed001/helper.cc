// The core library's private helper (see service.cc): C++, versioned symbols, and a private
// dependency of its own (libinner.so.1).
#include <string>

#ifndef HELPER_VERSION
#error "compile with -DHELPER_VERSION=N"
#endif

extern "C" int inner_answer(void);

namespace {
const std::string tag = "helper " + std::to_string(HELPER_VERSION);
}

extern "C" int helper_answer(void) { return tag.size() > 0 ? HELPER_VERSION : -1; }
extern "C" int helper_inner(void) { return inner_answer(); }
