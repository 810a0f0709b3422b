// Mutation fuzzer for dlswap::ReadElfFile, meant to be built with AddressSanitizer and UBSan:
//
//   g++ -std=c++17 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
//       -Inative native/elf/elf_reader.cc native/loader/dynamic_names.cc \
//       test/fuzz/elf_fuzz.cc -o elf_fuzz
//   ./elf_fuzz <iterations> <seed> <scratch-dir> <seed-file>...
//
// The reader works on files (pread, fstat), so every mutant is written to a scratch file first.
// Mutations favour the first pages, where the headers, program headers and dynamic tables live, and
// overwrite fields with boundary values rather than only random bytes: random bytes rarely produce
// an offset that is *almost* valid, which is where bounds checks go wrong.
//
// With clang, -DDLSWAP_LIBFUZZER -fsanitize=fuzzer builds a libFuzzer target instead.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "elf/elf_reader.h"
#include "loader/dynamic_names.h"

namespace {

bool WriteFile(const std::string &path, const std::vector<uint8_t> &data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  return true;
}

// Results are checked, not just computed: a string with an embedded NUL or a count that disagrees
// with the file would mean the reader read outside a table without crashing.
void Check(const dlswap::ElfInfoStruct &info) {
  auto clean = [](const std::vector<std::string> &v) {
    for (const auto &s : v)
      if (s.find('\0') != std::string::npos) abort();
  };
  clean(info.exports);
  clean(info.imports);
  clean(info.needed);
  clean(info.unique_symbols);
  clean(info.copy_relocs);
  if (info.elf_class != 32 && info.elf_class != 64) abort();
  if (info.unique_symbols.size() > info.exports.size()) abort();
}

std::map<std::string, int> g_outcomes;

// The private-copy rename (native/loader/dynamic_names.cc) on a file that was read: every NEEDED and
// the SONAME get a new name of the same length, as a load gives them. Either it refuses with a
// reason, or the file still reads, with the new names where the old ones were.
void Rename(const std::string &scratch, const dlswap::ElfInfoStruct &info) {
  dlswap::NameEdit edit;
  auto rename = [&](const std::string &old) {
    if (old.empty() || edit.renames.count(old)) return;
    std::string n = old;
    n[0] = '~';
    edit.renames[old] = n;
  };
  for (const std::string &n : info.needed) rename(n);
  if (info.soname) rename(*info.soname);
  edit.search_own_directory = (info.runpath || info.rpath) && info.needed.size() % 2 == 1;
  const int fd = open(scratch.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) abort();
  std::string why;
  const bool ok = dlswap::RewriteDynamicNames(fd, scratch, edit, why);
  close(fd);
  if (!ok) {
    if (why.empty()) abort();
    g_outcomes["rename-refused"]++;
    return;
  }
  g_outcomes["rename-ok"]++;
  dlswap::ElfInfoStruct after;
  dlswap::NativeError err;
  if (!dlswap::ReadElfFile(scratch, after, err)) abort();  // it read before; a rename must not break it
  Check(after);
  if (after.needed.size() != info.needed.size()) abort();
}

void RunOne(const std::string &scratch, const std::vector<uint8_t> &data) {
  if (!WriteFile(scratch, data)) {
    perror("write scratch file");
    exit(2);
  }
  dlswap::ElfInfoStruct info;
  dlswap::NativeError err;
  if (dlswap::ReadElfFile(scratch, info, err)) {
    Check(info);
    g_outcomes[info.truncated ? "ok-truncated" : "ok"]++;
    Rename(scratch, info);
  } else {
    if (err.code.rfind("ERR_DLSWAP_", 0) != 0 || err.message.empty()) abort();
    g_outcomes[err.code]++;
  }
}

struct Rng {
  uint64_t s;
  uint64_t Next() {
    // splitmix64: deterministic per seed, so a failing run can be replayed.
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return n ? Next() % n : 0; }
};

void Mutate(std::vector<uint8_t> &d, Rng &r) {
  if (d.empty()) return;
  const uint64_t hot = std::min<uint64_t>(d.size(), 8192);
  auto pos = [&]() { return static_cast<size_t>(r.Below(4) ? r.Below(hot) : r.Below(d.size())); };
  const uint64_t interesting[] = {
      0, 1, 2, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 0x8000000000000000ull, ~0ull, d.size(), d.size() - 1, d.size() + 1};
  switch (r.Below(7)) {
    case 0: d[pos()] = static_cast<uint8_t>(r.Next()); break;
    case 1: d[pos()] ^= static_cast<uint8_t>(1u << r.Below(8)); break;
    case 2: {  // a field-sized boundary value, in either byte order
      const size_t width = size_t{1} << r.Below(4);
      const size_t at = pos();
      const uint64_t v = interesting[r.Below(sizeof(interesting) / sizeof(interesting[0]))];
      const bool be = r.Below(2);
      for (size_t i = 0; i < width && at + i < d.size(); ++i) {
        d[at + i] = static_cast<uint8_t>(v >> (8 * (be ? width - 1 - i : i)));
      }
      break;
    }
    case 3: d.resize(static_cast<size_t>(r.Below(d.size()) + 1)); break;
    case 4: {  // copy a chunk over another place: plausible-looking tables in the wrong spot
      const size_t from = pos(), to = pos();
      const size_t n = static_cast<size_t>(r.Below(64));
      for (size_t i = 0; i < n && from + i < d.size() && to + i < d.size(); ++i) d[to + i] = d[from + i];
      break;
    }
    case 5: {  // the ELF header fields: e_phoff..e_shstrndx live in bytes 24..64
      const size_t at = 16 + static_cast<size_t>(r.Below(48));
      if (at < d.size()) d[at] = static_cast<uint8_t>(r.Next());
      break;
    }
    default: {
      const size_t n = static_cast<size_t>(r.Below(16) + 1);
      for (size_t i = 0; i < n; ++i) d[pos()] = static_cast<uint8_t>(r.Next());
      break;
    }
  }
}

}  // namespace

#ifdef DLSWAP_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string scratch = "elf_fuzz_input." + std::to_string(getpid());
  RunOne(scratch, std::vector<uint8_t>(data, data + size));
  return 0;
}
#else
int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s <iterations> <seed> <scratch-dir> <seed-file>...\n", argv[0]);
    return 2;
  }
  const long iterations = strtol(argv[1], nullptr, 10);
  Rng r{strtoull(argv[2], nullptr, 10)};
  const std::string scratch = std::string(argv[3]) + "/elf_fuzz_input";
  std::vector<std::vector<uint8_t>> seeds;
  for (int i = 4; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (seeds.back().empty()) {
      fprintf(stderr, "cannot read seed %s\n", argv[i]);
      return 2;
    }
  }
  for (const auto &s : seeds) RunOne(scratch, s);
  for (long i = 0; i < iterations; ++i) {
    std::vector<uint8_t> d = seeds[r.Below(seeds.size())];
    const uint64_t rounds = 1 + r.Below(8);
    for (uint64_t k = 0; k < rounds; ++k) Mutate(d, r);
    RunOne(scratch, d);
  }
  unlink(scratch.c_str());
  printf("{\"iterations\":%ld", iterations);
  for (const auto &kv : g_outcomes) printf(",\"%s\":%d", kv.first.c_str(), kv.second);
  printf("}\n");
  return 0;
}
#endif
