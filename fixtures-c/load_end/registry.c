/*
 * load_end_registry: a process-wide registry, the shape of gflags' flags or GObject's types, in a
 * dependency every generation shares. A name registered twice ends the process, as gflags does
 * ("flag ... defined more than once"): exit(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_MAX 16
static const char *names[REGISTRY_MAX];
static int count;

void registry_add(const char *name) {
  for (int i = 0; i < count; ++i) {
    if (strcmp(names[i], name) == 0) {
      fprintf(stderr, "registry: '%s' is registered twice\n", name);
      exit(1);
    }
  }
  if (count < REGISTRY_MAX) names[count++] = name;
}

int registry_count(void) { return count; }
