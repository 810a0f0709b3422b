/* A dependency whose SONAME is one character long ("q"): a private name must fit in it. */
#ifndef CLOSURE_VERSION
#error "compile with -DCLOSURE_VERSION=N"
#endif
int short_dep_value(void) { return CLOSURE_VERSION; }
