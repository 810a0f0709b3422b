/* Needs "q" (closure/short_dep.c) through RUNPATH $ORIGIN. */
#ifndef CLOSURE_VERSION
#error "compile with -DCLOSURE_VERSION=N"
#endif
int short_dep_value(void);
int short_value(void) { return short_dep_value(); }
int short_version(void) { return CLOSURE_VERSION; }
