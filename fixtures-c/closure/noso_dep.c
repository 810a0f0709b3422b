/* A dependency without a SONAME: the loader can only match it by file name (libnoso.so). */
#ifndef CLOSURE_VERSION
#error "compile with -DCLOSURE_VERSION=N"
#endif
int noso_dep_value(void) { return CLOSURE_VERSION; }
