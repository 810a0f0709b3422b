// The locale of a namespace, changed by libraries in it.
//
// Every library of the anchor namespace shares its libc, and so its global locale: one plugin's
// setlocale(LC_NUMERIC, "de_DE.UTF-8") makes every other plugin print "3,14" (node's own libc is
// apart and stays right). That is what sharing a libc means while the plugin is loaded; once it is
// closed, what it changed must not outlive it. So the runtime routes setlocale here: each change is
// recorded, per category, with the code that asked and the name the category had before, and
// closing that code sets the category back, unless another library changed it since (then that
// library's record inherits what it was before, and closing it sets it back).
#include <locale.h>

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "namespace/runtime_host.h"

namespace dlswap {

namespace {

// glibc's categories: LC_CTYPE (0) to LC_IDENTIFICATION (12); LC_ALL (6) names all of them.
constexpr int kCategories = 13;
constexpr const char *kNames[kCategories] = {"LC_CTYPE",     "LC_NUMERIC",     "LC_TIME",          "LC_COLLATE", "LC_MONETARY",
                                             "LC_MESSAGES",  "LC_ALL",         "LC_PAPER",         "LC_NAME",    "LC_ADDRESS",
                                             "LC_TELEPHONE", "LC_MEASUREMENT", "LC_IDENTIFICATION"};

struct Change {
  uintptr_t caller;
  std::string before;
};

struct NamespaceLocale {
  std::array<std::vector<Change>, kCategories> changes;  // per category, oldest first
};

// Never destroyed: a library may call setlocale from a destructor that exit runs.
std::mutex g_mutex;
std::map<NamespaceRecord *, NamespaceLocale> *g_locales = new std::map<NamespaceRecord *, NamespaceLocale>();

std::vector<int> Affected(int category) {
  if (category == LC_ALL) {
    std::vector<int> all;
    for (int c = 0; c < kCategories; ++c) {
      if (c != LC_ALL) all.push_back(c);
    }
    return all;
  }
  if (category < 0 || category >= kCategories) return {};
  return {category};
}

std::string Current(NamespaceRecord *ns, int category) {
  const char *now = ns->setlocale_fn(category, nullptr);
  return now ? now : "C";
}

// A copy with zeroed bytes after the terminator. The namespace's libc reads strings a whole aligned
// vector at a time (safe: never across a page), which valgrind, checking only the process's own
// libc exactly, reports as a branch on the uninitialised bytes past the end of a std::string.
std::vector<char> Padded(const std::string &s) {
  std::vector<char> out(s.size() + 64, '\0');
  std::copy(s.begin(), s.end(), out.begin());
  return out;
}

bool In(uintptr_t a, const std::vector<AddressRange> &code) {
  return std::any_of(code.begin(), code.end(), [a](const AddressRange &r) { return a >= r.start && a < r.end; });
}

}  // namespace

char *LocaleSet(void *ns_ptr, int category, const char *locale, const void *caller) {
  auto *ns = static_cast<NamespaceRecord *>(ns_ptr);
  if (!ns->setlocale_fn) return nullptr;
  if (!locale) return ns->setlocale_fn(category, nullptr);
  std::lock_guard<std::mutex> lock(g_mutex);
  const std::vector<int> cats = Affected(category);
  std::vector<std::string> before;
  for (int c : cats) before.push_back(Current(ns, c));
  char *result = ns->setlocale_fn(category, locale);
  if (!result) return result;
  NamespaceLocale &state = (*g_locales)[ns];
  for (size_t i = 0; i < cats.size(); ++i) {
    if (Current(ns, cats[i]) == before[i]) continue;
    state.changes[cats[i]].push_back({reinterpret_cast<uintptr_t>(caller), before[i]});
  }
  return result;
}

std::vector<std::string> RestoreLocaleOf(NamespaceRecord *ns, const std::vector<AddressRange> &code) {
  std::vector<std::string> restored;
  if (!ns || !ns->setlocale_fn) return restored;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_locales->find(ns);
  if (it == g_locales->end()) return restored;
  for (int c = 0; c < kCategories; ++c) {
    std::vector<Change> &changes = it->second.changes[c];
    bool set_back = false;
    // Its changes on top are undone, newest first: the category gets what it had before them.
    while (!changes.empty() && In(changes.back().caller, code)) {
      ns->setlocale_fn(c, Padded(changes.back().before).data());
      changes.pop_back();
      set_back = true;
    }
    // Its changes under another library's: that one's record inherits what the category was before.
    for (size_t i = changes.size(); i-- > 0;) {
      if (!In(changes[i].caller, code)) continue;
      if (i + 1 < changes.size()) changes[i + 1].before = changes[i].before;
      changes.erase(changes.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (set_back) restored.push_back(kNames[c]);
  }
  return restored;
}

}  // namespace dlswap
