// Process-wide hooks a library can leave pointing into its code: the 64 signal dispositions (one per
// process, in the kernel, whichever libc set them) and a thread's alternate signal stack. Unmapped
// under them, the next signal jumps into nothing: ImageMagick's genesis installs handlers for SIGHUP,
// SIGQUIT, SIGABRT, SIGBUS, SIGFPE and SIGXCPU and never restores them; a crash reporter's SIGSEGV
// handler, left behind, turns V8's WebAssembly bounds checks into a crash.
//
// What dlswap does (docs/isolation.md, "Process-wide hooks"), for each loaded unit (a library and
// the private dependencies loaded with it):
// - before its code first runs, the dispositions of every signal are recorded (ProcessHooks);
// - before its code is unmapped, each disposition whose handler (or sa_restorer) is in that code is
//   set back to what it was before the unit was loaded, and so is one whose handler is the one from
//   before but reinstalled with other flags (ImageMagick puts V8's SA_SIGINFO handler back without
//   SA_SIGINFO); unless someone changed it meanwhile (the swap is checked: a handler installed
//   later by anyone else is never clobbered). What it was
//   "before" is followed through units that are themselves being retired, so that a restore never
//   reinstalls a handler of another retired library;
// - a unit loaded while this one's handler was installed may have saved it to chain to (crash
//   reporters do): while such a unit is loaded, this one stays mapped (BeginRetirement), and it is
//   unmapped once that unit has gone;
// - the calling thread's alternate signal stack, if it lies in the unit's memory, is disabled.
#pragma once
#include <signal.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image/image_closure.h"

namespace dlswap {

// Signals 1..64 (index 0 unused).
constexpr int kSignalCount = 65;

struct Disposition {
  uintptr_t handler = 0;   // sa_handler / sa_sigaction: SIG_DFL (0), SIG_IGN (1) or code
  uintptr_t restorer = 0;  // sa_restorer, where the handler returns to (the installing libc's)
  uint64_t mask = 0;       // sa_mask: the kernel's 64 signals
  int flags = 0;
  bool known = false;  // could be read (glibc refuses its own two real-time signals)
};

// One loaded unit's record: made before its code first runs, kept until its code is unmapped.
class ProcessHooks {
 public:
  // Records the current dispositions and registers the record process-wide.
  static std::shared_ptr<ProcessHooks> Capture();
  ~ProcessHooks();

  // The unit is being retired and `code` is what its close would unmap. Returns the signals whose
  // disposition another unit not yet released recorded while it pointed into `code`: that unit may
  // call the handler, and this one must stay mapped for now. Empty when nothing holds it.
  std::vector<int> BeginRetirement(const std::vector<AddressRange> &code);

  // Before `code` is unmapped: restores every disposition that points into it (see above), makes
  // records that point into it point where this one did, and forgets this record. Returns the
  // signals restored.
  std::vector<int> Release(const std::vector<AddressRange> &code);

  ProcessHooks(const ProcessHooks &) = delete;
  ProcessHooks &operator=(const ProcessHooks &) = delete;

 private:
  ProcessHooks() = default;
  std::array<Disposition, kSignalCount> before_{};
  std::vector<AddressRange> retiring_code_;  // set once its release started (guarded by the registry)
  bool released_ = false;
};

// If the calling thread's alternate signal stack lies in the memory of one of `objects` (their
// segments, .bss included), disables it: a handler with SA_ONSTACK would otherwise run on a stack
// that is about to be unmapped. True if it did.
bool DisableAltStackIn(const ObjectList &objects);

}  // namespace dlswap
