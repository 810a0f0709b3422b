/* A module found only through plugin_loader's RUNPATH. */
int pl_rp_answer(void) { return 77; }
