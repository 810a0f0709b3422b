// Hands libbase.so.1 an object of its own class: libbase calls into this library's code (the vtable
// and value()) for as long as it keeps the object, whether or not this library is still loaded.
#include "base.h"

namespace {
struct Derived : Base {
  int value() const override { return 42; }
};
}  // namespace

extern "C" void derived_register(void) { base_keep(new Derived); }
