#include "loader/sha256.h"

#include <dlfcn.h>

#include <cstring>
#include <mutex>

namespace dlswap {

namespace {

// The few EVP entry points, looked up in node's own exports.
struct Evp {
  void *(*ctx_new)() = nullptr;
  void (*ctx_free)(void *) = nullptr;
  const void *(*sha256)() = nullptr;
  int (*init)(void *, const void *, void *) = nullptr;
  int (*update)(void *, const void *, size_t) = nullptr;
  int (*final)(void *, unsigned char *, unsigned int *) = nullptr;
  bool ok = false;
};

const Evp &NodeEvp() {
  static Evp evp;
  static std::once_flag once;
  std::call_once(once, [] {
    auto f = [](const char *name) { return dlsym(RTLD_DEFAULT, name); };
    evp.ctx_new = reinterpret_cast<void *(*)()>(f("EVP_MD_CTX_new"));
    evp.ctx_free = reinterpret_cast<void (*)(void *)>(f("EVP_MD_CTX_free"));
    evp.sha256 = reinterpret_cast<const void *(*)()>(f("EVP_sha256"));
    evp.init = reinterpret_cast<int (*)(void *, const void *, void *)>(f("EVP_DigestInit_ex"));
    evp.update = reinterpret_cast<int (*)(void *, const void *, size_t)>(f("EVP_DigestUpdate"));
    evp.final = reinterpret_cast<int (*)(void *, unsigned char *, unsigned int *)>(f("EVP_DigestFinal_ex"));
    evp.ok = evp.ctx_new && evp.ctx_free && evp.sha256 && evp.init && evp.update && evp.final;
  });
  return evp;
}

constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
    0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
    0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
    0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
    0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

std::string Hex(const uint8_t *d, size_t n) {
  static const char *digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  return out;
}

}  // namespace

Sha256::Sha256() {
  const Evp &evp = NodeEvp();
  if (evp.ok) {
    evp_ = evp.ctx_new();
    if (evp_ && evp.init(evp_, evp.sha256(), nullptr) != 1) {
      evp.ctx_free(evp_);
      evp_ = nullptr;
    }
  }
  static constexpr uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::memcpy(h_, kInit, sizeof h_);
}

Sha256::~Sha256() {
  if (evp_) NodeEvp().ctx_free(evp_);
}

void Sha256::Compress(const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) | (uint32_t(p[4 * i + 2]) << 8) | p[4 * i + 3];
  }
  for (int i = 16; i < 64; ++i) {
    const uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
  for (int i = 0; i < 64; ++i) {
    const uint32_t t1 = h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
    const uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
  h_[4] += e;
  h_[5] += f;
  h_[6] += g;
  h_[7] += h;
}

void Sha256::Update(const void *data, size_t len) {
  if (evp_) {
    NodeEvp().update(evp_, data, len);
    return;
  }
  const auto *p = static_cast<const uint8_t *>(data);
  bits_ += uint64_t(len) * 8;
  while (len > 0) {
    if (used_ == 0 && len >= 64) {
      Compress(p);
      p += 64;
      len -= 64;
      continue;
    }
    const size_t n = std::min(len, 64 - used_);
    std::memcpy(block_ + used_, p, n);
    used_ += n;
    p += n;
    len -= n;
    if (used_ == 64) {
      Compress(block_);
      used_ = 0;
    }
  }
}

std::string Sha256::HexDigest() {
  uint8_t out[32];
  if (evp_) {
    unsigned int n = 0;
    NodeEvp().final(evp_, out, &n);
    return Hex(out, sizeof out);
  }
  const uint64_t bits = bits_;
  const uint8_t pad = 0x80;
  Update(&pad, 1);
  const uint8_t zero = 0;
  while (used_ != 56) Update(&zero, 1);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(bits >> (56 - 8 * i));
  Update(len, 8);
  for (int i = 0; i < 8; ++i) {
    out[4 * i] = uint8_t(h_[i] >> 24);
    out[4 * i + 1] = uint8_t(h_[i] >> 16);
    out[4 * i + 2] = uint8_t(h_[i] >> 8);
    out[4 * i + 3] = uint8_t(h_[i]);
  }
  return Hex(out, sizeof out);
}

}  // namespace dlswap
