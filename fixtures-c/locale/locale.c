/* The global locale of a libc that several libraries share (the anchor namespace's): one copy of
 * this library sets LC_NUMERIC, another formats a number, and what the second prints says whose
 * locale it got. */
#include <locale.h>
#include <stdio.h>

int locale_set_numeric(const char *name) { return setlocale(LC_NUMERIC, name) != NULL; }

int locale_set_all(const char *name) { return setlocale(LC_ALL, name) != NULL; }

int locale_format(char *out, size_t cap, double value) { return snprintf(out, cap, "%.2f", value); }

const char *locale_numeric(void) { return setlocale(LC_NUMERIC, NULL); }
