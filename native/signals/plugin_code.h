// Plugin code that dlswap itself runs (dlswap_abi_version, dlswap_version, dlswap_init, dlswap_fini,
// the handover's export and import), under a recovery frame like any call: a fault there fails the
// step that ran it (the load, the retirement, the state transfer) with ERR_DLSWAP_FAULT and
// quarantines the image, rather than ending the process.
#pragma once
#include <memory>

#include "signals/guard.h"
#include "image/library_handle.h"
#include "signals/fault_record.h"

namespace dlswap {

// Runs `body` (which calls code of `lib`) on this thread under a recovery frame. Returns null, or
// the record of the fault it raised; the image is then quarantined.
template <typename F>
std::shared_ptr<const FaultRecord> RunPluginCode(LibraryHandle &lib, const char *function, F &&body) {
  ThreadFaults *tf = ThisThreadFaults(ThreadRole::kLoader);
  using Body = std::remove_reference_t<F>;
  if (GuardedRun(
          tf, [](void *p) { (*static_cast<Body *>(p))(); }, &body) == kReturned)
    return nullptr;
  std::shared_ptr<const FaultRecord> record = MakeFaultRecord(tf->last, lib, function, *tf);
  Quarantine(lib, record);
  return record;
}

}  // namespace dlswap
