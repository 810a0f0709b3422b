// A library's dependencies as lib/ shows them (LibraryInfo.dependencies, inspect), and the
// private-copy rename alone, for tests.
#include "loader/dependencies_js.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "common/errors.h"
#include "common/js_values.h"
#include "common/exports.h"
#include "elf/elf_reader.h"
#include "loader/dynamic_names.h"
#include "loader/private_area.h"

namespace dlswap {

Napi::Array DependenciesToJs(Napi::Env env, const DependencyPlan &plan, const ClosureCopies *closure,
                             const std::vector<std::string> *bound_to, const std::vector<int> &dep_nodes) {
  Napi::Array a = Napi::Array::New(env);
  for (size_t i = 1; i < plan.nodes.size(); ++i) {
    const DependencyNode &n = plan.nodes[i];
    Napi::Array needs = Napi::Array::New(env);
    for (const DependencyEdge &e : plan.edges) {
      if (e.from == static_cast<int>(i)) needs.Set(needs.Length(), plan.nodes[e.to].needed);
    }
    Napi::Value copy = env.Null();
    Napi::Value private_name = env.Null();
    if (closure) {
      for (const ClosureCopy &c : closure->copies) {
        if (c.node != static_cast<int>(i)) continue;
        copy = Napi::String::New(env, PrivateDirPath() + "/" + c.copy.name);
        private_name = Napi::String::New(env, c.new_soname.empty() ? (c.aliases.empty() ? std::string() : c.aliases[0]) : c.new_soname);
      }
    }
    // One define for all fields (common/js_values.h Fields): a load's answer carries one per node.
    Fields f(env);
    f.Add("name", n.needed)
        .Add("kind", KindName(n.kind))
        .Add("reason", n.reason)
        .Add("path", StringOrNull(env, n.path))
        .Add("file", StringOrNull(env, n.file))
        .Add("foundVia", StringOrNull(env, n.found_via))
        .Add("searchEntry", StringOrNull(env, n.search_entry))
        .Add("shadowed", StringOrNull(env, n.shadowed))
        .Add("requiredBy", n.requester <= 0 ? env.Null() : Napi::Value(Napi::String::New(env, plan.nodes[n.requester].needed)))
        .Add("soname", OptString(env, n.soname))
        .Add("buildId", OptString(env, n.build_id))
        .Add("nodelete", n.nodelete)
        .Add("uniqueSymbols", static_cast<double>(n.unique_symbols))
        .Add("registry", StringOrNull(env, n.registry))
        .Add("needs", needs)
        .Add("copy", copy)
        .Add("privateName", private_name);
    if (bound_to) f.Add("boundTo", StringOrNull(env, (*bound_to)[i]));
    auto d = std::find(dep_nodes.begin(), dep_nodes.end(), static_cast<int>(i));
    f.Add("image", d == dep_nodes.end() ? env.Null() : Napi::Value(Napi::Number::New(env, double(d - dep_nodes.begin()))));
    Napi::Object o = f.Make();
    a.Set(a.Length(), o);
  }
  return a;
}

std::vector<RegistryRule> RegistryRules(Napi::Value v) {
  std::vector<RegistryRule> out;
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsObject()) continue;
    Napi::Object o = e.As<Napi::Object>();
    RegistryRule r;
    if (o.Get("what").IsString()) r.what = o.Get("what").As<Napi::String>().Utf8Value();
    r.sonames = Strings(o.Get("sonames"));
    r.registers = Strings(o.Get("registers"));
    r.points_into_image = o.Get("pointsIntoImage").ToBoolean();
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

// planDependencies(path, share[], followSystem, registries[]): what a load would copy, share or
// leave to the system, without loading anything (inspect).
Napi::Value PlanDependenciesJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "planDependencies(path): path must be a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  ElfInfoStruct elf;
  NativeError err;
  if (!ReadElfFile(path, elf, err)) throw CodedError(env, err);
  PlanOptions options;
  options.share = Strings(info[1]);
  options.follow_system = info[2].ToBoolean();
  options.registries = RegistryRules(info[3]);
  DependencyPlan plan;
  if (!PlanDependencies(path, elf, options, plan, err)) throw CodedError(env, err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("dependencies", DependenciesToJs(env, plan, nullptr, nullptr, {}));
  o.Set("truncated", plan.truncated);
  o.Set("keepMapped", plan.keep_mapped);
  Napi::Array dirs = Napi::Array::New(env);
  for (const std::string &d : SystemLibraryDirs()) dirs.Set(dirs.Length(), d);
  o.Set("systemDirs", dirs);
  return o;
}

// renameForTest(file, { old: new }, searchOwnDirectory): the private-copy rename, on a file the
// test made, so that readelf can check the result.
Napi::Value RenameForTestJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  NameEdit edit;
  Napi::Object m = info[1].As<Napi::Object>();
  Napi::Array keys = m.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
    edit.renames[k] = m.Get(k).As<Napi::String>().Utf8Value();
  }
  edit.search_own_directory = info[2].ToBoolean();
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw CodedError(env, "ERR_DLSWAP_ACCESS", "cannot open " + path);
  std::string why;
  const bool ok = RewriteDynamicNames(fd, path, edit, why);
  close(fd);
  if (!ok) throw CodedError(env, "ERR_DLSWAP_DEPENDENCY", why);
  return env.Undefined();
}

}  // namespace

void RegisterDependencies(Napi::Env env, Napi::Object exports) {
  Export(env, exports, {{"planDependencies", PlanDependenciesJs}, {"renameForTest", RenameForTestJs}});
}

}  // namespace dlswap
