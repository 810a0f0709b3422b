// Renames, in a private copy before it is loaded, the names its dynamic section finds dependencies
// and is found by (and, on request, the names of some of its imports): DT_SONAME, every DT_NEEDED, the vn_file of every DT_VERNEED entry
// (the loader asserts that each names a loaded dependency: a NEEDED renamed without its vn_file aborts the process) and the base name of
// DT_VERDEF. Optionally points its search path at its own directory.
//
// A new name has the length of the old one and is written over it in .dynstr: nothing moves, so the
// file stays a valid ELF. A string the linker shares with another reference (tail merging: a symbol
// "elper.so.1" inside "libhelper.so.1") is not rewritten: the edit is refused instead, before any
// byte is written.
#pragma once
#include <map>
#include <string>

namespace dlswap {

struct NameEdit {
  std::map<std::string, std::string> renames;  // old name -> new name of the same length
  // Rewrite DT_RUNPATH (or DT_RPATH) to "$ORIGIN" padded with '/': the copy then finds, in the
  // directory it was loaded from, dependencies it can only find by file name (no SONAME).
  bool search_own_directory = false;
  // Undefined dynamic symbols (imports) renamed, old name -> new name of the same length: the copy
  // then binds them to another definition (runtime/origin_abi.h). Needs a countable symbol table.
  std::map<std::string, std::string> imports;
};

// `fd` is the copy, open read-write, a 64-bit ELF of this machine (checked by the caller). `label`
// names it in messages. On failure nothing was written and `message` says why.
bool RewriteDynamicNames(int fd, const std::string &label, const NameEdit &edit, std::string &message);

}  // namespace dlswap
