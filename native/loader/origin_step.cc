#include "common/immortal.h"
#include "loader/origin_step.h"

#include <algorithm>
#include <map>

#include "common/proc_maps.h"
#include "common/trusted_path.h"
#include "image/image_closure.h"
#include "image/image_origins.h"
#include "loader/dynamic_names.h"
#include "loader/private_area.h"

namespace dlswap {

namespace {

const std::map<std::string, std::string> &OriginRenames() {
  static Immortal<const std::map<std::string, std::string>> renames(std::map<std::string, std::string>{
#define DLSWAP_RENAME(from, to) {#from, #to},
      DLSWAP_ORIGIN_RENAMES(DLSWAP_RENAME)
#undef DLSWAP_RENAME
  });
  return *renames;
}

}  // namespace

void RedirectOriginImports(Isolation iso, int fd, const std::vector<std::string> &imports, const std::string &label, std::string &note) {
  NameEdit edit;
  for (const std::string &name : imports) {
    auto it = OriginRenames().find(name);
    if (it != OriginRenames().end()) edit.imports.insert(*it);
  }
  if (edit.imports.empty()) return;
  std::string why;
  if ((iso == Isolation::Local || iso == Isolation::DeepBind) && !EnsureBaseOrigin(why)) {
    note = label + ": dladdr, dlopen and the like answer with its private copy (" + why + ")";
    return;
  }
  if (!RewriteDynamicNames(fd, label, edit, why)) note = label + ": dladdr, dlopen and the like answer with its private copy (" + why + ")";
}

bool ImportsOriginFunctions(const std::vector<std::string> &imports) {
  return std::any_of(imports.begin(), imports.end(), [](const std::string &name) { return OriginRenames().count(name) > 0; });
}

void NoteMapped(const LibraryHandle &image, const MappedSource &from, std::string &note) {
  if (image.copy_name.empty() || !image.map) return;
  HoldCopy(image.copy_name);
  ImageOrigin o;
  o.map = image.map;
  // Its span from its program headers; from the mappings around its dynamic section when they
  // cannot be read.
  const AddressRange extent = MappedExtent(image.map);
  o.start = extent.start;
  o.end = extent.end;
  if (!extent.end) {
    ProcMaps maps;
    const std::vector<Mapping> run = maps.FileRun(reinterpret_cast<uintptr_t>(image.map->l_ld));
    if (!run.empty()) {
      o.start = run.front().start;
      o.end = run.back().end;
    }
  }
  o.loaded_as = image.loader_name;
  o.mapped_path = image.mapped_path;
  o.source = from.source;
  o.rpath = from.rpath;
  o.runpath = from.runpath;
  o.build_id = from.build_id;
  o.dependency_of = from.dependency_of;
  o.isolation = static_cast<int>(image.isolation);
  o.lmid = image.lmid;
  const std::string dir = from.source.substr(0, std::max<size_t>(from.source.rfind('/'), 1));
  std::string why;
  o.redirect = !from.source.empty() && TrustedDirectory(dir, why);
  if (!o.redirect && !from.source.empty()) {
    note = from.source + ": its directory can be changed by other users (" + why +
           "), so what it looks for beside itself ($ORIGIN, dladdr) is not looked for there. Move it to a directory only you (or root) can "
           "write.";
  }
  RegisterImage(o);
}

void NoteUnmapped(const LibraryHandle &image) {
  if (image.copy_name.empty()) return;
  UnregisterImage(image.map, image.loader_name);
  ReleaseCopy(image.copy_name);
}

}  // namespace dlswap
