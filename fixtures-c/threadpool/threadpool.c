/* A library with a worker pool that only its ELF destructor stops, as OpenBLAS, FFTW's threads and
 * RocksDB's Env do: the constructor starts the workers, the destructor stops and joins them, and
 * pool_shutdown() is the library's own cleanup (what a teardown hook calls). Built twice: the
 * STUBBORN variant's destructor leaves its workers waiting (a library whose threads nothing stops).
 *
 * Each destructor run writes one line to stderr with write(2) (no stdio buffer to lose at exit), so
 * that a test can count them: the destructor must run exactly once in the life of the process. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define WORKERS 2

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static pthread_t workers[WORKERS];
static int started, alive, stopping;
static int job_input, job_output, job_pending, job_done;

static void *worker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (!stopping && !job_pending) pthread_cond_wait(&wake, &lock);
    if (stopping) break;
    job_pending = 0;
    job_output = job_input * 2;
    job_done = 1;
    pthread_cond_broadcast(&done);
  }
  alive--;
  pthread_mutex_unlock(&lock);
  return NULL;
}

__attribute__((constructor)) static void pool_start(void) {
  for (int i = 0; i < WORKERS; i++) {
    if (pthread_create(&workers[i], NULL, worker, NULL) == 0) {
      pthread_mutex_lock(&lock);
      alive++;
      pthread_mutex_unlock(&lock);
      started++;
    }
  }
}

/* The library's own cleanup: stops the workers and joins them. */
int pool_shutdown(void) {
  pthread_mutex_lock(&lock);
  stopping = 1;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < started; i++) pthread_join(workers[i], NULL);
  int n = started;
  started = 0;
  return n;
}

static void say(const char *s) {
  ssize_t ignored = write(2, s, strlen(s));
  (void)ignored;
}

__attribute__((destructor)) static void pool_stop(void) {
#ifdef STUBBORN
  say("threadpool: destructor (workers left waiting)\n");
#else
  say("threadpool: destructor\n");
  pool_shutdown();
#endif
}

/* Hands one job to the pool and waits for its answer: x * 2. */
int pool_double(int x) {
  pthread_mutex_lock(&lock);
  if (alive == 0) {
    pthread_mutex_unlock(&lock);
    return -1;
  }
  job_input = x;
  job_done = 0;
  job_pending = 1;
  pthread_cond_signal(&wake);
  while (!job_done) pthread_cond_wait(&done, &lock);
  int r = job_output;
  pthread_mutex_unlock(&lock);
  return r;
}

int pool_alive(void) {
  pthread_mutex_lock(&lock);
  int n = alive;
  pthread_mutex_unlock(&lock);
  return n;
}
