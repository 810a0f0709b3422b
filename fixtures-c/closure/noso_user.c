/* Needs libnoso.so (no SONAME) through RUNPATH $ORIGIN. */
#ifndef CLOSURE_VERSION
#error "compile with -DCLOSURE_VERSION=N"
#endif
int noso_dep_value(void);
int noso_value(void) { return noso_dep_value(); }
int noso_version(void) { return CLOSURE_VERSION; }
