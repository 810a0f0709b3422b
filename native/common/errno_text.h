// The text of an errno value for a message, the same on every thread: strerror() translates it
// through the locale of the process, which the JS thread (or a library on it) may be changing while
// a loader job formats its message. strerrordesc_np (glibc 2.32) is the untranslated text and reads
// nothing that changes.
#pragma once
#include <string.h>

#include <string>

namespace dlswap {

inline std::string ErrnoText(int e) {
  const char *text = strerrordesc_np(e);
  return text ? std::string(text) : "error " + std::to_string(e);
}

}  // namespace dlswap
