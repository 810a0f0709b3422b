// pthread_exit() (or thrd_exit()) called by a library during a call through dlswap: without this,
// the thread running the call would end (the JS thread: node could no longer exit; a pool thread:
// the call's promise and the library's close() would never settle). It is contained like a fault:
// the call ends with ERR_DLSWAP_FAULT (signal 'pthread_exit'), the library is quarantined.
//
// How the library's call reaches us, per mode:
//   namespace, fresh-namespace  the namespace runtime defines pthread_exit and thrd_exit for every
//                               library of the namespace and forwards them here (runtime.c);
//   local, deepbind             the image's own relocations for pthread_exit and thrd_exit (its GOT
//                               and PLT slots) are pointed here once it is loaded
//                               (InterposeThreadExit), so are its private dependencies'.
// A call that escapes both (through dlsym(RTLD_DEFAULT, "pthread_exit"), or from a system library)
// ends the thread as before. Outside a call (a thread the library started) both are plain
// pthread_exit.
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <unwind.h>

#include <cstring>

#include "signals/containment.h"
#include "signals/guard.h"
#include "signals/loaded_image.h"
#include "signals/recovery.h"
#include "signals/thread_exit.h"

namespace dlswap {

namespace {

struct ExitWalk {
  FaultDetails *d;
  uintptr_t call_site;
  int skip = 1;  // ThreadExitDuringCall's own frame
};

_Unwind_Reason_Code ExitStep(struct _Unwind_Context *ctx, void *p) {
  ExitWalk &w = *static_cast<ExitWalk *>(p);
  const uintptr_t ip = _Unwind_GetIP(ctx);
  if (w.skip > 0) {
    --w.skip;
    return _URC_NO_REASON;
  }
  if (ip == w.call_site) {
    w.d->reached_call = true;
    return _URC_END_OF_STACK;
  }
  if (w.d->depth >= kMaxTrace) return _URC_END_OF_STACK;
  // trace[0] is where the library called pthread_exit: the call instruction.
  w.d->trace[w.d->depth] = w.d->depth == 0 ? ip - 1 : ip;
  w.d->depth++;
  return _URC_NO_REASON;
}

#if defined(__x86_64__)
constexpr uint32_t kJumpSlot = R_X86_64_JUMP_SLOT, kGlobDat = R_X86_64_GLOB_DAT;
#else
constexpr uint32_t kJumpSlot = R_AARCH64_JUMP_SLOT, kGlobDat = R_AARCH64_GLOB_DAT;
#endif

// Writes `value` into the relocated slot at `slot`, lifting RELRO's protection for the write.
void WriteSlot(uintptr_t slot, uintptr_t value, uintptr_t relro_start, uintptr_t relro_end) {
  const uintptr_t page = static_cast<uintptr_t>(getpagesize());
  const bool relro = slot >= relro_start && slot < relro_end;
  void *at = reinterpret_cast<void *>(slot & ~(page - 1));
  if (relro && mprotect(at, page, PROT_READ | PROT_WRITE) != 0) return;
  __atomic_store_n(reinterpret_cast<uintptr_t *>(slot), value, __ATOMIC_RELAXED);
  if (relro) mprotect(at, page, PROT_READ);
}

}  // namespace

void ThreadExitDuringCall(void *value) {
  ThreadFaults *tf = RegisteredThreadFaults();
  RecoveryFrame *f = tf ? tf->top : nullptr;
  if (f && f->kind == FrameKind::kCall) {
    FaultDetails &d = tf->last;
    d = FaultDetails();
    d.signo = kThreadExit;
    ExitWalk w{&d, f->saved[kSavedReturn]};
    _Unwind_Backtrace(&ExitStep, &w);
    if (d.depth > 0) d.pc = d.trace[0];
    if (Containable(d)) {
      f->outcome = kThreadExit;
      dlswap_guard_resume(f);
    }
  }
  pthread_exit(value);
}

void C11ThreadExitDuringCall(int result) { ThreadExitDuringCall(reinterpret_cast<void *>(static_cast<intptr_t>(result))); }

void InterposeThreadExit(const struct link_map *map) {
  if (!map || !map->l_ld || map->l_addr == 0) return;
  const uintptr_t base = map->l_addr;
  const ElfW(Sym) *symtab = nullptr;
  const char *strtab = nullptr;
  uintptr_t rela = 0, jmprel = 0;
  size_t relasz = 0, pltrelsz = 0;
  bool plt_is_rela = true;
  for (const ElfW(Dyn) *d = map->l_ld; d->d_tag != DT_NULL; ++d) {
    switch (d->d_tag) {
      case DT_SYMTAB: symtab = reinterpret_cast<const ElfW(Sym) *>(DynamicAddress(d->d_un.d_ptr, base)); break;
      case DT_STRTAB: strtab = reinterpret_cast<const char *>(DynamicAddress(d->d_un.d_ptr, base)); break;
      case DT_RELA: rela = DynamicAddress(d->d_un.d_ptr, base); break;
      case DT_RELASZ: relasz = d->d_un.d_val; break;
      case DT_JMPREL: jmprel = DynamicAddress(d->d_un.d_ptr, base); break;
      case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
      case DT_PLTREL: plt_is_rela = d->d_un.d_val == DT_RELA; break;
      default: break;
    }
  }
  if (!symtab || !strtab || !plt_is_rela) return;
  // RELRO: the span the loader made read-only after relocating.
  uintptr_t relro_start = 0, relro_end = 0;
  int count = 0;
  const ElfW(Phdr) *ph = ProgramHeaders(map, &count);
  for (int i = 0; i < count; ++i) {
    if (ph[i].p_type == PT_GNU_RELRO) {
      relro_start = base + ph[i].p_vaddr;
      relro_end = relro_start + ph[i].p_memsz;
    }
  }
  auto patch = [&](uintptr_t table, size_t size) {
    const auto *r = reinterpret_cast<const ElfW(Rela) *>(table);
    for (size_t i = 0; table && i < size / sizeof(ElfW(Rela)); ++i) {
      const uint32_t type = static_cast<uint32_t>(ELF64_R_TYPE(r[i].r_info));
      if (type != kJumpSlot && type != kGlobDat) continue;
      const char *name = strtab + symtab[ELF64_R_SYM(r[i].r_info)].st_name;
      uintptr_t to = 0;
      if (std::strcmp(name, "pthread_exit") == 0) to = reinterpret_cast<uintptr_t>(&ThreadExitDuringCall);
      if (std::strcmp(name, "thrd_exit") == 0) to = reinterpret_cast<uintptr_t>(&C11ThreadExitDuringCall);
      if (to) WriteSlot(base + r[i].r_offset, to, relro_start, relro_end);
    }
  };
  patch(rela, relasz);
  patch(jmprel, pltrelsz);
}

}  // namespace dlswap
