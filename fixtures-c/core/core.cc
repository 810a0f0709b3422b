// A "hot-updatable core library" in the shape of the thin-loader architecture dlswap is for: the
// host (node) only loads it and forwards requests, all the logic lives here, and it depends on the
// things real core libraries depend on. Built twice, as libcore_v1.so and libcore_v2.so
// (CORE_VERSION=1 / 2), so that a test can swap generations and tell from every answer which one
// served it.
//
// Each request (core_handle) uses, on the calling thread:
//   - OpenSSL (libcrypto): the SHA-256 of the request, through EVP;
//   - a C++ exception, thrown and caught inside the library (the request parser reports a
//     non-numeric request with std::invalid_argument);
//   - a std::mutex, shared with the library's own thread;
//   - std::cerr, for a diagnostic line (the first request and every 256th, so that a load test does
//     not flood the host's stderr).
// and hands the request to a std::thread (the "auditor") that dlswap_init starts and dlswap_fini
// stops and joins: no thread of a generation is still running when the host unloads it. A static
// destructor stops the auditor too, in case the library is unloaded without dlswap_fini.
//
// Build with -fno-gnu-unique (fixtures-c/CMakeLists.txt), or the inline statics of the standard
// library's templates become STB_GNU_UNIQUE symbols and no generation is ever unloaded.
#include <openssl/evp.h>
#include <pthread.h>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "dlswap.h"

#ifndef CORE_VERSION
#error "compile with -DCORE_VERSION=N"
#endif

#define CORE_STR2(x) #x
#define CORE_STR(x) CORE_STR2(x)

namespace {

std::mutex mu;  // guards everything below
std::condition_variable wake;
const dlswap_host *host = nullptr;
std::thread auditor;
bool auditor_running = false;
bool stopping = false;
uint64_t requests = 0;       // handled by core_handle
uint64_t pending = 0;        // handed to the auditor, not yet audited
uint64_t audited = 0;        // audited by the auditor thread
uint64_t request_bytes = 0;  // total size of the requests handed to the auditor

void host_log(int level, const char *message) {
  const dlswap_host *h = host;
  if (h != nullptr && h->log != nullptr) h->log(h, level, message);
}

// The auditor: a thread of the library's own, which the host knows nothing about. It drains the
// requests core_handle hands it and logs through the host every 1,000 of them.
void auditor_main() {
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    wake.wait(lock, [] { return stopping || pending > 0; });
    while (pending > 0) {
      --pending;
      if (++audited % 1000 == 0) {
        char line[64];
        std::snprintf(line, sizeof line, "audited %llu requests", static_cast<unsigned long long>(audited));
        host_log(DLSWAP_LOG_DEBUG, line);
      }
    }
    if (stopping) return;
  }
}

void stop_auditor() {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!auditor_running) return;
    stopping = true;
  }
  wake.notify_all();
  auditor.join();
  std::lock_guard<std::mutex> lock(mu);
  auditor_running = false;
}

// Stops the auditor if the library is unloaded without dlswap_fini (a host that does not speak the
// plugin ABI): a joinable std::thread destroyed at unload would call std::terminate.
struct StopAtUnload {
  ~StopAtUnload() { stop_auditor(); }
} stop_at_unload;

// Parses the request's optional numeric form. A text request makes std::stoul throw
// std::invalid_argument, which is caught here: every text request throws and catches once.
const char *request_kind(const char *req) {
  try {
    (void)std::stoul(std::string(req));
    return "num";
  } catch (const std::invalid_argument &) {
    return "text";
  } catch (const std::out_of_range &) {
    return "big";
  }
}

bool sha256_hex(const char *data, size_t len, char hex[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), nullptr) != 1 || mdlen != 32) return false;
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[64] = '\0';
  return true;
}

}  // namespace

extern "C" {

uint32_t dlswap_abi_version(void) { return DLSWAP_ABI_VERSION; }

const char *dlswap_version(void) { return "core-" CORE_STR(CORE_VERSION); }

int dlswap_init(const dlswap_host *h) {
  std::lock_guard<std::mutex> lock(mu);
  host = h;
  stopping = false;
  if (!auditor_running) {
    try {
      auditor = std::thread(auditor_main);
    } catch (const std::system_error &e) {
      std::cerr << "core v" CORE_STR(CORE_VERSION) ": cannot start the auditor: " << e.what() << '\n';
      return 1;
    }
    pthread_setname_np(auditor.native_handle(), "core-auditor");
    auditor_running = true;
  }
  std::cerr << "core v" CORE_STR(CORE_VERSION) ": init, generation " << (h != nullptr ? h->generation : 0) << '\n';
  host_log(DLSWAP_LOG_INFO, "core v" CORE_STR(CORE_VERSION) " ready");
  return 0;
}

void dlswap_fini(void) {
  stop_auditor();
  std::lock_guard<std::mutex> lock(mu);
  std::cerr << "core v" CORE_STR(CORE_VERSION) ": fini after " << requests << " requests (" << audited << " audited, " << request_bytes
            << " bytes)\n";
  host = nullptr;
}

int core_version(void) { return CORE_VERSION; }

// Writes "core-v<VERSION> <sha256 of req, hex> kind=<text|num|big>" to out (NUL-terminated) and
// returns its length; -1 when req is NULL, out is too small or OpenSSL fails.
int core_handle(const char *req, char *out, size_t cap) {
  if (req == nullptr || out == nullptr) return -1;
  const size_t len = std::strlen(req);
  char hex[65];
  if (!sha256_hex(req, len, hex)) return -1;
  const char *kind = request_kind(req);
  uint64_t n;
  {
    std::lock_guard<std::mutex> lock(mu);
    n = ++requests;
    if (auditor_running) {
      ++pending;
      request_bytes += len;
    }
  }
  wake.notify_one();
  if (n == 1 || n % 256 == 0) {
    std::cerr << "core v" CORE_STR(CORE_VERSION) ": request " << n << " (" << len << " bytes, " << kind << ")\n";
  }
  const int written = std::snprintf(out, cap, "core-v" CORE_STR(CORE_VERSION) " %s kind=%s", hex, kind);
  if (written < 0 || static_cast<size_t>(written) >= cap) return -1;
  return written;
}

// Requests audited by the auditor thread so far (0 when dlswap_init never ran).
uint64_t core_audited(void) {
  std::lock_guard<std::mutex> lock(mu);
  return audited;
}

}  // extern "C"
