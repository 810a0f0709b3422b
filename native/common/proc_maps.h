// The process's mappings, asked about one address at a time. The close path asks on every
// retirement (which objects' code a thread could be in, where a thread's stack ends, whether an
// image is gone), so each question must cost microseconds whatever the size of the process.
//
// Linux 6.11 and later answer each question with one PROCMAP_QUERY ioctl on /proc/self/maps, through
// one descriptor kept for the process. Older kernels (the ioctl fails with ENOTTY) get the whole
// text, read once per ProcMaps on its first question and parsed without streams: about 100 us for
// node's ~150 mappings.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dlswap {

struct Mapping {
  uintptr_t start = 0, end = 0;
  bool readable = false, writable = false, exec = false;
  // What the kernel names: the real path, with " (deleted)" for a removed file; "" when the
  // mapping is not of a file (anonymous, [stack], [heap]...).
  std::string file;
};

// A span of addresses, [start, end): code that an unload would take away, for instance.
struct AddressRange {
  uintptr_t start = 0;
  uintptr_t end = 0;
};

class ProcMaps {
 public:
  enum class Source { Best, Text };
  // Asks nothing yet. Source::Text never uses the ioctl (tests compare the two).
  explicit ProcMaps(Source source = Source::Best);
  ~ProcMaps();
  ProcMaps(const ProcMaps &) = delete;
  ProcMaps &operator=(const ProcMaps &) = delete;

  // The mapping that contains `address`.
  std::optional<Mapping> At(uintptr_t address);
  // The run of adjacent mappings of the one file mapped at `address`, in address order: an object
  // as the dynamic loader maps it (its segments and the gaps between them). Empty when `address`
  // is not in a mapping of a file.
  std::vector<Mapping> FileRun(uintptr_t address);
  // Whether `path` is mapped anywhere in [start, end).
  bool MapsIn(uintptr_t start, uintptr_t end, const std::string &path);
  // Whether `path` is mapped anywhere (always the whole listing).
  bool Maps(const std::string &path);
  // Whether the ioctl answered (false: the text did).
  bool Queried() const { return mode_ == Mode::Query; }

 private:
  enum class Mode { Unknown, Query, Text };
  // The mapping containing `address` (or, with `or_next`, the first one above it).
  bool Ask(uintptr_t address, bool or_next, Mapping *out);
  bool AskText(uintptr_t address, bool or_next, Mapping *out);
  void ReadText();

  Mode mode_;
  int fd_ = -1;  // the process's query descriptor (not ours to close)
  bool read_ = false;
  std::vector<Mapping> maps_;
};

// Opens the descriptor every ProcMaps queries through (kept for the life of the process): with the
// addon, so that the process's descriptors are the same before and after its first close.
void PrepareProcMaps();

// Whether a mapping's `file` is `path` (or `path` removed: " (deleted)" appended).
bool NamesPath(std::string_view file, const std::string &path);

}  // namespace dlswap
