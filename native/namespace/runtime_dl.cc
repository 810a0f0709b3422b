// The host side of dynamic loading by a namespace's own libraries (runtime/runtime_dl.c): what the
// runtime did with each dlopen/dlmopen it adjusted, said once per call site for NODE_DEBUG=dlswap.
#include <dlfcn.h>

#include <string>

#include "namespace/namespace_scope.h"
#include "namespace/runtime_host.h"
#include "namespace/runtime_notes.h"

namespace dlswap {

namespace {

std::string ModeText(int mode) {
  std::string s = (mode & RTLD_NOW) ? "RTLD_NOW" : "RTLD_LAZY";
  if (mode & RTLD_GLOBAL) s += "|RTLD_GLOBAL";
  if (mode & RTLD_NOLOAD) s += "|RTLD_NOLOAD";
  if (mode & RTLD_NODELETE) s += "|RTLD_NODELETE";
  if (mode & RTLD_DEEPBIND) s += "|RTLD_DEEPBIND";
  return s;
}

std::string Where(const NamespaceRecord *ns) {
  return "namespace " + std::to_string(ns->lmid) + (ns->shared ? " (isolation 'namespace', shared by every library opened in it)" : "");
}

int DlCall(void *p, int call, const char *file, int mode, const void *caller) {
  auto *ns = static_cast<NamespaceRecord *>(p);
  const std::string who = ObjectNameAt(caller);
  const std::string shown = file ? std::string("\"") + file + "\"" : "NULL";
  std::string what;
  switch (call) {
    case DLSWAP_DL_SELF:
      AddRuntimeNote(who + " called dlopen(NULL) in " + Where(ns) +
                     ": it gets that namespace's global scope (dlswap's runtime, its libc and what was opened with "
                     "RTLD_GLOBAL there), not node's executable");
      return mode;
    case DLSWAP_DL_BASE:
      what = who + " called dlmopen(LM_ID_BASE, " + shown + ", " + ModeText(mode) + ") in " + Where(ns) +
             ": opened in that namespace, the library's base namespace; node's stays untouched";
      break;
    case DLSWAP_DL_OWN:
      what = who + " called dlmopen(its own namespace, " + shown + ", " + ModeText(mode) + ") in " + Where(ns) + ": opened as dlopen would";
      break;
    default: what = who + " called dlopen(" + shown + ", " + ModeText(mode) + ") in " + Where(ns); break;
  }
  if (mode & RTLD_GLOBAL) {
    if (ns->host.global_scope) {
      what +=
          "; RTLD_GLOBAL adds it to that namespace's global scope: dlsym(RTLD_DEFAULT) there and libraries "
          "loaded there later find its symbols first";
    } else {
      mode &= ~RTLD_GLOBAL;
      what +=
          "; RTLD_GLOBAL withheld (glibc would crash, and dlswap could not give this namespace a global scope): "
          "its symbols are found through the handle only";
    }
  }
  AddRuntimeNote(what);
  return mode;
}

void RuntimeClosing(void *p) { NoteScopeClosing(static_cast<NamespaceRecord *>(p)); }

}  // namespace

void FillRuntimeDl(dlswap_runtime_host *host, NamespaceRecord *ns) {
  host->lmid = ns->lmid;
  host->runtime_path = ns->runtime_name.c_str();
  host->global_scope = 0;  // EnableGlobalScope decides, before any library is loaded
  host->dl_call = &DlCall;
  host->runtime_closing = &RuntimeClosing;
}

void NoteGlobalScopeWithheld(NamespaceRecord *ns, const std::string &why) {
  AddRuntimeNote("namespace " + std::to_string(ns->lmid) + " has no global scope for RTLD_GLOBAL (" + why +
                 "): dlopen(..., RTLD_GLOBAL) inside it loads the object without RTLD_GLOBAL");
}

}  // namespace dlswap
