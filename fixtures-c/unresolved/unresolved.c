/* A library with a reference nothing defines: RTLD_NOW must fail at load time with
 * "undefined symbol: dlswap_fixture_no_such_symbol", and a loader must report it, not crash later. */
extern int dlswap_fixture_no_such_symbol(void);

int uses_missing(void) { return dlswap_fixture_no_such_symbol(); }
