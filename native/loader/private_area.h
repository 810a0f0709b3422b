// The private area where every open gets its own copy of the library, held through directory
// descriptors so that no step re-resolves a path another user could have changed.
//
//   <base>/dlswap-<uid>/            the per-user root: ours, 0700, not a symlink
//   <root>/<pid>-<starttime>-<rnd>/ this process's directory, 0700
//
// Copies are created O_EXCL inside the process directory, with a name used once, and loaded by the
// directory's real path when no one but this user and root can change what that path resolves to
// (otherwise as /proc/self/fd/<dirfd>/<name>, through the verified descriptor). A copy's file stays
// as long as its image is mapped, so that what the link map and /proc/<pid>/maps name exists for a
// debugger, a profiler or a core file's reader; it goes once the image is verified unmapped.
#pragma once
#include <string>
#include <vector>

#include "common/native_error.h"

namespace dlswap {

// Opens, creating them if needed, the per-user root under `base` and this process's directory. The
// base must be safe: not writable by other users unless sticky, and owned by this user or root.
// Fails with ERR_DLSWAP_TEMP_AREA. Idempotent: the first successful call fixes the area for the life of the process. Sweeps
// directories left by processes that died. Thread-safe.
bool EnsurePrivateArea(const std::string &base, NativeError &err);

// After EnsurePrivateArea: the directory's path (for messages and tests) and descriptor.
std::string PrivateDirPath();
std::string UserRootPath();
int PrivateDirFd();

// The path the dynamic loader is given for a file of the private directory: the real path when it
// is safe to resolve again, else through the descriptor's /proc path.
std::string LoaderPathOf(const std::string &name);
// Why LoaderPathOf is the /proc path ("" when it is the real one), for doctor and NODE_DEBUG.
std::string LoaderPathNote();

// Removes a file of the private directory (ENOENT is fine); nothing while copies are kept.
void RemovePrivateFile(const std::string &name);

// A copy whose image is mapped: its file stays until ReleaseCopy, and past exit (the next process's
// sweep removes it). ReleaseCopy is for an image verified unmapped: the file goes, unless kept.
void HoldCopy(const std::string &name);
void ReleaseCopy(const std::string &name);
// The process is exiting (the main thread's 'exit' event): images unloaded from now on are those
// still open at exit, whose copies stay with the ones still mapped (see HoldCopy).
void ProcessExiting();

// From now on nothing of the private directory is removed, at unload, at exit or by another
// process's sweep (DLSWAP_KEEP_COPIES, for post-mortem work). Idempotent; false with `why` if the
// directory could not be marked.
bool KeepCopies(std::string &why);
bool KeepingCopies();

// Names of the files in the private directory.
std::vector<std::string> PrivateFiles();

// Directories of dead processes under the per-user root; removes them and returns their names.
std::vector<std::string> SweepStaleDirectories();

}  // namespace dlswap
