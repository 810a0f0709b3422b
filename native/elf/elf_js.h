// The ELF reader's results as JS values.
#pragma once
#include <napi.h>

#include "elf/elf_reader.h"

namespace dlswap {

// soname, needed, rpath, runpath and buildId, in that order: the names a library is found by and
// finds its dependencies by, and its build id (readElf's result and a load's result both have them).
void SetDynamicNames(Napi::Env env, Napi::Object o, const ElfInfoStruct &s);

}  // namespace dlswap
