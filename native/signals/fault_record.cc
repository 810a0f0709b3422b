#include "signals/fault_record.h"

#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>

#include "image/library_handle.h"
#include "signals/image_registry.h"
#include "signals/signal_text.h"
#include "signals/symbol_file.h"

namespace dlswap {

namespace {

std::string HexOf(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

std::string BaseName(const char *path) {
  std::string p = path ? path : "";
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// One frame: the registry names dlswap's images (the user's path; the full symbol table of the
// called library's file when it is the build that is mapped), dladdr the others (libc...).
FaultFrame Symbolize(uintptr_t pc, bool return_address, const LibraryHandle &lib) {
  FaultFrame f;
  f.pc = pc;
  const uintptr_t at = return_address ? pc - 1 : pc;  // the call instruction, not the one after it
  ImageHit hit;
  if (FindImage(at, &hit)) {
    f.object = hit.name;
    f.in_library = true;
    f.object_address = pc - hit.base;
    FileSymbol fs;
    const char *name = nullptr;
    uintptr_t off = 0;
    if (hit.map == lib.map && !lib.display_path.empty() && FileSymbolAt(lib.display_path, lib.build_id, at - hit.base, &fs)) {
      f.symbol = fs.name;
      f.offset = fs.offset + (pc - at);
    } else if (DynamicSymbolAt(hit, at, &name, &off)) {
      f.symbol = name;
      f.offset = off + (pc - at);
    } else {
      f.offset = pc - hit.base;
    }
    return f;
  }
  Dl_info info;
  struct link_map *map = nullptr;
  if (pc != 0 && dladdr1(reinterpret_cast<void *>(at), &info, reinterpret_cast<void **>(&map), RTLD_DL_LINKMAP) && map) {
    f.object = BaseName(info.dli_fname);
    if (f.object.empty()) f.object = "node";
    f.object_address = pc - map->l_addr;
    if (info.dli_sname && info.dli_saddr) {
      f.symbol = info.dli_sname;
      f.offset = pc - reinterpret_cast<uintptr_t>(info.dli_saddr);
    } else {
      f.offset = pc - map->l_addr;
    }
    return f;
  }
  f.object = "";
  f.offset = pc;
  return f;
}

std::string FrameText(const FaultFrame &f) {
  if (f.object.empty()) return HexOf(f.pc) + " (in no loaded object)";
  std::string s = f.symbol.empty() ? "offset " + HexOf(f.offset) : f.symbol + "+" + HexOf(f.offset);
  return s + " in " + f.object;
}

std::string ThreadText(const FaultRecord &r) {
  std::string t;
  switch (r.role) {
    case ThreadRole::kJs: t = r.main_thread ? "the main JS thread" : "a worker_thread's JS thread"; break;
    case ThreadRole::kPool: t = "a libuv pool thread (.async)"; break;
    case ThreadRole::kLoader: t = "dlswap's loader thread"; break;
    default: t = "a thread of the library";
  }
  return t + " (tid " + std::to_string(r.tid) + ")";
}

const char *AccessText(FaultAccess a) {
  switch (a) {
    case FaultAccess::kRead: return "reading";
    case FaultAccess::kWrite: return "writing";
    case FaultAccess::kExecute: return "executing";
    default: return "at";
  }
}

}  // namespace

std::string FaultRecord::Where() const {
  if (frames.empty()) return "an unknown place";
  if (frames[0].in_library || frames.size() == 1) return FrameText(frames[0]);
  for (size_t i = 1; i < frames.size(); ++i) {
    if (frames[i].in_library) return FrameText(frames[0]) + ", called from " + FrameText(frames[i]);
  }
  return FrameText(frames[0]);
}

std::shared_ptr<const FaultRecord> MakeFaultRecord(const FaultDetails &d, const LibraryHandle &lib, const std::string &function,
                                                   const ThreadFaults &thread) {
  auto r = std::make_shared<FaultRecord>();
  r->signo = d.signo;
  r->code = d.code;
  r->access = d.access;
  r->address = d.address;
  r->function = function;
  r->library = lib.display_path.empty() ? lib.mapped_path : lib.display_path;
  r->generation = lib.generation;
  r->tid = thread.tid;
  r->role = thread.role;
  r->main_thread = thread.tid == getpid();
  for (int i = 0; i < d.depth && i < kMaxTrace; ++i) r->frames.push_back(Symbolize(d.trace[i], i > 0, lib));
  if (d.depth == 0 && d.pc) r->frames.push_back(Symbolize(d.pc, false, lib));

  std::string what;
  if (d.signo == kThreadExit) {
    what = "called pthread_exit() during the call";
  } else {
    what = std::string("raised ") + SignalName(d.signo) + " (" + SignalCodeText(d.signo, d.code) + ")";
    if (d.signo == SIGSEGV || d.signo == SIGBUS) what += std::string(" ") + AccessText(d.access) + " address " + HexOf(d.address);
  }
  std::string gen = r->generation > 0 ? " generation " + std::to_string(r->generation) + " of" : "";
  r->message = function + "() " + what + " at " + r->Where() + ", in a call into" + gen + " " + r->library + " on " + ThreadText(*r) +
               ". The call was ended and the process goes on; the library is quarantined: every later call is refused "
               "(ERR_DLSWAP_FAULTED) and it is never unmapped, since its locks and memory may be inconsistent.";
  return r;
}

std::shared_ptr<const FaultRecord> Quarantine(LibraryHandle &lib, std::shared_ptr<const FaultRecord> record) {
  std::lock_guard<std::mutex> lock(lib.fault_mutex);
  if (!lib.first_fault) lib.first_fault = std::move(record);
  lib.faulted.store(true, std::memory_order_release);
  return lib.first_fault;
}

std::shared_ptr<const FaultRecord> FirstFault(const LibraryHandle &lib) {
  if (!lib.faulted.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard<std::mutex> lock(const_cast<LibraryHandle &>(lib).fault_mutex);
  return lib.first_fault;
}

std::string FaultedMessage(const std::string &function, const FaultRecord *first) {
  std::string lib = first ? first->library : "its library";
  std::string gen = first && first->generation > 0 ? "generation " + std::to_string(first->generation) + " of " : "";
  std::string why =
      first ? first->function + "() " +
                  (first->signo == kThreadExit ? std::string("called pthread_exit()") : std::string("raised ") + SignalName(first->signo)) +
                  " at " + first->Where()
            : std::string("a call faulted");
  return function + "(): " + gen + lib + " is quarantined since a fault (" + why +
         "): it refuses every call and stays mapped. Open the library again (or reload the HotLibrary) to use a fresh copy.";
}

}  // namespace dlswap
