// The handover's state transfer (load_job.h): the old generation's dlswap_state_export into the new
// one's dlswap_state_import, each call bounded like init and fini.
#include <chrono>
#include <cstdint>
#include <vector>

#include "common/dl_symbol.h"
#include "common/faults.h"
#include "common/loader_lock.h"
#include "loader/load_steps.h"
#include "loader/loader_pool.h"
#include "signals/plugin_code.h"

namespace dlswap {

void RunHandover(const HandoverSpec &spec, HandoverResult &out) {
  const auto t = std::chrono::steady_clock::now();
  const std::string hung = LoaderLockRefusal("cannot hand the state over to " + spec.path);
  if (!hung.empty()) {
    out.step = "export";
    Fail(out.error, "ERR_DLSWAP_LOADER_HUNG", hung);
    return;
  }
  auto exp = ResolveSymbol<size_t (*)(void *, size_t)>(spec.from->handle, "dlswap_state_export");
  auto imp = ResolveSymbol<int (*)(const void *, size_t)>(spec.to->handle, "dlswap_state_import");
  if (!exp || !imp) return;  // nothing to move: the swap alone is the handover
  // A plugin that announces more than this is broken; refusing is better than allocating it.
  constexpr size_t kMaxState = size_t(1) << 30;
  auto fail = [&](const char *step, const char *code, const std::string &message) {
    out.step = step;
    Fail(out.error, code, message);
  };
  std::vector<uint8_t> buf;
  {
    LoaderPool::Deadline bound(spec.export_timeout_ms, [cb = spec.on_timeout] {
      if (cb) cb("export");
    });
    if (HitFault("in-state-export") == FaultAction::Throw)
      return fail("export", "ERR_DLSWAP_INTERNAL", "injected fault at 'in-state-export'");
    size_t size = 0;
    if ((out.fault = RunPluginCode(*spec.from, "dlswap_state_export", [&] { size = exp(nullptr, 0); }))) {
      return fail("export", "ERR_DLSWAP_FAULT", out.fault->message);
    }
    if (size > kMaxState) {
      return fail("export", "ERR_DLSWAP_STATE_TRANSFER",
                  "dlswap_state_export of the old generation announced " + std::to_string(size) +
                      " bytes of state (more than 1 GiB); rolled back to the old generation. Return the real size from "
                      "dlswap_state_export(NULL, 0).");
    }
    buf.resize(size);
    size_t written = 0;
    if ((out.fault = RunPluginCode(*spec.from, "dlswap_state_export", [&] { written = exp(buf.data(), size); }))) {
      return fail("export", "ERR_DLSWAP_FAULT", out.fault->message);
    }
    if (bound.Expired()) return fail("export", "ERR_DLSWAP_TIMEOUT", "dlswap_state_export returned only after its timeout");
    if (written != size) {
      return fail("export", "ERR_DLSWAP_STATE_TRANSFER",
                  "dlswap_state_export wrote " + std::to_string(written) + " bytes after announcing " + std::to_string(size) +
                      "; rolled back to the old generation. It must fill exactly the size it announced.");
    }
  }
  {
    LoaderPool::Deadline bound(spec.import_timeout_ms, [cb = spec.on_timeout] {
      if (cb) cb("import");
    });
    if (HitFault("in-state-import") == FaultAction::Throw)
      return fail("import", "ERR_DLSWAP_INTERNAL", "injected fault at 'in-state-import'");
    int rc = 0;
    if ((out.fault = RunPluginCode(*spec.to, "dlswap_state_import", [&] { rc = imp(buf.data(), buf.size()); }))) {
      return fail("import", "ERR_DLSWAP_FAULT", out.fault->message);
    }
    if (bound.Expired()) return fail("import", "ERR_DLSWAP_TIMEOUT", "dlswap_state_import returned only after its timeout");
    if (rc != 0) {
      return fail("import", "ERR_DLSWAP_STATE_TRANSFER",
                  "dlswap_state_import of the new generation returned " + std::to_string(rc) + " for " + std::to_string(buf.size()) +
                      " bytes of state (" + spec.path + "); rolled back to the old generation, which keeps serving.");
    }
  }
  out.bytes = buf.size();
  out.transferred = true;
  out.ms = Ms(t);
}

}  // namespace dlswap
