#include "namespace/runtime_notes.h"

#include <dlfcn.h>
#include <link.h>

#include <deque>
#include <mutex>
#include <set>

namespace dlswap {

namespace {

constexpr size_t kMaxWaiting = 256;
constexpr size_t kMaxRemembered = 4096;

// Never destroyed: a library may dlopen from a destructor that runs at exit, after static
// destructors.
struct Notes {
  std::mutex mutex;
  std::deque<std::string> waiting;
  std::set<std::string> seen;
  uint64_t dropped = 0;
};
Notes &N() {
  static Notes *n = new Notes();
  return *n;
}

}  // namespace

void AddRuntimeNote(const std::string &text) {
  std::lock_guard<std::mutex> lock(N().mutex);
  if (N().seen.count(text)) return;
  if (N().seen.size() < kMaxRemembered) N().seen.insert(text);
  if (N().waiting.size() >= kMaxWaiting) {
    N().dropped++;
    return;
  }
  N().waiting.push_back(text);
}

std::vector<std::string> TakeRuntimeNotes(uint64_t &dropped) {
  std::lock_guard<std::mutex> lock(N().mutex);
  std::vector<std::string> out(N().waiting.begin(), N().waiting.end());
  N().waiting.clear();
  dropped = N().dropped;
  N().dropped = 0;
  return out;
}

std::string ObjectNameAt(const void *address) {
  Dl_info info;
  void *map = nullptr;
  if (!address || dladdr1(address, &info, &map, RTLD_DL_LINKMAP) == 0 || !map) return "";
  const char *name = static_cast<struct link_map *>(map)->l_name;
  std::string n = name && name[0] ? name : "the main program";
  const size_t slash = n.rfind('/');
  return slash == std::string::npos ? n : n.substr(slash + 1);
}

}  // namespace dlswap
