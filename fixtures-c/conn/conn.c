/* Two builds of this file (CONN_VERSION=1 and 2) are a stateful library with an opaque handle, in
 * the shape of sqlite3 *: conn_open makes a connection, conn_query answers on it (and remembers how
 * many queries it served), conn_close frees it. Each image keeps its own list of the connections it
 * made, so a connection given to the wrong image, or closed twice, is answered with an error code
 * (never a crash) and counted: a test can prove that dlswap never let it happen. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef CONN_VERSION
#error "compile with -DCONN_VERSION=1 or 2"
#endif

typedef struct conn {
  int id;
  int queries;
  char name[32];
} conn;

/* The connections this image made and has not freed. */
#define CONN_MAX 4096
static conn *live[CONN_MAX];
static int live_count;
static int next_id;
/* Calls that got a connection this image does not know (another image's, or one it freed). */
static int foreign_calls;

static int find(const conn *c) {
  for (int i = 0; i < CONN_MAX; i++) {
    if (c != NULL && live[i] == c) return i;
  }
  return -1;
}

static conn *make(const char *name) {
  if (live_count >= CONN_MAX) return NULL;
  conn *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->id = ++next_id;
  strncpy(c->name, name ? name : "", sizeof c->name - 1);
  for (int i = 0; i < CONN_MAX; i++) {
    if (live[i] == NULL) {
      live[i] = c;
      break;
    }
  }
  live_count++;
  return c;
}

/* A new connection, returned. */
conn *conn_open(const char *name) { return make(name); }

/* The same, through an out-parameter, as sqlite3_open does: 0 on success. */
int conn_open_out(const char *name, conn **out) {
  *out = make(name);
  return *out ? 0 : 1;
}

/* version * 1000 + the number of queries this connection served (this one included); -1 for a
 * connection this image does not know. */
int conn_query(conn *c) {
  if (find(c) < 0) {
    foreign_calls++;
    return -1;
  }
  return CONN_VERSION * 1000 + ++c->queries;
}

/* Both connections known: the version; else -1. */
int conn_pair(conn *x, conn *y) {
  if (find(x) < 0 || find(y) < 0) {
    foreign_calls++;
    return -1;
  }
  return CONN_VERSION;
}

/* conn_query, after sleeping `ms`: keeps a call in flight across a reload. */
int conn_slow(conn *c, int ms) {
  if (ms > 0) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  }
  return conn_query(c);
}

/* The connection a query would name, without making one: the same address as `c` (a borrowed
 * reference, like sqlite3_db_handle). */
conn *conn_self(conn *c) { return find(c) < 0 ? NULL : c; }

static int cursors_on(const conn *c);

/* Frees a connection: 0; -1 (and nothing freed) for one this image does not know; -2 (nothing
 * freed) while a cursor is open on it, as sqlite3_close refuses while statements are. */
int conn_close(conn *c) {
  int i = find(c);
  if (i < 0) {
    foreign_calls++;
    return -1;
  }
  if (cursors_on(c) > 0) return -2;
  live[i] = NULL;
  live_count--;
  free(c);
  return 0;
}

/* A cursor on a connection: a second handle type, made by a call that takes the first. */
typedef struct cursor {
  conn *c;
  int pos;
} cursor;

static cursor *cursors[CONN_MAX];
static int cursor_count;

static int find_cursor(const cursor *k) {
  for (int i = 0; i < CONN_MAX; i++) {
    if (k != NULL && cursors[i] == k) return i;
  }
  return -1;
}

static int cursors_on(const conn *c) {
  int n = 0;
  for (int i = 0; i < CONN_MAX; i++) {
    if (cursors[i] != NULL && cursors[i]->c == c) n++;
  }
  return n;
}

cursor *cursor_open(conn *c) {
  if (find(c) < 0) {
    foreign_calls++;
    return NULL;
  }
  for (int i = 0; i < CONN_MAX; i++) {
    if (cursors[i] == NULL) {
      cursor *k = calloc(1, sizeof *k);
      if (k == NULL) return NULL;
      k->c = c;
      cursors[i] = k;
      cursor_count++;
      return k;
    }
  }
  return NULL;
}

/* version * 1000 + the rows this cursor read; -1 for one this image does not know. */
int cursor_next(cursor *k) {
  if (find_cursor(k) < 0) {
    foreign_calls++;
    return -1;
  }
  return CONN_VERSION * 1000 + ++k->pos;
}

int cursor_close(cursor *k) {
  int i = find_cursor(k);
  if (i < 0) {
    foreign_calls++;
    return -1;
  }
  cursors[i] = NULL;
  cursor_count--;
  free(k);
  return 0;
}

int cursor_live(void) { return cursor_count; }

/* Faults on purpose (a NULL dereference): the image that runs it is quarantined. */
int conn_crash(conn *c) {
  volatile int *nothing = NULL;
  return *nothing + (c ? c->id : 0);
}

int conn_version(void) { return CONN_VERSION; }
int conn_live(void) { return live_count; }
int conn_foreign(void) { return foreign_calls; }
