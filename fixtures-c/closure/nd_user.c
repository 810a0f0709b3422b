/* Needs libnd.so.1 (closure/nd_dep.c, NODELETE) through RUNPATH $ORIGIN. */
int nd_dep_value(void);
int nd_value(void) { return nd_dep_value(); }
