#include "base.h"

Base::~Base() = default;

namespace {
Base *kept = nullptr;
}

extern "C" void base_keep(Base *b) {
  delete kept;
  kept = b;
}
extern "C" int base_kept_value(void) { return kept ? kept->value() : -1; }
extern "C" void base_release(void) {
  delete kept;
  kept = nullptr;
}
