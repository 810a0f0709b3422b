/* One exported function per C type and calling-convention corner, so typed calls can be checked
 * value by value: identity functions for every scalar type, integer arguments spilling to the stack,
 * more float arguments than vector registers, mixed integer/float classification, strings, memory
 * ownership, errno, variadics, and calls slow enough to run asynchronously. */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* --- identity functions: a round trip shows how each type is passed, returned and converted --- */
#define DLSWAP_IDENTITY(name, type) \
  type name(type v) { return v; }

DLSWAP_IDENTITY(id_bool, bool)
DLSWAP_IDENTITY(id_char, char)
DLSWAP_IDENTITY(id_schar, signed char)
DLSWAP_IDENTITY(id_uchar, unsigned char)
DLSWAP_IDENTITY(id_short, short)
DLSWAP_IDENTITY(id_ushort, unsigned short)
DLSWAP_IDENTITY(id_int, int)
DLSWAP_IDENTITY(id_uint, unsigned int)
DLSWAP_IDENTITY(id_long, long)
DLSWAP_IDENTITY(id_ulong, unsigned long)
DLSWAP_IDENTITY(id_llong, long long)
DLSWAP_IDENTITY(id_ullong, unsigned long long)
DLSWAP_IDENTITY(id_i8, int8_t)
DLSWAP_IDENTITY(id_u8, uint8_t)
DLSWAP_IDENTITY(id_i16, int16_t)
DLSWAP_IDENTITY(id_u16, uint16_t)
DLSWAP_IDENTITY(id_i32, int32_t)
DLSWAP_IDENTITY(id_u32, uint32_t)
DLSWAP_IDENTITY(id_i64, int64_t)
DLSWAP_IDENTITY(id_u64, uint64_t)
DLSWAP_IDENTITY(id_size, size_t)
DLSWAP_IDENTITY(id_ssize, ssize_t)
DLSWAP_IDENTITY(id_intptr, intptr_t)
DLSWAP_IDENTITY(id_uintptr, uintptr_t)
DLSWAP_IDENTITY(id_float, float)
DLSWAP_IDENTITY(id_double, double)
DLSWAP_IDENTITY(id_ptr, void *)

/* --- arithmetic and argument passing --- */
int add(int a, int b) { return a + b; }

/* Pulls in libm: in a separate namespace that is the namespace's own libm. */
double hypot_d(double x, double y) { return hypot(x, y); }

/* Exactly fills the six integer argument registers of the x86-64 SysV ABI. */
int sum6(int a, int b, int c, int d, int e, int f) { return a + b + c + d + e + f; }

/* Two more than fit in registers: g and h are passed on the stack. */
long sum8(long a, long b, long c, long d, long e, long f, long g, long h) { return a + b + c + d + e + f + g + h; }

/* Eight vector registers, then the stack for i and j. */
double sum10d(double a, double b, double c, double d, double e, double f, double g, double h, double i, double j) {
  return a + b + c + d + e + f + g + h + i + j;
}

/* Integer and floating arguments interleaved: each class fills its own registers in order. */
double mix(int a, double b, float c, int64_t d, uint8_t e, double f) { return (double)a + b + (double)c + (double)d + (double)e + f; }

/* A float return comes back in the low lane of xmm0 as single precision, not as a double. */
float scale_f(float x, float k) { return x * k; }

int64_t mul64(int64_t a, int64_t b) { return a * b; }

/* --- strings --- */
int str_len(const char *s) { return s == NULL ? -1 : (int)strlen(s); }

const char *greet(void) { return "hello from types"; }

const char *null_str(void) { return NULL; }

/* Ownership passes to the caller, who must release it with this library's free (free_bytes) when
 * the library lives in a namespace with its own malloc. */
char *dup_upper(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s);
  char *out = malloc(n + 1);
  if (out == NULL) return NULL;
  for (size_t i = 0; i < n; i++) out[i] = (char)toupper((unsigned char)s[i]);
  out[n] = '\0';
  return out;
}

/* Returns the caller's own pointer: shows whether a string argument outlives the call. */
const char *echo_str(const char *s) { return s; }

/* Byte count, not character count: multi-byte UTF-8 must arrive encoded, unchanged. */
int utf8_bytes(const char *s) { return s == NULL ? -1 : (int)strlen(s); }

/* --- memory --- */
void *alloc_bytes(size_t n) {
  void *p = malloc(n);
  if (p != NULL) memset(p, 0xAB, n);
  return p;
}

void free_bytes(void *p) { free(p); }

uint64_t sum_bytes(const uint8_t *buf, size_t n) {
  uint64_t total = 0;
  if (buf == NULL) return 0;
  for (size_t i = 0; i < n; i++) total += buf[i];
  return total;
}

void fill_bytes(uint8_t *buf, size_t n, uint8_t value) {
  if (buf != NULL) memset(buf, value, n);
}

int is_null(const void *p) { return p == NULL; }

/* --- errno: the value must be read right after the call, on the calling thread --- */
int set_errno(int e) {
  errno = e;
  return -1;
}

/* --- variadics: default argument promotions apply, and %al must carry the vector count --- */
int sum_var(int n, ...) {
  va_list ap;
  int total = 0;
  va_start(ap, n);
  for (int i = 0; i < n; i++) total += va_arg(ap, int);
  va_end(ap);
  return total;
}

double sum_var_d(int n, ...) {
  va_list ap;
  double total = 0.0;
  va_start(ap, n);
  for (int i = 0; i < n; i++) total += va_arg(ap, double);
  va_end(ap);
  return total;
}

__attribute__((format(printf, 3, 4))) int fmt(char *out, size_t cap, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(out, cap, format, ap);
  va_end(ap);
  return n;
}

/* --- async helpers --- */
int slow_add(int a, int b, int ms) {
  if (ms > 0) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  }
  return a + b;
}

/* Returns once `n` callers are inside it at the same time, or after `ms` (a hang guard); returns
 * how many were inside at once at most while it waited. n concurrent `.async` calls all return n
 * only if they really ran side by side: a test of parallelism that times nothing. */
static pthread_mutex_t meet_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t meet_cond = PTHREAD_COND_INITIALIZER;
static int meet_inside, meet_most;

int meet(int n, int ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += ms / 1000;
  deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&meet_lock);
  if (++meet_inside > meet_most) meet_most = meet_inside;
  pthread_cond_broadcast(&meet_cond);
  while (meet_most < n && pthread_cond_timedwait(&meet_cond, &meet_lock, &deadline) == 0) {}
  int most = meet_most;
  if (--meet_inside == 0) meet_most = 0;
  pthread_mutex_unlock(&meet_lock);
  return most;
}

/* Different from the JS thread's value when a call really ran on a worker thread. */
uint64_t thread_id(void) { return (uint64_t)pthread_self(); }

/* --- call overhead and per-generation state --- */
void noop(void) {}

static int counter_value;

int counter(void) { return ++counter_value; }
