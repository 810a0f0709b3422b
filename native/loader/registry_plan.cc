#include "loader/registry_plan.h"

#include <vector>

namespace dlswap {

namespace {

std::string BaseName(const std::string &p) {
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// The registry `n` holds, if it is one: by the name the DT_NEEDED entry gives, its SONAME or its
// file name.
const RegistryRule *RuleFor(const DependencyNode &n, const std::vector<RegistryRule> &rules) {
  for (const RegistryRule &r : rules) {
    for (const std::string &p : r.sonames) {
      if (GlobMatch(p, n.needed) || (n.soname && GlobMatch(p, *n.soname)) || (!n.path.empty() && GlobMatch(p, BaseName(n.path)))) return &r;
    }
  }
  return nullptr;
}

const std::vector<std::string> *ImportsOf(const DependencyPlan &plan, const ElfInfoStruct &root, int i) {
  if (i == 0) return &root.imports;
  return plan.nodes[i].elf ? &plan.nodes[i].elf->imports : nullptr;
}

bool NodeleteOf(const DependencyPlan &plan, const ElfInfoStruct &root, int i) { return i == 0 ? root.nodelete : plan.nodes[i].nodelete; }

// The first import that registers in `rule`'s registry, or null.
const std::string *Registers(const std::vector<std::string> *imports, const RegistryRule &rule) {
  if (!imports) return nullptr;
  for (const std::string &s : *imports) {
    for (const std::string &p : rule.registers) {
      if (GlobMatch(p, s)) return &s;
    }
  }
  return nullptr;
}

std::string NameOf(const DependencyPlan &plan, int i) { return i == 0 ? "the library" : plan.nodes[i].needed; }

}  // namespace

bool GlobMatch(const std::string &pattern, const std::string &text) {
  // Greedy with one backtrack point, the last '*': linear enough for names.
  size_t p = 0, t = 0, star = std::string::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool MentionsRegistry(const DependencyPlan &plan, const ElfInfoStruct &root, const std::vector<RegistryRule> &rules) {
  if (rules.empty()) return false;
  for (const DependencyEdge &e : plan.edges) {
    const DependencyNode &to = plan.nodes[e.to];
    if (to.kind != DependencyKind::System || (e.from != 0 && plan.nodes[e.from].kind != DependencyKind::Private)) continue;
    const RegistryRule *rule = RuleFor(to, rules);
    if (rule && Registers(ImportsOf(plan, root, e.from), *rule)) return true;
  }
  return false;
}

RegistryChoice ChooseRegistryCopies(const DependencyPlan &plan, const ElfInfoStruct &root, const std::vector<RegistryRule> &rules) {
  RegistryChoice out;
  const int n = static_cast<int>(plan.nodes.size());
  // Loaded anew with every generation: the library, its private copies, and what is copied here.
  std::vector<bool> per_generation(n, false), copied(n, false);
  for (int i = 0; i < n; ++i) per_generation[i] = i == 0 || plan.nodes[i].kind == DependencyKind::Private;
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 1; i < n; ++i) {
      const DependencyNode &reg = plan.nodes[i];
      if (reg.kind != DependencyKind::System || copied[i]) continue;
      const RegistryRule *rule = RuleFor(reg, rules);
      if (!rule || rule->points_into_image) continue;
      for (int j = 0; j < n; ++j) {
        const std::string *sym = per_generation[j] ? Registers(ImportsOf(plan, root, j), *rule) : nullptr;
        if (!sym) continue;
        out.copies[reg.needed] = {
            "holds " + rule->what + ", in which " + NameOf(plan, j) + " registers (" + *sym +
                "): each generation gets its own copy, so that a new generation never registers again where an old one did",
            rule->what};
        copied[i] = per_generation[i] = changed = true;
        break;
      }
    }
    // What needs a copy must bind to it: a system dependency that needs a copied one is copied too.
    for (bool grew = true; grew;) {
      grew = false;
      for (const DependencyEdge &e : plan.edges) {
        if (e.from == 0 || copied[e.from] || !copied[e.to] || plan.nodes[e.from].kind != DependencyKind::System) continue;
        const DependencyNode &user = plan.nodes[e.from];
        out.copies[user.needed] = {"needs " + plan.nodes[e.to].needed +
                                       ", of which each generation gets its own copy (a process-wide registry): copied too, so that it "
                                       "binds to its generation's copy",
                                   ""};
        copied[e.from] = per_generation[e.from] = grew = changed = true;
      }
    }
  }
  // A registry that keeps pointers into the registrant: the registrant stays mapped.
  for (int i = 1; i < n && out.keep_mapped.empty(); ++i) {
    const DependencyNode &reg = plan.nodes[i];
    if (reg.kind != DependencyKind::System || copied[i]) continue;
    const RegistryRule *rule = RuleFor(reg, rules);
    if (!rule || !rule->points_into_image) continue;
    for (int j = 0; j < n; ++j) {
      if (!per_generation[j] || NodeleteOf(plan, root, j)) continue;
      const std::string *sym = Registers(ImportsOf(plan, root, j), *rule);
      if (!sym) continue;
      out.keep_mapped = (j == 0 ? std::string("it") : NameOf(plan, j) + ", loaded with it,") + " registers in " + rule->what + " (" + *sym +
                        ", in " + reg.needed +
                        "), which keeps pointers into its image and outlives it: its code and data stay, so that those pointers stay valid";
      break;
    }
  }
  return out;
}

}  // namespace dlswap
