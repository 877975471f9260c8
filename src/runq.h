/*
 * runq.h -- the shared run queue's state (runq.c), for the one part of it
 * that runs on a coroutine's side: exco_yield()'s direct switch
 * (await.c), which takes the queue's next task itself.
 */
#ifndef EXCO_RUNQ_H
#define EXCO_RUNQ_H

#include "exco-internal.h"

struct exco__runq {
  exco_executor *ex;
  const exco_driver_ops *ops;
  void *data;      /* the driver's */
  pthread_t owner; /* the loop thread */
  int scheduled;   /* schedule was called and run not yet idle */
  int alive;       /* what keepalive was last told */
  long live;       /* tasks counted on the loop thread */
  exco_task *head; /* ready queue */
  long nready;     /* tasks on it */
  exco_task **tailp;
  /* Written by other threads: kept off the loop thread's cache lines. */
  char pad1[64];
  _Atomic(exco_task *) remote; /* cross-thread wakes, newest first */
  atomic_long remote_new;      /* tasks spawned on other threads, not yet in
                               live */
  atomic_int closing;          /* exco_executor_close() was called */
  atomic_int closed;           /* ... and its last task is gone */
  atomic_int closers;          /* threads inside the closed notify */
  char pad2[64];
};

/*
 * Starts loading what the next resumes will touch while this one runs:
 * with many tasks each resume would otherwise wait on a chain of misses
 * (the task's first line, then its saved stack pointer, then the stack).
 * Two steps ahead for the task (@next's successor), one for the stack of
 * @next, whose line the step before asked for.  A task not started yet
 * has no saved stack; a prefetch of whatever its pointer says is harmless.
 */
static inline void exco__runq_prefetch(exco_task *next) {
  exco_task *after = next->rq_next;

  if (after != NULL)
    __builtin_prefetch(after, 1);
  exco__ctx_prefetch(&next->ctx);
}

/* Loop thread: appends @t to the ready queue (the count and the
 * driver's schedule are the caller's). */
static inline void exco__runq_append(struct exco__runq *q, exco_task *t) {
  t->rq_next = NULL;
  *q->tailp = t;
  q->tailp = &t->rq_next;
}

/* Loop thread: takes the ready queue's head, which must not be NULL, and
 * prefetches for the one after it (the count is the caller's). */
static inline exco_task *exco__runq_pop(struct exco__runq *q) {
  exco_task *t = q->head;

  q->head = t->rq_next;
  if (q->head == NULL)
    q->tailp = &q->head;
  else
    exco__runq_prefetch(q->head);
  return t;
}

/*
 * Loop thread, inside exco_driver_run(): appends @a, a yielding task, to
 * the ready queue and takes the queue's head, as the loop would after
 * @a's kept yield.  The queue is scheduled already (we are in its run).
 * The head must not be NULL.
 */
static inline exco_task *exco__runq_turn(struct exco__runq *q, exco_task *a) {
  exco__runq_append(q, a);
  return exco__runq_pop(q);
}

#endif
