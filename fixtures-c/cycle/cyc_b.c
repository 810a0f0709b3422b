int cyc_a_value(void);
int cyc_b_value(void) { return 2; }
int cyc_b_calls_a(void) { return cyc_a_value() + 20; }
