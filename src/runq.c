/*
 * runq.c -- the shared run queue that drivers reuse (see exco/driver.h):
 * a ready queue for wakes on the loop thread, a lock-free list for wakes
 * from other threads with one notification per empty -> non-empty
 * transition, budgeted polling, and the live count behind keepalive.
 *
 *   - A wake on the loop thread appends the task to the ready queue and,
 *     if the queue was not scheduled yet, calls the driver's schedule:
 *     O(1), no system call, no lock.
 *   - A wake from another thread pushes the task onto a Treiber stack and
 *     calls notify only when that stack was empty, so a storm of wakes
 *     costs one notification per loop iteration.  exco_driver_accept()
 *     moves the stack, oldest first, onto the ready queue.
 *   - exco_driver_run() polls at most `budget` tasks per call, then lets
 *     the host run its I/O and timers.
 *
 * The tasks are their own nodes (exco_task.rq_next, for either list), so
 * spawning allocates nothing here.  A task is on at most one list at a
 * time and on none once it has finished: exco calls task_wake only on the
 * NOTIFIED bit's 0 -> 1 transition, which a poll clears when it starts,
 * and never once DONE is set.  The queue owns the polls and drops of its
 * tasks (exco_poll() and exco_drop() refuse them), so nothing else can
 * free a task while it is queued.
 */
#include "config.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "exco-internal.h"
#include "resume.h"
#include "runq.h"

int exco__runq_new(exco_executor *ex, struct exco__runq **out) {
  struct exco__runq *q = exco__malloc(sizeof(*q));

  if (q == NULL)
    return EXCO_ENOMEM;
  q->ex = ex;
  q->ops = ex->ops;
  q->data = ex->data;
  q->owner = pthread_self();
  q->scheduled = 0;
  q->alive = 0;
  q->live = 0;
  q->head = NULL;
  q->nready = 0;
  q->tailp = &q->head;
  atomic_init(&q->remote, NULL);
  atomic_init(&q->remote_new, 0);
  atomic_init(&q->closing, 0);
  atomic_init(&q->closed, 0);
  atomic_init(&q->closers, 0);
  *out = q;
  return 0;
}

void exco__runq_free(struct exco__runq *q) {
  exco__free(q);
}

static int exco__runq_on_loop(const struct exco__runq *q) {
  return pthread_equal(pthread_self(), q->owner);
}

/* Loop thread: tells the driver whether anything keeps the executor
 * alive: live tasks, or a close still to finish. */
static void exco__runq_keepalive(struct exco__runq *q) {
  int want;

  /* A plain load first: the exchange is a locked instruction, and most
   * runs have no task spawned elsewhere to count. */
  if (atomic_load_explicit(&q->remote_new, memory_order_relaxed) != 0)
    q->live +=
        atomic_exchange_explicit(&q->remote_new, 0, memory_order_relaxed);
  want = q->live > 0 || atomic_load_explicit(&q->closing, memory_order_relaxed);
  if (want == q->alive)
    return;
  q->alive = want;
  if (q->ops->keepalive != NULL)
    q->ops->keepalive(q->data, want);
}

/* Loop thread: appends @t to the ready queue. */
static void exco__runq_push_local(struct exco__runq *q, exco_task *t) {
  exco__runq_append(q, t);
  q->nready++;
  if (!q->scheduled) {
    q->scheduled = 1;
    q->ops->schedule(q->data);
  }
}

/* Any other thread: pushes @t onto the cross-thread list; wakes the loop
 * only on the list's empty -> non-empty transition. */
static void exco__runq_push_remote(struct exco__runq *q, exco_task *t) {
  exco_task *old = atomic_load_explicit(&q->remote, memory_order_relaxed);

  do {
    t->rq_next = old;
  } while (!atomic_compare_exchange_weak_explicit(
      &q->remote, &old, t, memory_order_release, memory_order_relaxed));
  if (old == NULL)
    q->ops->notify(q->data);
}

void exco__runq_task_wake(void *ext) {
  exco_task *t = ext;
  struct exco__runq *q = t->ex->runq;

  if (exco__runq_on_loop(q))
    exco__runq_push_local(q, t);
  else
    exco__runq_push_remote(q, t);
}

void exco__runq_task_run(void *ext, exco_task *intern) {
  exco_task *t = ext;
  struct exco__runq *q = t->ex->runq;

  (void)intern;
  if (exco__runq_on_loop(q)) {
    if (q->live++ == 0)
      exco__runq_keepalive(q);
    exco__runq_push_local(q, t);
  } else {
    /* Counted when the loop thread takes it in (the push comes after the
     * increment, and the drain reads the list before the count). */
    atomic_fetch_add_explicit(&q->remote_new, 1, memory_order_relaxed);
    exco__runq_push_remote(q, t);
  }
}

/* Loop thread: moves the cross-thread list onto the ready queue, oldest
 * first. */
static void exco__runq_drain(struct exco__runq *q) {
  exco_task *t, *next, *rev = NULL;

  if (atomic_load_explicit(&q->remote, memory_order_relaxed) != NULL) {
    t = atomic_exchange_explicit(&q->remote, NULL, memory_order_acquire);
    while (t != NULL) {
      next = t->rq_next;
      t->rq_next = rev;
      rev = t;
      t = next;
    }
    for (t = rev; t != NULL; t = next) {
      next = t->rq_next;
      exco__runq_push_local(q, t);
    }
  }
  exco__runq_keepalive(q);
}

void exco__runq_closing(struct exco__runq *q) {
  atomic_store_explicit(&q->closing, 1, memory_order_relaxed);
  /* The close keeps the loop alive until it has finished.  On the loop
   * thread that is done at once: a loop with nothing else to do would
   * otherwise return before it ever took in the notify below (libuv's
   * uv_run() and libev's ev_run() return at once without a referenced
   * handle).  Another thread has the loop thread take it in. */
  if (exco__runq_on_loop(q))
    exco__runq_keepalive(q);
  q->ops->notify(q->data);
}

/*
 * Any thread (the last stake may be a stack hold released elsewhere).  Once
 * closed is set, the loop may free the queue and the driver's data; the
 * count of closers tells it to wait until this notify has returned (a few
 * instructions of the driver's code), as exco_drop() waits for wakes.
 */
void exco__runq_closed(struct exco__runq *q) {
  atomic_fetch_add_explicit(&q->closers, 1, memory_order_seq_cst);
  atomic_store_explicit(&q->closed, 1, memory_order_seq_cst);
  q->ops->notify(q->data);
  atomic_fetch_sub_explicit(&q->closers, 1, memory_order_release);
}

static void exco__runq_check_thread(const struct exco__runq *q) {
  /* A loop run on another thread than its executor's creator would make
   * "local" wakes race with the loop.  That is a usage error the queue
   * can't survive; say so instead of corrupting it. */
  if (!exco__runq_on_loop(q)) {
    fprintf(stderr,
            "exco: executor of driver %s is run on a thread other than "
            "the one that created it\n",
            q->ops->name != NULL ? q->ops->name : "(unnamed)");
    abort();
  }
}

static struct exco__runq *exco__runq_of(exco_executor *ex) {
  if (!exco__executor_valid(ex) || ex->kind != EXCO__KIND_RUNQ)
    return NULL;
  return ex->runq;
}

int exco_driver_accept(exco_executor *ex) {
  struct exco__runq *q = exco__runq_of(ex);

  if (q == NULL)
    return EXCO_EINVAL;
  exco__runq_check_thread(q);
  if (atomic_load_explicit(&q->closed, memory_order_seq_cst)) {
    while (atomic_load_explicit(&q->closers, memory_order_acquire) != 0)
      sched_yield();
    exco__executor_destroy(ex);
    return 1;
  }
  exco__runq_drain(q);
  return 0;
}

int exco_driver_run(exco_executor *ex, unsigned budget) {
  struct exco__runq *q = exco__runq_of(ex);
  long n;
  exco_task *t;
  int r, watch, saved_errno;
  exco__inplace in;

  if (q == NULL)
    return EXCO_EINVAL;
  exco__runq_check_thread(q);
  if (exco__current() != NULL)
    return EXCO_EBUSY;
  exco__runq_drain(q);
  watch = atomic_load_explicit(&ex->watch_ns, memory_order_relaxed) != 0;
  saved_errno = exco__kept_loop_enter();
  in.q = q;
  in.turn = NULL;
  in.turn_data = NULL;
  exco__tls_inplace = &in;
  /* Budget 0: the tasks that are ready now, one poll each. */
  n = budget != 0 ? (long)budget : q->nready;
  while (n > 0 && q->head != NULL) {
    t = exco__runq_pop(q);
    q->nready--;
    n--;
    /* Yields in place while nothing else is ready take from the budget
     * (the watchdog, which times each poll, gets real ones). */
    in.cur = t;
    in.left = watch ? 0 : n;
    r = atomic_load_explicit(&t->kept, memory_order_relaxed)
            ? exco__task_poll_kept(t, watch)
            : exco__task_poll(t, 1);
    n = in.left;
    t = in.cur; /* the task that came back (see exco__inplace) */
    if (r == 2) {
      /* A yield: queued again at once, still claimed.  The queue is
       * scheduled (we are in its run), so nothing reaches the host. */
      exco__runq_push_local(q, t);
    } else if (r == 0) {
      exco__task_drop_finished(t);
      if (--q->live == 0)
        exco__runq_keepalive(q);
    }
  }
  exco__tls_inplace = NULL;
  exco__kept_loop_leave(saved_errno);
  if (q->nready == 0)
    q->scheduled = 0;
  return q->nready > INT32_MAX ? INT32_MAX : (int)q->nready;
}

long exco_driver_live(exco_executor *ex) {
  struct exco__runq *q = exco__runq_of(ex);

  if (q == NULL)
    return EXCO_EINVAL;
  return q->live + atomic_load_explicit(&q->remote_new, memory_order_relaxed);
}
