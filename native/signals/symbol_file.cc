#include "signals/symbol_file.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace dlswap {

namespace {

class File {
 public:
  explicit File(const std::string &path) : fd_(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)) {
    struct stat st;
    if (fd_ >= 0 && (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode))) {
      close(fd_);
      fd_ = -1;
    }
    if (fd_ >= 0) size_ = static_cast<uint64_t>(st.st_size);
  }
  ~File() {
    if (fd_ >= 0) close(fd_);
  }
  File(const File &) = delete;
  File &operator=(const File &) = delete;
  bool ok() const { return fd_ >= 0; }
  bool Read(uint64_t off, void *out, uint64_t len) const {
    if (off > size_ || len > size_ - off) return false;
    return pread(fd_, out, len, static_cast<off_t>(off)) == static_cast<ssize_t>(len);
  }
  bool Bytes(uint64_t off, uint64_t len, std::vector<char> *out) const {
    if (len > (uint64_t(256) << 20)) return false;
    out->resize(len);
    return Read(off, out->data(), len);
  }

 private:
  int fd_;
  uint64_t size_ = 0;
};

std::string Hex(const unsigned char *p, size_t n) {
  static const char *digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(digits[p[i] >> 4]);
    s.push_back(digits[p[i] & 15]);
  }
  return s;
}

std::string BuildIdOf(const File &f, const std::vector<Elf64_Shdr> &sh) {
  for (const Elf64_Shdr &s : sh) {
    if (s.sh_type != SHT_NOTE) continue;
    std::vector<char> b;
    if (!f.Bytes(s.sh_offset, s.sh_size, &b)) continue;
    for (size_t at = 0; at + sizeof(Elf64_Nhdr) <= b.size();) {
      Elf64_Nhdr n;
      std::memcpy(&n, b.data() + at, sizeof n);
      const size_t name_at = at + sizeof n, desc_at = name_at + ((n.n_namesz + 3) & ~3u);
      const size_t next = desc_at + ((n.n_descsz + 3) & ~3u);
      if (next > b.size()) break;
      if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && std::memcmp(b.data() + name_at, "GNU", 4) == 0) {
        return Hex(reinterpret_cast<const unsigned char *>(b.data() + desc_at), n.n_descsz);
      }
      at = next;
    }
  }
  return "";
}

}  // namespace

bool FileSymbolAt(const std::string &path, const std::string &build_id, uint64_t vaddr, FileSymbol *out) {
  File f(path);
  if (!f.ok()) return false;
  Elf64_Ehdr eh;
  if (!f.Read(0, &eh, sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 4096) {
    return false;
  }
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  if (!f.Read(eh.e_shoff, sh.data(), sizeof(Elf64_Shdr) * sh.size())) return false;
  if (!build_id.empty() && BuildIdOf(f, sh) != build_id) return false;
  // .symtab when the file has one (static functions too), else .dynsym.
  const Elf64_Shdr *table = nullptr;
  for (const Elf64_Shdr &s : sh) {
    if (s.sh_type == SHT_SYMTAB) table = &s;
  }
  for (const Elf64_Shdr &s : sh) {
    if (!table && s.sh_type == SHT_DYNSYM) table = &s;
  }
  if (!table || table->sh_entsize != sizeof(Elf64_Sym) || table->sh_link >= sh.size()) return false;
  std::vector<char> syms, strs;
  if (!f.Bytes(table->sh_offset, table->sh_size, &syms) || !f.Bytes(sh[table->sh_link].sh_offset, sh[table->sh_link].sh_size, &strs)) {
    return false;
  }
  const size_t n = syms.size() / sizeof(Elf64_Sym);
  const Elf64_Sym *best = nullptr;
  Elf64_Sym s;
  Elf64_Sym chosen;
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(&s, syms.data() + i * sizeof s, sizeof s);
    if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF || s.st_value > vaddr) continue;
    if (s.st_size > 0 && vaddr >= s.st_value + s.st_size) continue;
    if (!best || s.st_value > chosen.st_value) {
      chosen = s;
      best = &chosen;
    }
  }
  if (!best || chosen.st_name >= strs.size()) return false;
  out->name.assign(strs.data() + chosen.st_name, strnlen(strs.data() + chosen.st_name, strs.size() - chosen.st_name));
  out->offset = vaddr - chosen.st_value;
  return true;
}

}  // namespace dlswap
