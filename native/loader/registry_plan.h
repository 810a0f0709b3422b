// Process-wide registries in the dependencies every generation shares (issue 22, H5): gflags' flag
// registry in libgflags, GObject's type system in libgobject, FFTW's planner in libfftw3. Each
// generation's constructors register their names again, in a registry that still holds the old
// generation's: gflags calls exit(1), GObject refuses the type and the library hangs, FFTW keeps
// the old generation's solvers, which point into its unmapped code.
//
// What a load does instead (docs/isolation.md, "Process-wide registries"): a system dependency that
// holds such a registry, when an image loaded anew with each generation registers in it, is planned
// as private, so that each generation gets its own copy, and so is every system dependency that
// needs it (libglog for a library that registers gflags flags and links glog too): what registers
// and what reads the registry of one generation are then the same copy. A registry that keeps
// pointers into the registrant's image (GLib's quark table) is not copied; a registrant that could
// be unmapped is kept mapped instead.
//
// Which registries exist is policy (lib/load/registries.ts passes them as RegistryRule); this finds
// them in a plan. Reads the plan only.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "loader/dependency_plan.h"

namespace dlswap {

// '*' matches any run of characters; everything else itself.
bool GlobMatch(const std::string &pattern, const std::string &text);

// A system dependency to plan as private, and why.
struct RegistryCopy {
  std::string reason;    // for lib.info.dependencies and inspect
  std::string registry;  // the registry it holds ("" for one copied because it needs one)
};

struct RegistryChoice {
  std::map<std::string, RegistryCopy> copies;  // by DT_NEEDED name
  std::string keep_mapped;                     // DependencyPlan::keep_mapped
};

// Whether a plan that did not follow system dependencies already shows a registry to copy: one of
// the library's or its private copies' direct system dependencies is a registry they register in.
// Cheap (the imports are looked at only for a dependency whose name is a registry's): a load asks
// it first, and plans the whole graph only when it says yes.
bool MentionsRegistry(const DependencyPlan &plan, const ElfInfoStruct &root, const std::vector<RegistryRule> &rules);

// On a plan that followed system dependencies (every node read): the registries to copy, the
// system dependencies that need them, and whether a registrant must stay mapped instead. A copied
// dependency that registers in a registry itself makes that one copied too, until nothing changes.
RegistryChoice ChooseRegistryCopies(const DependencyPlan &plan, const ElfInfoStruct &root, const std::vector<RegistryRule> &rules);

}  // namespace dlswap
