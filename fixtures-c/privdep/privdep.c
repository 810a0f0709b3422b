/* The private dependency: both versions share the SONAME libprivdep.so, so a loader that already has
 * one of them in a namespace hands it to the next library that asks for that name. */
#ifndef PRIVDEP_VERSION
#error "compile with -DPRIVDEP_VERSION=1 or 2"
#endif

int privdep_value(void) { return PRIVDEP_VERSION; }
