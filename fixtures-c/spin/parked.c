/* A thread that exists before the image under test is loaded and enters its code later: started
 * by parked_start(), it waits until parked_run(fn, flag) hands it a function of that image, then
 * calls fn(flag). The holders check skips threads that have not run since an image was loaded
 * (image/thread_scan.h); this one has, and must still be found. */
#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static void (*job)(volatile int *);
static volatile int flag;
static pthread_t thread;

static void *parked(void *arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  while (!job) pthread_cond_wait(&wake, &lock);
  void (*fn)(volatile int *) = job;
  pthread_mutex_unlock(&lock);
  fn(&flag);
  return 0;
}

int parked_start(void) { return pthread_create(&thread, 0, parked, 0); }

/* Hands `fn` to the parked thread, with a flag it is set to 1: fn returns once parked_release()
 * clears it. */
void parked_run(void *fn) {
  __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
  pthread_mutex_lock(&lock);
  job = (void (*)(volatile int *))fn;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
}

/* Lets fn return, and waits for the thread to end. */
int parked_release(void) {
  __atomic_store_n(&flag, 0, __ATOMIC_RELEASE);
  return pthread_join(thread, 0);
}
