#include "loader/dynamic_names.h"

#include <elf.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

namespace dlswap {

namespace {

constexpr uint64_t kMaxTable = uint64_t(256) << 20;  // no dynamic table of a real library comes close
constexpr uint32_t kMaxChain = 1u << 16;             // verneed/verdef entries followed

struct Failure {
  std::string why;
};

// The copy, read through a window: headers, the dynamic section and the version tables sit in the
// first pages of a library, so a few reads serve every lookup. Not mapped: a debugger or valgrind
// takes a mapped ELF file for a loaded object. Writes happen only after every check passed.
class File {
 public:
  explicit File(int fd) : fd_(fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) throw Failure{"it is empty or cannot be read"};
    size_ = static_cast<uint64_t>(st.st_size);
  }

  uint64_t size() const { return size_; }
  bool In(uint64_t off, uint64_t len) const { return off <= size_ && len <= size_ - off; }
  template <typename T>
  T Get(uint64_t off) {
    T v;
    if (!In(off, sizeof v)) throw Failure{"a table points outside the file"};
    if (off < window_off_ || off + sizeof v > window_off_ + window_.size()) Fill(off);
    std::memcpy(&v, window_.data() + (off - window_off_), sizeof v);
    return v;
  }
  std::vector<char> Bytes(uint64_t off, uint64_t len) const {
    if (len > kMaxTable || !In(off, len)) throw Failure{"a table points outside the file"};
    std::vector<char> b(len);
    if (len && pread(fd_, b.data(), len, static_cast<off_t>(off)) != static_cast<ssize_t>(len)) throw Failure{"a read came up short"};
    return b;
  }
  bool Put(uint64_t off, const void *data, size_t len) {
    window_.clear();
    return In(off, len) && pwrite(fd_, data, len, static_cast<off_t>(off)) == static_cast<ssize_t>(len);
  }

 private:
  void Fill(uint64_t off) {
    const uint64_t len = std::min<uint64_t>(kWindow, size_ - off);
    window_.resize(len);
    window_off_ = off;
    if (pread(fd_, window_.data(), len, static_cast<off_t>(off)) != static_cast<ssize_t>(len)) {
      window_.clear();
      throw Failure{"a read came up short"};
    }
  }

  static constexpr uint64_t kWindow = 64 * 1024;
  int fd_;
  uint64_t size_ = 0;
  std::vector<char> window_;
  uint64_t window_off_ = 0;
};

uint32_t ElfHash(const std::string &s) {
  uint32_t h = 0;
  for (unsigned char c : s) {
    h = (h << 4) + c;
    const uint32_t g = h & 0xf0000000u;
    if (g) h ^= g >> 24;
    h &= ~g;
  }
  return h;
}

// A reference into .dynstr, and whether the edit may rewrite the string it starts.
struct Ref {
  uint64_t off;
  enum What { Needed, Soname, SearchPath, VersionFile, VersionBase, Import, Other } what;
  uint64_t where = 0;  // VersionBase: file offset of the Verdef, whose hash follows the name; Import: of the Elf64_Sym
};

class Editor {
 public:
  Editor(int fd, const NameEdit &edit) : f_(fd), edit_(edit) {}

  void Run() {
    const auto eh = f_.Get<Elf64_Ehdr>(0);
    const unsigned char native_data = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != native_data) {
      throw Failure{"it is not a 64-bit ELF file of this machine's byte order"};
    }
    if (eh.e_phentsize != sizeof(Elf64_Phdr)) throw Failure{"unexpected program header size"};
    eh_ = eh;
    for (uint32_t i = 0; i < eh.e_phnum; ++i) {
      const auto ph = f_.Get<Elf64_Phdr>(eh.e_phoff + uint64_t(i) * sizeof(Elf64_Phdr));
      if (ph.p_type == PT_LOAD) {
        loads_.push_back(ph);
        load_at_.push_back(eh.e_phoff + uint64_t(i) * sizeof(Elf64_Phdr));
      }
      if (ph.p_type == PT_DYNAMIC && !dynamic_) dynamic_ = ph;
    }
    if (!dynamic_) throw Failure{"it has no dynamic section"};
    ReadDynamic();
    if (!strtab_ || !strsz_) throw Failure{"it has no dynamic string table"};
    str_off_ = FileOffset(*strtab_, *strsz_);
    strings_ = f_.Bytes(str_off_, *strsz_);
    CollectVersions();
    CollectSymbols(eh);
    Plan();
    Apply();
  }

 private:
  uint64_t FileOffset(uint64_t vaddr, uint64_t len) const {
    for (const Elf64_Phdr &s : loads_) {
      if (vaddr < s.p_vaddr) continue;
      const uint64_t rel = vaddr - s.p_vaddr;
      if (rel >= s.p_filesz || len > s.p_filesz - rel) continue;
      return s.p_offset + rel;
    }
    throw Failure{"a dynamic table lies outside the loaded segments"};
  }

  std::string StrAt(uint64_t off) const {
    if (off >= strings_.size()) throw Failure{"a name points outside the string table"};
    const char *b = strings_.data() + off;
    const void *nul = std::memchr(b, 0, strings_.size() - off);
    if (!nul) throw Failure{"a name in the string table is not terminated"};
    return std::string(b, static_cast<const char *>(nul) - b);
  }

  void ReadDynamic() {
    const uint64_t n = std::min<uint64_t>(dynamic_->p_filesz, kMaxTable) / sizeof(Elf64_Dyn);
    for (uint64_t i = 0; i < n; ++i) {
      const auto d = f_.Get<Elf64_Dyn>(dynamic_->p_offset + i * sizeof(Elf64_Dyn));
      if (d.d_tag == DT_NULL) break;
      const uint64_t v = d.d_un.d_val;
      switch (d.d_tag) {
        case DT_STRTAB: strtab_ = v; break;
        case DT_STRSZ: strsz_ = v; break;
        case DT_NEEDED: refs_.push_back({v, Ref::Needed}); break;
        case DT_SONAME: refs_.push_back({v, Ref::Soname}); break;
        case DT_RPATH:
        case DT_RUNPATH: refs_.push_back({v, Ref::SearchPath}); break;
        case DT_VERNEED: verneed_ = v; break;
        case DT_VERNEEDNUM: verneednum_ = v; break;
        case DT_VERDEF: verdef_ = v; break;
        case DT_VERDEFNUM: verdefnum_ = v; break;
        case DT_SYMTAB: symtab_ = v; break;
        case DT_HASH: hash_ = v; break;
        default: break;
      }
    }
  }

  void CollectVersions() {
    if (verneed_) {
      uint64_t at = FileOffset(*verneed_, sizeof(Elf64_Verneed));
      for (uint32_t i = 0; i < std::min<uint64_t>(verneednum_, kMaxChain); ++i) {
        const auto vn = f_.Get<Elf64_Verneed>(at);
        refs_.push_back({vn.vn_file, Ref::VersionFile});
        uint64_t aux = at + vn.vn_aux;
        for (uint32_t k = 0; k < std::min<uint32_t>(vn.vn_cnt, kMaxChain); ++k) {
          const auto va = f_.Get<Elf64_Vernaux>(aux);
          refs_.push_back({va.vna_name, Ref::Other});
          if (!va.vna_next) break;
          aux += va.vna_next;
        }
        if (!vn.vn_next) break;
        at += vn.vn_next;
      }
    }
    if (verdef_) {
      uint64_t at = FileOffset(*verdef_, sizeof(Elf64_Verdef));
      for (uint32_t i = 0; i < std::min<uint64_t>(verdefnum_, kMaxChain); ++i) {
        const auto vd = f_.Get<Elf64_Verdef>(at);
        uint64_t aux = at + vd.vd_aux;
        for (uint32_t k = 0; k < std::min<uint32_t>(vd.vd_cnt, kMaxChain); ++k) {
          const auto va = f_.Get<Elf64_Verdaux>(aux);
          // The base definition is named after the file (its SONAME) and hashed.
          const bool base = k == 0 && (vd.vd_flags & VER_FLG_BASE);
          refs_.push_back({va.vda_name, base ? Ref::VersionBase : Ref::Other, at});
          if (!va.vda_next) break;
          aux += va.vda_next;
        }
        if (!vd.vd_next) break;
        at += vd.vd_next;
      }
    }
  }

  // Symbol names count as references: a name the edit would change under a symbol is a conflict.
  void CollectSymbols(const Elf64_Ehdr &eh) {
    uint64_t sym_off = 0, count = 0;
    if (eh.e_shoff && eh.e_shentsize == sizeof(Elf64_Shdr) && eh.e_shnum < kMaxChain) {
      for (uint32_t i = 0; i < eh.e_shnum; ++i) {
        const auto sh = f_.Get<Elf64_Shdr>(eh.e_shoff + uint64_t(i) * sizeof(Elf64_Shdr));
        if (sh.sh_type == SHT_DYNSYM && sh.sh_entsize == sizeof(Elf64_Sym)) {
          sym_off = sh.sh_offset;
          count = sh.sh_size / sizeof(Elf64_Sym);
          break;
        }
      }
    }
    if (!count && symtab_ && hash_) {
      count = f_.Get<uint32_t>(FileOffset(*hash_, 8) + 4);  // nchain
      sym_off = FileOffset(*symtab_, count * sizeof(Elf64_Sym));
    }
    if (!count) {
      // No way to count them (no sections, only a GNU hash table): the names of symbols cannot be
      // checked, so no string shared with anything may be rewritten. Strings the linker never
      // merges with symbols (they end in ".so" plus a version) are still safe to compare below.
      symbols_known_ = false;
      return;
    }
    if (count > kMaxTable / sizeof(Elf64_Sym)) throw Failure{"its symbol table is implausibly large"};
    const std::vector<char> syms = f_.Bytes(sym_off, count * sizeof(Elf64_Sym));
    for (uint64_t i = 0; i < count; ++i) {
      Elf64_Sym s;
      std::memcpy(&s, syms.data() + i * sizeof s, sizeof s);
      if (!s.st_name) continue;
      const bool import = s.st_shndx == SHN_UNDEF && !edit_.imports.empty() && edit_.imports.count(StrAt(s.st_name));
      refs_.push_back({s.st_name, import ? Ref::Import : Ref::Other, sym_off + i * sizeof s});
    }
  }

  struct Edit {
    uint64_t off;
    std::string text;
  };

  // Whether bytes of the string at `off` serve another reference too: one that starts inside it, or
  // a longer string it is the tail of (the linker merges "dlopen" into "lt_dlopen").
  bool Shared(const Ref &r) const {
    const uint64_t len = StrAt(r.off).size();
    if (r.off > 0 && strings_[r.off - 1] != '\0') return true;
    return std::any_of(refs_.begin(), refs_.end(), [&](const Ref &o) { return &o != &r && o.off > r.off && o.off < r.off + len; });
  }

  void Plan() {
    for (const Ref &r : refs_) {
      std::optional<std::string> text;
      const std::string old = StrAt(r.off);
      if (r.what == Ref::Import && Shared(r)) {
        // Its name cannot change in place: the symbol is pointed at a new string instead (Apply).
        moves_.push_back({r.where, edit_.imports.at(old)});
        continue;
      }
      if (r.what == Ref::SearchPath && edit_.search_own_directory) {
        if (old.size() < 7) throw Failure{"its search path '" + old + "' is too short to become $ORIGIN"};
        text = "$ORIGIN" + std::string(old.size() - 7, '/');
      } else if (r.what != Ref::Other && r.what != Ref::SearchPath) {
        const std::map<std::string, std::string> &names = r.what == Ref::Import ? edit_.imports : edit_.renames;
        auto it = names.find(old);
        if (it != names.end()) {
          if (it->second.size() != old.size() || it->second.find('\0') != std::string::npos) {
            throw Failure{"internal: the new name of " + old + " is not of the same length"};
          }
          text = it->second;
        }
      }
      if (!text) continue;
      auto same = std::find_if(writes_.begin(), writes_.end(), [&](const Edit &w) { return w.off == r.off; });
      if (same == writes_.end()) writes_.push_back({r.off, *text});
      else if (same->text != *text) throw Failure{"the name '" + old + "' is used for two different purposes"};
      if (r.what == Ref::VersionBase) hashes_.push_back({r.where, ElfHash(*text)});
    }
    if (!writes_.empty() && !symbols_known_) {
      throw Failure{"its symbol table cannot be counted (no section headers, no DT_HASH), so a shared name cannot be ruled out"};
    }
    // Every other reference must start outside the rewritten bytes, and not run into them.
    for (const Ref &r : refs_) {
      for (const Edit &w : writes_) {
        if (r.off < w.off && std::memchr(strings_.data() + r.off, '\0', w.off - r.off) == nullptr) {
          throw Failure{"the name '" + StrAt(w.off) + "' shares its bytes with '" + StrAt(r.off) + "' in the string table"};
        }
        if (r.off < w.off || r.off >= w.off + w.text.size()) continue;
        if (r.off == w.off) {
          const bool rewritable = r.what != Ref::Other && (r.what != Ref::SearchPath || edit_.search_own_directory);
          if (rewritable) continue;
        }
        throw Failure{"the name '" + StrAt(w.off) + "' shares its bytes with '" + StrAt(r.off) + "' in the string table"};
      }
    }
  }

  // Room for `bytes` more bytes at the end of a loaded, read-only segment without .bss: the file's
  // bytes from the segment's end to the end of its last page are mapped with it (the loader maps
  // whole pages) and, when nothing else of the file is there (-z separate-code leaves padding),
  // free. Returns the index in loads_, or -1.
  int Room(uint64_t bytes) {
    constexpr uint64_t kPage = 4096;                  // the smallest page size of the machines dlswap runs on
    std::vector<std::pair<uint64_t, uint64_t>> used;  // file ranges of the segments and sections
    for (const Elf64_Phdr &s : loads_) used.push_back({s.p_offset, s.p_offset + s.p_filesz});
    if (eh_.e_shoff && eh_.e_shentsize == sizeof(Elf64_Shdr) && eh_.e_shnum < kMaxChain) {
      for (uint32_t i = 0; i < eh_.e_shnum; ++i) {
        const auto sh = f_.Get<Elf64_Shdr>(eh_.e_shoff + uint64_t(i) * sizeof(Elf64_Shdr));
        if (sh.sh_type != SHT_NOBITS && sh.sh_size) used.push_back({sh.sh_offset, sh.sh_offset + sh.sh_size});
      }
      used.push_back({eh_.e_shoff, eh_.e_shoff + uint64_t(eh_.e_shnum) * sizeof(Elf64_Shdr)});
    }
    for (size_t i = 0; i < loads_.size(); ++i) {
      const Elf64_Phdr &s = loads_[i];
      if ((s.p_flags & PF_W) || s.p_memsz != s.p_filesz || !strtab_ || s.p_vaddr + s.p_filesz < *strtab_) continue;
      const uint64_t end = s.p_offset + s.p_filesz;
      const uint64_t page_end = (s.p_vaddr + s.p_filesz + kPage - 1) / kPage * kPage;
      if (page_end - (s.p_vaddr + s.p_filesz) < bytes || !f_.In(end, bytes)) continue;
      const bool taken = std::any_of(used.begin(), used.end(), [&](const auto &u) { return u.first < end + bytes && u.second > end; });
      const uint64_t vaddr = s.p_vaddr + s.p_filesz;
      const bool overlaps = std::any_of(loads_.begin(), loads_.end(), [&](const Elf64_Phdr &o) {
        return &o != &s && o.p_vaddr < vaddr + bytes && o.p_vaddr + o.p_memsz > vaddr;
      });
      if (taken || overlaps) continue;
      const std::vector<char> there = f_.Bytes(end, bytes);
      if (std::any_of(there.begin(), there.end(), [](char c) { return c != 0; })) continue;
      return static_cast<int>(i);
    }
    return -1;
  }

  void Apply() {
    if (!moves_.empty()) {
      std::string names;
      std::map<std::string, uint64_t> at;  // new name -> offset in `names`
      for (const Move &m : moves_) {
        if (at.emplace(m.name, names.size()).second) names += m.name + '\0';
      }
      const int seg = Room(names.size());
      if (seg < 0) throw Failure{"its imports' names are shared with other names, and no segment has room for new ones"};
      Elf64_Phdr &s = loads_[seg];
      const uint64_t file_at = s.p_offset + s.p_filesz, vaddr = s.p_vaddr + s.p_filesz;
      if (vaddr - *strtab_ + names.size() > UINT32_MAX) throw Failure{"its string table is too far from the room for new names"};
      if (!f_.Put(file_at, names.data(), names.size())) throw Failure{"writing the copy failed"};
      s.p_filesz += names.size();
      s.p_memsz += names.size();
      if (!f_.Put(load_at_[seg], &s, sizeof s)) throw Failure{"writing the copy failed"};
      for (const Move &m : moves_) {
        const uint32_t name = static_cast<uint32_t>(vaddr - *strtab_ + at[m.name]);
        if (!f_.Put(m.symbol + offsetof(Elf64_Sym, st_name), &name, sizeof name)) throw Failure{"writing the copy failed"};
      }
    }
    for (const Edit &w : writes_) {
      if (!f_.Put(str_off_ + w.off, w.text.data(), w.text.size())) throw Failure{"writing the copy failed"};
    }
    for (const auto &[verdef_at, hash] : hashes_) {
      if (!f_.Put(verdef_at + offsetof(Elf64_Verdef, vd_hash), &hash, sizeof hash)) throw Failure{"writing the copy failed"};
    }
  }

  struct Move {
    uint64_t symbol;  // file offset of the Elf64_Sym
    std::string name;
  };

  File f_;
  const NameEdit &edit_;
  Elf64_Ehdr eh_{};
  std::vector<Elf64_Phdr> loads_;
  std::vector<uint64_t> load_at_;  // file offset of each of loads_' program headers
  std::optional<Elf64_Phdr> dynamic_;
  std::optional<uint64_t> strtab_, strsz_, verneed_, verdef_, symtab_, hash_;
  uint64_t verneednum_ = 0, verdefnum_ = 0;
  uint64_t str_off_ = 0;
  std::vector<char> strings_;
  std::vector<Ref> refs_;
  bool symbols_known_ = true;
  std::vector<Edit> writes_;
  std::vector<Move> moves_;
  std::vector<std::pair<uint64_t, uint32_t>> hashes_;
};

}  // namespace

bool RewriteDynamicNames(int fd, const std::string &label, const NameEdit &edit, std::string &message) {
  try {
    Editor(fd, edit).Run();
    return true;
  } catch (const Failure &f) {
    message = "cannot give " + label + " its private names: " + f.why;
    return false;
  }
}

}  // namespace dlswap
