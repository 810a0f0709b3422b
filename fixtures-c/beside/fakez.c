/*
 * A library with the soname of the system's zlib (libz.so.1) and another version string: a bundled
 * build. A loader that silently swaps it for the system's answers "1.2.13" (or whatever the system
 * has) instead.
 */
const char *zlibVersion(void) { return "9.9.9-dlswap-bundled"; }
