// The global scope of a namespace dlswap makes, so that RTLD_GLOBAL works inside it.
//
// glibc gives every namespace a global scope, the search list of its first object (here the
// runtime: it, libc and ld.so), which every object of the namespace searches first. But only the
// base namespace has the "main search list" that dlopen(..., RTLD_GLOBAL) appends to; in a dlmopen
// namespace that pointer is NULL and the call crashes (glibc 2.36, add_to_global_resize). Pointing it
// at the first object's search list gives RTLD_GLOBAL inside the namespace the meaning it has in a
// process of its own: the object joins that namespace's global scope, later lookups
// (dlsym(RTLD_DEFAULT), relocations of later-loaded objects) find it, node's namespace never sees
// it, and glibc itself maintains the list (dlclose takes the object out again).
#pragma once
#include <link.h>

#include <string>

namespace dlswap {

struct NamespaceRecord;

// Gives the new namespace `ns`, whose first object is `runtime_map`, its main search list. Call once,
// right after the runtime was loaded, before anything else is. false (and `why`) when glibc's layout
// could not be verified: RTLD_GLOBAL must then be withheld inside the namespace.
bool EnableGlobalScope(NamespaceRecord *ns, const struct link_map *runtime_map, std::string &why);

// The namespace's runtime is being closed with the namespace (its destructor runs this, under the
// loader lock): remembers the list glibc allocated for RTLD_GLOBAL, to free once the namespace is gone.
void NoteScopeClosing(NamespaceRecord *ns);

// After the runtime of `ns` was closed: if glibc freed the namespace, frees the list and clears the
// fields, so that the next namespace with this lmid starts as glibc would start it. Nothing if the
// namespace lives on (an object kept by its threads): its objects still search that list.
void ForgetGlobalScope(NamespaceRecord *ns);

}  // namespace dlswap
