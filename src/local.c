/*
 * local.c -- the built-in host driver: a run queue that the program
 * drains with exco_run() or exco_run_until_idle().
 *
 * It is an ordinary host of the driver contract, written only against
 * task_new/task_run/task_wake and exco_poll/exco_drop, so it doubles as
 * the reference for a minimal driver.  Wakes may come from any thread, so
 * the queue is guarded by a mutex, and a runner with nothing to do sleeps
 * on a condition variable until a wake arrives.
 */
#include "config.h"

#include "exco-internal.h"

typedef struct exco__local_node {
  exco__fifo_node link;
  exco_task *task;
  struct exco__local *local;
} exco__local_node;

struct exco__local {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  exco__fifo ready; /* nodes whose task is owed a poll */
  long tasks;       /* tasks not yet dropped */
  int sleepers;     /* runners waiting on cond */
};

int exco__local_new(struct exco__local **out) {
  struct exco__local *l = exco__malloc(sizeof(*l));

  if (l == NULL)
    return EXCO_ENOMEM;
  if (pthread_mutex_init(&l->lock, NULL) != 0) {
    exco__free(l);
    return EXCO_ENOMEM;
  }
  if (pthread_cond_init(&l->cond, NULL) != 0) {
    pthread_mutex_destroy(&l->lock);
    exco__free(l);
    return EXCO_ENOMEM;
  }
  exco__fifo_init(&l->ready);
  l->tasks = 0;
  l->sleepers = 0;
  *out = l;
  return 0;
}

void exco__local_free(struct exco__local *l) {
  pthread_cond_destroy(&l->cond);
  pthread_mutex_destroy(&l->lock);
  exco__free(l);
}

void *exco__local_task_new(void *data) {
  struct exco__local *l = data;
  exco__local_node *n = exco__malloc(sizeof(*n));

  if (n == NULL)
    return NULL;
  n->task = NULL;
  n->local = l;
  pthread_mutex_lock(&l->lock);
  l->tasks++;
  pthread_mutex_unlock(&l->lock);
  return n;
}

/*
 * exco calls task_wake at most once between two polls (and task_run counts
 * as the first), so a node is never in the queue twice, and never in it
 * once its task has finished: dropping and freeing it right after the
 * poll that returned 0 is safe.
 */
static void exco__local_push(exco__local_node *n) {
  struct exco__local *l = n->local;

  pthread_mutex_lock(&l->lock);
  exco__fifo_push(&l->ready, &n->link);
  if (l->sleepers > 0)
    pthread_cond_signal(&l->cond);
  pthread_mutex_unlock(&l->lock);
}

void exco__local_task_run(void *ext, exco_task *intern) {
  exco__local_node *n = ext;

  n->task = intern;
  exco__local_push(n);
}

void exco__local_task_wake(void *ext) {
  exco__local_push(ext);
}

/* Polls every task that was ready when it started; tasks woken meanwhile
 * wait for the next round, so a yielding task can't starve the rest.
 * Returns the number of tasks not yet dropped.  Called with l->lock held;
 * returns with it held. */
static long exco__local_round(struct exco__local *l) {
  exco__fifo batch = l->ready;
  exco__fifo_node *fn;
  exco__local_node *n;

  exco__fifo_init(&l->ready);
  if (batch.head == NULL)
    return l->tasks;
  pthread_mutex_unlock(&l->lock);
  while ((fn = exco__fifo_pop(&batch)) != NULL) {
    n = exco__container_of(fn, exco__local_node, link);
    if (exco_poll(n->task) == 0) {
      exco_drop(n->task);
      exco__free(n);
      pthread_mutex_lock(&l->lock);
      l->tasks--;
      pthread_mutex_unlock(&l->lock);
    }
  }
  pthread_mutex_lock(&l->lock);
  return -1;
}

static int exco__local_get(exco_executor **ex) {
  int err;

  if (exco__current() != NULL)
    return EXCO_EBUSY;
  if (*ex == NULL && (err = exco__default_executor_get(ex)) != 0)
    return err;
  if (!exco__executor_valid(*ex))
    return EXCO_EINVAL;
  if ((*ex)->local == NULL)
    return EXCO_ENOTSUP;
  return 0;
}

int exco_run_until_idle(exco_executor *ex) {
  struct exco__local *l;
  long left;
  int err = exco__local_get(&ex);

  if (err != 0)
    return err;
  l = ex->local;
  pthread_mutex_lock(&l->lock);
  while ((left = exco__local_round(l)) < 0)
    ;
  pthread_mutex_unlock(&l->lock);
  return left > INT32_MAX ? INT32_MAX : (int)left;
}

int exco_run(exco_executor *ex) {
  struct exco__local *l;
  int err = exco__local_get(&ex);

  if (err != 0)
    return err;
  l = ex->local;
  pthread_mutex_lock(&l->lock);
  for (;;) {
    if (exco__local_round(l) < 0)
      continue;
    if (l->tasks == 0)
      break;
    /* Every live task waits on something outside this thread: sleep
     * until one of them is woken. */
    l->sleepers++;
    while (exco__fifo_empty(&l->ready))
      pthread_cond_wait(&l->cond, &l->lock);
    l->sleepers--;
  }
  pthread_mutex_unlock(&l->lock);
  return 0;
}
