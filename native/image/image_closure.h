// Which loaded objects an image brings with it, read from the link map (its public fields only:
// l_addr, l_name, l_ld and the l_next/l_prev chain), and which of them a dlclose of the image could
// unmap. Used to decide whether a thread is in code that closing an image would take away.
#pragma once
#include <link.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/proc_maps.h"

namespace dlswap {

using ObjectList = std::vector<const struct link_map *>;

// Every object of the namespace `member` is in, in load order.
ObjectList NamespaceObjects(const struct link_map *member);

// `root` and everything it needs, breadth first, as the dynamic loader resolved it: each DT_NEEDED
// name matched against the objects of the same namespace by SONAME or file name.
ObjectList Closure(const struct link_map *root, const ObjectList &objects);

// Objects of `image`'s closure that closing it could unmap: those no `keeper` needs and that are
// not marked NODELETE.
ObjectList UnmappableWith(const struct link_map *image, const ObjectList &keepers);
// The same for several images of one namespace at once, in time linear in the namespace's objects
// and the keepers' closures (not in their product): each image's unmappable objects, as if it were
// the only one closed. An image that is also a keeper does not keep its own closure, nor do the
// keepers of `not_keeping[i]` keep image i's (its private dependencies, closed with it).
std::vector<ObjectList> UnmappableEach(const ObjectList &images, const ObjectList &keepers,
                                       const std::vector<ObjectList> &not_keeping = {});

// `objects` in the order glibc runs destructors when they are unloaded together: each object
// before the objects of the list it needs.
ObjectList DestructorOrder(const ObjectList &objects);

// Program headers, below, are the dynamic loader's own copy (dlinfo RTLD_DI_PHDR: no system call,
// whatever the object's namespace), or on a glibc older than 2.36 read through the kernel (about one
// system call per object). The objects must stay loaded meanwhile.

// The code of these objects: their executable PT_LOAD segments in whole pages, from their program
// headers; for one whose headers cannot be had, its executable mappings, asked of `maps`.
std::vector<AddressRange> ExecutableRanges(const ObjectList &objects, ProcMaps &maps);

// Each object's whole extent in memory, .bss included, from its program headers (what the dynamic
// loader reserved for it and unmaps with it); {0, 0} for one whose headers cannot be had.
std::vector<AddressRange> ObjectExtents(const ObjectList &objects);
// One object's extent widened to whole pages: the span the kernel maps it in; {0, 0} as above.
AddressRange MappedExtent(const struct link_map *m);

std::string ObjectFileName(const struct link_map *m);  // basename of l_name

// `obj`'s DT_NEEDED names, each with the object of its namespace the loader matched it with (the first
// by l_name, SONAME or file name; null when none carries the name, as for a file found by a search
// under a further name). Walks link maps: call inside WithLinkMapsLocked.
std::vector<std::pair<std::string, const struct link_map *>> BoundNeeded(const struct link_map *obj);

}  // namespace dlswap

namespace dlswap {
// Runs `fn` while the dynamic loader cannot add or remove objects (inside a dl_iterate_phdr
// callback, which holds glibc's link-map write lock), so that walking link maps is safe against a
// dlopen or dlclose on another thread. `fn` must not dlopen or dlclose.
template <typename Fn>
void WithLinkMapsLocked(Fn fn) {
  struct Box {
    Fn *fn;
    bool done;
  } box{&fn, false};
  dl_iterate_phdr(
      [](struct dl_phdr_info *, size_t, void *data) -> int {
        auto *b = static_cast<Box *>(data);
        if (!b->done) (*b->fn)();
        b->done = true;
        return 1;
      },
      &box);
  if (!box.done) fn();  // no object at all: cannot happen in a running process
}
}  // namespace dlswap
