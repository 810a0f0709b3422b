/* libcyc_root.so needs libcyc_c.so.1, which needs libcyc_root.so back: a cycle through the library
 * that is opened. 43 when every call lands where it should. */
int cyc_c_calls_root(void);
int cyc_root_value(void) { return 3; }
int cyc_root(void) { return cyc_c_calls_root(); }
