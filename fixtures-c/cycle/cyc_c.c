int cyc_root_value(void);
int cyc_c_calls_root(void) { return cyc_root_value() + 40; }
