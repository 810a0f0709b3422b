// /proc/self/maps, read once and parsed without streams: the close path reads it on every
// retirement, so it must cost tens of microseconds, not hundreds.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dlswap {

struct Mapping {
  uintptr_t start = 0, end = 0;
  bool exec = false;
  std::string_view file;  // what the kernel names: the real path, " (deleted)" for a removed file
};

class ProcMaps {
 public:
  ProcMaps();  // reads the current mappings
  const std::vector<Mapping> &all() const { return maps_; }
  // The mapping that contains `address`, or null.
  const Mapping *Find(uintptr_t address) const;
  // Whether `path` (or `path` followed by " (deleted)") is mapped.
  bool Maps(const std::string &path) const;

 private:
  std::string text_;
  std::vector<Mapping> maps_;
};

}  // namespace dlswap
