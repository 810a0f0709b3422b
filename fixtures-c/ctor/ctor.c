/* Proves that the loader ran the library's initialisers before the first call (ctor_value is 1234,
 * not 0) and that unloading runs the finaliser without harm. */
int ctor_global = 0;

__attribute__((constructor)) static void ctor_init(void) { ctor_global = 1234; }

/* Only touches the library's own data, which is still mapped while finalisers run. */
__attribute__((destructor)) static void ctor_fini(void) { ctor_global = -1; }

int ctor_value(void) { return ctor_global; }
