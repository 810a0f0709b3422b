// SHA-256 of what dlswap copies and maps, computed on the loader thread as the bytes go by.
//
// node links OpenSSL and exports it, so its EVP digest (with the CPU's SHA instructions) is used when
// the running node has it; a portable implementation stands in otherwise (a node built against a
// shared OpenSSL without exporting it, or another host). Both give the same digest.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace dlswap {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;

  void Update(const void *data, size_t len);
  // Lowercase hex. The object cannot be updated afterwards.
  std::string HexDigest();

 private:
  void *evp_ = nullptr;  // EVP_MD_CTX of node's OpenSSL, or null for the portable path
  // Portable state.
  uint32_t h_[8];
  uint8_t block_[64];
  size_t used_ = 0;
  uint64_t bits_ = 0;
  void Compress(const uint8_t *block);
};

}  // namespace dlswap
