/* Needs libcyc_a.so.1, which brings libcyc_b.so.1, which needs libcyc_a.so.1 again. 1221 when
 * every call lands where it should. */
int cyc_a_calls_b(void);
int cyc_b_calls_a(void);
int cyc_user(void) { return cyc_a_calls_b() * 100 + cyc_b_calls_a(); }
