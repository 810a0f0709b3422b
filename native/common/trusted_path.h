// Whether a path names the same thing every time it is resolved: nobody but this user and root can
// change where any of its components leads. The dynamic loader resolves a path again each time it
// is given one, so a path is handed to it only when this holds (the private area's copies, a
// library's own directory when the library looks for files beside itself).
#pragma once
#include <string>

namespace dlswap {

// Walks the absolute, symlink-free `path` from "/" through descriptors (O_NOFOLLOW): every component
// must be a directory owned by this user or root, and none writable by other users unless it is
// sticky (then the next component, being ours or root's, cannot be replaced by them). Group-writable
// counts as other users unless the group is this process's own, as the private area's base check
// does. On success `fd`, if given, receives the last directory open (the caller closes it). On
// failure `why` says which component and what is wrong with it, in a sentence.
bool TrustedDirectory(const std::string &path, std::string &why, int *fd = nullptr);

// The path the descriptor `fd` was opened at, as the kernel names it ("" for a removed file).
std::string PathOfDescriptor(int fd);

}  // namespace dlswap
