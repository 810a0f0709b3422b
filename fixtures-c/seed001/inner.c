/* The helper's own private dependency (see service.cc). */
#ifndef INNER_VERSION
#error "compile with -DINNER_VERSION=N"
#endif

int inner_answer(void) { return INNER_VERSION; }
