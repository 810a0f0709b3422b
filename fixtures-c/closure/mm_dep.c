/* A dependency in no directory its user searches (closure/mm_user.c): only an object already loaded
 * under its SONAME, libmm_dep.so.1, can satisfy the user. */
int mm_dep_value(void) { return 7; }
