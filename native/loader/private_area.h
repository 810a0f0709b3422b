// The private area where every open gets its own copy of the library, held through directory
// descriptors so that no step re-resolves a path another user could have changed.
//
//   <base>/dlswap-<uid>/            the per-user root: ours, 0700, not a symlink
//   <root>/<pid>-<starttime>-<rnd>/ this process's directory, 0700
//
// Copies are created O_EXCL inside the process directory, and loaded as
// /proc/self/fd/<dirfd>/<name>: through the verified directory descriptor, with a name used once.
#pragma once
#include <string>
#include <vector>

namespace dlswap {

struct AreaError {
  std::string code;     // ERR_DLSWAP_TEMP_AREA
  std::string message;  // says what to do
};

// Opens, creating them if needed, the per-user root under `base` and this process's directory. The
// base must be safe: not writable by other users unless sticky, and owned by this user or root.
// Idempotent: the first successful call fixes the area for the life of the process. Sweeps
// directories left by processes that died. Thread-safe.
bool EnsurePrivateArea(const std::string &base, AreaError &err);

// After EnsurePrivateArea: the directory's path (for messages and tests) and descriptor.
std::string PrivateDirPath();
std::string UserRootPath();
int PrivateDirFd();

// The path the dynamic loader is given for a file of the private directory.
std::string LoaderPathOf(const std::string &name);

// Removes a file of the private directory (ENOENT is fine).
void RemovePrivateFile(const std::string &name);

// Names of the files in the private directory.
std::vector<std::string> PrivateFiles();

// Directories of dead processes under the per-user root; removes them and returns their names.
std::vector<std::string> SweepStaleDirectories();

}  // namespace dlswap
