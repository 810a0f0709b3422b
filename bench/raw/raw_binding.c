/* The floor the benchmark compares dlswap against: a hand-written Node-API binding of the same
 * fixture functions, written the way one would by hand (raw napi_* calls, no argument checking),
 * calling each function through a pointer of its exact type obtained with dlsym. */
#include <dlfcn.h>
#include <node_api.h>
#include <stddef.h>

static int (*add_fn)(int, int);
static double (*hypot_fn)(double, double);
static int (*sum6_fn)(int, int, int, int, int, int);
static int (*str_len_fn)(const char *);

static napi_value Add(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t a, b;
  napi_value r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &a);
  napi_get_value_int32(env, argv[1], &b);
  napi_create_int32(env, add_fn(a, b), &r);
  return r;
}

static napi_value Hypot(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double x, y;
  napi_value r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_double(env, argv[0], &x);
  napi_get_value_double(env, argv[1], &y);
  napi_create_double(env, hypot_fn(x, y), &r);
  return r;
}

static napi_value Sum6(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  int32_t v[6];
  napi_value r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (int i = 0; i < 6; i++) napi_get_value_int32(env, argv[i], &v[i]);
  napi_create_int32(env, sum6_fn(v[0], v[1], v[2], v[3], v[4], v[5]), &r);
  return r;
}

static napi_value StrLen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char buf[256];
  size_t len;
  napi_value r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_string_utf8(env, argv[0], buf, sizeof buf, &len);
  napi_create_int32(env, str_len_fn(buf), &r);
  return r;
}

/* load(path): dlopens the fixture library and resolves the four functions. */
static napi_value Load(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char path[4096];
  size_t len;
  void *h;
  napi_value ok;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "load(path: string)");
    return NULL;
  }
  h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    napi_throw_error(env, NULL, dlerror());
    return NULL;
  }
  /* POSIX guarantees that dlsym's result converts to the function's (exact) pointer type. */
  add_fn = (int (*)(int, int))dlsym(h, "add");
  hypot_fn = (double (*)(double, double))dlsym(h, "hypot_d");
  sum6_fn = (int (*)(int, int, int, int, int, int))dlsym(h, "sum6");
  str_len_fn = (int (*)(const char *))dlsym(h, "str_len");
  napi_get_boolean(env, add_fn && hypot_fn && sum6_fn && str_len_fn, &ok);
  return ok;
}

static napi_value Init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {{"load", Load}, {"add", Add}, {"hypot", Hypot}, {"sum6", Sum6}, {"str_len", StrLen}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
