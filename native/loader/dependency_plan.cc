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
#include "elf/elf_reader.h"

namespace dlswap {

namespace {

constexpr size_t kMaxNodes = 256;

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

// What the loader would accept in a search: a regular file with an ELF header of this machine's
// class and architecture. It skips anything else and goes on searching (a 32-bit library of the
// same name earlier in the path does not stop it).
bool Loadable(const std::string &p) {
  const int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st;
  Elf64_Ehdr h;
  const bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pread(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h) &&
                  std::memcmp(h.e_ident, ELFMAG, SELFMAG) == 0 && h.e_ident[EI_CLASS] == ELFCLASS64 && h.e_machine == kMachine;
  close(fd);
  return ok;
}

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
      {"${ORIGIN}", origin}, {"$ORIGIN", origin}, {"${PLATFORM}", platform ? platform : ""},
      {"$PLATFORM", platform ? platform : ""}, {"${LIB}", LibToken()}, {"$LIB", LibToken()},
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
};

class Planner {
 public:
  Planner(const PlanOptions &options, DependencyPlan &out) : options_(options), out_(out) {}

  bool Run(const std::string &path, const std::optional<std::string> &rpath, const std::optional<std::string> &runpath,
           const std::vector<std::string> &needed, std::string &code, std::string &message) {
    DependencyNode root;
    root.path = Absolute(path);
    root.file = RealPath(root.path);
    root.rpath = rpath;
    root.runpath = runpath;
    root.needed_names = needed;
    root.reason = "the library itself";
    out_.nodes.push_back(root);
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
        if (!ReadElfFile(n.path, info, code, message)) {
          if (n.kind != DependencyKind::Private) continue;  // the loader will say what is wrong with it
          message = "dependency " + n.needed + " (" + n.path + "): " + message;
          return false;
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

  // The node for `name` as `from` needs it: an existing node for the same file, or a new one.
  int Resolve(int from, const std::string &name) {
    Found f = Search(from, name);
    const std::string file = f.path.empty() ? std::string() : RealPath(f.path);
    for (size_t i = 1; i < out_.nodes.size(); ++i) {
      const DependencyNode &n = out_.nodes[i];
      if (file.empty() ? (n.file.empty() && n.needed == name) : n.file == file) return static_cast<int>(i);
    }
    if (out_.nodes.size() >= kMaxNodes) return -1;
    DependencyNode n;
    n.needed = name;
    n.path = f.path;
    n.file = file;
    n.found_via = f.via;
    n.search_entry = f.entry;
    n.shadowed = f.shadowed;
    n.requester = from;
    Classify(n);
    out_.nodes.push_back(std::move(n));
    return static_cast<int>(out_.nodes.size()) - 1;
  }

  void Classify(DependencyNode &n) {
    if (n.file.empty() && n.found_via == "system" && !ShareListed(n)) {
      n.kind = DependencyKind::System;
      n.reason = "not in its own search paths: the dynamic loader takes it from the system library directories, one copy for the whole process";
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
    if (name.find('/') != std::string::npos) {
      const std::string file = Absolute(name);
      if (Loadable(file)) f = {file, "path", "", ""};
      return f;
    }
    const DependencyNode &req = out_.nodes[from];
    auto try_list = [&](const std::string &list, const std::string &origin, const char *via) {
      for (const std::string &entry : Split(list)) {
        if (entry.empty()) continue;
        const std::string candidate = Absolute(Expand(entry, origin)) + "/" + name;
        if (Loadable(candidate)) {
          f = {candidate, via, entry, ""};
          return true;
        }
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
      if (!Loadable(candidate)) continue;
      f = {candidate, "LD_LIBRARY_PATH", d, ""};
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
    if (!options_.follow_system) return {"", "system", "", ""};  // left to the loader; checked once bound
    const std::string sys = FindInSystemDirs(name);
    if (!sys.empty()) return {sys, "system", "", ""};
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
  DependencyPlan &out_;
  std::map<int, bool> expanded_;
};

}  // namespace

bool PlanDependencies(const std::string &path, const std::optional<std::string> &root_rpath,
                      const std::optional<std::string> &root_runpath, const std::vector<std::string> &root_needed,
                      const PlanOptions &options, DependencyPlan &out, std::string &code, std::string &message) {
  out = DependencyPlan{};
  return Planner(options, out).Run(path, root_rpath, root_runpath, root_needed, code, message);
}

}  // namespace dlswap
