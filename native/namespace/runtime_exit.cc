#include "namespace/runtime_exit.h"

#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <unistd.h>
#include <unwind.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "namespace/rtld_layout.h"
#include "namespace/runtime_host.h"
#include "namespace/runtime_notes.h"

namespace dlswap {

namespace {

// "DLSWEND\0": a foreign exception to every C++ runtime, which therefore only runs cleanups for it.
constexpr _Unwind_Exception_Class kEndClass = 0x444c5357454e4400ULL;

// One copy of libgcc_s's unwinder: the forced unwind, the walk that checks the landing is
// reachable, and the accessors the stop function reads frames with, all from the same copy.
struct Unwinder {
  _Unwind_Reason_Code (*forced_unwind)(_Unwind_Exception *, _Unwind_Stop_Fn, void *);
  _Unwind_Reason_Code (*backtrace)(_Unwind_Trace_Fn, void *);
  _Unwind_Word (*get_cfa)(_Unwind_Context *);
  void *(*get_lsda)(_Unwind_Context *);
  _Unwind_Ptr (*get_ip_info)(_Unwind_Context *, int *);
  _Unwind_Ptr (*get_region_start)(_Unwind_Context *);
};

const struct link_map *ObjectAt(const void *address) {
  Dl_info info;
  void *map = nullptr;
  if (!address || dladdr1(address, &info, &map, RTLD_DL_LINKMAP) == 0) return nullptr;
  return static_cast<const struct link_map *>(map);
}

// The unwinder the image's own C++ code unwinds with: the libgcc_s of its dependency tree, found
// through the symbol only libgcc_s defines, provided every unwinder entry point the tree resolves
// first is that copy's. A namespace loads its own libgcc_s, and its personality routines call the
// copy they were bound to: one whose unwinder never ran has not set up the register table those
// calls read (libgcc aborts), and glog's tree puts libunwind's _Unwind_* before libgcc_s's. false
// when there is none, or the tree is ambiguous: the call is then unwound without cleanups.
bool UnwinderOf(void *image, Unwinder &u) {
  if (!image) return false;
  auto find = [&](const char *name) {
    dlerror();
    void *p = dlsym(image, name);
    dlerror();
    return p;
  };
  const struct link_map *libgcc = ObjectAt(find("__gcc_personality_v0"));
  if (!libgcc) return false;
  void *fns[6];
  const char *names[6] = {"_Unwind_ForcedUnwind", "_Unwind_Backtrace",     "_Unwind_GetCFA", "_Unwind_GetLanguageSpecificData",
                          "_Unwind_GetIPInfo",    "_Unwind_GetRegionStart"};
  for (int i = 0; i < 6; ++i) {
    fns[i] = find(names[i]);
    if (!fns[i] || ObjectAt(fns[i]) != libgcc) return false;
  }
  // The entry points a C++ runtime calls when it throws and catches: the same copy, or it may be
  // bound to another one.
  for (const char *name : {"_Unwind_RaiseException", "_Unwind_Resume", "_Unwind_SetGR", "_Unwind_SetIP"}) {
    if (ObjectAt(find(name)) != libgcc) return false;
  }
  u.forced_unwind = reinterpret_cast<decltype(u.forced_unwind)>(fns[0]);
  u.backtrace = reinterpret_cast<decltype(u.backtrace)>(fns[1]);
  u.get_cfa = reinterpret_cast<decltype(u.get_cfa)>(fns[2]);
  u.get_lsda = reinterpret_cast<decltype(u.get_lsda)>(fns[3]);
  u.get_ip_info = reinterpret_cast<decltype(u.get_ip_info)>(fns[4]);
  u.get_region_start = reinterpret_cast<decltype(u.get_region_start)>(fns[5]);
  return true;
}

// The load in progress on this thread. Thread-local storage rather than the landing frame's: the
// frame is re-entered by siglongjmp, and nothing of it may have changed since sigsetjmp.
struct Landing {
  bool active = false;
  bool unwinding = false;
  bool reachable = false;
  uintptr_t mark = 0;                                    // an address in the landing frame: a frame whose CFA is above it is the caller's
  unsigned load_lock = 0, write_lock = 0, tls_lock = 0;  // the loader locks this thread held before
  int how = 0, status = 0;
  const void *caller = nullptr;
  const LibraryCodeSite *site = nullptr;
  Unwinder unwinder;
  sigjmp_buf env;
  _Unwind_Exception exception;
};
thread_local Landing tl_landing;

// ---- which frames a forced unwind may run -----------------------------------------------------

// DWARF exception-header encodings (the LSDA's); the application bits are only ever 0 for the
// call-site table, whose values are offsets from the start of the function.
bool ReadULEB(const uint8_t *&p, const uint8_t *end, uintptr_t &out) {
  out = 0;
  for (unsigned shift = 0; p < end && shift < 64; shift += 7) {
    const uint8_t b = *p++;
    out |= static_cast<uintptr_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool ReadEncoded(uint8_t enc, const uint8_t *&p, const uint8_t *end, uintptr_t &out) {
  if (enc == 0xff) return false;
  size_t size = 0;
  switch (enc & 0x0f) {
    case 0x01:  // uleb128
      return ReadULEB(p, end, out);
    case 0x09: {  // sleb128: read as unsigned, only its length matters to a skip
      return ReadULEB(p, end, out);
    }
    case 0x00: size = sizeof(void *); break;  // absptr
    case 0x02:
    case 0x0a: size = 2; break;
    case 0x03:
    case 0x0b: size = 4; break;
    case 0x04:
    case 0x0c: size = 8; break;
    default: return false;
  }
  if (static_cast<size_t>(end - p) < size) return false;
  uint64_t v = 0;
  std::memcpy(&v, p, size);  // little-endian on both supported architectures
  p += size;
  out = static_cast<uintptr_t>(v);
  return true;
}

// Whether the frame's exception table asks for nothing but cleanups at its current instruction. A
// frame without a table has nothing to run and nothing to refuse. One whose instruction is missing
// from its table, or whose entry names a handler or an exception specification (a catch clause,
// noexcept, a static initialiser) is where the C++ runtime would catch or call terminate: the unwind
// stops before it.
bool OnlyCleanups(const Unwinder &u, _Unwind_Context *ctx) {
  const auto *lsda = static_cast<const uint8_t *>(u.get_lsda(ctx));
  if (!lsda) return true;
  int before = 0;
  uintptr_t ip = u.get_ip_info(ctx, &before);
  if (!before) --ip;
  const uintptr_t start = u.get_region_start(ctx);
  // An LSDA has no length of its own; the call-site table's length bounds what is read.
  const uint8_t *p = lsda;
  const uint8_t *const bound = lsda + 65536;
  uintptr_t v = 0;
  const uint8_t lpstart_enc = *p++;
  if (lpstart_enc != 0xff && ((lpstart_enc & 0x70) == 0x50 || !ReadEncoded(lpstart_enc, p, bound, v))) return false;
  const uint8_t ttype_enc = *p++;
  if (ttype_enc != 0xff && !ReadULEB(p, bound, v)) return false;
  const uint8_t cs_enc = *p++;
  if ((cs_enc & 0x70) != 0) return false;
  uintptr_t cs_length = 0;
  if (!ReadULEB(p, bound, cs_length) || cs_length > 65536) return false;
  const uint8_t *const cs_end = p + cs_length;
  while (p < cs_end) {
    uintptr_t cs_start = 0, cs_len = 0, cs_lp = 0, cs_action = 0;
    if (!ReadEncoded(cs_enc, p, cs_end, cs_start) || !ReadEncoded(cs_enc, p, cs_end, cs_len) || !ReadEncoded(cs_enc, p, cs_end, cs_lp) ||
        !ReadULEB(p, cs_end, cs_action)) {
      return false;
    }
    if (ip < start + cs_start) return false;  // sorted table: past the instruction, not in it
    if (ip < start + cs_start + cs_len) return cs_lp == 0 || cs_action == 0;
  }
  return false;
}

_Unwind_Reason_Code Stop(int, _Unwind_Action actions, _Unwind_Exception_Class, _Unwind_Exception *, _Unwind_Context *ctx, void *param) {
  auto *l = static_cast<Landing *>(param);
  if ((actions & _UA_END_OF_STACK) || l->unwinder.get_cfa(ctx) > l->mark || !OnlyCleanups(l->unwinder, ctx)) siglongjmp(l->env, 1);
  return _URC_NO_REASON;
}

_Unwind_Reason_Code Reach(_Unwind_Context *ctx, void *param) {
  auto *l = static_cast<Landing *>(param);
  if (l->unwinder.get_cfa(ctx) > l->mark) {
    l->reachable = true;
    return _URC_END_OF_STACK;
  }
  return _URC_NO_REASON;
}

// The exception lives in the Landing: nothing to free. Called if a cleanup ends the unwind early.
void DropException(_Unwind_Reason_Code, _Unwind_Exception *) {}

// ---- the runtime's table entries ---------------------------------------------------------------

// No object with a destructor may be in scope at the unwinder's call: this frame is the first one
// the forced unwind walks, and a cleanup here would run dlswap's personality routine on a frame of
// another libgcc_s copy's making.
void ProcessEnd(void *, int how, int status, const void *caller) {
  Landing &l = tl_landing;
  if (!l.active || l.unwinding) return;
  const RtldLayout &r = Rtld();
  // Inside dlopen, only while constructors run: the TLS lock is down again and ld.so's error
  // handling is off (_dl_catch_exception(NULL, ...)), so the unwound frames leave nothing of ld.so's
  // pointing at them. The loader lock is the one thing to give back.
  if (!r.ok || HeldByMe(r.load_tls_lock) != l.tls_lock || HeldByMe(r.load_write_lock) != l.write_lock ||
      HeldByMe(r.load_lock) < l.load_lock) {
    return;
  }
  void *image = l.site->handle;
  if (!image && l.site->lmid > 0) {
    // The image being opened, found by the name it is being opened under (a reference of its own,
    // never given back: the image is kept for good once this unwinds).
    image = dlmopen(l.site->lmid, l.site->file.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    dlerror();
  }
  l.how = how;
  l.status = status;
  l.caller = caller;
  l.unwinding = true;
  l.reachable = false;
  // The landing's frame is an ancestor of this one: library code runs inside CallLibraryCode on this
  // thread. With an unwinder that is safe to use and walks all the way there, the frames' cleanups
  // run on the way; otherwise the longjmp skips them, as it skips the loader's frames anyway.
  if (UnwinderOf(image, l.unwinder)) {
    l.unwinder.backtrace(&Reach, &l);
    if (l.reachable) {
      std::memset(&l.exception, 0, sizeof l.exception);
      l.exception.exception_class = kEndClass;
      l.exception.exception_cleanup = &DropException;
      l.unwinder.forced_unwind(&l.exception, &Stop, &l);
      // Returns only if the unwinder gave up before any frame: cross them all instead.
    }
  }
  siglongjmp(l.env, 1);
}

int InLoad() { return tl_landing.active && !tl_landing.unwinding; }

[[noreturn]] void NodeExit(int status) { exit(status); }

// local and deepbind: libc's exit runs this (on the thread that called exit) before node's own
// handlers, which were registered before the addon was loaded.
void OnProcessExit(int status, void *) {
  Landing &l = tl_landing;
  if (!l.active || l.unwinding) return;
  fprintf(stderr,
          "dlswap: exit(%d) was called while %s; dlswap cannot stop it in this isolation mode, so the process "
          "ends now with that status, without node's exit handlers (they would run while node's JS thread goes "
          "on). In isolation 'namespace' or 'fresh-namespace' this fails the load instead "
          "(ERR_DLSWAP_EXIT_DURING_LOAD).\n",
          status, l.site ? l.site->doing.c_str() : "a library was being loaded");
  fflush(nullptr);
  _exit(status);
}

// Never destroyed: the handles live on, and a load may fail while the process exits.
struct Kept {
  std::mutex mutex;
  std::vector<void *> handles;
};
Kept &K() {
  static Kept *k = new Kept();
  return *k;
}

}  // namespace

__attribute__((noinline)) bool CallLibraryCode(const LibraryCodeSite &site, void (*fn)(void *), void *arg, LibraryEnd &end) {
  // exit() runs handlers newest first, and node's own (its static destructors) were registered long
  // before. In local and deepbind the handler is registered again before each load, so that it
  // comes before the handlers of every library loaded since (RocksDB's destructors aborted first):
  // 32 bytes of libc's per load, never freed. In the namespace modes the runtime catches the call
  // before libc's exit, and the handler only serves when it could not be unwound.
  static std::once_flag once;
  if (site.constructors_in_node_libc) {
    on_exit(&OnProcessExit, nullptr);
  } else {
    std::call_once(once, [] { on_exit(&OnProcessExit, nullptr); });
  }
  Landing &l = tl_landing;
  if (l.active) {  // library code calling back into a load: the outer landing covers it
    fn(arg);
    return true;
  }
  volatile char marker = 0;
  const RtldLayout &r = Rtld();
  l.mark = reinterpret_cast<uintptr_t>(&marker);
  l.load_lock = HeldByMe(r.load_lock);
  l.write_lock = HeldByMe(r.load_write_lock);
  l.tls_lock = HeldByMe(r.load_tls_lock);
  l.site = &site;
  l.how = 0;
  l.unwinding = false;
  if (sigsetjmp(l.env, 0) == 0) {
    l.active = true;
    fn(arg);
    l.active = false;
    l.site = nullptr;
    return true;
  }
  // Unwound from ProcessEnd. What dlopen would have released on its way out, given back here.
  if (r.ok) {
    for (unsigned held = HeldByMe(r.load_lock); held > l.load_lock; --held) pthread_mutex_unlock(r.load_lock);
  }
  l.active = false;
  l.unwinding = false;
  l.site = nullptr;
  end.how = l.how;
  end.status = l.status;
  end.object = ObjectNameAt(l.caller);
  AddRuntimeNote((end.object.empty() ? std::string("library code") : end.object) + " called " + EndCallText(end) + " while " + site.doing +
                 ": the call was unwound and the load fails instead");
  return false;
}

std::string EndCallText(const LibraryEnd &end) {
  switch (end.how) {
    case DLSWAP_END_EXIT: return "exit(" + std::to_string(end.status) + ")";
    case DLSWAP_END__EXIT: return "_exit(" + std::to_string(end.status) + ")";
    case DLSWAP_END__EXIT_C99: return "_Exit(" + std::to_string(end.status) + ")";
    case DLSWAP_END_QUICK_EXIT: return "quick_exit(" + std::to_string(end.status) + ")";
    case DLSWAP_END_ABORT: return "abort()";
    case DLSWAP_END_ASSERT: return "a failing assert()";
    case DLSWAP_END_THREAD_EXIT: return "pthread_exit()";
    default: return "nothing";
  }
}

void KeepInterruptedImage(void *handle) {
  if (!handle) return;
  std::lock_guard<std::mutex> lock(K().mutex);
  K().handles.push_back(handle);
}

int InterruptedImages() {
  std::lock_guard<std::mutex> lock(K().mutex);
  return static_cast<int>(K().handles.size());
}

void FillRuntimeEnd(dlswap_runtime_host *host) {
  host->process_end = &ProcessEnd;
  host->in_load = &InLoad;
  host->exit = &NodeExit;
}

}  // namespace dlswap
