// Link-map namespaces: the one long-lived anchor namespace (isolation `namespace`) and the
// namespaces created per open (isolation `fresh-namespace`), whose number glibc caps hard.
#pragma once
#include <dlfcn.h>
#include <string>

namespace dlswap {

struct AnchorNamespace {
  void *handle = nullptr;
  Lmid_t lmid = -1;
  void (*free_fn)(void *) = nullptr;
  int (*fflush_all)() = nullptr;
  int *(*errno_location)() = nullptr;
};

// Opens the anchor once (idempotent). Returns nullptr and sets `error` on failure.
const AnchorNamespace *EnsureAnchor(const std::string &anchor_path, std::string &error);
const AnchorNamespace *Anchor();  // nullptr until EnsureAnchor succeeded

// A namespace's libc takes the base libc's `environ` pointer when it is created. node's setenv
// (process.env.X = ...) reallocates and frees that array, leaving the namespace reading freed memory
// in getenv. Points the namespace's `__environ` (found through `handle`) at a private, never-freed
// snapshot of the current environment instead. Snapshots are shared until the environment changes.
void GiveNamespaceStableEnviron(void *handle);

// True while namespace `lmid` still holds at least one object.
bool NamespaceAlive(Lmid_t lmid);

// Bookkeeping of namespaces created by fresh-namespace opens.
void TrackFreshNamespace(Lmid_t lmid);
int LiveFreshNamespaces();  // prunes the ones glibc has freed

}  // namespace dlswap
