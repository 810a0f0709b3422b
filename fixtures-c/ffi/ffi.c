/* Structs, unions, enums, out-parameters and callbacks, for test/call/types_calls.test.ts,
 * test/call/callbacks.test.ts and bench/calls.mjs. Built twice (FFI_VERSION 1 and 2) so that callbacks
 * can be handed from one generation of a HotLibrary to the next. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FFI_VERSION
#define FFI_VERSION 1
#endif

int ffi_version(void) { return FFI_VERSION; }

/* --- structs by pointer ------------------------------------------------------------------------ */
struct point {
  int32_t x, y;
};
struct rect {
  int32_t x, y, w, h;
};
struct frame {
  uint32_t w;
  uint32_t h;
  uint8_t pix[16];
  struct point origin;
  char name[12];
  double scale;
};
struct person {
  const char *name;
  int age;
  struct person *friend_;
};

int rect_area(const struct rect *r) { return r ? r->w * r->h : -1; }

void rect_grow(struct rect *r, int by) {
  r->x -= by;
  r->y -= by;
  r->w += 2 * by;
  r->h += 2 * by;
}

/* An out-parameter filled completely by C. */
int frame_fill(struct frame *out, uint32_t w, uint32_t h) {
  if (!out) return -1;
  memset(out, 0, sizeof *out);
  out->w = w;
  out->h = h;
  for (int i = 0; i < 16; i++) out->pix[i] = (uint8_t)(i * 3);
  out->origin.x = -1;
  out->origin.y = 7;
  snprintf(out->name, sizeof out->name, "f%ux%u", w, h);
  out->scale = 0.5;
  return (int)(w * h);
}

uint32_t frame_checksum(const struct frame *f) {
  uint32_t s = f->w * 31 + f->h;
  for (int i = 0; i < 16; i++) s = s * 7 + f->pix[i];
  s += (uint32_t)(f->origin.x * 13 + f->origin.y);
  for (const char *c = f->name; *c && c < f->name + sizeof f->name; c++) s = s * 5 + (uint8_t)*c;
  return s + (uint32_t)(f->scale * 100);
}

int sum_points(const struct point *pts, int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s += pts[i].x * 10 + pts[i].y;
  return s;
}

void points_swap(struct point *pts, int n) {
  for (int i = 0; i < n; i++) {
    int32_t t = pts[i].x;
    pts[i].x = pts[i].y;
    pts[i].y = t;
  }
}

int person_describe(const struct person *p, char *out, size_t cap) {
  return snprintf(out, cap, "%s (%d)%s%s", p->name ? p->name : "?", p->age, p->friend_ ? ", friend of " : "",
                  p->friend_ && p->friend_->name ? p->friend_->name : "");
}

static const char kRenamed[] = "renamed by C";
void person_rename(struct person *p) {
  p->name = kRenamed;
  p->age += 1;
}

struct frame *frame_new(uint32_t w, uint32_t h) {
  struct frame *f = malloc(sizeof *f);
  if (f) frame_fill(f, w, h);
  return f;
}

/* --- packed and unions ------------------------------------------------------------------------ */
struct __attribute__((packed)) pk {
  uint8_t a;
  uint32_t b;
  uint16_t c;
};
uint32_t packed_sum(const struct pk *p) { return p->a + p->b + p->c; }

union val {
  int64_t i;
  double d;
  char s[12];
};
double val_read(const union val *v, int kind) {
  switch (kind) {
    case 0: return (double)v->i;
    case 1: return v->d;
    default: return (double)strlen(v->s);
  }
}
void val_set_double(union val *v, double d) { v->d = d; }

enum color { RED, GREEN = 5, BLUE };
enum color next_color(enum color c) { return c == RED ? GREEN : c == GREEN ? BLUE : RED; }

/* --- structs by value ---------------------------------------------------------------------------- */
struct point point_add(struct point a, struct point b) {
  struct point r = {a.x + b.x, a.y + b.y};
  return r;
}
struct rect rect_make(int32_t x, int32_t y, int32_t w, int32_t h) {
  struct rect r = {x, y, w, h};
  return r;
}
int rect_area_v(struct rect r) { return r.w * r.h; }

/* Bigger than 16 bytes: in memory on both ABIs. */
struct big {
  double a, b, c;
  int64_t d;
};
struct big big_scale(struct big v, double k) {
  struct big r = {v.a * k, v.b * k, v.c * k, v.d * 2};
  return r;
}
/* One SSE and one INTEGER eightbyte on x86-64. */
struct mixed {
  float f;
  int32_t i;
  double d;
};
struct mixed mixed_bump(struct mixed m) {
  m.f += 1.5f;
  m.i += 1;
  m.d *= 2;
  return m;
}
/* A homogeneous float aggregate on aarch64; two SSE eightbytes on x86-64. */
struct hfa {
  float a, b, c, d;
};
float hfa_sum(struct hfa h) { return h.a + h.b + h.c + h.d; }
struct hfa hfa_rev(struct hfa h) {
  struct hfa r = {h.d, h.c, h.b, h.a};
  return r;
}
struct nested {
  struct point p;
  uint8_t tag[3];
  double w;
};
struct nested nested_shift(struct nested n, int32_t dx) {
  n.p.x += dx;
  n.tag[0]++;
  n.w += dx;
  return n;
}
/* Many arguments: some structs go on the stack. */
double many_structs(struct point a, struct hfa b, struct point c, struct mixed d, struct point e, struct big f, int g) {
  return a.x + a.y + b.a + b.d + c.x + c.y + d.f + d.i + d.d + e.x + e.y + f.a + f.d + g;
}

/* --- callbacks ------------------------------------------------------------------------------ */
int fp_call(int (*cb)(int), int x) { return cb(x); }

/* The callback cost benchmark: n calls, their results summed. */
int fp_call_n(int (*cb)(int), int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s += cb(i);
  return s;
}

int call_twice(int (*cb)(int)) { return cb(1) * 1000 + cb(2); }

double fp_call_d(double (*cb)(double, float, int64_t, bool), double x) { return cb(x, (float)x / 2, (int64_t)x * 3, x > 0); }

/* Plain loops, no libc string functions: in a namespace, valgrind cannot check that libc's
 * vectorized copies exactly (see scripts/test-valgrind.mjs), and this fixture is meant to be. */
void each_word(const char *text, void (*cb)(const char *word, int index)) {
  char buf[64];
  int n = 0;
  while (*text) {
    size_t len = 0;
    while (text[len] && text[len] != ' ') len++;
    if (len > 0 && len < sizeof buf) {
      for (size_t i = 0; i < len; i++) buf[i] = text[i];
      buf[len] = 0;
      cb(buf, n++);
    }
    text += len;
    while (*text == ' ') text++;
  }
}

int call_with_struct(int (*cb)(struct point), int32_t x, int32_t y) {
  struct point p = {x, y};
  return cb(p);
}

struct point call_returning_struct(struct point (*cb)(int32_t, int32_t), int32_t a, int32_t b) {
  return cb(a, b);
}

/* A callback as a struct member. */
struct ops {
  int (*add)(int, int);
  int (*mul)(int, int);
  const char *name;
};
int apply_ops(const struct ops *ops, int a, int b) { return ops->mul(ops->add(a, b), 2); }

/* C -> JS -> C: the JS callback calls reenter again with a smaller depth. */
int reenter(int (*cb)(int), int depth) { return depth <= 0 ? 0 : 1 + cb(depth - 1); }

/* A callback C keeps. */
static int (*g_handler)(int);
void set_handler(int (*cb)(int)) { g_handler = cb; }
int fire(int x) { return g_handler ? g_handler(x) : -1; }
/* Any function pointer, called as int (*)(int). */
int call_ptr(void *fp, int x) {
  int (*f)(int) = (int (*)(int))fp;
  return f(x);
}

/* Threads: the callback called from a thread the library starts. */
struct job {
  int (*cb)(int);
  int x, result;
};
static void *job_main(void *arg) {
  struct job *j = arg;
  j->result = j->cb(j->x);
  return NULL;
}
/* Starts a thread, waits for it: from JS, only as .async (a sync call would block the JS thread the
 * callback needs). */
int run_in_thread(int (*cb)(int), int x) {
  struct job j = {cb, x, 0};
  pthread_t t;
  if (pthread_create(&t, NULL, job_main, &j) != 0) return -1;
  pthread_join(t, NULL);
  return j.result;
}

/* Returns at once; the thread calls the stored handler later. wait_started() joins it. */
static pthread_t g_thread;
static struct job g_job;
static int g_started;
static void *handler_main(void *arg) {
  struct job *j = arg;
  j->result = 0;
  for (int i = 0; i < j->x; i++) j->result += g_handler ? g_handler(i) : -1000;
  return NULL;
}
int start_handler_thread(int calls) {
  if (g_started) return -1;
  g_job.x = calls;
  g_job.result = 0;
  if (pthread_create(&g_thread, NULL, handler_main, &g_job) != 0) return -1;
  g_started = 1;
  return 0;
}
int wait_handler_thread(void) {
  if (!g_started) return -1;
  pthread_join(g_thread, NULL);
  g_started = 0;
  return g_job.result;
}

/* The callback benchmark from a foreign thread: n calls from one thread the library starts. */
static void *loop_main(void *arg) {
  struct job *j = arg;
  int s = 0;
  for (int i = 0; i < j->x; i++) s += j->cb(i);
  j->result = s;
  return NULL;
}
int thread_call_n(int (*cb)(int), int n) {
  struct job j = {cb, n, 0};
  pthread_t t;
  if (pthread_create(&t, NULL, loop_main, &j) != 0) return -1;
  pthread_join(t, NULL);
  return j.result;
}

/* A plugin's logger, handed over by each generation's setup. */
typedef void (*log_fn)(int generation, const char *message);
static log_fn g_log;
void set_logger(log_fn log) { g_log = log; }
int work(int x) {
  char msg[64];
  snprintf(msg, sizeof msg, "work(%d) in v%d", x, FFI_VERSION);
  if (g_log) g_log(FFI_VERSION, msg);
  return x * 10 + FFI_VERSION;
}
void *logger_ptr(void) { return (void *)g_log; }
/* Calls any pointer as a logger: to call a logger of a retired generation through this one. */
void call_logger_ptr(void *fp, int generation, const char *message) { ((log_fn)fp)(generation, message); }
