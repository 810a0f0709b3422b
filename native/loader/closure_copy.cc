#include "loader/closure_copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "common/errno_text.h"
#include "common/immortal.h"
#include "loader/dynamic_names.h"
#include "loader/private_area.h"

namespace dlswap {

namespace {

std::mutex g_names_mutex;
Immortal<std::set<std::string>> g_names_in_use;
Immortal<std::map<std::string, uint64_t>> g_next_for;  // per original name: where the next search starts
Immortal<std::map<std::string, std::string>> g_sources;

constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// A name of the same length as `like`, unused in the process. The first characters become a tag:
// "~" and up to four base-62 digits (a one-character name is one digit), the rest stays readable.
// No library's own name starts with "~", so a tag never matches a system library.
bool ReserveName(const std::string &like, std::string &out) {
  const size_t len = like.size();
  if (len == 0) return false;
  const size_t digits = len == 1 ? 1 : std::min<size_t>(len - 1, 4);
  uint64_t capacity = 1;
  for (size_t i = 0; i < digits; ++i) capacity *= 62;
  std::lock_guard<std::mutex> lock(g_names_mutex);
  uint64_t &next = (*g_next_for)[like];
  for (uint64_t tried = 0; tried < capacity; ++tried, ++next) {
    uint64_t n = next % capacity;
    std::string tag(digits, '0');
    for (size_t i = digits; i-- > 0; n /= 62) tag[i] = kDigits[n % 62];
    std::string name = (len == 1 ? "" : "~") + tag + like.substr(tag.size() + (len == 1 ? 0 : 1));
    if (g_names_in_use->insert(name).second) {
      ++next;
      out = name;
      return true;
    }
  }
  return false;
}

// What CopyClosure made, undone when it returns before the end: files, sources noted, names reserved.
struct UndoUnlessDone {
  ClosureCopies &out;
  bool done = false;
  ~UndoUnlessDone() {
    if (done) return;
    for (const ClosureCopy &c : out.copies) ForgetCopySource(c.copy.name);
    DiscardClosureFiles(out);
    for (const std::string &n : out.names) ReleasePrivateName(n);
    out.names.clear();
  }
};

}  // namespace

void ReleasePrivateName(const std::string &name) {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  g_names_in_use->erase(name);
}

std::string SourceOfCopy(const std::string &copy_name) {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  auto it = g_sources->find(copy_name);
  return it == g_sources->end() ? std::string() : it->second;
}

void NoteCopySource(const std::string &copy_name, const std::string &file) {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  (*g_sources)[copy_name] = file;
}

void ForgetCopySource(const std::string &copy_name) {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  g_sources->erase(copy_name);
}

bool CopyClosure(const DependencyPlan &plan, PrivateCopy &root, ClosureCopies &out, NativeError &err) {
  const std::vector<DependencyNode> &nodes = plan.nodes;
  UndoUnlessDone undo{out};
  auto reserve = [&](const std::string &like, const DependencyNode &n, std::string &name) {
    if (ReserveName(like, name)) {
      out.names.push_back(name);
      return true;
    }
    return Fail(err, "ERR_DLSWAP_DEPENDENCY",
                "cannot give " + n.path + " a private name: every name of the length of '" + like +
                    "' is taken by a generation still loaded. Give it a longer SONAME, or list it in shareDependencies.");
  };

  // A requester that must find a copy by file name needs a search path to point at it.
  std::map<int, std::string> cycle_of;  // requester -> the cycle that makes it need one
  auto no_search_path = [&](int node) {
    const DependencyNode &n = nodes[node];
    auto cycle = cycle_of.find(node);
    if (cycle != cycle_of.end()) {
      return Fail(err, "ERR_DLSWAP_DEPENDENCY",
                  n.path + " is in a dependency cycle (" + cycle->second +
                      "). dlswap loads private copies one at a time, so the first one loaded must find the other in dlswap's private "
                      "directory through its search path, and " +
                      n.path +
                      " has no RUNPATH or RPATH that dlswap could point there. Link it with one (-Wl,-rpath,'$ORIGIN' "
                      "-Wl,--enable-new-dtags), or list the libraries of the cycle in shareDependencies to load them as they are.");
    }
    return Fail(err, "ERR_DLSWAP_DEPENDENCY",
                n.path +
                    " finds a dependency without a SONAME by file name, and has no RUNPATH that dlswap could point at the private copies. "
                    "Give the dependency a SONAME (-Wl,-soname,...).");
  };

  // Where each node is loaded: private and shared nodes in the plan's order, the library last.
  std::map<int, size_t> position;
  for (size_t i = 0; i < plan.load_order.size(); ++i) position[plan.load_order[i]] = i;
  position[0] = plan.load_order.size();

  // Names first: the new SONAME of each private node, and a name per by-file-name match.
  std::map<int, size_t> copy_of;  // node -> index in out.copies
  for (int i : plan.load_order) {
    const DependencyNode &n = nodes[i];
    if (n.kind != DependencyKind::Private) continue;
    ClosureCopy c;
    c.node = i;
    if (n.soname && !reserve(*n.soname, n, c.new_soname)) return false;
    copy_of[i] = out.copies.size();
    out.copies.push_back(std::move(c));
  }
  std::set<int> needs_own_directory;  // requesters that find a copy by file name
  for (const DependencyEdge &e : plan.edges) {
    const bool to_root = e.to == 0;
    auto it = copy_of.find(e.to);
    if (it == copy_of.end() && !to_root) continue;
    // Only a private copy's request can be renamed to find the library's copy.
    if (to_root && !copy_of.count(e.from)) continue;
    const DependencyNode &n = nodes[e.to];
    std::string &new_soname = to_root ? out.root_soname : out.copies[it->second].new_soname;
    std::vector<std::string> &aliases = to_root ? out.root_aliases : out.copies[it->second].aliases;
    // Loaded no earlier than its requester (a cycle): it cannot be matched by a name already loaded.
    const bool later = position.count(e.from) && position[e.to] >= position[e.from];
    if (later) {
      const std::string cycle = CycleThrough(plan, e.from, e.to);
      cycle_of.emplace(e.from, cycle.empty() ? n.needed : cycle);
    }
    if (n.soname && *n.soname == e.needed) {
      if (new_soname.empty() && !reserve(*n.soname, n, new_soname)) return false;
      out.edge_names[{e.from, e.needed}] = new_soname;
      if (later) {
        if (std::find(aliases.begin(), aliases.end(), new_soname) == aliases.end()) aliases.push_back(new_soname);
        needs_own_directory.insert(e.from);
      }
      continue;
    }
    if (e.needed.find('/') != std::string::npos) {
      return Fail(err, "ERR_DLSWAP_DEPENDENCY",
                  nodes[e.from].path + " needs " + e.needed +
                      " by path and it has no SONAME of that name, so a private copy cannot stand in for it. Give it a SONAME "
                      "(-Wl,-soname,...) and link against that, or list it in shareDependencies.");
    }
    std::string alias;
    if (!reserve(e.needed, n, alias)) return false;
    aliases.push_back(alias);
    out.edge_names[{e.from, e.needed}] = alias;
    needs_own_directory.insert(e.from);
  }

  // Copies, and the names rewritten in each (its own SONAME, the names of what it needs).
  auto edit_for = [&](int node) {
    NameEdit edit;
    for (const DependencyEdge &e : plan.edges) {
      auto it = out.edge_names.find({e.from, e.needed});
      if (e.from == node && it != out.edge_names.end()) edit.renames[e.needed] = it->second;
    }
    edit.search_own_directory = needs_own_directory.count(node) > 0;
    return edit;
  };
  auto link_aliases = [&](const std::string &name, const std::vector<std::string> &aliases) {
    for (const std::string &alias : aliases) {
      if (linkat(PrivateDirFd(), name.c_str(), PrivateDirFd(), alias.c_str(), 0) != 0) {
        return Fail(err, "ERR_DLSWAP_TEMP_AREA", "cannot link a copy in " + PrivateDirPath() + ": " + std::strerror(errno));
      }
    }
    return true;
  };
  for (ClosureCopy &c : out.copies) {
    const DependencyNode &n = nodes[c.node];
    SourceFile src;
    NativeError cerr;
    if (!OpenSource(n.path, src, cerr)) return Fail(err, cerr.code, "dependency " + n.needed + ": " + cerr.message);
    // Not hashed: what identifies a dependency to the user is its build-id and path (lib.info).
    const bool copied = CopyToPrivate(src, n.path, c.copy, cerr, false);
    CloseSource(src);
    if (!copied) return Fail(err, cerr.code, "dependency " + n.needed + ": " + cerr.message);
    std::vector<uint8_t>().swap(c.copy.bytes);  // its headers were read by the plan, from the source
    NameEdit edit = edit_for(c.node);
    if (n.soname) edit.renames[*n.soname] = c.new_soname;
    if (edit.search_own_directory && !n.runpath && !n.rpath) return no_search_path(c.node);
    std::string why;
    if (!RewriteDynamicNames(c.copy.fd, n.path, edit, why))
      return Fail(err, "ERR_DLSWAP_DEPENDENCY", why + ". List it in shareDependencies to load it as it is.");
    if (!link_aliases(c.copy.name, c.aliases)) return false;
    NoteCopySource(c.copy.name, n.file);
  }
  NameEdit root_edit = edit_for(0);
  if (!out.root_soname.empty() && nodes[0].soname) root_edit.renames[*nodes[0].soname] = out.root_soname;
  if (!root_edit.renames.empty() || root_edit.search_own_directory) {
    const DependencyNode &n = nodes[0];
    if (root_edit.search_own_directory && !n.runpath && !n.rpath) return no_search_path(0);
    std::string why;
    if (!RewriteDynamicNames(root.fd, n.path, root_edit, why))
      return Fail(err, "ERR_DLSWAP_DEPENDENCY", why + ". List its private dependencies in shareDependencies to load them as they are.");
  }
  if (!link_aliases(root.name, out.root_aliases)) return false;
  undo.done = true;
  return true;
}

void DiscardClosureFiles(ClosureCopies &c) {
  for (const std::string &alias : c.root_aliases) RemovePrivateFile(alias);
  for (ClosureCopy &cc : c.copies) {
    for (const std::string &alias : cc.aliases) RemovePrivateFile(alias);
    DiscardCopy(cc.copy);
  }
}

}  // namespace dlswap
