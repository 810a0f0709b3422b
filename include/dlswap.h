/*
 * dlswap plugin ABI. Every entry point is optional; a plain C library with none of them can be
 * loaded and hot-swapped too. The ABI is plain C on purpose: a plugin loaded into a separate link-map
 * namespace cannot bind to node's napi_* symbols, so the host passes everything it offers through
 * `dlswap_host`.
 *
 * Lifecycle of one generation (see docs/hot-reload.md):
 *   dlswap_abi_version()  checked before anything else runs; outside the host's range => rejected
 *   dlswap_init(host)     nonzero => rejected, the current generation keeps serving
 *   ... calls ...
 *   dlswap_state_export() (handover policy) the old generation's state, after it drained
 *   dlswap_state_import() (handover policy) into the new generation, before calls resume
 *   dlswap_fini()         after drain, before dlclose: stop threads, flush, release
 */
#ifndef DLSWAP_H
#define DLSWAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DLSWAP_ABI_VERSION 1u

#if defined(__GNUC__)
#define DLSWAP_EXPORT __attribute__((visibility("default")))
#else
#define DLSWAP_EXPORT
#endif

typedef enum dlswap_log_level { DLSWAP_LOG_DEBUG = 10, DLSWAP_LOG_INFO = 20, DLSWAP_LOG_WARN = 30, DLSWAP_LOG_ERROR = 40 } dlswap_log_level;

typedef struct dlswap_host {
  /* Size of this struct as the host built it: fields are only ever appended. */
  uint32_t struct_size;
  /* ABI version the host speaks (DLSWAP_ABI_VERSION of the host's build). */
  uint32_t abi_version;
  /* This generation's number: 1 for the first load, larger for every later load attempt. */
  uint64_t generation;
  /* Thread-safe: may be called from any thread, including the plugin's own, at any time until
   * dlswap_fini returns. Delivered to JS as a 'log' event. `message` is copied before returning. */
  void (*log)(const struct dlswap_host *host, int level, const char *message);
  /* Opaque value the host passed at open (the `userData` option), or NULL. */
  void *user_data;
  /* Reserved for the host; do not touch. */
  void *host_private;
} dlswap_host;

DLSWAP_EXPORT uint32_t dlswap_abi_version(void);
DLSWAP_EXPORT int dlswap_init(const dlswap_host *host);
DLSWAP_EXPORT void dlswap_fini(void);
DLSWAP_EXPORT const char *dlswap_version(void);
/* Writes at most `cap` bytes of state to `buf` and returns the full size it needs. The host calls it
 * with cap 0 first to learn the size. */
DLSWAP_EXPORT size_t dlswap_state_export(void *buf, size_t cap);
/* Returns 0 when the state was accepted. */
DLSWAP_EXPORT int dlswap_state_import(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* DLSWAP_H */
