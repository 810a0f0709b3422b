// Reads what dlswap needs to know about a shared library (dependencies, symbols, TLS, hazards) from
// the file itself, without loading it: loading runs constructors and can pin or crash the process,
// which is exactly what inspecting is meant to predict.
//
// Independent of N-API (its JS face is elf/elf_js.cc) so that the loader and the fuzz harness
// (test/fuzz/elf_fuzz.cc) call it directly.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/native_error.h"

namespace dlswap {

struct ElfTlsInfo {
  uint64_t memsz = 0;
  uint64_t filesz = 0;
  uint64_t align = 0;
};

struct ElfInfoStruct {
  int elf_class = 0;  // 32 or 64
  bool big_endian = false;
  uint16_t machine = 0;      // e_machine
  std::string machine_name;  // 'x86_64', 'aarch64', ... or 'unknown-<n>'
  std::string type;          // 'dyn' | 'exec' | 'rel' | 'core' | 'other'
  uint64_t file_size = 0;

  std::optional<std::string> soname;
  std::vector<std::string> needed;
  std::optional<std::string> rpath;
  std::optional<std::string> runpath;
  std::optional<std::string> build_id;  // lowercase hex

  uint64_t flags = 0;   // DT_FLAGS
  uint64_t flags1 = 0;  // DT_FLAGS_1
  bool nodelete = false;
  bool textrel = false;
  std::optional<bool> execstack;  // absent PT_GNU_STACK: the loader's arch default decides
  std::optional<ElfTlsInfo> tls;
  bool static_tls_model = false;
  // Entries of DT_FINI_ARRAY (the compiler's own __do_global_dtors_aux is one of them): more than
  // one means the library has destructors of its own.
  uint64_t fini_array_entries = 0;

  std::vector<std::string> exports;
  std::vector<std::string> imports;
  std::vector<std::string> weak_imports;  // the STB_WEAK subset of imports: may stay unresolved
  std::vector<std::string> unique_symbols;
  std::vector<std::string> copy_relocs;
  // Symbols that constructor/destructor array entries (DT_INIT_ARRAY, DT_FINI_ARRAY,
  // DT_PREINIT_ARRAY) are relocated against: the entry calls whatever that symbol binds to.
  std::vector<std::string> init_fini_symbols;
  // Global symbols it defines (with default visibility) and also binds through a relocation: its own
  // references to them can be interposed by an earlier definition in the lookup scope.
  std::vector<std::string> self_bound_symbols;

  bool truncated = false;  // a table pointed outside the file (or above the size cap) and was skipped
};

// Codes match lib/errors.ts (ERR_DLSWAP_NOT_FOUND, _NOT_A_FILE, _ACCESS, _EMPTY_FILE, _NOT_ELF,
// _BAD_ELF). On failure `info` is left partially filled and must not be used.
bool ReadElfFile(const std::string &path, ElfInfoStruct &info, NativeError &err);
// The same, from a file already open (pread only: the offset is left alone). `path` names it in
// messages.
bool ReadElfFd(int fd, const std::string &path, ElfInfoStruct &info, NativeError &err);

// The same checks on bytes already in memory; `name` stands for the file in messages. A detached or
// empty buffer is ERR_DLSWAP_EMPTY_FILE.
bool ReadElfBytes(const uint8_t *data, size_t size, const std::string &name, ElfInfoStruct &info, NativeError &err);

}  // namespace dlswap
