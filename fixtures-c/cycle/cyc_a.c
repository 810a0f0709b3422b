/* libcyc_a.so.1 and libcyc_b.so.1 need each other (a DT_NEEDED cycle), as plain dlopen allows. */
int cyc_b_value(void);
int cyc_a_value(void) { return 1; }
int cyc_a_calls_b(void) { return cyc_b_value() + 10; }
