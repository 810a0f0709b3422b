// Where each image dlswap mapped from a copy lives: the one record that everything naming it reads.
//
//   - the library's own questions (runtime/origin.c: dladdr, dl_iterate_phdr, dlinfo, dlopen of
//     "$ORIGIN/..."), answered with the file it was copied from;
//   - fault reports, which turn a program counter into "function in file (generation's copy of
//     source)" (FindImageAt is async-signal-safe);
//   - lib/ (mappedImages(): what is mapped where, for tests, doctor and users' own crash handlers).
//
// A record lives from the load until the image is verified unmapped (it outlives a close that left
// the image mapped). Readers take no lock: records are never freed, only reused once unregistered,
// and each is read under its sequence number.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/origin_abi.h"

namespace dlswap {

struct ImageOrigin {
  const void *map = nullptr;     // its link map (the handle dlopen returned)
  uintptr_t start = 0, end = 0;  // the pages it is mapped in, .bss included
  std::string loaded_as;         // l_name: the copy, as the dynamic loader was given it
  std::string mapped_path;       // the copy as /proc/<pid>/maps names it
  std::string source;            // realpath of the file it was copied from
  std::string rpath, runpath;    // its own DT_RPATH / DT_RUNPATH as built ("" when absent)
  std::string build_id;          // hex, "" when it has none
  std::string dependency_of;     // a private dependency: the source of the library that brought it
  int isolation = 0;             // Isolation as a number
  long lmid = 0;
  bool redirect = false;  // its directory is trusted: its questions get the source's answers
};

// From the load (the image is mapped) until UnregisterImage. Registering a map again replaces it.
void RegisterImage(const ImageOrigin &image);
// The image is gone: its record may be reused. `loaded_as` tells it from a later image whose link
// map happens to be allocated at the same address.
void UnregisterImage(const void *map, const std::string &loaded_as);

// What fault reports need of the image containing `pc`, copied into fixed buffers: no allocation,
// no lock, safe in a signal handler. False when no dlswap image contains it.
struct ImageAtPc {
  uintptr_t start = 0, end = 0;
  char loaded_as[4096];
  char source[4096];
  char build_id[129];
};
bool FindImageAt(uintptr_t pc, ImageAtPc &out);

// Every registered image (for lib/ and tests; allocates).
std::vector<ImageOrigin> RegisteredImages();

// The table origin.c is attached with (stable for the life of the process).
const dlswap_origin_host *OriginHost();

// Whether images opened in `local` and `deepbind` can have their questions answered: the addon's
// copy of origin.c is in the global scope (done once; false, with `why`, if it cannot be).
bool EnsureBaseOrigin(std::string &why);

}  // namespace dlswap
