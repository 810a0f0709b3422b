// The checks of a load: the isolation mode's refusals before any code runs, and after the load,
// which files the dynamic loader bound the library's dependencies to and what that means for
// unloading it.
#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_set>

#include "common/dl_symbol.h"
#include "image/image_closure.h"
#include "common/immortal.h"
#include "loader/load_steps.h"
#include "loader/private_area.h"

namespace dlswap {

namespace {

// node's exports (~74,000): read from the running executable once.
const std::unordered_set<std::string> &NodeExports() {
  static Immortal<std::unordered_set<std::string>> set;
  static std::once_flag once;
  std::call_once(once, [] {
    ElfInfoStruct self;
    NativeError unread;
    if (ReadElfFile("/proc/self/exe", self, unread)) set->insert(self.exports.begin(), self.exports.end());
  });
  return *set;
}

bool SameFile(const std::string &a, const std::string &b) {
  struct stat sa, sb;
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// The file an object was loaded from: for a copy in the private area, the file it copied.
std::string SourceOf(const std::string &l_name) {
  const std::string dir = LoaderPathOf("");
  if (l_name.compare(0, dir.size(), dir) == 0) {
    const std::string source = SourceOfCopy(l_name.substr(dir.size()));
    return source.empty() ? l_name : source;
  }
  return l_name;
}

bool RuntimeLibrary(const std::string &file) {
  const std::string base = file.substr(file.rfind('/') == std::string::npos ? 0 : file.rfind('/') + 1);
  for (const char *p : {"libstdc++.so", "libc++.so", "libc++abi.so", "libgcc_s.so", "libc.so", "libm.so", "ld-linux"}) {
    if (base.rfind(p, 0) == 0) return true;
  }
  return false;
}

}  // namespace

bool Refused(const LoadSpec &spec, const ElfInfoStruct &elf, LoadResult &out) {
  // The symbols of `list` that `matches`; a refusal naming them, with `why`, if there are any.
  auto refuse_any = [&](const std::vector<std::string> &list, auto matches, const char *why) {
    for (const std::string &s : list) {
      if (matches(s)) out.symbols.push_back(s);
    }
    if (out.symbols.empty()) return false;
    Fail(out.error, "ERR_DLSWAP_UNSAFE_MODE", why);
    return true;
  };
  auto listed = [&](const std::string &s) {
    return std::find(spec.refuse_imports.begin(), spec.refuse_imports.end(), s) != spec.refuse_imports.end();
  };
  auto node_exports = [](const std::string &s) { return NodeExports().count(s) != 0; };
  return (!spec.refuse_imports.empty() && refuse_any(elf.imports, listed, "refused-imports")) ||
         (spec.refuse_node_init_fini && refuse_any(elf.init_fini_symbols, node_exports, "node-init-fini")) ||
         (spec.refuse_node_interposition && refuse_any(elf.self_bound_symbols, node_exports, "node-interposition"));
}

bool PlanRefused(const LoadSpec &spec, LoadResult &out) {
  const DependencyPlan &plan = out.plan;
  if (plan.truncated) {
    return !Fail(out.error, "ERR_DLSWAP_DEPENDENCY",
                 spec.path + " needs more than " + std::to_string(kMaxPlanNodes - 1) +
                     " libraries in all (its dependencies, theirs, and so on; " + plan.first_left_out +
                     " was the first beyond the limit), the most dlswap plans for one load. List the dependencies that need no private "
                     "copy in shareDependencies: they are loaded as they are, and what they need is left to them.");
  }
  for (const DependencyNode &n : plan.nodes) {
    if (n.blocked.empty()) continue;
    const std::string who = n.requester <= 0 ? spec.path : plan.nodes[n.requester].path + " (a dependency of " + spec.path + ")";
    return !Fail(out.error, "ERR_DLSWAP_NOT_A_FILE",
                 "cannot load " + spec.path + ": looking for " + n.needed + ", which " + who + " needs, the dynamic loader would stop at " +
                     n.blocked + ". Remove or rename that file, or fix the search path.");
  }
  if (spec.allow_replaceable) return false;
  for (const DependencyNode &n : plan.nodes) {
    if (n.replaceable.empty()) continue;
    const bool root = &n == &plan.nodes[0];
    return !Fail(out.error, "ERR_DLSWAP_UNSAFE_DIRECTORY",
                 "refusing to load " + spec.path + (root ? std::string() : ", whose dependency " + n.needed + " is " + n.path) + ": " +
                     n.replaceable + ", so the code loaded could be theirs. Move " + (root ? "the library" : "it") +
                     " to a directory only you (or root) can write, as dlswap requires of its own temp area, or pass { force: true } to "
                     "load it anyway.");
  }
  return false;
}

// The copy of a dependency becomes the file it was made from, a renamed DT_NEEDED the name the
// library asked for.
std::string Unrenamed(std::string text, const LoadResult &out) {
  // Whole names only: a private name can be one character long, and "0" is in many messages.
  auto boundary = [&](size_t at) { return at >= text.size() || std::strchr(" :,()'\"/\n", text[at]) != nullptr; };
  auto replace = [&](const std::string &from, const std::string &to) {
    if (from.empty()) return;
    for (size_t at = 0; (at = text.find(from, at)) != std::string::npos;) {
      if ((at == 0 || boundary(at - 1)) && boundary(at + from.size())) {
        text.replace(at, from.size(), to);
        at += to.size();
      } else {
        at += from.size();
      }
    }
  };
  for (const ClosureCopy &c : out.closure.copies) replace(LoaderPathOf(c.copy.name), out.plan.nodes[c.node].path);
  for (const auto &[edge, name] : out.closure.edge_names) replace(name, edge.second);
  return text;
}

// Never silent: every dependency of the library and of its private copies must be bound to the file
// it would load on its own. A private one to its own copy (its name is unique); a system one to the
// file the search finds, not an object of the same name some other code loaded from elsewhere (in
// 'local', anything in node's namespace; in 'namespace', another generation's copy). Shared ones
// are recorded. Fails with ERR_DLSWAP_DEPENDENCY_MISMATCH, naming both files.
bool CheckBindings(LoadResult &out) {
  struct Requester {
    int node;
    const struct link_map *map;
  };
  std::vector<Requester> requesters{{0, out.lib->map}};
  for (size_t i = 0; i < out.deps.size(); ++i) {
    if (out.plan.nodes[out.dep_nodes[i]].kind == DependencyKind::Private) requesters.push_back({out.dep_nodes[i], out.deps[i]->map});
  }
  struct Binding {
    int from;
    std::string name;
    const struct link_map *map;
    std::string l_name;
  };
  std::vector<Binding> bound;
  WithLinkMapsLocked([&] {
    for (const Requester &r : requesters) {
      if (!r.map) continue;
      for (const auto &[name, m] : BoundNeeded(r.map)) bound.push_back({r.node, name, m, m && m->l_name ? m->l_name : ""});
    }
  });
  out.bound_to.assign(out.plan.nodes.size(), "");
  for (const DependencyEdge &e : out.plan.edges) {
    auto renamed = out.closure.edge_names.find({e.from, e.needed});
    const std::string asked = renamed == out.closure.edge_names.end() ? e.needed : renamed->second;
    auto b = std::find_if(bound.begin(), bound.end(), [&](const Binding &x) { return x.from == e.from && x.name == asked; });
    if (b == bound.end() || !b->map) continue;  // found by a search under a further name: its own copy
    const DependencyNode &n = out.plan.nodes[e.to];
    const std::string source = SourceOf(b->l_name);
    if (out.bound_to[e.to].empty()) out.bound_to[e.to] = source;
    bool ok = true;
    // A dependency that needs the library back (a cycle) must be bound to this copy of it.
    if (e.to == 0) {
      if (b->map == out.lib->map) continue;
      ok = false;
    }
    if (ok) switch (n.kind) {
        case DependencyKind::Private: {
          auto d = std::find(out.dep_nodes.begin(), out.dep_nodes.end(), e.to);
          ok = d != out.dep_nodes.end() && out.deps[d - out.dep_nodes.begin()]->map == b->map;
          break;
        }
        case DependencyKind::Shared: break;
        case DependencyKind::System: {
          // Not looked up before the load (the loader searches the system directories itself): what it
          // bound must be a file of those directories.
          ok = n.file.empty() ? InSystemDirectory(source) : source == n.file || SameFile(source, n.file);
          if (ok && n.file.empty()) {
            DependencyNode &m = out.plan.nodes[e.to];
            m.path = source;
            m.file = source;
          }
          break;
        }
        case DependencyKind::Missing: ok = false; break;
      }
    if (ok) continue;
    const std::string who =
        e.from == 0 ? out.plan.nodes[0].path : out.plan.nodes[e.from].path + " (a private dependency of " + out.plan.nodes[0].path + ")";
    std::string own = n.path.empty() && n.kind == DependencyKind::System ? FindInSystemDirs(e.needed) : n.path;
    own = own.empty() ? "no file of that name in the directories it searches" : own + (n.found_via.empty() ? "" : " (" + n.found_via + ")");
    return Fail(out.error, "ERR_DLSWAP_DEPENDENCY_MISMATCH",
                who + " needs " + e.needed + ": on its own it would load " + own + ", but the dynamic loader bound it to " + source +
                    ", already loaded under that name. A different file must not serve it unannounced, so the load was refused. "
                    "Close whatever loaded the other file, or list " +
                    e.needed + " in shareDependencies to accept the loaded one.");
  }
  return true;
}

// A generation whose C++ classes derive from those of a library that outlives it (it imports their
// typeinfo) may have handed objects of those classes to that library, which calls their virtual
// functions later (ICU's caches do): unmapping the generation would leave it calling into nothing.
// Such a generation is kept mapped, and the reason says which library and class.
std::string DerivedFromShared(const LoadResult &out) {
  std::vector<std::pair<const std::vector<std::string> *, void *>> files{{&out.elf.imports, out.lib->handle}};
  std::vector<const struct link_map *> own{out.lib->map};
  for (size_t i = 0; i < out.deps.size(); ++i) {
    const DependencyNode &n = out.plan.nodes[out.dep_nodes[i]];
    if (n.kind != DependencyKind::Private) continue;
    own.push_back(out.deps[i]->map);
    if (n.elf) files.push_back({&n.elf->imports, out.deps[i]->handle});
  }
  for (const auto &[imports, handle] : files) {
    for (const std::string &sym : *imports) {
      if (sym.rfind("_ZTI", 0) != 0) continue;
      void *p = ResolveSymbol<void *>(handle, sym.c_str());
      Dl_info info;
      void *extra = nullptr;
      if (!p || !dladdr1(p, &info, &extra, RTLD_DL_LINKMAP) || !extra) continue;
      const auto *m = static_cast<const struct link_map *>(extra);
      if (std::find(own.begin(), own.end(), m) != own.end()) continue;
      const std::string file = m->l_name && *m->l_name ? m->l_name : "the executable";
      if (RuntimeLibrary(file)) continue;
      return "its C++ classes derive from classes of " + SourceOf(file) + " (it imports " + sym +
             "), which stays loaded after it: that library may still hold objects of its classes and call their virtual functions";
    }
  }
  return "";
}

// In `local` and `deepbind` the library registers exit handlers with node's libc. glibc ties atexit
// and at_quick_exit entries to the library (__cxa_atexit with its __dso_handle) and drops them when
// it is unloaded, but an on_exit handler stays on the process's list and runs at exit, in code that
// would be gone: such a generation is kept mapped. (In the namespace modes the handler goes on the
// namespace libc's own list, which exit never runs.)
std::string ExitHandlersOutlive(const LoadSpec &spec, const LoadResult &out) {
  if (spec.isolation != Isolation::Local && spec.isolation != Isolation::DeepBind) return "";
  std::vector<const std::vector<std::string> *> files{&out.elf.imports};
  for (size_t i = 0; i < out.deps.size(); ++i) {
    const DependencyNode &n = out.plan.nodes[out.dep_nodes[i]];
    if (n.kind == DependencyKind::Private && n.elf) files.push_back(&n.elf->imports);
  }
  for (const std::vector<std::string> *imports : files) {
    if (std::find(imports->begin(), imports->end(), "on_exit") == imports->end()) continue;
    return "it imports on_exit, whose handlers stay on node's exit list after it is closed and run at exit, so its code stays "
           "(isolation 'namespace' keeps them in the library's own libc, where they never run)";
  }
  return "";
}

}  // namespace dlswap
