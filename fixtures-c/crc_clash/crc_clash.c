/* A library whose internal helper happens to share a name with a symbol node exports (zlib's
 * crc32). Which crc32 call_crc32 reaches shows whether the isolation mode protects the library's
 * own calls from the host's symbols. */
#include <stddef.h>

#define CRC_CLASH_MARKER 0xD15A0001UL

/* Signature matches zlib's so the clash is a realistic one, not a type mismatch. */
unsigned long crc32(unsigned long crc, const unsigned char *buf, unsigned int len) {
  (void)crc;
  (void)buf;
  (void)len;
  return CRC_CLASH_MARKER;
}

/* Goes through the PLT (crc32 is exported and interposable): 0 means node's zlib answered. */
unsigned long call_crc32(void) { return crc32(0, NULL, 0); }
