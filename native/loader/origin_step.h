// The load's part in keeping a library's whereabouts true (image/image_origins.h): what a debugger
// sees is the copy that is mapped, what the library itself sees is the file it was copied from.
#pragma once
#include <string>
#include <vector>

#include "image/library_handle.h"

namespace dlswap {

// Renames, in a copy not yet loaded, its imports of dladdr, dladdr1, dlinfo, dl_iterate_phdr,
// dlopen and dlmopen (`imports`: all the names it imports; nothing is done if it imports none of
// them) to the origin functions' names, which the mode makes bindable. When that cannot be done the
// load goes on with glibc's answers, and `note` says why.
void RedirectOriginImports(Isolation iso, int fd, const std::vector<std::string> &imports, const std::string &label, std::string &note);
// Whether RedirectOriginImports may write into a copy with these imports.
bool ImportsOriginFunctions(const std::vector<std::string> &imports);

struct MappedSource {
  std::string source;          // realpath of the file the copy was made from
  std::string rpath, runpath;  // its DT_RPATH / DT_RUNPATH as built
  std::string build_id;
  std::string dependency_of;  // a private dependency: the source of the library it came with
};

// From the moment an image of a copy is mapped: its file stays (private_area.h HoldCopy) and it is
// registered with what it was made from. When the file's directory can be changed by other users,
// the library's questions keep the loader's answers, and `note` says so (to be shown to the user).
void NoteMapped(const LibraryHandle &image, const MappedSource &from, std::string &note);

// The image is verified unmapped: its record and its copy's file go (unless copies are kept).
void NoteUnmapped(const LibraryHandle &image);

}  // namespace dlswap
