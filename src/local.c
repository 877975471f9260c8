/*
 * local.c -- the built-in host driver: a run queue that the program
 * drains with exco_run() or exco_run_until_idle().
 *
 * It is an ordinary host of the driver contract, written against
 * task_new/task_run/task_wake and exco_poll/exco_drop, so it doubles as
 * the reference for a minimal driver; it adds a timer hook (the runner
 * sleeps on its condition variable until the earliest timer is due).
 * Wakes may come from any thread, so the queue is guarded by a mutex, and
 * a runner with nothing to do sleeps on a condition variable until a wake
 * arrives or a timer is due.
 */
#include "config.h"

#include <time.h>

#include "exco-internal.h"
#include "resume.h"

typedef struct exco__local_node {
  exco__fifo_node link;
  exco_task *task;
  struct exco__local *local;
} exco__local_node;

struct exco__local {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  exco_executor *ex;
  exco__fifo ready; /* nodes whose task is owed a poll */
  long tasks;       /* tasks not yet dropped */
  int sleepers;     /* runners waiting on cond */
  int runners;      /* threads inside exco_run*() */
  int closed;       /* closed, last task gone: the last runner frees it */
  int has_home;     /* home is set: tasks are live and pinned to it */
  pthread_t home;   /* the thread that runs it (without migration) */
  uint64_t due;     /* the timer queue's earliest, UINT64_MAX for none */
};

static void *exco__local_task_new(void *data);
static void exco__local_task_run(void *ext, exco_task *intern);
static void exco__local_task_wake(void *ext);
static void exco__local_timer_arm(void *data, uint64_t due);

const exco_driver_ops exco__local_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "local",
    .task_new = exco__local_task_new,
    .task_run = exco__local_task_run,
    .task_wake = exco__local_task_wake,
    .timer_arm = exco__local_timer_arm,
};

int exco__local_new(exco_executor *ex, struct exco__local **out) {
  struct exco__local *l = exco__malloc(sizeof(*l));
  pthread_condattr_t attr;

  if (l == NULL)
    return EXCO_ENOMEM;
  if (pthread_mutex_init(&l->lock, NULL) != 0) {
    exco__free(l);
    return EXCO_ENOMEM;
  }
  if (pthread_condattr_init(&attr) != 0) {
    pthread_mutex_destroy(&l->lock);
    exco__free(l);
    return EXCO_ENOMEM;
  }
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (pthread_cond_init(&l->cond, &attr) != 0) {
    pthread_condattr_destroy(&attr);
    pthread_mutex_destroy(&l->lock);
    exco__free(l);
    return EXCO_ENOMEM;
  }
  pthread_condattr_destroy(&attr);
  l->ex = ex;
  exco__fifo_init(&l->ready);
  l->tasks = 0;
  l->sleepers = 0;
  l->runners = 0;
  l->has_home = 0;
  l->closed = 0;
  l->due = UINT64_MAX;
  *out = l;
  return 0;
}

void exco__local_free(struct exco__local *l) {
  pthread_cond_destroy(&l->cond);
  pthread_mutex_destroy(&l->lock);
  exco__free(l);
}

static void *exco__local_task_new(void *data) {
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

static void exco__local_task_run(void *ext, exco_task *intern) {
  exco__local_node *n = ext;

  n->task = intern;
  exco__local_push(n);
}

static void exco__local_task_wake(void *ext) {
  exco__local_push(ext);
}

static void exco__local_timer_arm(void *data, uint64_t due) {
  struct exco__local *l = data;

  pthread_mutex_lock(&l->lock);
  l->due = due;
  if (l->sleepers > 0)
    pthread_cond_signal(&l->cond);
  pthread_mutex_unlock(&l->lock);
}

/* Fires the due timers, if any; l->lock held on entry and exit.  The
 * timer queue's lock is taken without l->lock held: firing wakes tasks,
 * which takes l->lock. */
static void exco__local_fire(struct exco__local *l) {
  if (l->due == UINT64_MAX || l->due > exco__now_ns())
    return;
  l->due = UINT64_MAX;
  pthread_mutex_unlock(&l->lock);
  exco__timers_fire(&l->ex->own_timers);
  pthread_mutex_lock(&l->lock);
}

/*
 * As exco__runq_prefetch(): the node after @fn and @fn's task while the
 * current task runs (the node itself was asked for a step before), so
 * that with many tasks a resume doesn't wait on node, task and stack in
 * turn.
 */
static inline void exco__local_prefetch(exco__fifo_node *fn) {
  exco__local_node *n = exco__container_of(fn, exco__local_node, link);

  if (fn->next != NULL)
    __builtin_prefetch(fn->next, 0);
  __builtin_prefetch(n->task, 1);
  exco__ctx_prefetch(&n->task->ctx);
}

void exco__local_closed(struct exco__local *l) {
  int now;

  pthread_mutex_lock(&l->lock);
  l->closed = 1;
  now = l->runners == 0;
  pthread_mutex_unlock(&l->lock);
  if (now)
    exco__executor_destroy(l->ex);
}

/* Polls every task that was ready when it started; tasks woken meanwhile
 * wait for the next round, so a yielding task can't starve the rest.
 * Returns the number of tasks not yet dropped.  Called with l->lock held;
 * returns with it held. */
/*
 * One round: polls the tasks that were ready when it began.  A task that
 * yields stays claimed (exco__task_poll()'s keep) and goes on a list of
 * the round's own, without the lock: a yield costs no lock and no wake.
 * While the round has polled fewer than EXCO__LOCAL_PASS tasks, it polls
 * that list again (a few tasks yielding to each other take the lock once
 * every EXCO__LOCAL_PASS polls); then the list joins the ready queue,
 * behind the tasks woken meanwhile, and timers and wakes are looked at
 * again.
 */
enum { EXCO__LOCAL_PASS = 64 };

/* A round's own state, which a yield's turn (below) shares. */
typedef struct exco__round_state {
  exco__fifo batch; /* the pass in progress */
  exco__fifo again; /* yielded during the round, for the next pass */
  long polls;
  exco__local_node *cur; /* the node of exco__inplace.cur */
  int watch;
} exco__round_state;

/* The next node the round polls, with the pass's end applied; NULL if the
 * round ends.  Doesn't take it. */
static exco__fifo_node *exco__local_peek(const exco__round_state *r) {
  if (r->batch.head != NULL)
    return r->batch.head;
  return r->polls < EXCO__LOCAL_PASS ? r->again.head : NULL;
}

/* Takes the next node (exco__local_peek() said which) as the one polled. */
static exco__local_node *exco__local_take(exco__round_state *r) {
  exco__fifo_node *fn;

  if (r->batch.head == NULL) {
    r->batch = r->again;
    exco__fifo_init(&r->again);
  }
  fn = exco__fifo_pop(&r->batch);
  if (r->batch.head != NULL)
    exco__local_prefetch(r->batch.head);
  r->polls++;
  r->cur = exco__container_of(fn, exco__local_node, link);
  return r->cur;
}

/*
 * exco__inplace.turn for a yield of @a, the task this round resumed (see
 * exco__inplace in switch.h): what the round would do after @a's kept
 * yield, done without leaving @a's stack.  Returns @a to go on in place,
 * the next task to switch to directly (queued kept: it needs no claim), or
 * NULL to switch back to the round.
 */
static exco_task *exco__local_turn(exco__inplace *in, exco_task *a) {
  exco__round_state *r = in->turn_data;
  exco__fifo_node *fn;

  if (r->watch)
    return NULL;
  if (r->batch.head == NULL && r->again.head == NULL) {
    if (r->polls >= EXCO__LOCAL_PASS)
      return NULL;
    r->polls++;
    return a;
  }
#ifdef EXCO__YIELD_DIRECT
  /* The node the round would poll next, @a being queued behind the ones
   * queued now; a task that isn't kept needs the round's claim. */
  fn = exco__local_peek(r);
  if (fn == NULL ||
      !atomic_load_explicit(
          &exco__container_of(fn, exco__local_node, link)->task->kept,
          memory_order_relaxed))
    return NULL;
  exco__fifo_push(&r->again, &r->cur->link);
  return exco__local_take(r)->task;
#else
  (void)fn;
  return NULL;
#endif
}

static long exco__local_round(struct exco__local *l) {
  exco__round_state r;
  exco__local_node *n;
  exco_task *t;
  int res, saved_errno;
  exco__inplace in;

  exco__local_fire(l);
  r.batch = l->ready;
  exco__fifo_init(&l->ready);
  if (r.batch.head == NULL)
    return l->tasks;
  pthread_mutex_unlock(&l->lock);
  r.watch = atomic_load_explicit(&l->ex->watch_ns, memory_order_relaxed) != 0;
  r.polls = 0;
  r.cur = NULL;
  exco__fifo_init(&r.again);
  saved_errno = exco__kept_loop_enter();
  in.q = NULL;
  in.left = 0;
  in.turn = exco__local_turn;
  in.turn_data = &r;
  exco__tls_inplace = &in;
  while (exco__local_peek(&r) != NULL) {
    n = exco__local_take(&r);
    t = n->task;
    in.cur = t;
    res = atomic_load_explicit(&t->kept, memory_order_relaxed)
              ? exco__task_poll_kept(t, r.watch)
              : exco__task_poll(t, 1);
    /* The task that came back, after any direct switches. */
    n = r.cur;
    t = n->task;
    if (res == 2) {
      exco__fifo_push(&r.again, &n->link);
    } else if (res == 0) {
      exco__task_drop_finished(t);
      exco__free(n);
      pthread_mutex_lock(&l->lock);
      l->tasks--;
      pthread_mutex_unlock(&l->lock);
    }
  }
  exco__tls_inplace = NULL;
  exco__kept_loop_leave(saved_errno);
  pthread_mutex_lock(&l->lock);
  if (r.again.head != NULL) {
    exco__fifo_concat(&l->ready, &r.again);
    if (l->sleepers > 0)
      pthread_cond_signal(&l->cond);
  }
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
  if ((*ex)->kind != EXCO__KIND_LOCAL)
    return EXCO_ENOTSUP;
  return 0;
}

/*
 * The start of a run, with l->lock held (released on failure).  Without
 * migration the executor is run by one thread: the first runner's, until
 * a run ends with no task left (the tasks are pinned to it).
 */
static int exco__local_enter(struct exco__local *l) {
  if (!l->ex->migrate) {
    if (!l->has_home) {
      l->home = pthread_self();
      l->has_home = 1;
    } else if (!pthread_equal(l->home, pthread_self())) {
      pthread_mutex_unlock(&l->lock);
      return EXCO_EXDEV;
    }
  }
  l->runners++;
  return 0;
}

/* The end of a run: the last runner out frees a closed executor. */
static void exco__local_leave(struct exco__local *l) {
  int destroy = --l->runners == 0 && l->closed;

  /* Nothing left pinned to this thread: the next runner may be any. */
  if (l->runners == 0 && l->tasks == 0)
    l->has_home = 0;

  pthread_mutex_unlock(&l->lock);
  if (destroy)
    exco__executor_destroy(l->ex);
}

int exco_run_until_idle(exco_executor *ex) {
  struct exco__local *l;
  long left;
  int err = exco__local_get(&ex);

  if (err != 0)
    return err;
  l = ex->local;
  pthread_mutex_lock(&l->lock);
  if ((err = exco__local_enter(l)) != 0)
    return err;
  while ((left = exco__local_round(l)) < 0)
    ;
  exco__local_leave(l);
  return left > INT32_MAX ? INT32_MAX : (int)left;
}

int exco_run(exco_executor *ex) {
  struct exco__local *l;
  struct timespec ts;
  int err = exco__local_get(&ex);

  if (err != 0)
    return err;
  l = ex->local;
  pthread_mutex_lock(&l->lock);
  if ((err = exco__local_enter(l)) != 0)
    return err;
  for (;;) {
    if (exco__local_round(l) < 0)
      continue;
    if (l->tasks == 0)
      break;
    /* Every live task waits on something outside this thread or on a
     * timer: sleep until one of them is woken or the timer is due. */
    l->sleepers++;
    while (exco__fifo_empty(&l->ready) && l->due > exco__now_ns()) {
      if (l->due == UINT64_MAX) {
        pthread_cond_wait(&l->cond, &l->lock);
      } else {
        ts.tv_sec = (time_t)(l->due / 1000000000u);
        ts.tv_nsec = (long)(l->due % 1000000000u);
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
      }
    }
    l->sleepers--;
  }
  exco__local_leave(l);
  return 0;
}
