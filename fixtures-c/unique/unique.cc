// The function-local static of an inline function must be one object program-wide, so g++ gives it
// STB_GNU_UNIQUE binding. glibc never unmaps a library that defines a unique symbol: dlclose returns
// success, yet the image and this counter survive, and reopening the library continues counting.
namespace unique {

inline int &state() {
  static int s = 0;
  return s;
}

}  // namespace unique

extern "C" int unique_next(void) { return ++unique::state(); }
