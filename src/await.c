/*
 * await.c -- the coroutine's side: exco_await() and exco_yield(), joins,
 * stack holds, sleeps and deadlines.
 *
 * Everything here runs on a coroutine's stack (exco_hold_release() aside)
 * and suspends through exco__switch_suspend().  A deadline is one more
 * timer on the executor's queue, armed only while an await with a
 * deadline in force is pending, so awaits without one pay a single load.
 */
#include "config.h"

#include "runq.h"
#include "switch.h"

void exco__task_suspend(exco_task *t) {
  exco__switch_suspend(t);
}

/* ---------------------------------------------------------------------- */
/* Await                                                                   */
/* ---------------------------------------------------------------------- */

/*
 * The rest of exco_await() when a deadline is in force: the deadline's
 * timer is armed while the future is pending.  A future found ready after
 * a wake wins over the deadline; a cancellation wins over both.
 */
static int exco__await_deadline(exco_task *t, exco_poll_fn poll,
                                exco_cancel_fn cancel, void *arg) {
  exco__timers *q = t->ex->timers;
  exco__timer tm;
  int err = 0;

  exco__timer_arm(q, &tm, exco__ms_to_due(t->deadline), t);
  for (;;) {
    exco__switch_suspend(t);
    if (exco__task_cancelled(t)) {
      err = EXCO_ECANCELED;
      break;
    }
    if (poll(arg, (exco_waker *)t))
      break;
    if (atomic_load_explicit(&tm.fired, memory_order_acquire)) {
      err = EXCO_ETIMEDOUT;
      break;
    }
  }
  exco__timer_disarm(q, &tm);
  if (err != 0 && cancel != NULL)
    cancel(arg);
  return err;
}

/* The suspending part of exco_await(). */
static int exco__await_pending(exco_task *t, exco_poll_fn poll,
                               exco_cancel_fn cancel, void *arg) {
  if (t->deadline != EXCO_NO_DEADLINE)
    return exco__await_deadline(t, poll, cancel, arg);
  do {
    exco__switch_suspend(t);
    if (exco__task_cancelled(t)) {
      if (cancel != NULL)
        cancel(arg);
      return EXCO_ECANCELED;
    }
  } while (!poll(arg, (exco_waker *)t));
  return 0;
}

int exco_await(exco_poll_fn poll, exco_cancel_fn cancel, void *arg) {
  exco_task *t = exco__current();
  int err = 0;

  if (t == NULL)
    return EXCO_EPERM;
  if (poll == NULL)
    return EXCO_EINVAL;
  if (exco__task_cancelled(t))
    err = EXCO_ECANCELED;
  else if (!poll(arg, (exco_waker *)t)) {
    /* Listings say what a suspended task waits for (debug.c). */
    if (atomic_load_explicit(&t->wait_kind, memory_order_relaxed) == NULL)
      atomic_store_explicit(&t->wait_kind, "await", memory_order_relaxed);
    err = exco__await_pending(t, poll, cancel, arg);
  }
  exco__await_unlabel(t);
  return err;
}

static inline void exco__count_poll(exco_task *t) {
  atomic_store_explicit(
      &t->polls, atomic_load_explicit(&t->polls, memory_order_relaxed) + 1,
      memory_order_relaxed);
}

/*
 * The yields that a kept-yield loop resuming @t would answer without
 * anything of the host's in between (see exco__inplace in switch.h):
 * with no other task ready, @t goes on, counted as the poll it stands
 * for; on the run queue, with another kept task at the queue's head, @t
 * is queued again and that task resumed straight from here.  Returns 0
 * if the yield is to switch to the loop instead.
 */
static inline int exco__yield_in_place(exco_task *t) {
  exco__inplace *l = exco__tls_inplace;
  exco_task *next;

  if (l == NULL || l->cur != t)
    return 0;
  if (l->turn != NULL) {
    /* The local executor's round. */
    if ((next = l->turn(l, t)) == NULL)
      return 0;
    if (next == t) {
      exco__count_poll(t);
      return 1;
    }
  } else {
    /* The run queue. */
    if (l->left <= 0)
      return 0;
    if (l->q->head == NULL) {
      l->left--;
      exco__count_poll(t);
      return 1;
    }
#ifdef EXCO__YIELD_DIRECT
    if (!atomic_load_explicit(&l->q->head->kept, memory_order_relaxed))
      return 0;
    /* What the loop does after a kept yield and before the next kept
     * task's resume (runq.c, resume.h), done from here. */
    next = exco__runq_turn(l->q, t);
    l->left--;
#else
    return 0;
#endif
  }
#ifdef EXCO__YIELD_DIRECT
  atomic_store_explicit(&t->wait_kind, "yield", memory_order_relaxed);
  atomic_store_explicit(&t->kept, 1, memory_order_relaxed);
  l->cur = next;
  atomic_store_explicit(&next->kept, 0, memory_order_relaxed);
  exco__count_poll(next);
  exco__switch_direct(t, next);
  /* Resumed by the loop or by another task's yield; @l may be gone. */
  exco__await_unlabel(t);
  return 1;
#else
  return 0;
#endif
}

int exco_yield(void) {
  exco_task *t = exco__current();

  if (t == NULL)
    return EXCO_EPERM;
  if (exco__task_cancelled(t))
    return EXCO_ECANCELED;
  if (exco__yield_in_place(t))
    return exco__task_cancelled(t) ? EXCO_ECANCELED : 0;
  /* A wake of a running task only marks it, and the poll reschedules it
   * through the host once we have switched out.  Only this thread touches
   * the mark while the task runs, so it needs no atomic operation here;
   * the poll publishes it in the state word. */
  t->yielded = 1;
  atomic_store_explicit(&t->wait_kind, "yield", memory_order_relaxed);
  exco__switch_suspend(t);
  exco__await_unlabel(t);
  return exco__task_cancelled(t) ? EXCO_ECANCELED : 0;
}

/* ---------------------------------------------------------------------- */
/* Calls on the host's stack                                               */
/* ---------------------------------------------------------------------- */

int exco_host_call(void (*fn)(void *arg), void *arg) {
  exco_task *t;

  if (fn == NULL)
    return EXCO_EINVAL;
  t = exco__current();
  if (t == NULL) {
    /* Already on a thread's own stack. */
    fn(arg);
    return 0;
  }
  /* The poller that resumed us runs fn when we switch out, then resumes
   * us at once (exco__resume() in task.c): the task stays RUNNING, so no
   * wake, cancellation or deadline can come between. */
  t->host_fn = fn;
  t->host_arg = arg;
  exco__switch_suspend(t);
  *exco__errno_ptr() = t->host_errno;
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Sleeps and deadlines                                                    */
/* ---------------------------------------------------------------------- */

typedef struct exco__sleep {
  exco__timer tm;
  int polled; /* the first poll, before any suspension, has been */
} exco__sleep;

/*
 * Ready once the timer fired, but never at the first poll: a sleep always
 * suspends once, even when a helper thread fired a past due time before
 * it got here.  Pending at the first poll is safe: the timer is armed
 * already, and its wake, even one that came while the task was running,
 * brings another poll.
 */
static int exco__sleep_poll(void *arg, exco_waker *w) {
  exco__sleep *s = arg;

  (void)w;
  if (!s->polled) {
    s->polled = 1;
    return 0;
  }
  return atomic_load_explicit(&s->tm.fired, memory_order_acquire);
}

static int exco__sleep_due(uint64_t due) {
  exco_task *t = exco__current();
  exco__sleep s;
  int err;

  if (t == NULL)
    return EXCO_EPERM;
  if (exco__task_cancelled(t))
    return EXCO_ECANCELED;
  s.polled = 0;
  atomic_store_explicit(&t->wait_kind, "sleep", memory_order_relaxed);
  exco__timer_arm(t->ex->timers, &s.tm, due, t);
  err = exco_await(exco__sleep_poll, NULL, &s);
  exco__timer_disarm(t->ex->timers, &s.tm);
  return err;
}

int exco_sleep(uint64_t ms) {
  uint64_t now = exco__now_ns();
  uint64_t span =
      ms < (UINT64_MAX - now) / 1000000u ? ms * 1000000u : UINT64_MAX - now;

  return exco__sleep_due(now + span);
}

int exco_sleep_until(int64_t deadline) {
  return exco__sleep_due(exco__ms_to_due(deadline));
}

int exco_deadline_set(int64_t deadline, int64_t *prev) {
  exco_task *t = exco__current();

  if (t == NULL)
    return EXCO_EPERM;
  if (prev != NULL)
    *prev = t->deadline;
  t->deadline = deadline;
  return 0;
}

int exco_deadline_after(uint64_t ms, int64_t *prev) {
  exco_task *t = exco__current();
  int64_t now = exco_now(), d;

  if (t == NULL)
    return EXCO_EPERM;
  d = ms < (uint64_t)(INT64_MAX - now) ? now + (int64_t)ms : INT64_MAX - 1;
  if (prev != NULL)
    *prev = t->deadline;
  if (d < t->deadline)
    t->deadline = d;
  return 0;
}

int64_t exco_deadline_get(void) {
  exco_task *t = exco__current();

  return t != NULL ? t->deadline : EXCO_NO_DEADLINE;
}

/* ---------------------------------------------------------------------- */
/* Join                                                                    */
/* ---------------------------------------------------------------------- */

/* The finisher publishes DONE and then broadcasts without the lock
 * (exco__waitq_broadcast()): both sides sequentially consistent. */
static int exco__join_ready(void *arg) {
  exco_task *target = arg;

  return (atomic_load_explicit(&target->state, memory_order_seq_cst) &
          EXCO__DONE) != 0;
}

int exco_join(exco_task *task, void **result) {
  exco_task *cur = exco__current();
  exco__waiter w;
  int err;

  if (cur == NULL)
    return EXCO_EPERM;
  if (!exco__task_valid(task))
    return EXCO_EINVAL;
  if (task == cur)
    return EXCO_EDEADLK;
  if (exco__task_cancelled(cur))
    return EXCO_ECANCELED;
  if (!exco__join_ready(task)) {
    atomic_store_explicit(&cur->wait_kind, "join", memory_order_relaxed);
    err = exco__waitq_wait(&task->joiners, &w, exco__join_ready, task);
    if (err != 0)
      return err;
  }
  if (result != NULL)
    *result = task->u.result;
  return task->was_cancelled ? EXCO_ECANCELED : 0;
}

/* ---------------------------------------------------------------------- */
/* Stack holds                                                             */
/* ---------------------------------------------------------------------- */

exco_hold *exco_hold_stack(void) {
  exco_task *t = exco__current();

  if (t == NULL)
    return NULL;
  atomic_fetch_add_explicit(&t->holds, 1, memory_order_relaxed);
  exco__task_ref(t);
  return (exco_hold *)t;
}

void exco_hold_release(exco_hold *hold) {
  exco_task *t = (exco_task *)hold;

  if (t == NULL)
    return;
  exco__task_unhold(t);
  exco__task_unref(t);
}
