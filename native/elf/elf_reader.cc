// ELF reader: everything comes from pread on a file descriptor, checked against the file size the
// moment it is read. No mmap: a library being rebuilt while we read it is the normal case in a
// hot-reload workflow, and a truncated mapping would SIGBUS the whole node process, whereas a short
// pread is just an error we report.
//
// Header fields are never trusted: every offset, size and count is checked before use, each table is
// capped (kMaxTableBytes) and so is the sum of all bytes read for one file (kMaxTotalBytes), so that a
// crafted file can neither crash us nor make us allocate gigabytes.
#include "elf/elf_reader.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include "common/errno_text.h"

namespace dlswap {
namespace {

constexpr uint64_t kMaxTableBytes = 512ull << 20;
constexpr uint64_t kMaxTotalBytes = 1024ull << 20;
// Chunk for walking structures whose length is only known once walked (the GNU hash chains).
constexpr uint64_t kChunkBytes = 64 * 1024;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

class FileReader {
 public:
  FileReader(int fd, uint64_t size) : fd_(fd), size_(size) {}
  // Bytes already in memory (readElfBytes: the exact bytes a caller read and hashed).
  FileReader(const uint8_t *mem, uint64_t size) : mem_(mem), size_(size) {}
  uint64_t size() const { return size_; }

  bool InFile(uint64_t off, uint64_t len) const { return off <= size_ && len <= size_ - off; }

  // False when the range is outside the file, over a cap, or the file shrank since fstat (someone is
  // rewriting it): the caller treats that table as missing instead of trusting a partial buffer.
  bool Read(uint64_t off, uint64_t len, std::vector<uint8_t> &buf) {
    buf.clear();
    if (!InFile(off, len) || len > kMaxTableBytes || len > budget_) return false;
    budget_ -= len;
    if (mem_ != nullptr) {
      buf.assign(mem_ + off, mem_ + off + len);
      return true;
    }
    buf.resize(len);
    uint64_t done = 0;
    while (done < len) {
      ssize_t n = pread(fd_, buf.data() + done, len - done, static_cast<off_t>(off + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        buf.clear();
        return false;
      }
      if (n == 0) {
        buf.clear();
        return false;
      }
      done += static_cast<uint64_t>(n);
    }
    return true;
  }

 private:
  int fd_ = -1;
  const uint8_t *mem_ = nullptr;
  uint64_t size_;
  uint64_t budget_ = kMaxTotalBytes;
};

// Reads an integer of the field's width in the file's byte order. Going through bytes (rather than
// casting the buffer to <elf.h> structs) handles both byte orders and any alignment with one code path.
template <typename T>
uint64_t Load(const uint8_t *p, bool be) {
  static_assert(std::is_integral<T>::value, "ELF fields are integers");
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = (v << 8) | p[be ? i : sizeof(T) - 1 - i];
  return v;
}

#define ELF_FIELD(ptr, Struct, member) Load<decltype(std::declval<Struct>().member)>((ptr) + offsetof(Struct, member), be_)

struct Elf64Types {
  using Ehdr = Elf64_Ehdr;
  using Phdr = Elf64_Phdr;
  using Shdr = Elf64_Shdr;
  using Dyn = Elf64_Dyn;
  using Sym = Elf64_Sym;
  using Rel = Elf64_Rel;
  using Rela = Elf64_Rela;
  static constexpr uint64_t kWord = 8;
  static uint64_t RSym(uint64_t info) { return ELF64_R_SYM(info); }
  static uint64_t RType(uint64_t info) { return ELF64_R_TYPE(info); }
};

struct Elf32Types {
  using Ehdr = Elf32_Ehdr;
  using Phdr = Elf32_Phdr;
  using Shdr = Elf32_Shdr;
  using Dyn = Elf32_Dyn;
  using Sym = Elf32_Sym;
  using Rel = Elf32_Rel;
  using Rela = Elf32_Rela;
  static constexpr uint64_t kWord = 4;
  static uint64_t RSym(uint64_t info) { return ELF32_R_SYM(info); }
  static uint64_t RType(uint64_t info) { return ELF32_R_TYPE(info); }
};

std::string MachineName(uint16_t machine, int elf_class, bool big_endian) {
  const bool is64 = elf_class == 64;
  switch (machine) {
    case EM_X86_64: return "x86_64";
    case EM_AARCH64: return "aarch64";
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_RISCV: return is64 ? "riscv64" : "riscv32";
    case EM_PPC64: return big_endian ? "ppc64" : "ppc64le";
    case EM_PPC: return "ppc";
    case EM_S390: return is64 ? "s390x" : "s390";
    case EM_MIPS: return is64 ? "mips64" : "mips";
    case EM_SPARC: return "sparc";
    case EM_SPARCV9: return "sparc64";
    case EM_IA_64: return "ia64";
    case EM_68K: return "m68k";
    case EM_SH: return "sh";
    case EM_ALPHA: return "alpha";
    case EM_PARISC: return "parisc";
    case EM_BPF: return "bpf";
#ifdef EM_LOONGARCH
    case EM_LOONGARCH: return is64 ? "loongarch64" : "loongarch32";
#endif
    case EM_NONE: return "none";
    default: return "unknown-" + std::to_string(machine);
  }
}

// R_*_COPY for the machines that have one; 0 means "no copy relocations on this machine".
uint32_t CopyRelocType(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return R_X86_64_COPY;
    case EM_AARCH64: return R_AARCH64_COPY;
    case EM_386: return R_386_COPY;
    case EM_ARM: return R_ARM_COPY;
    case EM_RISCV: return R_RISCV_COPY;
    case EM_PPC64: return R_PPC64_COPY;
    case EM_PPC: return R_PPC_COPY;
    case EM_S390: return R_390_COPY;
    case EM_SPARC:
    case EM_SPARCV9: return R_SPARC_COPY;
    case EM_MIPS: return R_MIPS_COPY;
    default: return 0;
  }
}

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + (a - 1)) & ~(a - 1); }

// A NUL-terminated string at `off` inside a string table; nullopt if `off` or the terminator lies
// outside it (a string running off the end of the table is garbage, not a name).
std::optional<std::string_view> StrAt(const std::vector<uint8_t> &tab, uint64_t off) {
  if (off >= tab.size()) return std::nullopt;
  const char *start = reinterpret_cast<const char *>(tab.data()) + off;
  const void *nul = memchr(start, 0, tab.size() - off);
  if (!nul) return std::nullopt;
  return std::string_view(start, static_cast<const char *>(nul) - start);
}

struct Segment {
  uint32_t type = 0;
  uint32_t flags = 0;
  uint64_t offset = 0;
  uint64_t vaddr = 0;
  uint64_t filesz = 0;
  uint64_t memsz = 0;
  uint64_t align = 0;
};

struct Section {
  uint32_t name = 0;
  uint32_t type = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t link = 0;
  uint32_t info = 0;
  uint64_t entsize = 0;
};

struct BadElf {
  std::string what;
};

template <typename E>
class Parser {
 public:
  Parser(FileReader &f, ElfInfoStruct &info, bool be) : f_(f), info_(info), be_(be) {}

  // Throws BadElf for the header-level problems that make the file unusable; everything past the
  // program headers degrades to `truncated` instead, since inspect is most useful on half-broken files.
  void Parse() {
    ReadHeader();
    LoadSections();
    LoadSegments();
    ScanSegments();
    ParseDynamic();
    LoadSymbols();
    ScanSymbols();
    ScanRelocations();
    FindBuildId();
  }

 private:
  using Ehdr = typename E::Ehdr;
  using Phdr = typename E::Phdr;
  using Shdr = typename E::Shdr;
  using Dyn = typename E::Dyn;
  using Sym = typename E::Sym;
  using Rel = typename E::Rel;
  using Rela = typename E::Rela;

  void ReadHeader() {
    std::vector<uint8_t> h;
    if (!f_.Read(0, sizeof(Ehdr), h)) {
      throw BadElf{"truncated ELF header (" + std::to_string(f_.size()) + " bytes, the " + std::to_string(E::kWord * 8) +
                   "-bit header needs " + std::to_string(sizeof(Ehdr)) + ")"};
    }
    const uint8_t *p = h.data();
    type_ = static_cast<uint16_t>(ELF_FIELD(p, Ehdr, e_type));
    switch (type_) {
      case ET_DYN: info_.type = "dyn"; break;
      case ET_EXEC: info_.type = "exec"; break;
      case ET_REL: info_.type = "rel"; break;
      case ET_CORE: info_.type = "core"; break;
      default: info_.type = "other"; break;
    }
    info_.machine = static_cast<uint16_t>(ELF_FIELD(p, Ehdr, e_machine));
    info_.machine_name = MachineName(info_.machine, static_cast<int>(E::kWord * 8), be_);
    phoff_ = ELF_FIELD(p, Ehdr, e_phoff);
    phnum_ = ELF_FIELD(p, Ehdr, e_phnum);
    phentsize_ = ELF_FIELD(p, Ehdr, e_phentsize);
    shoff_ = ELF_FIELD(p, Ehdr, e_shoff);
    shnum_ = ELF_FIELD(p, Ehdr, e_shnum);
    shentsize_ = ELF_FIELD(p, Ehdr, e_shentsize);
    shstrndx_ = ELF_FIELD(p, Ehdr, e_shstrndx);
    const uint64_t ehsize = ELF_FIELD(p, Ehdr, e_ehsize);
    if (ehsize != sizeof(Ehdr)) {
      throw BadElf{"inconsistent ELF header: e_ehsize is " + std::to_string(ehsize) + ", expected " + std::to_string(sizeof(Ehdr))};
    }
  }

  // Section headers are optional at run time (the loader never reads them) and are what tools
  // mangle most, so any inconsistency here just means "no sections", never an error.
  void LoadSections() {
    if (shoff_ == 0 || shentsize_ != sizeof(Shdr)) return;
    std::vector<uint8_t> buf;
    uint64_t count = shnum_;
    if (count == 0 || shstrndx_ == SHN_XINDEX) {
      // Extended numbering: the real counts live in section 0.
      if (!f_.Read(shoff_, sizeof(Shdr), buf)) {
        info_.truncated = true;
        return;
      }
      if (count == 0) count = ELF_FIELD(buf.data(), Shdr, sh_size);
      if (shstrndx_ == SHN_XINDEX) shstrndx_ = ELF_FIELD(buf.data(), Shdr, sh_link);
    }
    if (count == 0) return;
    if (count > kMaxTableBytes / sizeof(Shdr) || !f_.Read(shoff_, count * sizeof(Shdr), buf)) {
      info_.truncated = true;
      return;
    }
    sections_.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      const uint8_t *p = buf.data() + i * sizeof(Shdr);
      Section &s = sections_[i];
      s.name = static_cast<uint32_t>(ELF_FIELD(p, Shdr, sh_name));
      s.type = static_cast<uint32_t>(ELF_FIELD(p, Shdr, sh_type));
      s.offset = ELF_FIELD(p, Shdr, sh_offset);
      s.size = ELF_FIELD(p, Shdr, sh_size);
      s.link = static_cast<uint32_t>(ELF_FIELD(p, Shdr, sh_link));
      s.info = static_cast<uint32_t>(ELF_FIELD(p, Shdr, sh_info));
      s.entsize = ELF_FIELD(p, Shdr, sh_entsize);
    }
    if (shstrndx_ != SHN_UNDEF && shstrndx_ < count) {
      const Section &names = sections_[shstrndx_];
      if (names.type == SHT_STRTAB && !ReadSection(names, shstrtab_)) info_.truncated = true;
    }
  }

  bool ReadSection(const Section &s, std::vector<uint8_t> &buf) {
    if (s.type == SHT_NOBITS) return false;
    return f_.Read(s.offset, s.size, buf);
  }

  std::string_view SectionName(const Section &s) const {
    auto n = StrAt(shstrtab_, s.name);
    return n ? *n : std::string_view();
  }

  void LoadSegments() {
    if (phnum_ == PN_XNUM) {
      if (sections_.empty()) throw BadElf{"e_phnum is PN_XNUM but there is no section 0 with the real count"};
      phnum_ = sections_[0].info;
    }
    if (phnum_ == 0) return;
    if (phentsize_ != sizeof(Phdr)) {
      throw BadElf{"inconsistent ELF header: e_phentsize is " + std::to_string(phentsize_) + ", expected " + std::to_string(sizeof(Phdr))};
    }
    std::vector<uint8_t> buf;
    if (phnum_ > kMaxTableBytes / sizeof(Phdr) || !f_.InFile(phoff_, phnum_ * sizeof(Phdr))) {
      throw BadElf{"the program header table (" + std::to_string(phnum_) + " entries at offset " + std::to_string(phoff_) +
                   ") lies outside the file (" + std::to_string(f_.size()) + " bytes)"};
    }
    if (!f_.Read(phoff_, phnum_ * sizeof(Phdr), buf)) {
      throw BadElf{"the program header table could not be read (was the file truncated while being read?)"};
    }
    segments_.resize(phnum_);
    for (uint64_t i = 0; i < phnum_; ++i) {
      const uint8_t *p = buf.data() + i * sizeof(Phdr);
      Segment &s = segments_[i];
      s.type = static_cast<uint32_t>(ELF_FIELD(p, Phdr, p_type));
      s.flags = static_cast<uint32_t>(ELF_FIELD(p, Phdr, p_flags));
      s.offset = ELF_FIELD(p, Phdr, p_offset);
      s.vaddr = ELF_FIELD(p, Phdr, p_vaddr);
      s.filesz = ELF_FIELD(p, Phdr, p_filesz);
      s.memsz = ELF_FIELD(p, Phdr, p_memsz);
      s.align = ELF_FIELD(p, Phdr, p_align);
    }
  }

  void ScanSegments() {
    for (const Segment &s : segments_) {
      switch (s.type) {
        case PT_LOAD: loads_.push_back(s); break;
        case PT_DYNAMIC:
          if (!dynamic_) dynamic_ = s;
          break;
        case PT_GNU_STACK: info_.execstack = (s.flags & PF_X) != 0; break;
        case PT_TLS:
          if (!info_.tls) info_.tls = ElfTlsInfo{s.memsz, s.filesz, s.align};
          break;
        default: break;
      }
    }
  }

  // Dynamic-section addresses are virtual; the file bytes behind them are found through PT_LOAD.
  // The whole [addr, addr+len) must be file-backed by one segment, else the table is not in the file.
  bool MapVaddr(uint64_t addr, uint64_t len, uint64_t &off) const {
    for (const Segment &s : loads_) {
      if (addr < s.vaddr) continue;
      const uint64_t rel = addr - s.vaddr;
      if (rel >= s.filesz || len > s.filesz - rel) continue;
      if (s.offset > UINT64_MAX - rel) continue;
      off = s.offset + rel;
      return true;
    }
    return false;
  }

  bool ReadVaddr(uint64_t addr, uint64_t len, std::vector<uint8_t> &buf) {
    uint64_t off;
    if (!MapVaddr(addr, len, off)) return false;
    return f_.Read(off, len, buf);
  }

  struct DynTags {
    std::vector<uint64_t> needed;
    std::optional<uint64_t> soname, rpath, runpath;
    std::optional<uint64_t> strtab, strsz, symtab, hash, gnu_hash;
    uint64_t syment = 0;
    std::optional<uint64_t> rela, relasz, rel, relsz, jmprel, pltrelsz;
    uint64_t relaent = 0, relent = 0, pltrel = 0;
    // The arrays of constructor and destructor pointers: (address, size in bytes).
    std::optional<uint64_t> init_array, init_arraysz, fini_array, fini_arraysz, preinit_array, preinit_arraysz;
  };

  void ParseDynamic() {
    std::vector<uint8_t> buf;
    bool have = false;
    if (dynamic_) {
      have = f_.Read(dynamic_->offset, dynamic_->filesz, buf);
      if (!have) info_.truncated = true;
    }
    if (!have) {
      for (const Section &s : sections_) {
        if (s.type == SHT_DYNAMIC && ReadSection(s, buf)) {
          have = true;
          break;
        }
      }
    }
    if (!have) return;
    has_dynamic_ = true;
    const size_t n = buf.size() / sizeof(Dyn);
    for (size_t i = 0; i < n; ++i) {
      const uint8_t *p = buf.data() + i * sizeof(Dyn);
      const uint64_t tag = ELF_FIELD(p, Dyn, d_tag);
      const uint64_t val = Load<decltype(std::declval<Dyn>().d_un.d_val)>(p + offsetof(Dyn, d_un), be_);
      if (tag == DT_NULL) break;
      switch (tag) {
        case DT_NEEDED: tags_.needed.push_back(val); break;
        case DT_SONAME: tags_.soname = val; break;
        case DT_RPATH: tags_.rpath = val; break;
        case DT_RUNPATH: tags_.runpath = val; break;
        case DT_STRTAB: tags_.strtab = val; break;
        case DT_STRSZ: tags_.strsz = val; break;
        case DT_SYMTAB: tags_.symtab = val; break;
        case DT_SYMENT: tags_.syment = val; break;
        case DT_HASH: tags_.hash = val; break;
        case DT_GNU_HASH: tags_.gnu_hash = val; break;
        case DT_RELA: tags_.rela = val; break;
        case DT_RELASZ: tags_.relasz = val; break;
        case DT_RELAENT: tags_.relaent = val; break;
        case DT_REL: tags_.rel = val; break;
        case DT_RELSZ: tags_.relsz = val; break;
        case DT_RELENT: tags_.relent = val; break;
        case DT_JMPREL: tags_.jmprel = val; break;
        case DT_PLTRELSZ: tags_.pltrelsz = val; break;
        case DT_PLTREL: tags_.pltrel = val; break;
        case DT_INIT_ARRAY: tags_.init_array = val; break;
        case DT_INIT_ARRAYSZ: tags_.init_arraysz = val; break;
        case DT_FINI_ARRAY: tags_.fini_array = val; break;
        case DT_FINI_ARRAYSZ: tags_.fini_arraysz = val; break;
        case DT_PREINIT_ARRAY: tags_.preinit_array = val; break;
        case DT_PREINIT_ARRAYSZ: tags_.preinit_arraysz = val; break;
        case DT_FLAGS: info_.flags = val; break;
        case DT_FLAGS_1: info_.flags1 = val; break;
        case DT_TEXTREL: info_.textrel = true; break;
        default: break;
      }
    }
    if (info_.flags & DF_TEXTREL) info_.textrel = true;
    if (info_.flags & DF_STATIC_TLS) info_.static_tls_model = true;
    if (info_.flags1 & DF_1_NODELETE) info_.nodelete = true;
    if (tags_.fini_arraysz) info_.fini_array_entries = *tags_.fini_arraysz / (info_.elf_class / 8);
  }

  // Symbols and their strings come as a pair: either both through the dynamic section (what the
  // loader uses) or both through the section headers (.dynsym and the string table it links to).
  void LoadSymbols() {
    if (!has_dynamic_ && sections_.empty()) return;
    bool from_dynamic = LoadDynamicTables();
    if (!from_dynamic) {
      if ((tags_.symtab || tags_.strtab) && has_dynamic_) info_.truncated = true;
      LoadSectionTables();
    }
    if (dynstr_.empty()) return;
    for (uint64_t off : tags_.needed) {
      if (auto s = StrAt(dynstr_, off)) info_.needed.emplace_back(*s);
    }
    if (tags_.soname)
      if (auto s = StrAt(dynstr_, *tags_.soname)) info_.soname = std::string(*s);
    if (tags_.rpath)
      if (auto s = StrAt(dynstr_, *tags_.rpath)) info_.rpath = std::string(*s);
    if (tags_.runpath)
      if (auto s = StrAt(dynstr_, *tags_.runpath)) info_.runpath = std::string(*s);
  }

  bool LoadDynamicTables() {
    if (!tags_.strtab || !tags_.strsz || !ReadVaddr(*tags_.strtab, *tags_.strsz, dynstr_)) {
      dynstr_.clear();
      return false;
    }
    if (!tags_.symtab) return true;  // strings (needed, soname) without symbols is still useful
    if (tags_.syment != 0 && tags_.syment != sizeof(Sym)) return false;
    std::optional<uint64_t> count;
    if (tags_.gnu_hash) count = GnuHashCount(*tags_.gnu_hash);
    if (!count && tags_.hash) count = SysvHashCount(*tags_.hash);
    if (!count) count = DynsymSectionCount();
    if (!count && *tags_.strtab > *tags_.symtab) {
      // No hash table and no sections: linkers place .dynsym right before .dynstr.
      count = (*tags_.strtab - *tags_.symtab) / sizeof(Sym);
    }
    if (!count) return false;
    if (*count > kMaxTableBytes / sizeof(Sym) || !ReadVaddr(*tags_.symtab, *count * sizeof(Sym), dynsym_)) {
      dynsym_.clear();
      return false;
    }
    return true;
  }

  std::optional<uint64_t> DynsymSectionCount() const {
    for (const Section &s : sections_) {
      if (s.type == SHT_DYNSYM && s.entsize == sizeof(Sym)) return s.size / sizeof(Sym);
    }
    return std::nullopt;
  }

  void LoadSectionTables() {
    dynstr_.clear();
    dynsym_.clear();
    for (size_t i = 0; i < sections_.size(); ++i) {
      const Section &s = sections_[i];
      if (s.type != SHT_DYNSYM || s.entsize != sizeof(Sym)) continue;
      if (s.link >= sections_.size() || sections_[s.link].type != SHT_STRTAB) continue;
      if (!ReadSection(sections_[s.link], dynstr_) || !ReadSection(s, dynsym_)) {
        info_.truncated = true;
        dynstr_.clear();
        dynsym_.clear();
        continue;
      }
      dynsym_.resize(dynsym_.size() - dynsym_.size() % sizeof(Sym));
      dynsym_section_ = i;
      return;
    }
    // A library may have needed/soname strings but no symbols; .dynstr alone still serves those.
    for (const Section &s : sections_) {
      if (s.type == SHT_STRTAB && SectionName(s) == ".dynstr") {
        if (!ReadSection(s, dynstr_)) info_.truncated = true;
        return;
      }
    }
  }

  std::optional<uint64_t> SysvHashCount(uint64_t addr) {
    std::vector<uint8_t> h;
    if (!ReadVaddr(addr, 8, h)) return std::nullopt;
    return Load<uint32_t>(h.data() + 4, be_);  // nchain == number of symbols
  }

  // DT_GNU_HASH does not store the symbol count: it is one past the end of the last hash chain,
  // which starts at the highest bucket value and ends at the first entry with the low bit set.
  std::optional<uint64_t> GnuHashCount(uint64_t addr) {
    uint64_t off;
    std::vector<uint8_t> buf;
    if (!MapVaddr(addr, 16, off) || !f_.Read(off, 16, buf)) return std::nullopt;
    const uint64_t nbuckets = Load<uint32_t>(buf.data(), be_);
    const uint64_t symoffset = Load<uint32_t>(buf.data() + 4, be_);
    const uint64_t bloom_size = Load<uint32_t>(buf.data() + 8, be_);
    const uint64_t buckets_off = off + 16 + bloom_size * E::kWord;
    if (!f_.Read(buckets_off, nbuckets * 4, buf)) return std::nullopt;
    uint64_t last = 0;
    for (uint64_t i = 0; i < nbuckets; ++i) last = std::max<uint64_t>(last, Load<uint32_t>(buf.data() + i * 4, be_));
    // No hashed symbol (a library that only imports): symoffset is then whatever the linker put
    // there (GNU ld writes 1), not the symbol count, so the count must come from elsewhere.
    if (last == 0) return std::nullopt;
    if (last < symoffset) return std::nullopt;
    const uint64_t max_symbols = kMaxTableBytes / sizeof(Sym);
    uint64_t idx = last;
    uint64_t pos = buckets_off + nbuckets * 4 + (last - symoffset) * 4;
    // A chain is a few entries long: read a little first, more only while it goes on (reading up
    // to kChunkBytes at once copied most of a small library for a dozen bytes).
    for (uint64_t step = 256; idx < max_symbols; step = std::min<uint64_t>(step * 2, kChunkBytes)) {
      const uint64_t want = std::min<uint64_t>(step, (f_.size() > pos ? f_.size() - pos : 0) & ~3ull);
      if (want == 0 || !f_.Read(pos, want, buf)) return std::nullopt;
      for (uint64_t i = 0; i < want; i += 4, ++idx) {
        if (Load<uint32_t>(buf.data() + i, be_) & 1) return idx + 1;
      }
      pos += want;
    }
    return std::nullopt;
  }

  struct SymView {
    std::string_view name;
    unsigned bind, type, vis;
    uint64_t shndx, value, size;
  };

  bool SymbolAt(uint64_t i, SymView &s) const {
    if (i >= dynsym_.size() / sizeof(Sym)) return false;
    const uint8_t *p = dynsym_.data() + i * sizeof(Sym);
    auto name = StrAt(dynstr_, ELF_FIELD(p, Sym, st_name));
    if (!name) return false;
    const uint64_t st_info = ELF_FIELD(p, Sym, st_info);
    s.name = *name;
    s.bind = static_cast<unsigned>(st_info >> 4);
    s.type = static_cast<unsigned>(st_info & 0xf);
    s.vis = static_cast<unsigned>(ELF_FIELD(p, Sym, st_other) & 0x3);
    s.shndx = ELF_FIELD(p, Sym, st_shndx);
    s.value = ELF_FIELD(p, Sym, st_value);
    s.size = ELF_FIELD(p, Sym, st_size);
    return true;
  }

  void ScanSymbols() {
    const uint64_t n = dynsym_.size() / sizeof(Sym);
    // Names repeat when a symbol has several versions (realpath@GLIBC_2.2.5 and realpath@@GLIBC_2.3);
    // the lists are of names, as dlsym sees them.
    std::unordered_set<std::string_view> seen_exp, seen_imp;
    seen_exp.reserve(n);
    SymView s;
    for (uint64_t i = 1; i < n; ++i) {  // entry 0 is the reserved null symbol
      if (!SymbolAt(i, s) || s.name.empty()) continue;
      const bool global = s.bind == STB_GLOBAL || s.bind == STB_WEAK || s.bind == STB_GNU_UNIQUE;
      if (!global) continue;
      if (s.shndx == SHN_UNDEF) {
        if (seen_imp.insert(s.name).second) {
          info_.imports.emplace_back(s.name);
          if (s.bind == STB_WEAK) info_.weak_imports.emplace_back(s.name);
        }
        continue;
      }
      // Version definitions appear as absolute zero-sized objects (GLIBC_2.2.5 in libc); they are
      // not callable or readable symbols.
      if (s.shndx == SHN_ABS && s.value == 0 && s.size == 0 && s.type == STT_OBJECT) continue;
      const bool kind = s.type == STT_FUNC || s.type == STT_OBJECT || s.type == STT_TLS || s.type == STT_GNU_IFUNC || s.type == STT_NOTYPE;
      const bool visible = s.vis == STV_DEFAULT || s.vis == STV_PROTECTED;
      if (!kind || !visible) continue;
      if (seen_exp.insert(s.name).second) {
        info_.exports.emplace_back(s.name);
        if (s.bind == STB_GNU_UNIQUE) info_.unique_symbols.emplace_back(s.name);
      }
    }
  }

  // Whether a relocated address is an entry of the init, fini or preinit array.
  bool InInitFiniArray(uint64_t addr) const {
    auto in = [&](const std::optional<uint64_t> &at, const std::optional<uint64_t> &size) {
      return at && size && addr >= *at && addr - *at < *size;
    };
    return in(tags_.init_array, tags_.init_arraysz) || in(tags_.fini_array, tags_.fini_arraysz) ||
           in(tags_.preinit_array, tags_.preinit_arraysz);
  }

  // Copy relocations (an executable's copies of library data), and the constructor and destructor
  // entries that are bound by symbol: such an entry calls whichever definition of the symbol the
  // dynamic loader finds first, which in the base namespace may be node's.
  void ScanRelocations() {
    const uint32_t copy = CopyRelocType(info_.machine);
    if (copy == 0 || dynsym_.empty()) return;
    std::unordered_set<std::string_view> seen, seen_init, seen_self;
    std::vector<uint8_t> buf;
    auto scan = [&](const std::vector<uint8_t> &table, bool rela, uint64_t entsize) {
      const uint64_t want = rela ? sizeof(Rela) : sizeof(Rel);
      if (entsize != 0 && entsize != want) {
        info_.truncated = true;
        return;
      }
      const size_t n = table.size() / want;
      SymView s;
      for (size_t i = 0; i < n; ++i) {
        const uint8_t *p = table.data() + i * want;
        const uint64_t r_info = rela ? ELF_FIELD(p, Rela, r_info) : ELF_FIELD(p, Rel, r_info);
        if (E::RType(r_info) == copy) {
          if (SymbolAt(E::RSym(r_info), s) && !s.name.empty() && seen.insert(s.name).second) {
            info_.copy_relocs.emplace_back(s.name);
          }
          continue;
        }
        if (E::RSym(r_info) == 0 || !SymbolAt(E::RSym(r_info), s) || s.name.empty()) continue;
        const uint64_t r_offset = rela ? ELF_FIELD(p, Rela, r_offset) : ELF_FIELD(p, Rel, r_offset);
        if (InInitFiniArray(r_offset) && seen_init.insert(s.name).second) {
          info_.init_fini_symbols.emplace_back(s.name);
        }
        // A symbol it defines and still binds through a relocation: its own calls to it (and uses of
        // it) go to whichever definition the lookup finds first.
        // Weak and unique definitions (template instances, inline statics) are meant to be merged
        // with every other copy; only a global definition is the library's own.
        const bool defined = s.shndx != SHN_UNDEF && s.vis == STV_DEFAULT && s.bind == STB_GLOBAL;
        if (defined && seen_self.insert(s.name).second) info_.self_bound_symbols.emplace_back(s.name);
      }
    };
    if (dynsym_section_) {
      // Symbols came from section headers: so do the relocation tables that refer to them.
      for (const Section &sec : sections_) {
        if ((sec.type != SHT_RELA && sec.type != SHT_REL) || sec.link != *dynsym_section_) continue;
        if (!ReadSection(sec, buf)) {
          info_.truncated = true;
          continue;
        }
        scan(buf, sec.type == SHT_RELA, sec.entsize);
      }
      return;
    }
    auto table = [&](const std::optional<uint64_t> &addr, const std::optional<uint64_t> &size, bool rela, uint64_t entsize) {
      if (!addr || !size || *size == 0) return;
      if (!ReadVaddr(*addr, *size, buf)) {
        info_.truncated = true;
        return;
      }
      scan(buf, rela, entsize);
    };
    table(tags_.rela, tags_.relasz, true, tags_.relaent);
    table(tags_.rel, tags_.relsz, false, tags_.relent);
    // DT_RELASZ conventionally covers .rela.plt too when it directly follows; copy relocations
    // never live in the PLT table, but scanning it as well costs little and survives odd linkers.
    table(tags_.jmprel, tags_.pltrelsz, tags_.pltrel == DT_RELA, 0);
  }

  void FindBuildId() {
    std::vector<uint8_t> buf;
    for (const Segment &s : segments_) {
      if (s.type != PT_NOTE) continue;
      if (!f_.Read(s.offset, s.filesz, buf)) {
        info_.truncated = true;
        continue;
      }
      if (ParseNotes(buf, s.align)) return;
    }
    // Without program headers (object files, or a loader-less stripped layout) the note section remains.
    const Section *fallback = nullptr;
    for (const Section &s : sections_) {
      if (s.type != SHT_NOTE) continue;
      if (SectionName(s) == ".note.gnu.build-id") {
        fallback = &s;
        break;
      }
      if (!fallback) fallback = &s;
    }
    if (fallback && ReadSection(*fallback, buf)) ParseNotes(buf, 4);
  }

  bool ParseNotes(const std::vector<uint8_t> &d, uint64_t seg_align) {
    // GNU property notes use 8-byte alignment in PT_NOTE segments aligned to 8; all others use 4.
    const uint64_t align = seg_align == 8 ? 8 : 4;
    uint64_t pos = 0;
    while (d.size() - pos >= 12) {
      const uint64_t namesz = Load<uint32_t>(d.data() + pos, be_);
      const uint64_t descsz = Load<uint32_t>(d.data() + pos + 4, be_);
      const uint64_t type = Load<uint32_t>(d.data() + pos + 8, be_);
      const uint64_t name_at = pos + 12;
      const uint64_t desc_at = name_at + AlignUp(namesz, align);
      if (desc_at > d.size() || descsz > d.size() - desc_at) return false;
      if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(d.data() + name_at, "GNU", 4) == 0 && descsz > 0) {
        static const char kHex[] = "0123456789abcdef";
        std::string hex;
        hex.reserve(descsz * 2);
        for (uint64_t i = 0; i < descsz; ++i) {
          hex.push_back(kHex[d[desc_at + i] >> 4]);
          hex.push_back(kHex[d[desc_at + i] & 0xf]);
        }
        info_.build_id = std::move(hex);
        return true;
      }
      const uint64_t next = desc_at + AlignUp(descsz, align);
      if (next <= pos || next > d.size()) return false;
      pos = next;
    }
    return false;
  }

  FileReader &f_;
  ElfInfoStruct &info_;
  const bool be_;

  uint16_t type_ = 0;
  uint64_t phoff_ = 0, phnum_ = 0, phentsize_ = 0;
  uint64_t shoff_ = 0, shnum_ = 0, shentsize_ = 0, shstrndx_ = 0;

  std::vector<Section> sections_;
  std::vector<uint8_t> shstrtab_;
  std::vector<Segment> segments_;
  std::vector<Segment> loads_;
  std::optional<Segment> dynamic_;
  bool has_dynamic_ = false;
  DynTags tags_;
  std::vector<uint8_t> dynstr_;
  std::vector<uint8_t> dynsym_;
  std::optional<size_t> dynsym_section_;
};

#undef ELF_FIELD

// A friendlier NOT_ELF message for the files people most often pass by mistake.
std::string DescribeNonElf(const std::vector<uint8_t> &head) {
  std::string_view s(reinterpret_cast<const char *>(head.data()), head.size());
  if (s.find("GNU ld script") != std::string_view::npos || s.rfind("INPUT(", 0) == 0 || s.rfind("GROUP", 0) == 0) {
    return "it is a linker script (like /usr/lib/.../libc.so); pass the real library it names, "
           "e.g. the versioned libfoo.so.N";
  }
  if (s.rfind("!<arch>\n", 0) == 0) return "it is a static archive (.a); build a shared library (-shared -fPIC)";
  if (s.rfind("#!", 0) == 0) return "it is a script; pass a compiled shared library (.so)";
  return "the file does not start with the ELF magic \\x7fELF; pass a compiled shared library (.so)";
}

}  // namespace

namespace {
// The ELF checks proper, on whatever FileReader holds the bytes. `path` names them in messages.
bool ParseElf(FileReader &f, const std::string &path, ElfInfoStruct &info, NativeError &err);
}  // namespace

bool ReadElfFile(const std::string &path, ElfInfoStruct &info, NativeError &err) {
  info = ElfInfoStruct();
  // O_NONBLOCK so that a FIFO passed by mistake cannot block the JS thread in open().
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) {
    const int e = errno;
    const std::string why = ErrnoText(e);
    switch (e) {
      case ENOENT:
      case ENOTDIR:
      case ELOOP:
      case ENAMETOOLONG:
        return Fail(err, "ERR_DLSWAP_NOT_FOUND",
                    path + ": " + why + ". Check the path (relative paths resolve against the current directory).");
      case EACCES:
      case EPERM:
        return Fail(err, "ERR_DLSWAP_ACCESS", path + ": " + why + ". Make the file (and its directories) readable by this process.");
      case EISDIR: return Fail(err, "ERR_DLSWAP_NOT_A_FILE", path + " is a directory. Pass the path of a shared library file (.so).");
      default: return Fail(err, "ERR_DLSWAP_ACCESS", path + ": cannot open: " + why + ".");
    }
  }
  return ReadElfFd(fd.get(), path, info, err);
}

bool ReadElfFd(int fd_num, const std::string &path, ElfInfoStruct &info, NativeError &err) {
  info = ElfInfoStruct();
  struct stat st;
  if (fstat(fd_num, &st) != 0) {
    return Fail(err, "ERR_DLSWAP_ACCESS", path + ": cannot stat: " + ErrnoText(errno) + ".");
  }
  if (S_ISDIR(st.st_mode)) {
    return Fail(err, "ERR_DLSWAP_NOT_A_FILE", path + " is a directory. Pass the path of a shared library file (.so).");
  }
  if (!S_ISREG(st.st_mode)) {
    return Fail(err, "ERR_DLSWAP_NOT_A_FILE",
                path + " is not a regular file (a device, FIFO or socket). Pass the path of a shared library file (.so).");
  }
  if (st.st_size == 0) {
    return Fail(err, "ERR_DLSWAP_EMPTY_FILE",
                path + " is empty (0 bytes). If a build is writing it, wait for the build to finish; otherwise rebuild it.");
  }
  FileReader f(fd_num, static_cast<uint64_t>(st.st_size));
  return ParseElf(f, path, info, err);
}

bool ReadElfBytes(const uint8_t *data, size_t size, const std::string &name, ElfInfoStruct &info, NativeError &err) {
  info = ElfInfoStruct();
  if (size == 0) {
    return Fail(err, "ERR_DLSWAP_EMPTY_FILE",
                name + " is empty (0 bytes). If a build is writing it, wait for the build to finish; otherwise rebuild it.");
  }
  FileReader f(data, static_cast<uint64_t>(size));
  return ParseElf(f, name, info, err);
}

namespace {

bool ParseElf(FileReader &f, const std::string &path, ElfInfoStruct &info, NativeError &err) {
  info.file_size = f.size();
  const std::string damaged = " The file is damaged or was truncated; rebuild it.";

  std::vector<uint8_t> ident;
  const uint64_t head = std::min<uint64_t>(f.size(), 64);
  if (!f.Read(0, head, ident)) {
    return Fail(err, "ERR_DLSWAP_BAD_ELF", path + ": the file shrank while being read." + damaged);
  }
  if (ident.size() < SELFMAG || memcmp(ident.data(), ELFMAG, SELFMAG) != 0) {
    return Fail(err, "ERR_DLSWAP_NOT_ELF", path + " is not an ELF file: " + DescribeNonElf(ident) + ".");
  }
  if (ident.size() < EI_NIDENT) {
    return Fail(err, "ERR_DLSWAP_BAD_ELF", path + ": truncated ELF header (" + std::to_string(ident.size()) + " bytes)." + damaged);
  }
  const uint8_t cls = ident[EI_CLASS], data = ident[EI_DATA];
  if (cls != ELFCLASS32 && cls != ELFCLASS64) {
    return Fail(err, "ERR_DLSWAP_BAD_ELF", path + ": invalid ELF class " + std::to_string(cls) + " (expected 1 or 2)." + damaged);
  }
  if (data != ELFDATA2LSB && data != ELFDATA2MSB) {
    return Fail(err, "ERR_DLSWAP_BAD_ELF", path + ": invalid ELF byte order " + std::to_string(data) + " (expected 1 or 2)." + damaged);
  }
  info.elf_class = cls == ELFCLASS64 ? 64 : 32;
  info.big_endian = data == ELFDATA2MSB;
  try {
    if (cls == ELFCLASS64) {
      Parser<Elf64Types>(f, info, info.big_endian).Parse();
    } else {
      Parser<Elf32Types>(f, info, info.big_endian).Parse();
    }
  } catch (const BadElf &e) {
    return Fail(err, "ERR_DLSWAP_BAD_ELF", path + ": " + e.what + "." + damaged);
  } catch (const std::bad_alloc &) {
    return Fail(err, "ERR_DLSWAP_BAD_ELF", path + ": its tables are too large to read into memory." + damaged);
  }
  return true;
}

}  // namespace

}  // namespace dlswap
