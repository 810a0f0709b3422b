// The host side of the namespace runtime (runtime/runtime_abi.h): pthread keys and threads of
// code in dlswap's namespaces, served by node's libc and tracked so that unloading stays safe.
#pragma once
#include <link.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/proc_maps.h"
#include "namespace/namespace_pool.h"

namespace dlswap {

// Fills the table a namespace's runtime forwards to.
void FillRuntimeHost(dlswap_runtime_host *host, NamespaceRecord *ns);

// ---- keys (runtime_keys.cc) ----
// A key a namespace library created belongs to that namespace (no other code may get, set or
// delete it) and has its destructor called through a slot of dlswap's, so that it can be withheld
// while the library may be unmapped. Around every dlclose in a namespace: SuspendKeyDestructors
// first (it finds which objects made the keys made since the last time, then waits for destructors
// already running; false if one did not return within `timeout_ms`), then ResumeKeyDestructors,
// which deletes the keys whose creator or destructor went away with the unmapped code. A thread
// exiting in between skips those destructors: its values leak, nothing jumps into unmapped code.
// Both take the dynamic loader's lock (dladdr): call them only where a dlclose is made.
bool SuspendKeyDestructors(NamespaceRecord *ns, int timeout_ms);
void ResumeKeyDestructors(NamespaceRecord *ns);
// Keys created through the runtime that are still live, per namespace (for doctor and tests).
int LiveNamespaceKeys(NamespaceRecord *ns);

// ---- locale (runtime_locale.cc) ----
// setlocale(category, locale) in the namespace's libc, for the runtime. A change is recorded with
// the caller's return address and what the categories it changed were before.
char *LocaleSet(void *ns, int category, const char *locale, const void *caller);
// Before code in `code` is unmapped: every locale category of `ns` that code changed is set back to
// what it was before (or, if another library changed it since, that library's record now says what
// it was before the first of them). Returns the categories set back ("LC_NUMERIC"...).
std::vector<std::string> RestoreLocaleOf(NamespaceRecord *ns, const std::vector<AddressRange> &code);

// ---- threads (runtime_threads.cc) ----
// Threads are recorded by raw addresses when they start (creation never waits for the dynamic
// loader's lock); ResolveRuntimeThreads finds their objects and takes the pins of dependencies that
// started them. Call it before deciding what an unload may unmap (it takes the loader lock).
void ResolveRuntimeThreads();
// The images dlswap itself opened. A thread one of them starts does not keep it mapped (closing it
// checks for such threads instead); a thread a dependency starts (libgomp's pool) keeps that
// dependency mapped for as long as the thread lives, because nothing else knows when to stop it.
void NoteImageOpened(const struct link_map *image);
void NoteImageClosed(const struct link_map *image);
std::vector<const struct link_map *> OpenImages();
struct ThreadNote {
  pid_t tid = 0;
  std::string name;       // /proc comm
  std::string why;        // "started by it", "running its code"...
  bool recorded = false;  // started through the runtime: its exit is seen (WaitForRuntimeThreadsToExit)
};
// Threads started through the runtime that are alive and whose creator or start routine is in one
// of `objects`, and threads of namespace `ns` started since the last ResolveRuntimeThreads (not
// known yet, so taken as holding).
std::vector<ThreadNote> RuntimeThreadsIn(const std::vector<const struct link_map *> &objects, NamespaceRecord *ns);
// Objects kept mapped because threads they started are alive (dependencies such as libgomp, whose
// pool threads outlive the call that started them).
std::vector<const struct link_map *> ThreadPinnedObjects();
// Pins whose threads have exited are released here, on a thread that holds no loader lock, never
// from the exiting thread itself (it may be joined by code running under dlclose).
void ReleaseExitedThreadPins();
// Waits until none of `tids` (threads started through the runtime) is alive, for at most
// `timeout_ms`. True when they are all gone.
bool WaitForRuntimeThreadsToExit(const std::vector<pid_t> &tids, int timeout_ms);
// Live threads started through the runtime of `ns` (for doctor and tests).
int LiveRuntimeThreads(NamespaceRecord *ns);

// ---- dynamic loading from inside a namespace (runtime_dl.cc) ----
// The runtime's dlopen/dlmopen entries of the table: notes for NODE_DEBUG=dlswap, RTLD_GLOBAL
// withheld where the namespace has no global scope (namespace_scope.h).
void FillRuntimeDl(dlswap_runtime_host *host, NamespaceRecord *ns);
void NoteGlobalScopeWithheld(NamespaceRecord *ns, const std::string &why);

// ---- library code ending the process (runtime_exit.cc) ----
void FillRuntimeEnd(dlswap_runtime_host *host);

}  // namespace dlswap
