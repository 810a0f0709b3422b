// The private dependencies of one generation: each copied into the private area and renamed, so that
// the dynamic loader can match it with nothing but this generation's own requests.
//
// A private dependency gets a new SONAME of the same length, unique in the process ("libhelper.so.1"
// becomes "~0Ab3per.so.1"), and every DT_NEEDED and vn_file that names it, in the library's copy and
// in the other copies, is renamed with it. A dependency without a SONAME is matched by file name: its
// copy gets a second name (a hard link) of the needed name's length, and the requester's search path
// is pointed at the private directory.
//
// Copies are loaded one at a time, dependencies first, and a DT_NEEDED is matched by name against
// what is already loaded. In a cycle (a needs b, b needs a, as plain dlopen allows) one of them is
// loaded before the other exists: its request must find the other by file name, so that copy gets a
// second name that is its new SONAME, and the requester's search path is pointed at the private
// directory; the dynamic loader then loads the whole cycle at once, as plain dlopen does.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "loader/dependency_plan.h"
#include "loader/source_copy.h"

namespace dlswap {

struct ClosureCopy {
  int node = 0;                      // index into the plan's nodes
  PrivateCopy copy;                  // the file in the private directory
  std::string new_soname;            // empty when it has none
  std::vector<std::string> aliases;  // further names of the copy (hard links) for by-name matches
};

struct ClosureCopies {
  std::vector<ClosureCopy> copies;                                // in the plan's load order (private nodes only)
  std::map<std::pair<int, std::string>, std::string> edge_names;  // (from, needed) -> new name
  std::vector<std::string> names;                                 // every private name reserved for this load
  // A dependency that needs the library back (a cycle through it): the library's copy gets a new
  // SONAME and further names too, like a private dependency's.
  std::string root_soname;
  std::vector<std::string> root_aliases;
};

// Copies the plan's private nodes and rewrites names in them and in `root` (the library's copy, not
// yet loaded). On failure everything it made is removed and its names released.
bool CopyClosure(const DependencyPlan &plan, PrivateCopy &root, ClosureCopies &out, NativeError &err);

// Removes the files (copies and aliases); the mappings, if any, stay.
void DiscardClosureFiles(ClosureCopies &c);

// A private name stays reserved while an object may still carry it; freed once it is unmapped.
void ReleasePrivateName(const std::string &name);

// The file a copy in the private directory was made from (its realpath), or "" if unknown: the
// dependency check compares what an object was loaded from with what a library would load itself.
std::string SourceOfCopy(const std::string &copy_name);
void NoteCopySource(const std::string &copy_name, const std::string &file);
void ForgetCopySource(const std::string &copy_name);

}  // namespace dlswap
