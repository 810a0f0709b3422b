/* Smoke test of a cross-built prebuild under qemu-user (scripts/test-prebuild-qemu.mjs): node itself
 * does not run under Debian 12's qemu-user (it spins after startup), so this harness does what can
 * be checked without it, on the target's own glibc and dynamic loader:
 *   - the namespace runtime and the addon load with RTLD_NOW: every symbol they import resolves,
 *     at the symbol versions the target's glibc and libgcc_s provide, and the addon's static
 *     constructors (libstdc++'s, linked in) run. Node-API symbols come from a stub (argv[2]) whose
 *     functions abort if called; none is called by loading;
 *   - the addon exports napi_register_module_v1, the entry point node calls;
 *   - the plugins run: each answers with its version, and the handler formats a reply.
 * usage: qemu-smoke <prebuild dir> <napi stub .so> */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void *load(const char *dir, const char *name, int flags) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  void *h = dlopen(path, flags);
  if (!h) {
    printf("FAIL %s: %s\n", name, dlerror());
    failures++;
  } else {
    printf("ok   %s loads\n", name);
  }
  return h;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: qemu-smoke <prebuild dir> <napi stub .so>\n");
    return 2;
  }
  const char *dir = argv[1];
  if (!dlopen(argv[2], RTLD_NOW | RTLD_GLOBAL)) {
    printf("FAIL stub: %s\n", dlerror());
    return 1;
  }
  load(dir, "libdlswap_runtime.so", RTLD_NOW | RTLD_LOCAL);
  void *addon = load(dir, "node.napi.glibc.node", RTLD_NOW | RTLD_LOCAL);
  if (addon) {
    if (dlsym(addon, "napi_register_module_v1")) printf("ok   the addon exports napi_register_module_v1\n");
    else {
      printf("FAIL the addon does not export napi_register_module_v1\n");
      failures++;
    }
  }
  for (int v = 1; v <= 2; v++) {
    char name[64];
    snprintf(name, sizeof name, "plugins/libplugin_v%d.so", v);
    void *p = load(dir, name, RTLD_NOW | RTLD_LOCAL);
    int (*version)(void) = p ? (int (*)(void))dlsym(p, "plugin_version") : NULL;
    int got = version ? version() : -1;
    printf("%s plugin_version() of v%d = %d\n", got == v ? "ok  " : "FAIL", v, got);
    if (got != v) failures++;
  }
  void *h = load(dir, "plugins/libhandler.so", RTLD_NOW | RTLD_LOCAL);
  int (*handle)(const char *, char *, size_t) = h ? (int (*)(const char *, char *, size_t))dlsym(h, "handle") : NULL;
  char out[256] = {0};
  int n = handle ? handle("GET /ada", out, sizeof out) : -1;
  int good = n > 0 && strstr(out, "ada") != NULL;
  printf("%s handle(\"GET /ada\") = %d: %.*s\n", good ? "ok  " : "FAIL", n, n > 0 ? n : 0, out);
  if (!good) failures++;
  printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
