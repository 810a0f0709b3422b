// Copying a library into the private area: the one place dlswap reads the user's file.
//
// The source is opened once, without blocking (a FIFO or a device at the path cannot stall the
// thread) and must be a regular, non-empty file; the copy is bounded by the size fstat gave. The
// bytes are hashed as they are written, so the digest is of exactly what is in the copy. A source
// that changes while it is copied is refused: its size, mtime and ctime are compared before and
// after, and when it was written too recently for timestamps to tell (they tick every few ms), its
// content is compared with the copy's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/native_error.h"

namespace dlswap {

struct SourceFile {
  int fd = -1;
  std::string real_path;
  uint64_t size = 0;
};

// Failures are ERR_DLSWAP_NOT_FOUND, _ACCESS, _NOT_A_FILE, _EMPTY_FILE, _INTEGRITY or _TEMP_AREA, with
// a message that names the user's path.
//
// Opens `path` (as the user gave it; messages name it) for copying: a relative path is taken from
// `cwd` when one is given (the directory the JS thread was in when it asked: a loader thread never
// reads the process's current directory, which process.chdir() may change meanwhile). On failure
// nothing is left open.
bool OpenSource(const std::string &path, SourceFile &out, NativeError &err, const std::string &cwd = "");
void CloseSource(SourceFile &src);

struct PrivateCopy {
  std::string name;  // file name in the private directory
  int fd = -1;       // the copy, open read-write (for patching before it is loaded); its mode is 0500
  uint64_t size = 0;
  std::string sha256;   // of the bytes copied ("" when not taken: CopyToPrivate's with_hash)
  double mtime_ms = 0;  // of the source
  bool mapped = false;  // its image is loaded: the file is the image's now (HoldCopy), not the copy step's
  // The bytes written, when the file was small enough to pass through memory in one piece (empty
  // otherwise): the copy's content until something is written into it, so its headers are read
  // from here rather than from the file again. Taken (and freed) by the header check.
  std::vector<uint8_t> bytes;
};

// Copies the source into a new file of the private directory, named after `label`, hashing it in
// the same pass unless `with_hash` is false (then a file of more than one chunk is copied by the
// kernel: copy_file_range). The file is read-only (0500) from its creation: only `fd` writes it. On
// failure the copy is removed.
bool CopyToPrivate(const SourceFile &src, const std::string &label, PrivateCopy &out, NativeError &err, bool with_hash = true);

// Takes the digest of a copy made without one, from the copy itself: before anything is written
// into it, so that it is of the bytes that were copied. False (err set) if the copy cannot be read.
bool HashCopy(PrivateCopy &copy, NativeError &err);

// Closes the copy's descriptor and removes it from the private directory, unless its image was
// mapped (then the file stays with the image: private_area.h, HoldCopy).
void DiscardCopy(PrivateCopy &copy);

}  // namespace dlswap
