// The one shape of a failure on the native side: a stable code and a message. Every step that can
// fail (reading an ELF, copying a file, planning dependencies, the load, retire and handover jobs)
// fills one of these; whoever hands it to JS does so through common/errors.h (CodedError, or the
// `ok`/`code`/`message` fields of a job's result that lib/ turns into a DlswapError).
//
// Free of Node-API, so that the loader's steps run on a loader thread and the fuzz harnesses link
// them without node.
#pragma once
#include <string>
#include <utility>

namespace dlswap {

struct NativeError {
  std::string code;     // one of lib/errors.ts's DlswapErrorCode; empty: nothing failed
  std::string message;  // names the user's path and says what to do

  bool failed() const { return !code.empty(); }
};

// Records the failure in `err` and returns false, so that a step ends with `return Fail(err, ...)`.
inline bool Fail(NativeError &err, std::string code, std::string message) {
  err.code = std::move(code);
  err.message = std::move(message);
  return false;
}

}  // namespace dlswap
