#include "common/immortal.h"
#include "image/image_origins.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "common/trusted_path.h"
#include "loader/dependency_plan.h"

extern "C" {
// origin.c's copy in the addon (the one `local` and `deepbind` images bind to).
int dlswap_origin_attach(const dlswap_origin_host *host);
void *dlswOp(const char *file, int mode);
}

namespace dlswap {

namespace {

// A record's strings live in it, so that a reader holds no pointer into memory a writer frees.
struct Record {
  std::atomic<uint32_t> seq{0};            // odd while a writer changes the record
  std::atomic<const void *> map{nullptr};  // null: free for reuse
  uintptr_t start = 0, end = 0;
  size_t source_dir_len = 0;
  int isolation = 0;
  long lmid = 0;
  bool redirect = false;
  char loaded_as[PATH_MAX] = "";
  char mapped_path[PATH_MAX] = "";
  char source[PATH_MAX] = "";
  char dependency_of[PATH_MAX] = "";
  char rpath[2048] = "";
  char runpath[2048] = "";
  char build_id[129] = "";
  Record *next = nullptr;  // fixed once the record is published
};

std::atomic<Record *> g_head{nullptr};
std::mutex g_write;

void Put(char *to, size_t cap, const std::string &from) {
  const size_t n = std::min(cap - 1, from.size());
  std::memcpy(to, from.data(), n);
  to[n] = '\0';
}

// Calls `read(record)` on a consistent view of each live record until it returns true; false when
// none did. `read` must only look: it may see a record a writer is changing (then it is run again).
template <typename Read>
bool ReadRecords(Read read) {
  for (Record *r = g_head.load(std::memory_order_acquire); r; r = r->next) {
    for (int attempt = 0; attempt < 64; ++attempt) {
      const uint32_t s1 = r->seq.load(std::memory_order_acquire);
      if (s1 & 1) continue;
      if (!r->map.load(std::memory_order_relaxed)) break;
      const bool hit = read(*r);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (r->seq.load(std::memory_order_relaxed) != s1) continue;
      if (hit) return true;
      break;
    }
  }
  return false;
}

void Fill(const Record &r, dlswap_origin_image *out) {
  out->loaded_as = r.loaded_as;
  out->source = r.source;
  out->source_dir_len = r.source_dir_len;
  out->rpath = r.rpath;
  out->runpath = r.runpath;
  out->handle = r.map.load(std::memory_order_relaxed);
  out->redirect = r.redirect;
}

int ImageAtC(const void *address, dlswap_origin_image *out) {
  const auto a = reinterpret_cast<uintptr_t>(address);
  return ReadRecords([&](const Record &r) {
    if (a < r.start || a >= r.end) return false;
    Fill(r, out);
    return true;
  });
}

int ImageOfC(const void *handle, dlswap_origin_image *out) {
  return ReadRecords([&](const Record &r) {
    if (r.map.load(std::memory_order_relaxed) != handle) return false;
    Fill(r, out);
    return true;
  });
}

int TrustedDirC(const char *dir) {
  char real[PATH_MAX];
  if (!dir || !realpath(dir, real)) return 0;
  std::string why;
  return TrustedDirectory(real, why) ? 1 : 0;
}

std::string JoinedLibraryPath() {
  std::string out;
  for (const std::string &d : StartupLibraryPath()) out += (out.empty() ? "" : ":") + d;
  return out;
}

}  // namespace

void RegisterImage(const ImageOrigin &image) {
  std::lock_guard<std::mutex> lock(g_write);
  Record *slot = nullptr, *free_slot = nullptr;
  for (Record *r = g_head.load(std::memory_order_relaxed); r; r = r->next) {
    const void *m = r->map.load(std::memory_order_relaxed);
    if (m == image.map) slot = r;
    if (!m && !free_slot) free_slot = r;
  }
  const bool fresh = !slot && !free_slot;
  Record *r = slot ? slot : free_slot ? free_slot : new Record();  // never freed: readers may hold it
  const uint32_t s = r->seq.load(std::memory_order_relaxed);
  r->seq.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  r->start = image.start;
  r->end = image.end;
  r->isolation = image.isolation;
  r->lmid = image.lmid;
  r->redirect = image.redirect;
  Put(r->loaded_as, sizeof r->loaded_as, image.loaded_as);
  Put(r->mapped_path, sizeof r->mapped_path, image.mapped_path);
  Put(r->source, sizeof r->source, image.source);
  Put(r->dependency_of, sizeof r->dependency_of, image.dependency_of);
  Put(r->rpath, sizeof r->rpath, image.rpath);
  Put(r->runpath, sizeof r->runpath, image.runpath);
  Put(r->build_id, sizeof r->build_id, image.build_id);
  const char *slash = std::strrchr(r->source, '/');
  r->source_dir_len = slash ? (slash == r->source ? 1 : static_cast<size_t>(slash - r->source)) : 0;
  r->map.store(image.map, std::memory_order_relaxed);
  r->seq.store(s + 2, std::memory_order_release);
  if (fresh) {
    r->next = g_head.load(std::memory_order_relaxed);
    g_head.store(r, std::memory_order_release);
  }
}

void UnregisterImage(const void *map, const std::string &loaded_as) {
  if (!map) return;
  std::lock_guard<std::mutex> lock(g_write);
  for (Record *r = g_head.load(std::memory_order_relaxed); r; r = r->next) {
    if (r->map.load(std::memory_order_relaxed) != map || loaded_as != r->loaded_as) continue;
    const uint32_t s = r->seq.load(std::memory_order_relaxed);
    r->seq.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    r->map.store(nullptr, std::memory_order_relaxed);
    r->start = r->end = 0;
    r->seq.store(s + 2, std::memory_order_release);
  }
}

bool FindImageAt(uintptr_t pc, ImageAtPc &out) {
  return ReadRecords([&](const Record &r) {
    if (pc < r.start || pc >= r.end) return false;
    out.start = r.start;
    out.end = r.end;
    std::memcpy(out.loaded_as, r.loaded_as, sizeof out.loaded_as);
    std::memcpy(out.source, r.source, sizeof out.source);
    std::memcpy(out.build_id, r.build_id, sizeof out.build_id);
    return true;
  });
}

std::vector<ImageOrigin> RegisteredImages() {
  std::lock_guard<std::mutex> lock(g_write);  // a stable view: no writer runs meanwhile
  std::vector<ImageOrigin> out;
  for (Record *r = g_head.load(std::memory_order_relaxed); r; r = r->next) {
    const void *m = r->map.load(std::memory_order_relaxed);
    if (!m) continue;
    ImageOrigin o;
    o.map = m;
    o.start = r->start;
    o.end = r->end;
    o.loaded_as = r->loaded_as;
    o.mapped_path = r->mapped_path;
    o.source = r->source;
    o.rpath = r->rpath;
    o.runpath = r->runpath;
    o.build_id = r->build_id;
    o.dependency_of = r->dependency_of;
    o.isolation = r->isolation;
    o.lmid = r->lmid;
    o.redirect = r->redirect;
    out.push_back(std::move(o));
  }
  return out;
}

const dlswap_origin_host *OriginHost() {
  // Immortal: the runtime of a namespace reads it from library code, at exit too.
  static Immortal<const std::string> library_path(JoinedLibraryPath());
  static const dlswap_origin_host host = {DLSWAP_ORIGIN_ABI, sizeof(dlswap_origin_host), ImageAtC, ImageOfC,
                                          TrustedDirC,       library_path->c_str()};
  return &host;
}

bool EnsureBaseOrigin(std::string &why) {
  static std::once_flag once;
  static bool ok = false;
  static Immortal<std::string> failure;
  std::call_once(once, [] {
    // The addon in the global scope: a copy's renamed imports are then found in `local` (whose
    // lookups start there) and `deepbind` (which looks there after the library's own objects).
    Dl_info info;
    if (!dladdr(reinterpret_cast<void *>(&dlswOp), &info) || !info.dli_fname) {
      (*failure) = "the addon cannot find its own file";
      return;
    }
    dlerror();
    void *self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
    if (!self) {
      const char *e = dlerror();
      (*failure) = std::string("the addon cannot add itself to the global scope: ") + (e ? e : "no reason given");
      return;
    }
    if (dlswap_origin_attach(OriginHost()) != 0 || dlsym(RTLD_DEFAULT, "dlswOp") != reinterpret_cast<void *>(&dlswOp)) {
      (*failure) = "another object in the global scope defines dlswap's origin functions";
      return;
    }
    ok = true;
  });
  why = *failure;
  return ok;
}

}  // namespace dlswap
