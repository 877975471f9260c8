/*
 * offload.c -- blocking offload (include/exco/sync.h): a small pool of
 * worker threads, started on demand, that run blocking functions for
 * coroutines.
 *
 * A job is a heap record with a promise: the worker resolves the promise
 * with the function's result, and the coroutine awaits it.  The job keeps
 * its own reference to the promise and a hold on the coroutine's stack
 * until the function has returned, so a coroutine that gives up (it was
 * cancelled, or its deadline passed) leaves nothing dangling behind: the
 * function may go on using an argument on that stack.
 */
#include "config.h"

#include <stdlib.h>

#include "exco-internal.h"
#include "exco/sync.h"

typedef struct exco__job {
  struct exco__job *next;
  exco_offload_fn fn;
  void *arg;
  exco_promise *p; /* the job's own reference */
  exco_hold *hold; /* the waiting coroutine's stack */
} exco__job;

static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  exco__job *head, **tail;
  pthread_t threads[EXCO_OFFLOAD_THREADS];
  int nthreads;
  int idle;
  int stopping;
  int atexit_set;
} exco__pool = {PTHREAD_MUTEX_INITIALIZER,
                PTHREAD_COND_INITIALIZER,
                NULL,
                NULL,
                {0},
                0,
                0,
                0,
                0};

static void *exco__worker(void *arg) {
  exco__job *j;
  void *r;

  (void)arg;
  pthread_mutex_lock(&exco__pool.lock);
  for (;;) {
    while (exco__pool.head == NULL && !exco__pool.stopping) {
      exco__pool.idle++;
      pthread_cond_wait(&exco__pool.cond, &exco__pool.lock);
      exco__pool.idle--;
    }
    j = exco__pool.head;
    if (j == NULL)
      break; /* stopping, and the queue is drained */
    exco__pool.head = j->next;
    if (exco__pool.head == NULL)
      exco__pool.tail = &exco__pool.head;
    pthread_mutex_unlock(&exco__pool.lock);
    r = j->fn(j->arg);
    exco_promise_resolve(j->p, r);
    exco_promise_unref(j->p);
    exco_hold_release(j->hold);
    exco__free(j);
    pthread_mutex_lock(&exco__pool.lock);
  }
  pthread_mutex_unlock(&exco__pool.lock);
  return NULL;
}

void exco__offload_fork(int phase) {
  if (phase == EXCO__FORK_PREPARE) {
    pthread_mutex_lock(&exco__pool.lock);
    return;
  }
  if (phase == EXCO__FORK_CHILD) {
    /* The workers stayed in the parent, and so did the waiters the
     * condition variable counts: a new one, with no phantom waiters. */
    exco__pool.nthreads = 0;
    exco__pool.idle = 0;
    pthread_cond_init(&exco__pool.cond, NULL);
  }
  pthread_mutex_unlock(&exco__pool.lock);
}

void exco_offload_shutdown(void) {
  int i, n;

  pthread_mutex_lock(&exco__pool.lock);
  exco__pool.stopping = 1;
  pthread_cond_broadcast(&exco__pool.cond);
  n = exco__pool.nthreads;
  pthread_mutex_unlock(&exco__pool.lock);
  /* Only this function changes nthreads downwards, and once stopping is
   * set no thread is added. */
  for (i = 0; i < n; i++)
    pthread_join(exco__pool.threads[i], NULL);
  pthread_mutex_lock(&exco__pool.lock);
  exco__pool.nthreads = 0;
  pthread_mutex_unlock(&exco__pool.lock);
}

/* With the lock held: queues @j and makes sure a worker will take it. */
static int exco__pool_submit_locked(exco__job *j) {
  if (exco__pool.stopping)
    return EXCO_ESHUTDOWN;
  if (exco__pool.tail == NULL)
    exco__pool.tail = &exco__pool.head;
  if (exco__pool.idle == 0 && exco__pool.nthreads < EXCO_OFFLOAD_THREADS) {
    if (pthread_create(&exco__pool.threads[exco__pool.nthreads], NULL,
                       exco__worker, NULL) == 0) {
      exco__pool.nthreads++;
      if (!exco__pool.atexit_set) {
        exco__pool.atexit_set = 1;
        atexit(exco_offload_shutdown);
      }
    } else if (exco__pool.nthreads == 0) {
      return EXCO_EAGAIN;
    }
  }
  j->next = NULL;
  *exco__pool.tail = j;
  exco__pool.tail = &j->next;
  pthread_cond_signal(&exco__pool.cond);
  return 0;
}

int exco_offload(exco_offload_fn fn, void *arg, void **result) {
  exco_task *t = exco__current();
  exco_promise *p;
  exco__job *j;
  void *v = NULL;
  int err;

  if (t == NULL)
    return EXCO_EPERM;
  if (fn == NULL)
    return EXCO_EINVAL;
  if (exco__task_cancelled(t))
    return EXCO_ECANCELED;
  j = exco__malloc(sizeof(*j));
  if (j == NULL)
    return EXCO_ENOMEM;
  if ((err = exco_promise_new(&p)) != 0) {
    exco__free(j);
    return err;
  }
  j->fn = fn;
  j->arg = arg;
  j->p = exco_promise_ref(p);
  j->hold = exco_hold_stack();
  pthread_mutex_lock(&exco__pool.lock);
  err = exco__pool_submit_locked(j);
  pthread_mutex_unlock(&exco__pool.lock);
  if (err != 0) {
    exco_hold_release(j->hold);
    exco_promise_unref(j->p);
    exco_promise_unref(p);
    exco__free(j);
    return err;
  }
  err = exco_promise_await(p, &v);
  exco_promise_unref(p);
  if (err == 0 && result != NULL)
    *result = v;
  return err;
}
