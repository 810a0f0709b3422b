/* A generation that brings its own dependency ($ORIGIN/privdep_vN). priv_value reports which
 * libprivdep.so the loader actually bound, priv_version which generation is asking: they differ when
 * a namespace reused another generation's dependency. */
#ifndef PRIV_VERSION
#error "compile with -DPRIV_VERSION=1 or 2"
#endif

int privdep_value(void);

int priv_value(void) { return privdep_value(); }

int priv_version(void) { return PRIV_VERSION; }
