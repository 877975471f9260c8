/*
 * test-sync.c -- mutexes, condition variables, semaphores and wait
 * groups: arguments, FIFO handoff, deadlines, cancellation at each
 * suspension point (a waiter handed something passes it on), and
 * multi-thread stress with exact counts.
 */
#include "harness.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exco/sync.h"

/* ---------------------------------------------------------------------- */
/* Arguments                                                               */
/* ---------------------------------------------------------------------- */

typedef struct args_seen {
  int lock, relock, trylock, unlock, unlock2, cwait, free_busy;
} args_seen;

static void *fn_args(void *arg) {
  args_seen *a = arg;
  exco_mutex *m;
  exco_cond *cv;

  exco_mutex_new(&m);
  exco_cond_new(&cv);
  a->lock = exco_mutex_lock(m);
  a->relock = exco_mutex_lock(m);
  a->trylock = exco_mutex_trylock(m);
  a->free_busy = exco_mutex_free(m);
  a->unlock = exco_mutex_unlock(m);
  a->unlock2 = exco_mutex_unlock(m);
  a->cwait = exco_cond_wait(cv, m); /* not held */
  exco_mutex_free(m);
  exco_cond_free(cv);
  return NULL;
}

START_TEST(bad_arguments) {
  exco_executor *ex;
  exco_mutex *m;
  exco_cond *cv;
  exco_sem *s;
  exco_waitgroup *wg;
  args_seen a;

  ck_assert_int_eq(exco_mutex_new(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_cond_new(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_sem_new(NULL, 1), EXCO_EINVAL);
  ck_assert_int_eq(exco_sem_new(&s, -1), EXCO_EINVAL);
  ck_assert_int_eq(exco_waitgroup_new(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_mutex_free(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_cond_free(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_sem_free(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_waitgroup_free(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_mutex_lock(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_mutex_trylock(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_mutex_unlock(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_cond_wait(NULL, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_cond_signal(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_cond_broadcast(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_sem_acquire(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_sem_try_acquire(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_sem_release(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_sem_value(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_waitgroup_add(NULL, 1), EXCO_EINVAL);
  ck_assert_int_eq(exco_waitgroup_wait(NULL), EXCO_EINVAL);
  /* Outside a coroutine. */
  ck_assert_int_eq(exco_mutex_new(&m), 0);
  ck_assert_int_eq(exco_cond_new(&cv), 0);
  ck_assert_int_eq(exco_sem_new(&s, 0), 0);
  ck_assert_int_eq(exco_waitgroup_new(&wg), 0);
  ck_assert_int_eq(exco_mutex_lock(m), EXCO_EPERM);
  ck_assert_int_eq(exco_mutex_trylock(m), EXCO_EPERM);
  ck_assert_int_eq(exco_mutex_unlock(m), EXCO_EPERM);
  ck_assert_int_eq(exco_cond_wait(cv, m), EXCO_EPERM);
  ck_assert_int_eq(exco_cond_signal(cv), 0);
  ck_assert_int_eq(exco_cond_broadcast(cv), 0);
  ck_assert_int_eq(exco_sem_acquire(s), EXCO_EPERM);
  ck_assert_int_eq(exco_sem_try_acquire(s), EXCO_EAGAIN);
  ck_assert_int_eq(exco_sem_release(s), 0);
  ck_assert_int_eq(exco_sem_value(s), 1);
  ck_assert_int_eq(exco_sem_try_acquire(s), 0);
  ck_assert_int_eq(exco_waitgroup_wait(wg), EXCO_EPERM);
  ck_assert_int_eq(exco_waitgroup_add(wg, -1), EXCO_EINVAL);
  ck_assert_int_eq(exco_waitgroup_add(wg, LONG_MAX), 0);
  ck_assert_int_eq(exco_waitgroup_add(wg, 1), EXCO_EINVAL);
  ck_assert_int_eq(exco_waitgroup_add(wg, -LONG_MAX), 0);
  ck_assert_int_eq(exco_mutex_free(m), 0);
  ck_assert_int_eq(exco_cond_free(cv), 0);
  ck_assert_int_eq(exco_sem_free(s), 0);
  ck_assert_int_eq(exco_waitgroup_free(wg), 0);
  /* In one. */
  memset(&a, 0, sizeof(a));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_args, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(a.lock, 0);
  ck_assert_int_eq(a.relock, EXCO_EDEADLK);
  ck_assert_int_eq(a.trylock, EXCO_EBUSY);
  ck_assert_int_eq(a.free_busy, EXCO_EBUSY);
  ck_assert_int_eq(a.unlock, 0);
  ck_assert_int_eq(a.unlock2, EXCO_EPERM);
  ck_assert_int_eq(a.cwait, EXCO_EPERM);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Mutex                                                                   */
/* ---------------------------------------------------------------------- */

typedef struct locker {
  exco_mutex *m;
  int *order; /* appends its id when it gets the lock */
  int *n;
  int id;
  int hold;     /* suspend (yield) this many times while holding */
  int sleep_ms; /* then sleep this long while holding */
  int ms;       /* deadline for the lock; -1 none */
  int r;
  int done;
} locker;

static void *fn_locker(void *arg) {
  locker *l = arg;
  int64_t prev = 0;
  int i;

  if (l->ms >= 0)
    exco_deadline_after((uint64_t)l->ms, &prev);
  l->r = exco_mutex_lock(l->m);
  if (l->ms >= 0)
    exco_deadline_set(prev, NULL);
  if (l->r == 0) {
    l->order[(*l->n)++] = l->id;
    for (i = 0; i < l->hold; i++)
      exco_yield();
    if (l->sleep_ms > 0)
      exco_sleep((uint64_t)l->sleep_ms);
    exco_mutex_unlock(l->m);
  }
  l->done = 1;
  return NULL;
}

static void locker_init(locker *l, exco_mutex *m, int *order, int *n, int id) {
  memset(l, 0, sizeof(*l));
  l->m = m;
  l->order = order;
  l->n = n;
  l->id = id;
  l->ms = -1;
}

/* Waiters get the lock in arrival order; a release hands it over, so a
 * trylock in between finds it taken. */
START_TEST(mutex_fifo_handoff) {
  h_host h;
  exco_mutex *m;
  locker l[4];
  int order[4], n = 0, i;

  h_host_init(&h);
  ck_assert_int_eq(exco_mutex_new(&m), 0);
  for (i = 0; i < 4; i++) {
    locker_init(&l[i], m, order, &n, i);
    l[i].hold = 2;
    ck_assert_int_eq(exco_spawn(h.ex, fn_locker, &l[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(h_host_run(&h), 0);
  ck_assert_int_eq(n, 4);
  for (i = 0; i < 4; i++) {
    ck_assert_int_eq(l[i].r, 0);
    ck_assert_int_eq(order[i], i);
  }
  ck_assert_int_eq(exco_mutex_free(m), 0);
  h_host_destroy(&h);
}
END_TEST

/* A waiter handed the mutex and then cancelled, or dropped, passes it on.
 * _i: 0 cancel, 1 drop, 2 cancelled while waiting before the handoff. */
START_TEST(mutex_cancelled_waiter_passes_on) {
  h_host h;
  exco_mutex *m;
  exco_task *tb;
  locker a, b, c;
  h_ext *ea, *eb, *ec;
  int order[3], n = 0;

  h_host_init(&h);
  ck_assert_int_eq(exco_mutex_new(&m), 0);
  locker_init(&a, m, order, &n, 0);
  locker_init(&b, m, order, &n, 1);
  locker_init(&c, m, order, &n, 2);
  a.hold = 1;
  ck_assert_int_eq(exco_spawn(h.ex, fn_locker, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_locker, &b, NULL, &tb), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_locker, &c, NULL, NULL), 0);
  ea = h_host_pop(&h);
  eb = h_host_pop(&h);
  ec = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, ea), 1); /* holds, yields */
  ck_assert_int_eq(h_host_poll(&h, eb), 1); /* waits */
  ck_assert_int_eq(h_host_poll(&h, ec), 1); /* waits */
  if (_i == 2)
    ck_assert_int_eq(exco_task_cancel(tb), 0);
  ck_assert_ptr_eq(h_host_pop(&h), ea);
  ck_assert_int_eq(h_host_poll(&h, ea), 0); /* unlocks: b's turn */
  ck_assert_int_eq(h_host_drop(&h, ea), 0);
  if (_i == 0)
    ck_assert_int_eq(exco_task_cancel(tb), 0);
  else if (_i == 1)
    ck_assert_int_eq(h_host_drop(&h, eb), 0);
  ck_assert_int_eq(h_host_run(&h), 0);
  ck_assert_int_eq(b.r, EXCO_ECANCELED);
  ck_assert_int_eq(c.r, 0);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(order[1], 2);
  exco_task_release(tb);
  ck_assert_int_eq(exco_mutex_free(m), 0);
  h_host_destroy(&h);
}
END_TEST

START_TEST(mutex_deadline) {
  exco_executor *ex;
  exco_mutex *m;
  locker a, b;
  int order[2], n = 0;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_mutex_new(&m), 0);
  locker_init(&a, m, order, &n, 0);
  locker_init(&b, m, order, &n, 1);
  /* a holds the mutex across a sleep that ends after b's deadline
   * (timers fire in due order). */
  a.sleep_ms = 60;
  b.ms = 20;
  ck_assert_int_eq(exco_spawn(ex, fn_locker, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_locker, &b, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(b.r, EXCO_ETIMEDOUT);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(exco_mutex_free(m), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Condition variable                                                      */
/* ---------------------------------------------------------------------- */

typedef struct cvq {
  exco_mutex *m;
  exco_cond *cv;
  int items; /* guarded by m */
  int taken;
  int r[4];
  int held_after[4]; /* the mutex was held when wait returned */
  int done;
} cvq;

typedef struct cvw {
  cvq *q;
  int id;
} cvw;

static void *fn_cond_take(void *arg) {
  cvw *w = arg;
  cvq *q = w->q;
  int r;

  if (exco_mutex_lock(q->m) != 0) {
    q->r[w->id] = -9999;
    return NULL;
  }
  while (q->items == 0) {
    r = exco_cond_wait(q->cv, q->m);
    q->r[w->id] = r;
    if (r != 0) {
      q->held_after[w->id] = r != EXCO_ECANCELED;
      if (r != EXCO_ECANCELED)
        exco_mutex_unlock(q->m);
      q->done++;
      return NULL;
    }
  }
  q->held_after[w->id] = 1;
  q->items--;
  q->taken++;
  exco_mutex_unlock(q->m);
  q->done++;
  return NULL;
}

/* Signal wakes one, broadcast the rest; a cancelled waiter that was
 * signalled passes the signal on; a cancelled wait returns without the
 * mutex. */
START_TEST(cond_signal_broadcast_cancel) {
  h_host h;
  cvq q;
  cvw w[4];
  exco_task *t[4];
  int i;

  memset(&q, 0, sizeof(q));
  h_host_init(&h);
  ck_assert_int_eq(exco_mutex_new(&q.m), 0);
  ck_assert_int_eq(exco_cond_new(&q.cv), 0);
  for (i = 0; i < 4; i++) {
    w[i].q = &q;
    w[i].id = i;
    ck_assert_int_eq(exco_spawn(h.ex, fn_cond_take, &w[i], NULL, &t[i]), 0);
  }
  ck_assert_int_eq(h_host_run_until_idle(&h), 4);
  ck_assert_int_eq(exco_cond_free(q.cv), EXCO_EBUSY);
  /* One item and a signal to waiter 0, which is cancelled before it runs:
   * the signal goes on to waiter 1. */
  q.items = 1; /* no task runs now: the host polls only below */
  ck_assert_int_eq(exco_cond_signal(q.cv), 1);
  ck_assert_int_eq(exco_task_cancel(t[0]), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 2);
  ck_assert_int_eq(q.r[0], EXCO_ECANCELED);
  ck_assert_int_eq(q.held_after[0], 0);
  ck_assert_int_eq(q.taken, 1);
  ck_assert_int_eq(q.r[1], 0);
  /* Two more items, one broadcast. */
  q.items = 2;
  ck_assert_int_eq(exco_cond_broadcast(q.cv), 2);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(q.taken, 3);
  ck_assert_int_eq(q.held_after[2] + q.held_after[3], 2);
  for (i = 0; i < 4; i++)
    exco_task_release(t[i]);
  ck_assert_int_eq(exco_cond_free(q.cv), 0);
  ck_assert_int_eq(exco_mutex_free(q.m), 0);
  h_host_destroy(&h);
}
END_TEST

typedef struct cvdl {
  exco_mutex *m;
  exco_cond *cv;
  int r, held;
} cvdl;

static void *fn_cond_deadline(void *arg) {
  cvdl *c = arg;
  int64_t prev;

  exco_mutex_lock(c->m);
  exco_deadline_after(20, &prev);
  c->r = exco_cond_wait(c->cv, c->m);
  exco_deadline_set(prev, NULL);
  c->held = exco_mutex_unlock(c->m) == 0;
  return NULL;
}

/* A timed-out condition wait returns with the mutex held. */
START_TEST(cond_deadline) {
  exco_executor *ex;
  cvdl c;

  memset(&c, 0, sizeof(c));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_mutex_new(&c.m), 0);
  ck_assert_int_eq(exco_cond_new(&c.cv), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_cond_deadline, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(c.r, EXCO_ETIMEDOUT);
  ck_assert_int_eq(c.held, 1);
  ck_assert_int_eq(exco_cond_free(c.cv), 0);
  ck_assert_int_eq(exco_mutex_free(c.m), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Semaphore and wait group                                                */
/* ---------------------------------------------------------------------- */

typedef struct semw {
  exco_sem *s;
  int r;
  int done;
} semw;

static void *fn_sem(void *arg) {
  semw *w = arg;

  w->r = exco_sem_acquire(w->s);
  w->done = 1;
  return NULL;
}

START_TEST(sem_handoff_and_cancel) {
  h_host h;
  exco_sem *s;
  semw w[3];
  exco_task *t[3];
  int i;

  memset(w, 0, sizeof(w));
  h_host_init(&h);
  ck_assert_int_eq(exco_sem_new(&s, 1), 0);
  for (i = 0; i < 3; i++) {
    w[i].s = s;
    ck_assert_int_eq(exco_spawn(h.ex, fn_sem, &w[i], NULL, &t[i]), 0);
  }
  ck_assert_int_eq(h_host_run_until_idle(&h), 2);
  ck_assert_int_eq(w[0].r, 0);
  ck_assert_int_eq(exco_sem_value(s), 0);
  ck_assert_int_eq(exco_sem_free(s), EXCO_EBUSY);
  /* A release hands the permit to w[1], which is cancelled before it
   * runs: the permit goes on to w[2], not back to the count. */
  ck_assert_int_eq(exco_sem_release(s), 0);
  ck_assert_int_eq(exco_sem_try_acquire(s), EXCO_EAGAIN);
  ck_assert_int_eq(exco_task_cancel(t[1]), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(w[1].r, EXCO_ECANCELED);
  ck_assert_int_eq(w[2].r, 0);
  ck_assert_int_eq(exco_sem_value(s), 0);
  for (i = 0; i < 3; i++)
    exco_task_release(t[i]);
  ck_assert_int_eq(exco_sem_free(s), 0);
  h_host_destroy(&h);
}
END_TEST

typedef struct wgw {
  exco_waitgroup *wg;
  int r;
} wgw;

static void *fn_wg_wait(void *arg) {
  wgw *w = arg;

  w->r = exco_waitgroup_wait(w->wg);
  return NULL;
}

static void *thread_wg_done(void *arg) {
  return (void *)(intptr_t)exco_waitgroup_done(arg);
}

START_TEST(waitgroup_wakes_all) {
  exco_executor *ex;
  exco_waitgroup *wg;
  wgw w[3];
  pthread_t th[3];
  int i;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_waitgroup_new(&wg), 0);
  ck_assert_int_eq(exco_waitgroup_add(wg, 3), 0);
  for (i = 0; i < 3; i++) {
    w[i].wg = wg;
    w[i].r = 1;
    ck_assert_int_eq(exco_spawn(ex, fn_wg_wait, &w[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(exco_run_until_idle(ex), 3);
  ck_assert_int_eq(exco_waitgroup_free(wg), EXCO_EBUSY);
  for (i = 0; i < 3; i++)
    h_thread_start(&th[i], thread_wg_done, wg);
  ck_assert_int_eq(exco_run(ex), 0);
  for (i = 0; i < 3; i++) {
    ck_assert_ptr_null(h_thread_join(th[i]));
    ck_assert_int_eq(w[i].r, 0);
  }
  /* At 0 a wait returns at once. */
  w[0].r = 1;
  ck_assert_int_eq(exco_spawn(ex, fn_wg_wait, &w[0], NULL, NULL), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 0);
  ck_assert_int_eq(w[0].r, 0);
  ck_assert_int_eq(exco_waitgroup_free(wg), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct wgdl {
  exco_waitgroup *wg;
  int ms; /* deadline; -1: none (cancelled instead) */
  int r;
} wgdl;

static void *fn_wg_deadline(void *arg) {
  wgdl *w = arg;
  int64_t prev;

  if (w->ms >= 0)
    exco_deadline_after((uint64_t)w->ms, &prev);
  w->r = exco_waitgroup_wait(w->wg);
  if (w->ms >= 0)
    exco_deadline_set(prev, NULL);
  return NULL;
}

/* A wait group's wait ends with the task's deadline or cancellation, and
 * leaves no waiter behind.  _i: 0 deadline, 1 cancel. */
START_TEST(waitgroup_gives_up) {
  h_host h;
  exco_task *t;
  wgdl w;

  memset(&w, 0, sizeof(w));
  h_host_init(&h);
  ck_assert_int_eq(exco_waitgroup_new(&w.wg), 0);
  ck_assert_int_eq(exco_waitgroup_add(w.wg, 1), 0);
  w.ms = _i ? -1 : 20;
  w.r = 1;
  ck_assert_int_eq(exco_spawn(h.ex, fn_wg_deadline, &w, NULL, &t), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 1);
  ck_assert_int_eq(exco_waitgroup_free(w.wg), EXCO_EBUSY);
  if (_i)
    ck_assert_int_eq(exco_task_cancel(t), 0);
  ck_assert_int_eq(h_host_run(&h), 0);
  ck_assert_int_eq(w.r, _i ? EXCO_ECANCELED : EXCO_ETIMEDOUT);
  exco_task_release(t);
  ck_assert_int_eq(exco_waitgroup_free(w.wg), 0);
  h_host_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Stress: a counter under the mutex, a pool under the semaphore           */
/* ---------------------------------------------------------------------- */

enum { MS_EXECS = 2, MS_TASKS = 8 };

typedef struct mstress {
  exco_mutex *m;
  exco_sem *sem;
  exco_waitgroup *wg;
  long counter; /* guarded by m: a plain variable, for TSan */
  int inside;   /* tasks inside the critical section */
  atomic_int in_pool;
  int rounds;
  int bad;
  atomic_int lock_failures;
} mstress;

static void *fn_mstress(void *arg) {
  mstress *s = arg;
  int i;

  for (i = 0; i < s->rounds; i++) {
    int r = exco_mutex_lock(s->m);

    if (r != 0) {
      atomic_fetch_add(&s->lock_failures, 1);
      continue;
    }
    if (s->inside++ != 0)
      s->bad = 1;
    s->counter++;
    if (i % 7 == 0)
      exco_yield();
    s->inside--;
    exco_mutex_unlock(s->m);
    if (exco_sem_acquire(s->sem) == 0) {
      if (atomic_fetch_add(&s->in_pool, 1) >= 2)
        s->bad = 1;
      if (i % 5 == 0)
        exco_yield();
      atomic_fetch_sub(&s->in_pool, 1);
      exco_sem_release(s->sem);
    } else {
      s->bad = 1;
    }
  }
  exco_waitgroup_done(s->wg);
  return NULL;
}

static void *thread_mstress(void *arg) {
  mstress *s = arg;
  exco_executor *ex;
  int i;

  if (exco_executor_new_local(&ex) != 0)
    return arg;
  for (i = 0; i < MS_TASKS; i++)
    if (exco_spawn(ex, fn_mstress, s, NULL, NULL) != 0)
      return arg;
  if (exco_run(ex) != 0 || exco_executor_free(ex) != 0)
    return arg;
  return NULL;
}

static void *fn_wg_waiter(void *arg) {
  mstress *s = arg;

  if (exco_waitgroup_wait(s->wg) != 0)
    s->bad = 1;
  return NULL;
}

START_TEST(stress_exact_counts) {
  mstress s;
  pthread_t th[MS_EXECS];
  exco_executor *ex;
  int i;

  memset(&s, 0, sizeof(s));
  s.rounds = (int)h_scale(H_SANITIZED ? 500 : 3000);
  ck_assert_int_eq(exco_mutex_new(&s.m), 0);
  ck_assert_int_eq(exco_sem_new(&s.sem, 2), 0);
  ck_assert_int_eq(exco_waitgroup_new(&s.wg), 0);
  ck_assert_int_eq(exco_waitgroup_add(s.wg, MS_EXECS * MS_TASKS), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_wg_waiter, &s, NULL, NULL), 0);
  for (i = 0; i < MS_EXECS; i++)
    h_thread_start(&th[i], thread_mstress, &s);
  ck_assert_int_eq(exco_run(ex), 0);
  for (i = 0; i < MS_EXECS; i++)
    ck_assert_ptr_null(h_thread_join(th[i]));
  ck_assert_int_eq(s.bad, 0);
  ck_assert_int_eq(atomic_load(&s.lock_failures), 0);
  ck_assert_int_eq(s.counter, (long)MS_EXECS * MS_TASKS * s.rounds);
  ck_assert_int_eq(exco_sem_value(s.sem), 2);
  ck_assert_int_eq(exco_mutex_free(s.m), 0);
  ck_assert_int_eq(exco_sem_free(s.sem), 0);
  ck_assert_int_eq(exco_waitgroup_free(s.wg), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("sync");
  TCase *tc = h_tcase("sync", 60);
  TCase *ts = h_tcase("stress", 240);

  tcase_add_test(tc, bad_arguments);
  tcase_add_test(tc, mutex_fifo_handoff);
  tcase_add_loop_test(tc, mutex_cancelled_waiter_passes_on, 0, 3);
  tcase_add_test(tc, mutex_deadline);
  tcase_add_test(tc, cond_signal_broadcast_cancel);
  tcase_add_test(tc, cond_deadline);
  tcase_add_test(tc, sem_handoff_and_cancel);
  tcase_add_test(tc, waitgroup_wakes_all);
  tcase_add_loop_test(tc, waitgroup_gives_up, 0, 2);
  suite_add_tcase(s, tc);
  tcase_add_test(ts, stress_exact_counts);
  suite_add_tcase(s, ts);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
