/*
 * promise.c -- a one-shot value resolved from any thread and awaited by
 * one coroutine at a time.
 *
 * The waiter's waker is cloned into the promise under the lock, and the
 * resolver takes it out under the same lock before waking it, so a
 * resolve racing the waiter's readiness check either is seen by that check
 * or finds the waker registered: the wake can't fall between the two.
 */
#include "config.h"

#include "exco-internal.h"

struct exco_promise {
  atomic_long refs;
  pthread_mutex_t lock;
  int resolved;
  void *value;
  exco_waker *waiter; /* cloned waker of the coroutine awaiting, or NULL */
};

int exco_promise_new(exco_promise **out) {
  exco_promise *p;

  if (out == NULL)
    return EXCO_EINVAL;
  p = exco__malloc(sizeof(*p));
  if (p == NULL)
    return EXCO_ENOMEM;
  if (pthread_mutex_init(&p->lock, NULL) != 0) {
    exco__free(p);
    return EXCO_ENOMEM;
  }
  atomic_init(&p->refs, 1);
  p->resolved = 0;
  p->value = NULL;
  p->waiter = NULL;
  *out = p;
  return 0;
}

exco_promise *exco_promise_ref(exco_promise *p) {
  if (p != NULL)
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  return p;
}

void exco_promise_unref(exco_promise *p) {
  if (p == NULL)
    return;
  if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
    return;
  /* No coroutine can still be waiting: it would hold a reference. */
  exco_waker_drop(p->waiter);
  pthread_mutex_destroy(&p->lock);
  exco__free(p);
}

int exco_promise_resolve(exco_promise *p, void *value) {
  exco_waker *w;

  if (p == NULL)
    return EXCO_EINVAL;
  pthread_mutex_lock(&p->lock);
  if (p->resolved) {
    pthread_mutex_unlock(&p->lock);
    return EXCO_EALREADY;
  }
  p->resolved = 1;
  p->value = value;
  w = p->waiter;
  p->waiter = NULL;
  pthread_mutex_unlock(&p->lock);
  if (w != NULL) {
    exco_waker_wake(w);
    exco_waker_drop(w);
  }
  return 0;
}

int exco_promise_is_resolved(exco_promise *p) {
  int r;

  if (p == NULL)
    return EXCO_EINVAL;
  pthread_mutex_lock(&p->lock);
  r = p->resolved;
  pthread_mutex_unlock(&p->lock);
  return r;
}

typedef struct exco__promise_wait {
  exco_promise *p;
  exco_task *self;
  int busy; /* another coroutine is the waiter */
} exco__promise_wait;

static int exco__promise_poll(void *arg, exco_waker *w) {
  exco__promise_wait *pw = arg;
  exco_promise *p = pw->p;
  int ready;

  pthread_mutex_lock(&p->lock);
  ready = p->resolved;
  if (!ready) {
    if (p->waiter == NULL) {
      p->waiter = exco_waker_clone(w);
    } else if (p->waiter != w) {
      pw->busy = 1;
      ready = 1;
    }
  }
  pthread_mutex_unlock(&p->lock);
  return ready;
}

static void exco__promise_cancel(void *arg) {
  exco__promise_wait *pw = arg;
  exco_promise *p = pw->p;
  exco_waker *w = NULL;

  pthread_mutex_lock(&p->lock);
  if (p->waiter == (exco_waker *)pw->self) {
    w = p->waiter;
    p->waiter = NULL;
  }
  pthread_mutex_unlock(&p->lock);
  exco_waker_drop(w);
}

int exco_promise_await(exco_promise *p, void **value) {
  exco__promise_wait pw;
  int err;

  if (p == NULL)
    return EXCO_EINVAL;
  pw.p = p;
  pw.self = exco__current();
  pw.busy = 0;
  /* The promise must outlive the wait even if its other owners let go. */
  exco_promise_ref(p);
  err = exco_await(exco__promise_poll, exco__promise_cancel, &pw);
  if (err == 0 && pw.busy)
    err = EXCO_EBUSY;
  if (err == 0 && value != NULL)
    *value = p->value;
  exco_promise_unref(p);
  return err;
}
