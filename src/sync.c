/*
 * sync.c -- mutexes, condition variables, semaphores and wait groups for
 * coroutines (include/exco/sync.h), each a wait queue (waitq.h) and the
 * state its lock guards.
 *
 * Releases hand over: an unlock with waiters makes the oldest waiter the
 * owner before it wakes it, and a semaphore release with waiters gives
 * the permit to the oldest instead of counting it.  So "free" (no owner,
 * a positive count) implies "nobody linked", a newcomer can't barge in
 * ahead of a waiter, and a waiter's ready check is only ever for the
 * first poll.  A waiter that gives up after it was handed something
 * (exco__waitq_wait() returns an error with w->signalled set) passes it
 * on with the same release.
 */
#include "config.h"

#include <limits.h>

#include "exco-internal.h"
#include "exco/sync.h"

/* ---------------------------------------------------------------------- */
/* Mutex                                                                   */
/* ---------------------------------------------------------------------- */

struct exco_mutex {
  exco__waitq q;    /* its lock guards owner */
  exco_task *owner; /* NULL when free */
};

typedef struct exco__mutex_wait {
  exco_mutex *m;
  exco_task *self;
} exco__mutex_wait;

int exco_mutex_new(exco_mutex **out) {
  exco_mutex *m;

  if (out == NULL)
    return EXCO_EINVAL;
  m = exco__malloc(sizeof(*m));
  if (m == NULL)
    return EXCO_ENOMEM;
  exco__waitq_init(&m->q, 0);
  m->owner = NULL;
  *out = m;
  return 0;
}

int exco_mutex_free(exco_mutex *m) {
  int busy;

  if (m == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&m->q);
  busy = m->owner != NULL || !exco__list_empty(&m->q.waiters);
  exco__waitq_unlock(&m->q);
  if (busy)
    return EXCO_EBUSY;
  exco__free(m);
  return 0;
}

/* Under the lock: the owner lets go, to the oldest waiter if any. */
static void exco__mutex_release_locked(exco_mutex *m) {
  if (exco__list_empty(&m->q.waiters)) {
    m->owner = NULL;
    return;
  }
  m->owner = exco__container_of(m->q.waiters.next, exco__waiter, link)->task;
  exco__waitq_signal_locked(&m->q, NULL);
}

static int exco__mutex_ready(void *arg) {
  exco__mutex_wait *mw = arg;

  if (mw->m->owner != NULL)
    return 0;
  mw->m->owner = mw->self;
  return 1;
}

int exco_mutex_lock(exco_mutex *m) {
  exco__mutex_wait mw;
  exco__waiter w;
  int err;

  if (m == NULL)
    return EXCO_EINVAL;
  mw.m = m;
  mw.self = exco__current();
  if (mw.self == NULL)
    return EXCO_EPERM;
  exco__waitq_lock(&m->q);
  err = m->owner == mw.self ? EXCO_EDEADLK : 0;
  exco__waitq_unlock(&m->q);
  if (err != 0)
    return err;
  err = exco__waitq_wait(&m->q, &w, exco__mutex_ready, &mw);
  if (err != 0 && w.signalled) {
    /* Handed the mutex as we gave up: hand it on. */
    exco__waitq_lock(&m->q);
    exco__mutex_release_locked(m);
    exco__waitq_unlock(&m->q);
  }
  return err;
}

int exco_mutex_trylock(exco_mutex *m) {
  exco_task *self = exco__current();
  int err = 0;

  if (m == NULL)
    return EXCO_EINVAL;
  if (self == NULL)
    return EXCO_EPERM;
  exco__waitq_lock(&m->q);
  if (m->owner != NULL)
    err = EXCO_EBUSY;
  else
    m->owner = self;
  exco__waitq_unlock(&m->q);
  return err;
}

int exco_mutex_unlock(exco_mutex *m) {
  exco_task *self = exco__current();
  int err = 0;

  if (m == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&m->q);
  if (self == NULL || m->owner != self)
    err = EXCO_EPERM;
  else
    exco__mutex_release_locked(m);
  exco__waitq_unlock(&m->q);
  return err;
}

/* Locks @m again after a condition wait, whatever the task's deadline:
 * only a cancellation stops it. */
static int exco__mutex_relock(exco_mutex *m) {
  exco_task *t = exco__current();
  int64_t prev = t->deadline;
  int err;

  t->deadline = EXCO_NO_DEADLINE;
  err = exco_mutex_lock(m);
  t->deadline = prev;
  return err;
}

/* ---------------------------------------------------------------------- */
/* Condition variable                                                      */
/* ---------------------------------------------------------------------- */

struct exco_cond {
  exco__waitq q;
};

typedef struct exco__cond_wait {
  exco_mutex *m;
  int released; /* the mutex was let go, once linked */
} exco__cond_wait;

int exco_cond_new(exco_cond **out) {
  exco_cond *cv;

  if (out == NULL)
    return EXCO_EINVAL;
  cv = exco__malloc(sizeof(*cv));
  if (cv == NULL)
    return EXCO_ENOMEM;
  exco__waitq_init(&cv->q, 0);
  *out = cv;
  return 0;
}

int exco_cond_free(exco_cond *cv) {
  int busy;

  if (cv == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&cv->q);
  busy = !exco__list_empty(&cv->q.waiters);
  exco__waitq_unlock(&cv->q);
  if (busy)
    return EXCO_EBUSY;
  exco__free(cv);
  return 0;
}

/*
 * Called under the condition's lock by the first poll, just before the
 * waiter is linked: letting go of the mutex here means a signal that
 * follows the unlock finds the waiter linked.  (Lock order: the
 * condition's, then the mutex's; nothing takes them the other way.)
 */
static int exco__cond_ready(void *arg) {
  exco__cond_wait *cw = arg;

  if (!cw->released) {
    cw->released = 1;
    exco__waitq_lock(&cw->m->q);
    exco__mutex_release_locked(cw->m);
    exco__waitq_unlock(&cw->m->q);
  }
  return 0;
}

int exco_cond_wait(exco_cond *cv, exco_mutex *m) {
  exco_task *self = exco__current();
  exco__cond_wait cw;
  exco__waiter w;
  int err, held;

  if (cv == NULL || m == NULL)
    return EXCO_EINVAL;
  if (self == NULL)
    return EXCO_EPERM;
  exco__waitq_lock(&m->q);
  held = m->owner == self;
  exco__waitq_unlock(&m->q);
  if (!held)
    return EXCO_EPERM;
  cw.m = m;
  cw.released = 0;
  err = exco__waitq_wait(&cv->q, &w, exco__cond_ready, &cw);
  if (!cw.released) {
    /* Cancelled before the first poll: still holding it. */
    exco_mutex_unlock(m);
  }
  if (err != 0 && w.signalled)
    exco_cond_signal(cv); /* the signal was ours: pass it on */
  if (err == EXCO_ECANCELED)
    return err;
  return exco__mutex_relock(m) != 0 ? EXCO_ECANCELED : err;
}

int exco_cond_signal(exco_cond *cv) {
  int n;

  if (cv == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&cv->q);
  n = exco__waitq_signal_locked(&cv->q, NULL);
  exco__waitq_unlock(&cv->q);
  return n;
}

int exco_cond_broadcast(exco_cond *cv) {
  long n;

  if (cv == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&cv->q);
  n = exco__waitq_broadcast_locked(&cv->q, NULL);
  exco__waitq_unlock(&cv->q);
  return n > INT_MAX ? INT_MAX : (int)n;
}

/* ---------------------------------------------------------------------- */
/* Semaphore                                                               */
/* ---------------------------------------------------------------------- */

struct exco_sem {
  exco__waitq q; /* its lock guards count */
  long count;
};

int exco_sem_new(exco_sem **out, long permits) {
  exco_sem *s;

  if (out == NULL || permits < 0)
    return EXCO_EINVAL;
  s = exco__malloc(sizeof(*s));
  if (s == NULL)
    return EXCO_ENOMEM;
  exco__waitq_init(&s->q, 0);
  s->count = permits;
  *out = s;
  return 0;
}

int exco_sem_free(exco_sem *s) {
  int busy;

  if (s == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&s->q);
  busy = !exco__list_empty(&s->q.waiters);
  exco__waitq_unlock(&s->q);
  if (busy)
    return EXCO_EBUSY;
  exco__free(s);
  return 0;
}

static int exco__sem_ready(void *arg) {
  exco_sem *s = arg;

  if (s->count == 0)
    return 0;
  s->count--;
  return 1;
}

/* Under the lock: one permit back, to the oldest waiter if any. */
static int exco__sem_release_locked(exco_sem *s) {
  if (exco__waitq_signal_locked(&s->q, NULL))
    return 0;
  if (s->count == LONG_MAX)
    return EXCO_EINVAL;
  s->count++;
  return 0;
}

int exco_sem_acquire(exco_sem *s) {
  exco__waiter w;
  int err;

  if (s == NULL)
    return EXCO_EINVAL;
  if (exco__current() == NULL)
    return EXCO_EPERM;
  err = exco__waitq_wait(&s->q, &w, exco__sem_ready, s);
  if (err != 0 && w.signalled) {
    exco__waitq_lock(&s->q);
    exco__sem_release_locked(s);
    exco__waitq_unlock(&s->q);
  }
  return err;
}

int exco_sem_try_acquire(exco_sem *s) {
  int ok;

  if (s == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&s->q);
  ok = exco__sem_ready(s);
  exco__waitq_unlock(&s->q);
  return ok ? 0 : EXCO_EAGAIN;
}

int exco_sem_release(exco_sem *s) {
  int err;

  if (s == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&s->q);
  err = exco__sem_release_locked(s);
  exco__waitq_unlock(&s->q);
  return err;
}

long exco_sem_value(exco_sem *s) {
  long n;

  if (s == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&s->q);
  n = s->count;
  exco__waitq_unlock(&s->q);
  return n;
}

/* ---------------------------------------------------------------------- */
/* Wait group                                                              */
/* ---------------------------------------------------------------------- */

struct exco_waitgroup {
  exco__waitq q; /* its lock guards count */
  long count;
};

int exco_waitgroup_new(exco_waitgroup **out) {
  exco_waitgroup *wg;

  if (out == NULL)
    return EXCO_EINVAL;
  wg = exco__malloc(sizeof(*wg));
  if (wg == NULL)
    return EXCO_ENOMEM;
  exco__waitq_init(&wg->q, 0);
  wg->count = 0;
  *out = wg;
  return 0;
}

int exco_waitgroup_free(exco_waitgroup *wg) {
  int busy;

  if (wg == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&wg->q);
  busy = !exco__list_empty(&wg->q.waiters);
  exco__waitq_unlock(&wg->q);
  if (busy)
    return EXCO_EBUSY;
  exco__free(wg);
  return 0;
}

int exco_waitgroup_add(exco_waitgroup *wg, long n) {
  int err = 0;

  if (wg == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&wg->q);
  if ((n < 0 && wg->count < -n) || (n > 0 && wg->count > LONG_MAX - n)) {
    err = EXCO_EINVAL;
  } else {
    wg->count += n;
    if (wg->count == 0)
      exco__waitq_broadcast_locked(&wg->q, NULL);
  }
  exco__waitq_unlock(&wg->q);
  return err;
}

int exco_waitgroup_done(exco_waitgroup *wg) {
  return exco_waitgroup_add(wg, -1);
}

static int exco__waitgroup_ready(void *arg) {
  exco_waitgroup *wg = arg;

  return wg->count == 0;
}

int exco_waitgroup_wait(exco_waitgroup *wg) {
  exco__waiter w;

  if (wg == NULL)
    return EXCO_EINVAL;
  if (exco__current() == NULL)
    return EXCO_EPERM;
  return exco__waitq_wait(&wg->q, &w, exco__waitgroup_ready, wg);
}
