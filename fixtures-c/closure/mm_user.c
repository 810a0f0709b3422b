/* Needs libmm_dep.so.1 and has no RUNPATH: the refusal path of the dependency check. */
int mm_dep_value(void);
int mm_value(void) { return mm_dep_value(); }
