#include "common/thread_name.h"

#include <fstream>

namespace dlswap {

std::string ThreadName(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(f, name);
  return name;
}

}  // namespace dlswap
