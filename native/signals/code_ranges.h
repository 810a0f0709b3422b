// Where code that a fault must never be contained in lives: dlswap's own addon (it may hold its
// locks), node's executable (V8, libuv, node), the dynamic loader (its lock is held while it runs
// constructors) and libc's dl_iterate_phdr (it holds the loader's write lock while it runs the
// caller's callback). Computed once, before the handlers are installed; read by the handler.
#pragma once
#include <cstdint>

namespace dlswap {

enum class CodeOwner : uint8_t { kOther, kDlswap, kNode, kLoader, kLoaderCallback };

// Fills the table (not async-signal-safe; called once from InstallFaultHandlers's caller).
// `program_is_node`: the executable is node's and this code is the addon's (false only for
// scripts/guard-smoke.cc, whose program holds this code and stands for a library).
void ComputeCodeRanges(bool program_is_node = true);
// A namespace's own libc: its dl_iterate_phdr takes the same loader lock (namespace_pool.cc).
void NoteNamespaceLibc(long lmid, void *dl_iterate_phdr_fn);
// Whose code `pc` is, of the owners above. Async-signal-safe.
CodeOwner OwnerOf(uintptr_t pc);
// Whether `pc` is in a loaded object (not JIT code, not a wild address). Async-signal-safe where
// glibc has _dl_find_object (2.35 and later); false without it.
bool InLoadedObject(uintptr_t pc);
// The file name (the dynamic loader's) and load bias of the object that holds `pc`, under the
// same condition. Async-signal-safe.
bool ObjectAt(uintptr_t pc, const char **name, uintptr_t *base);

}  // namespace dlswap
