#include "common/dir_safety.h"

#include <unistd.h>

namespace dlswap {

bool WritableByOthers(const struct stat &dir) {
  return (dir.st_mode & S_IWOTH) != 0 || ((dir.st_mode & S_IWGRP) != 0 && dir.st_gid != getgid());
}

std::string ReplaceableBy(const std::string &path) {
  if (path.empty() || path[0] != '/') return "";
  const uid_t uid = getuid();
  struct stat dir;
  if (lstat("/", &dir) != 0) return "";
  for (size_t at = 1; at < path.size();) {
    size_t slash = path.find('/', at);
    if (slash == std::string::npos) slash = path.size();
    const std::string parent = at == 1 ? "/" : path.substr(0, at - 1);
    const std::string entry = path.substr(0, slash);
    struct stat st;
    if (lstat(entry.c_str(), &st) != 0) return "";
    if (WritableByOthers(dir)) {
      if (!(dir.st_mode & S_ISVTX)) {
        return parent + " is writable by other users and not sticky: another user could replace " + entry + " in it";
      }
      if (st.st_uid != uid && st.st_uid != 0) {
        return entry + " belongs to uid " + std::to_string(st.st_uid) + " in " + parent +
               ", which other users can write: its owner could replace it";
      }
    }
    dir = st;
    at = slash + 1;
  }
  return "";
}

}  // namespace dlswap
