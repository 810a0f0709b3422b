// What keeps a prebuilt addon's glibc floor at 2.34 (docs: README "Install").
//
// libstdc++ is linked in statically (CMakeLists.txt). Its std::random_device, which dlswap never
// uses but which comes along with the string code it does use, calls arc4random, new in glibc 2.36:
// linked against glibc 2.36, that single reference would make every prebuilt binary refuse to load
// on an older glibc. This hidden definition satisfies it inside the addon instead (the linker binds
// the archive's reference here before it looks at libc.so), on top of getrandom (glibc 2.25).
#include <sys/random.h>

#include <cerrno>
#include <cstdint>

extern "C" __attribute__((visibility("hidden"))) uint32_t arc4random(void) noexcept {
  uint32_t v = 0;
  for (;;) {
    ssize_t n = getrandom(&v, sizeof v, 0);
    if (n == static_cast<ssize_t>(sizeof v)) return v;
    if (n < 0 && errno != EINTR) return v ^ 0x9e3779b9u;  // never reached on Linux >= 3.17
  }
}
