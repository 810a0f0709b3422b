/* A plugin that starts no thread itself but links a dependency that does (pool_dep.c). */
int pool_start(void);
void pool_shutdown(void);

int user_start(void) { return pool_start(); }
void user_shutdown(void) { pool_shutdown(); }
