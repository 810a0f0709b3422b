// Whether another user could replace what a path names: the rule dlswap applies to the base of its
// private area (loader/private_area.cc) and to every file it loads from (the library and each
// dependency the plan finds, loader/dependency_plan.cc).
//
// An entry of a directory can be replaced (renamed over, unlinked and recreated) by whoever can
// write the directory, unless the directory is sticky, where only the entry's owner (or root) can.
// So a directory writable by other users without the sticky bit is unsafe, and in a sticky one an
// entry owned by another user is theirs to replace. A group-writable directory counts as writable
// by others unless its group is this process's own.
#pragma once
#include <sys/stat.h>

#include <string>

namespace dlswap {

// Whether users other than this one (and root) can create, rename and unlink entries in `dir`.
bool WritableByOthers(const struct stat &dir);

// Why another user could replace the file `path` names, walking every directory from / down to it
// (a parent's rename replaces everything below it): "" when nobody but this user and root can.
// `path` should be absolute and resolved (realpath); a component that cannot be looked at counts
// as safe, the caller's own open reports what is wrong with it.
std::string ReplaceableBy(const std::string &path);

}  // namespace dlswap
