// A contained fault in words: what the handler recorded (FaultDetails), symbolized in a normal
// context after the call was resumed, and the quarantine it puts the library in.
//
// Quarantine: the first fault contained in a call of an image is recorded on its LibraryHandle.
// From then on every call of the image is refused (ERR_DLSWAP_FAULTED, naming that first fault),
// its plugin code (dlswap_fini) is never run again, and it is never unmapped: its locks and memory
// may be half-changed, and a thread of its own may still be in it.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "signals/recovery.h"

namespace dlswap {

struct LibraryHandle;

struct FaultFrame {
  uintptr_t pc = 0;             // the fault's pc (frame 0), or a return address
  std::string object;           // the library's path as the user gave it, or the object's file name
  std::string symbol;           // "" when unknown
  uint64_t offset = 0;          // of pc in `symbol`, or in `object` when there is no symbol
  uint64_t object_address = 0;  // pc in the object's link-time addresses (what addr2line takes)
  bool in_library = false;      // the called library or one of its dependencies that dlswap loaded
};

struct FaultRecord {
  int signo = 0;  // or kThreadExit
  int code = 0;
  FaultAccess access = FaultAccess::kUnknown;
  uintptr_t address = 0;
  std::string function;  // the C function the call entered ("dlswap_init"...)
  std::string library;   // the library's path as the user gave it
  int generation = 0;    // 0: not a HotLibrary generation
  pid_t tid = 0;
  ThreadRole role = ThreadRole::kOther;
  bool main_thread = false;
  std::vector<FaultFrame> frames;
  std::string message;        // the sentence ERR_DLSWAP_FAULT carries
  std::string Where() const;  // "crash+0x11 in ./libx.so" (the library's innermost frame if any)
};

// Symbolizes `d` (normal context) into a record of a fault in a call of `function` of `lib`.
std::shared_ptr<const FaultRecord> MakeFaultRecord(const FaultDetails &d, const LibraryHandle &lib, const std::string &function,
                                                   const ThreadFaults &thread);

// Puts `lib` in quarantine with `record` as its first fault (a later one is only returned).
// Thread-safe. Returns the first fault.
std::shared_ptr<const FaultRecord> Quarantine(LibraryHandle &lib, std::shared_ptr<const FaultRecord> record);
// The first fault of a quarantined image, or null.
std::shared_ptr<const FaultRecord> FirstFault(const LibraryHandle &lib);

// The sentence of ERR_DLSWAP_FAULTED for a call of `function` refused because of `first`.
std::string FaultedMessage(const std::string &function, const FaultRecord *first);

}  // namespace dlswap
