/* Link-time stand-in for libdlswap_fixture_absent.so: only its SONAME matters, and the build deletes
 * it as soon as libmissingdep.so is linked. */
int dlswap_fixture_absent_value(void) { return 0; }
