/* A private dependency linked with -z nodelete (as a shipped OpenSSL is): its copies never unmap. */
#ifndef CLOSURE_VERSION
#error "compile with -DCLOSURE_VERSION=N"
#endif
int nd_dep_value(void) { return CLOSURE_VERSION; }
