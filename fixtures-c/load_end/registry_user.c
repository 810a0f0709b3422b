/* A generation that registers its name in the shared registry when it is loaded. */
void registry_add(const char *name);
int registry_count(void);

__attribute__((constructor)) static void registry_user_constructor(void) { registry_add("answer"); }

int registry_user_version(void) { return REGISTRY_USER_VERSION; }
int registry_user_count(void) { return registry_count(); }
