/* Its own code is fine; it is the NEEDED libdlswap_fixture_absent.so, which exists nowhere after the
 * build, that makes every load fail with "cannot open shared object file". */
int missingdep_value(void) { return 1; }
