/*
 * quark_user: registers a string of its own image in GLib's quark table (g_quark_from_static_string),
 * which keeps the pointer, not a copy, for the life of the process: the image must outlive it.
 */
typedef unsigned int GQuark;
GQuark g_quark_from_static_string(const char *string);
const char *g_quark_to_string(GQuark quark);

#define STR2(x) #x
#define STR(x) STR2(x)
static const char name[] = "dlswap-quark-user-" STR(QUARK_USER_VERSION);

unsigned quark_user_register(void) { return g_quark_from_static_string(name); }
const char *quark_user_name(unsigned quark) { return g_quark_to_string(quark); }
