// Which dependencies a library brings with it, found the way the dynamic loader would find them, and
// which of them each generation gets a private copy of.
//
// The dynamic loader matches a DT_NEEDED name against every object already in the namespace before it
// searches any directory, so two generations that each ship a libhelper.so.1 share whichever was
// loaded first. A dependency the library resolves from its own tree (through RPATH/RUNPATH, with
// $ORIGIN or not, or through LD_LIBRARY_PATH: any directory that is not a system library directory)
// is therefore planned as *private*: the load job copies it, renamed, with the generation. System
// libraries (ld.so.conf's directories and the defaults) stay shared, as they must: they keep state for
// the whole process. Reads files only; loads nothing.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "elf/elf_reader.h"

namespace dlswap {

enum class DependencyKind {
  Private,  // copied with each generation, under a name of its own
  Shared,   // named by the user: loaded once, every generation binds the same object
  System,   // in a system library directory: shared by the whole process
  Missing,  // no directory has it: only an object already loaded under that name can satisfy it
};

const char *KindName(DependencyKind k);

struct DependencyNode {
  std::string needed;        // the name the first requester's DT_NEEDED gives
  std::string path;          // where it was found, as the loader would name it ("" when missing)
  std::string file;          // realpath of `path`: what identifies it
  std::string found_via;     // "RPATH" | "RUNPATH" | "LD_LIBRARY_PATH" | "path" | "system" | ""
  std::string search_entry;  // the search-path entry as written ($ORIGIN kept), "" for system
  std::string shadowed;      // a file its requester's RUNPATH has, hidden by LD_LIBRARY_PATH
  DependencyKind kind = DependencyKind::Missing;
  std::string reason;  // why it is private, shared, system or missing: for inspect and info
  int requester = -1;  // the node whose DT_NEEDED first named it (0 is the library itself)
  // Read from the file (private and shared nodes, and every node when the plan follows system ones).
  std::optional<std::string> soname, build_id, rpath, runpath;
  std::vector<std::string> needed_names;
  bool nodelete = false;
  size_t unique_symbols = 0;
  // Private because it holds a process-wide registry a generation registers in (registry_plan.h):
  // that registry, in words ("gflags' flag registry"); "" otherwise.
  std::string registry;
  std::shared_ptr<const ElfInfoStruct> elf;  // all of it, for the load's checks on private copies
  // What a load must refuse it for ("" when nothing): `blocked`, a file in its search path that the
  // dynamic loader would open and stop at (a FIFO, a device, a directory, a file that is not ELF);
  // `replaceable`, why another user could replace the file it was found as (common/dir_safety.h).
  std::string blocked, replaceable;
};

// A DT_NEEDED entry of one node, resolved.
struct DependencyEdge {
  int from = 0;
  std::string needed;
  int to = 0;
};

// The most nodes a plan holds (the library included). A closure larger than that is not planned
// further: a load refuses it (lib/wire.ts MAX_DEPENDENCIES has the same number).
constexpr size_t kMaxPlanNodes = 1024;

struct DependencyPlan {
  std::vector<DependencyNode> nodes;  // nodes[0] is the library itself
  // Edges may point back at the library (to 0) and form cycles, as DT_NEEDED entries may.
  std::vector<DependencyEdge> edges;
  std::vector<int> load_order;  // private and shared nodes, dependencies before what needs them
  bool truncated = false;       // more than kMaxPlanNodes: the rest was not looked at
  std::string first_left_out;   // the first name not planned when truncated
  // Why every generation must stay mapped once retired: it registers pointers into its own image in
  // a registry that outlives it (registry_plan.h); "" when nothing says so.
  std::string keep_mapped;
};

// The names of a chain of edges that leads from `from` back to `from` through `to` (a cycle), as
// "a -> b -> a"; "" when there is none.
std::string CycleThrough(const DependencyPlan &plan, int from, int to);

// A process-wide registry a library may hold (lib/load/registries.ts owns the list): a second
// generation that registers the same names in it again fails (gflags: exit(1)) or leaves it pointing
// into an unmapped image. Patterns: '*' stands for any run of characters, the rest is literal.
struct RegistryRule {
  std::string what;                    // "gflags' flag registry"
  std::vector<std::string> sonames;    // the registry's library, by DT_NEEDED name or SONAME
  std::vector<std::string> registers;  // the imports that register something in it
  // It keeps pointers into the registrant's image rather than copies: a registrant that can be
  // unmapped is kept mapped instead of the registry being copied.
  bool points_into_image = false;
};

struct PlanOptions {
  std::vector<std::string> share;  // needed names, sonames or file names to share on purpose
  // Registries each generation gets its own copy of, when it registers in one (registry_plan.h).
  // Empty: none (fresh-namespace loads every dependency anew anyway).
  std::vector<RegistryRule> registries;
  // Look system libraries up, and resolve their dependencies too (inspect). A load leaves them to
  // the dynamic loader and checks afterwards that what it bound is in a system directory.
  bool follow_system = false;
  // What relative names resolve against: the current directory of the JS thread that asked (a
  // loader job never reads the process's, which process.chdir() may change meanwhile). "": the
  // process's current directory, read now (a plan made on the JS thread).
  std::string cwd;
};

// Plans the closure of the library at `path` (as the user gave it: $ORIGIN is relative to it, as
// for the dynamic loader) whose headers are `root`. Fails only on a private dependency that cannot
// be read as an ELF file of this machine (the code ReadElfFile gave, the message naming the dependency).
bool PlanDependencies(const std::string &path, const ElfInfoStruct &root, const PlanOptions &options, DependencyPlan &out,
                      NativeError &err);

// realpaths of the system library directories, in the loader's order (ld.so.conf, then defaults).
const std::vector<std::string> &SystemLibraryDirs();
bool InSystemDir(const std::string &file);        // `file` is a realpath
bool InSystemDirectory(const std::string &path);  // any path: its directory, resolved (and remembered)
// The first loadable file of that name in the system directories, or "".
std::string FindInSystemDirs(const std::string &name);

// LD_LIBRARY_PATH as the dynamic loader read it when the process started (later changes to the
// environment do not reach it), or empty in secure mode.
const std::vector<std::string> &StartupLibraryPath();

}  // namespace dlswap
