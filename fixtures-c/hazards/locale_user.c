/* A library that sets the C locale of whatever libc it is bound to, and reports what it is. */
#include <locale.h>
#include <stddef.h>

const char *locale_set(const char *name) { return setlocale(LC_ALL, name); }
const char *locale_get(void) { return setlocale(LC_ALL, NULL); }
