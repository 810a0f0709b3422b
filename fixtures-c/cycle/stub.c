/* Stands in, at link time only, for the other end of a cycle: the linker needs a file with the
 * right SONAME to record a DT_NEEDED, and the real one needs this library first. */
