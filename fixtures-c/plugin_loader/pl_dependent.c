/* A module that does not link the one that defines pl_module_answer: it expects it in the global
 * scope (readelf -Ws: pl_module_answer UND, and no NEEDED entry for libpl_module.so). */
int pl_module_answer(void);
int pl_dependent_answer(void) { return pl_module_answer() + 1; }
