#include "loader/dependency_plan.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "common/immortal.h"
#include "common/dir_safety.h"
#include "elf/elf_reader.h"
#include "loader/registry_plan.h"

namespace dlswap {

namespace {

#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
#endif

std::string RealPath(const std::string &p) {
  char buf[PATH_MAX];
  return realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

std::string DirName(const std::string &p) {
  const size_t slash = p.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

std::string BaseName(const std::string &p) {
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::vector<std::string> Split(const std::string &list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string d; std::getline(in, d, ':');) out.push_back(d);
  return out;
}

// What the dynamic loader does with a file of the name it looks for in a search directory (glibc's
// open_verify): it opens it (O_RDONLY, blocking) and reads its header. Nothing there, a file it
// cannot open (a socket, no permission) or an ELF of another class or machine: it goes on to the
// next directory (a 32-bit library of the same name earlier in the path does not stop it). A
// regular ELF of this machine: found. Anything else stops the search: a FIFO blocks the open until
// a writer comes, for ever, with the loader's lock held (no other load, and no exit, can proceed);
// a device is read as if it were a library; a directory, a short file or one that is not ELF fails
// the whole load.
enum class Probe { Absent, Skipped, Loadable, Stops };

Probe ProbeCandidate(const std::string &p, std::string *what = nullptr) {
  struct stat st;
  if (stat(p.c_str(), &st) != 0) return Probe::Absent;
  const char *kind = S_ISFIFO(st.st_mode) ? "a FIFO: opening it waits for a writer, for ever, and the loader would wait holding its lock, "
                                            "so that no other load and no exit could go on"
                     : S_ISCHR(st.st_mode)
                         ? "a character device: it would read the device as if it were a library (and may block there, holding its lock)"
                     : S_ISBLK(st.st_mode) ? "a block device: it would read the device as if it were a library"
                     : S_ISDIR(st.st_mode) ? "a directory: the load would fail there"
                                           : nullptr;
  if (kind) {
    if (what) *what = kind;
    return Probe::Stops;
  }
  if (!S_ISREG(st.st_mode)) return Probe::Skipped;  // a socket: the loader's open fails, it goes on
  // O_NONBLOCK: the file may have become a FIFO since the stat.
  const int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Probe::Skipped;
  Elf64_Ehdr h;
  struct stat fst;
  const bool regular = fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode);
  const ssize_t n = regular ? pread(fd, &h, sizeof h, 0) : -1;
  close(fd);
  if (!regular) {
    if (what) *what = "not a regular file any more";
    return Probe::Stops;
  }
  if (n < static_cast<ssize_t>(sizeof h) || std::memcmp(h.e_ident, ELFMAG, SELFMAG) != 0) {
    if (what)
      *what = n < static_cast<ssize_t>(sizeof h) ? "too short to be a library: the load would fail there"
                                                 : "not an ELF file: the load would fail there";
    return Probe::Stops;
  }
  return h.e_ident[EI_CLASS] == ELFCLASS64 && h.e_machine == kMachine ? Probe::Loadable : Probe::Skipped;
}

bool Loadable(const std::string &p) { return ProbeCandidate(p) == Probe::Loadable; }

// $LIB is the directory libc lives in, relative to /: what the loader was built with.
const std::string &LibToken() {
  static Immortal<const std::string> lib([] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&strlen), &info) && info.dli_fname && info.dli_fname[0] == '/') {
      const std::string d = DirName(info.dli_fname);
      return d.substr(1);
    }
    return std::string("lib");
  }());
  return *lib;
}

// A search-path entry with its dynamic string tokens replaced, as the loader does.
std::string Expand(std::string entry, const std::string &origin) {
  const char *platform = reinterpret_cast<const char *>(getauxval(AT_PLATFORM));
  const std::pair<const char *, std::string> tokens[] = {
      {"${ORIGIN}", origin},  {"$ORIGIN", origin},  {"${PLATFORM}", platform ? platform : ""}, {"$PLATFORM", platform ? platform : ""},
      {"${LIB}", LibToken()}, {"$LIB", LibToken()},
  };
  for (const auto &[tok, value] : tokens) {
    for (size_t at = 0; (at = entry.find(tok, at)) != std::string::npos; at += value.size()) entry.replace(at, std::strlen(tok), value);
  }
  return entry;
}

void ReadLdSoConf(const std::string &file, int depth, std::vector<std::string> &dirs) {
  if (depth > 8) return;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    const size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    line = line.substr(b, line.find_last_not_of(" \t\r") - b + 1);
    if (line.rfind("include", 0) == 0 && line.size() > 7 && (line[7] == ' ' || line[7] == '\t')) {
      std::string pattern = line.substr(line.find_first_not_of(" \t", 7));
      if (pattern[0] != '/') pattern = DirName(file) + "/" + pattern;
      glob_t g{};
      if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) ReadLdSoConf(g.gl_pathv[i], depth + 1, dirs);
      }
      globfree(&g);
      continue;
    }
    if (line.rfind("hwcap", 0) == 0) continue;
    dirs.push_back(line);
  }
}

}  // namespace

const char *KindName(DependencyKind k) {
  switch (k) {
    case DependencyKind::Private: return "private";
    case DependencyKind::Shared: return "shared";
    case DependencyKind::System: return "system";
    default: return "missing";
  }
}

const std::vector<std::string> &SystemLibraryDirs() {
  static Immortal<std::vector<std::string>> all;
  static std::once_flag once;
  std::vector<std::string> &dirs = *all;
  std::call_once(once, [&dirs] {
    std::vector<std::string> listed;
    ReadLdSoConf("/etc/ld.so.conf", 0, listed);
    // The loader's built-in defaults come after the cache.
    for (const char *d : {"/lib", "/usr/lib", "/lib64", "/usr/lib64"}) listed.push_back(d);
    listed.push_back("/" + LibToken());
    listed.push_back("/usr/" + LibToken());
    for (const std::string &d : listed) {
      const std::string real = RealPath(d);
      if (!real.empty() && std::find(dirs.begin(), dirs.end(), real) == dirs.end()) dirs.push_back(real);
    }
  });
  return dirs;
}

std::string FindInSystemDirs(const std::string &name) {
  for (const std::string &d : SystemLibraryDirs()) {
    const std::string candidate = d + "/" + name;
    if (Loadable(candidate)) return candidate;
  }
  return "";
}

bool InSystemDir(const std::string &file) {
  const std::vector<std::string> &dirs = SystemLibraryDirs();
  return std::find(dirs.begin(), dirs.end(), DirName(file)) != dirs.end();
}

bool InSystemDirectory(const std::string &path) {
  // Few directories ever hold what a library binds: their realpaths are worth keeping.
  static std::mutex mutex;
  static Immortal<std::map<std::string, bool>> known_dirs;
  std::map<std::string, bool> &known = *known_dirs;
  const std::string dir = DirName(path);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = known.find(dir);
  if (it != known.end()) return it->second;
  const std::string real = RealPath(dir);
  const std::vector<std::string> &dirs = SystemLibraryDirs();
  const bool system = !real.empty() && std::find(dirs.begin(), dirs.end(), real) != dirs.end();
  if (known.size() < 256) known[dir] = system;
  return system;
}

const std::vector<std::string> &StartupLibraryPath() {
  static Immortal<std::vector<std::string>> all;
  static std::once_flag once;
  std::vector<std::string> &dirs = *all;
  std::call_once(once, [&dirs] {
    if (getauxval(AT_SECURE)) return;
    // /proc/self/environ is the environment the process started with: what the loader read.
    std::ifstream in("/proc/self/environ", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string value;
    for (size_t at = 0; at < all.size();) {
      size_t end = all.find('\0', at);
      if (end == std::string::npos) end = all.size();
      if (all.compare(at, 16, "LD_LIBRARY_PATH=") == 0) value = all.substr(at + 16, end - at - 16);
      at = end + 1;
    }
    for (const std::string &d : Split(value)) {
      if (!d.empty()) dirs.push_back(d);
    }
  });
  return dirs;
}

namespace {

struct Found {
  std::string path, via, entry, shadowed;
  std::string blocked;  // a file the loader would stop at before finding one (see ProbeCandidate)
};

// Why another user could replace the file a search found: as it is named (its directory, resolved)
// and, when that is a link, what it points to.
std::string Replaceable(const std::string &path, const std::string &file) {
  // When the last component is no link, `file` (its realpath) is the resolved directory and the
  // name: one walk answers both questions.
  const std::string base = BaseName(path);
  struct stat st;
  if (!file.empty() && !base.empty() && base != "." && base != ".." && lstat(path.c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) {
    return ReplaceableBy(file);
  }
  const std::string dir = RealPath(DirName(path));
  std::string why = dir.empty() ? std::string() : ReplaceableBy(dir + (dir == "/" ? "" : "/") + BaseName(path));
  if (why.empty() && !file.empty()) why = ReplaceableBy(file);
  return why;
}

using Privatized = std::map<std::string, RegistryCopy>;

class Planner {
 public:
  // `privatize`: system dependencies to plan as private, by DT_NEEDED name (registry_plan.h).
  Planner(const PlanOptions &options, const Privatized &privatize, DependencyPlan &out)
      : options_(options), privatize_(privatize), out_(out) {}

  bool Run(const std::string &path, const ElfInfoStruct &elf, NativeError &err) {
    DependencyNode root;
    root.path = Absolute(path);
    root.file = RealPath(root.path);
    root.rpath = elf.rpath;
    root.runpath = elf.runpath;
    root.needed_names = elf.needed;
    root.reason = "the library itself";
    root.needed = BaseName(path);
    root.replaceable = Replaceable(root.path, root.file);
    out_.nodes.push_back(root);
    expanded_.insert({0, true});
    std::deque<int> todo{0};
    while (!todo.empty()) {
      const int from = todo.front();
      todo.pop_front();
      const std::vector<std::string> names = out_.nodes[from].needed_names;
      for (const std::string &name : names) {
        int to = Resolve(from, name);
        if (to < 0) {
          out_.truncated = true;
          continue;
        }
        out_.edges.push_back({from, name, to});
        if (to != static_cast<int>(out_.nodes.size()) - 1 || expanded_.count(to)) continue;
        expanded_.insert({to, true});
        DependencyNode &n = out_.nodes[to];
        const bool read = n.kind == DependencyKind::Private || n.kind == DependencyKind::Shared ||
                          (options_.follow_system && n.kind == DependencyKind::System);
        if (!read) continue;
        ElfInfoStruct info;
        NativeError unread;
        if (!ReadElfFile(n.path, info, unread)) {
          if (n.kind != DependencyKind::Private) continue;  // the loader will say what is wrong with it
          return Fail(err, unread.code, "dependency " + n.needed + " (" + n.path + "): " + unread.message);
        }
        n.soname = info.soname;
        n.build_id = info.build_id;
        n.rpath = info.rpath;
        n.runpath = info.runpath;
        n.needed_names = info.needed;
        n.nodelete = info.nodelete;
        n.unique_symbols = info.unique_symbols.size();
        n.elf = std::make_shared<const ElfInfoStruct>(std::move(info));
        // The loader resolves a shared dependency's own needs from where it is; dlswap only follows
        // what it copies (and, for inspect, everything).
        if (n.kind == DependencyKind::Private || options_.follow_system) todo.push_back(to);
      }
    }
    Order();
    return true;
  }

 private:
  // A relative name as the dynamic loader would take it, from the current directory (the one the
  // plan was given, when it was given one).
  std::string Absolute(const std::string &p) const {
    if (p.empty() || p[0] == '/') return p;
    if (!options_.cwd.empty()) return options_.cwd + "/" + p;
    char buf[PATH_MAX];
    return (getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".")) + "/" + p;
  }

  // The node for `name` as `from` needs it: an existing node for the same file (the library itself
  // too: a dependency may need it back), or a new one.
  int Resolve(int from, const std::string &name) {
    Found f = Search(from, name);
    // A system library planned as private is looked up here, so that every requester finds the
    // same node (and copy).
    if (f.path.empty() && f.blocked.empty() && f.via == "system" && privatize_.count(name)) f.path = FindInSystemDirs(name);
    const std::string file = f.path.empty() ? std::string() : RealPath(f.path);
    for (size_t i = 0; i < out_.nodes.size(); ++i) {
      const DependencyNode &n = out_.nodes[i];
      if (i == 0         ? (!file.empty() && n.file == file)
          : file.empty() ? (n.file.empty() && n.needed == name && n.blocked == f.blocked)
                         : n.file == file) {
        return static_cast<int>(i);
      }
    }
    if (out_.nodes.size() >= kMaxPlanNodes) {
      if (out_.first_left_out.empty()) out_.first_left_out = name;
      return -1;
    }
    DependencyNode n;
    n.needed = name;
    n.path = f.path;
    n.file = file;
    n.found_via = f.via;
    n.search_entry = f.entry;
    n.shadowed = f.shadowed;
    n.blocked = f.blocked;
    n.requester = from;
    Classify(n);
    if (n.kind == DependencyKind::Private || n.kind == DependencyKind::Shared) n.replaceable = Replaceable(n.path, n.file);
    out_.nodes.push_back(std::move(n));
    return static_cast<int>(out_.nodes.size()) - 1;
  }

  void Classify(DependencyNode &n) {
    if (!n.blocked.empty()) {
      n.kind = DependencyKind::Missing;
      n.reason = "the dynamic loader would stop at " + n.blocked;
      return;
    }
    if (auto p = ShareListed(n) ? privatize_.end() : privatize_.find(n.needed); p != privatize_.end() && !n.file.empty()) {
      n.kind = DependencyKind::Private;
      n.reason = "a system library that " + p->second.reason;
      n.registry = p->second.registry;
      return;
    }
    if (n.file.empty() && n.found_via == "system" && !ShareListed(n)) {
      n.kind = DependencyKind::System;
      n.reason =
          "not in its own search paths: the dynamic loader takes it from the system library directories, one copy for the whole process";
      return;
    }
    if (ShareListed(n)) {
      n.kind = DependencyKind::Shared;
      n.reason = "listed in shareDependencies: every generation binds the object loaded first under this name";
      return;
    }
    if (n.file.empty()) {
      n.kind = DependencyKind::Missing;
      n.reason = "in no directory the dynamic loader searches: only an object already loaded under this name can satisfy it";
      return;
    }
    if (InSystemDir(n.file)) {
      n.kind = DependencyKind::System;
      n.reason = "in the system library directory " + DirName(n.file) + ": one copy serves the whole process";
      return;
    }
    n.kind = DependencyKind::Private;
    const std::string where = n.found_via == "path" ? "named by path" : "found through " + n.found_via + " entry '" + n.search_entry + "'";
    n.reason = where + " in " + DirName(n.file) + ", not a system library directory: each generation gets its own copy";
  }

  bool ShareListed(const DependencyNode &n) const {
    for (const std::string &s : options_.share) {
      if (s == n.needed || (!n.file.empty() && (s == BaseName(n.file) || s == BaseName(n.path)))) return true;
    }
    return false;
  }

  // The loader's search for `name` on behalf of node `from`: RPATH of `from` and of the nodes that
  // needed it up to the library (unless `from` has RUNPATH), LD_LIBRARY_PATH, RUNPATH of `from`,
  // then the system directories.
  Found Search(int from, const std::string &name) {
    Found f;
    // Found, or a candidate the loader would stop at (which ends the search there, as it would).
    auto ends_at = [&](const std::string &candidate, const char *via, const std::string &entry) {
      std::string what;
      switch (ProbeCandidate(candidate, &what)) {
        case Probe::Loadable: f = {candidate, via, entry, "", ""}; return true;
        case Probe::Stops:
          f = {};
          f.blocked = candidate +
                      (entry.empty() ? std::string(" (named by path)") : std::string(" (in ") + via + " entry '" + entry + "')") +
                      ", which is " + what;
          return true;
        default: return false;
      }
    };
    if (name.find('/') != std::string::npos) {
      ends_at(Absolute(name), "path", "");
      return f;
    }
    const DependencyNode &req = out_.nodes[from];
    auto try_list = [&](const std::string &list, const std::string &origin, const char *via) {
      for (const std::string &entry : Split(list)) {
        if (entry.empty()) continue;
        if (ends_at(Absolute(Expand(entry, origin)) + "/" + name, via, entry)) return true;
      }
      return false;
    };
    if (!req.runpath) {
      for (int r = from; r >= 0; r = out_.nodes[r].requester) {
        const DependencyNode &n = out_.nodes[r];
        if (n.rpath && try_list(*n.rpath, DirName(n.path), "RPATH")) return f;
        if (r == 0) break;
      }
    }
    for (const std::string &d : StartupLibraryPath()) {
      // $ORIGIN in LD_LIBRARY_PATH is the executable's directory.
      static Immortal<const std::string> exe_dir(DirName(RealPath("/proc/self/exe")));
      const std::string candidate = Absolute(Expand(d, *exe_dir)) + "/" + name;
      if (!ends_at(candidate, "LD_LIBRARY_PATH", d)) continue;
      if (!f.blocked.empty()) return f;
      // What the library would have had without it, for the warning that names both files.
      if (req.runpath) {
        Found own;
        std::swap(own, f);
        if (try_list(*req.runpath, DirName(req.path), "RUNPATH") && RealPath(f.path) != RealPath(candidate)) own.shadowed = f.path;
        f = own;
      }
      return f;
    }
    if (req.runpath && try_list(*req.runpath, DirName(req.path), "RUNPATH")) return f;
    if (!options_.follow_system) return {"", "system", "", "", ""};  // left to the loader; checked once bound
    const std::string sys = FindInSystemDirs(name);
    if (!sys.empty()) return {sys, "system", "", "", ""};
    return f;
  }

  // Dependencies before what needs them (post-order), private and shared nodes only.
  void Order() {
    std::vector<int> state(out_.nodes.size(), 0);
    std::function<void(int)> visit = [&](int i) {
      if (state[i]) return;
      state[i] = 1;
      for (const DependencyEdge &e : out_.edges) {
        if (e.from == i) visit(e.to);
      }
      const DependencyKind k = out_.nodes[i].kind;
      if (i != 0 && (k == DependencyKind::Private || k == DependencyKind::Shared)) out_.load_order.push_back(i);
    };
    visit(0);
  }

  const PlanOptions &options_;
  const Privatized &privatize_;
  DependencyPlan &out_;
  std::map<int, bool> expanded_;
};

}  // namespace

std::string CycleThrough(const DependencyPlan &plan, int from, int to) {
  // Breadth first from `to` back to `from`: the shortest way round.
  std::vector<int> prev(plan.nodes.size(), -2);
  std::deque<int> todo{to};
  prev[to] = -1;
  while (!todo.empty() && prev[from] == -2) {
    const int at = todo.front();
    todo.pop_front();
    for (const DependencyEdge &e : plan.edges) {
      if (e.from != at || prev[e.to] != -2) continue;
      prev[e.to] = at;
      todo.push_back(e.to);
    }
  }
  if (from != to && prev[from] == -2) return "";
  std::vector<int> chain{from};
  for (int at = from; at != to;) {
    at = prev[at];
    chain.push_back(at);
  }
  std::string text = plan.nodes[from].needed;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) text += " -> " + plan.nodes[*it].needed;
  return text;
}

bool PlanDependencies(const std::string &path, const ElfInfoStruct &root, const PlanOptions &options, DependencyPlan &out,
                      NativeError &err) {
  out = DependencyPlan{};
  const Privatized none;
  if (!Planner(options, none, out).Run(path, root, err)) return false;
  if (!MentionsRegistry(out, root, options.registries)) return true;
  // A registry is in sight: which system libraries need it is known only from the whole graph.
  DependencyPlan whole;
  if (!options.follow_system) {
    PlanOptions all = options;
    all.follow_system = true;
    if (!Planner(all, none, whole).Run(path, root, err)) return false;
  }
  const RegistryChoice choice = ChooseRegistryCopies(options.follow_system ? out : whole, root, options.registries);
  if (!choice.copies.empty()) {
    out = DependencyPlan{};
    if (!Planner(options, choice.copies, out).Run(path, root, err)) return false;
  }
  out.keep_mapped = choice.keep_mapped;
  return true;
}

}  // namespace dlswap
