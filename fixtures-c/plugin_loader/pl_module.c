/* A module plugin_loader opens with RTLD_GLOBAL: its symbols are what later lookups must find. */
int pl_module_answer(void) { return 4242; }
