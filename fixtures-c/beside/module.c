/* The module libbeside loads from beside itself. */
int module_answer(void) { return 42; }
