/*
 * promise.c -- a one-shot value resolved from any thread and awaited by
 * one coroutine at a time.
 *
 * The promise is a wait queue (waitq.h) and the state it guards: resolve
 * stores the value and wakes the waiter under the queue's lock, and the
 * waiter checks for the value under that lock, so a resolve racing the
 * waiter's check is either seen by it or finds the waiter linked.
 */
#include "config.h"

#include "exco-internal.h"

struct exco_promise {
  atomic_long refs;
  exco__waitq q; /* its lock guards the fields below */
  int resolved;
  void *value;
  exco_task *waiter; /* the coroutine awaiting, or NULL */
};

int exco_promise_new(exco_promise **out) {
  exco_promise *p;

  if (out == NULL)
    return EXCO_EINVAL;
  p = exco__malloc(sizeof(*p));
  if (p == NULL)
    return EXCO_ENOMEM;
  atomic_init(&p->refs, 1);
  exco__waitq_init(&p->q, 0);
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
  exco__free(p);
}

int exco_promise_resolve(exco_promise *p, void *value) {
  if (p == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&p->q);
  if (p->resolved) {
    exco__waitq_unlock(&p->q);
    return EXCO_EALREADY;
  }
  p->resolved = 1;
  p->value = value;
  p->waiter = NULL; /* woken now, it waits no more */
  exco__waitq_broadcast_locked(&p->q, NULL);
  exco__waitq_unlock(&p->q);
  return 0;
}

int exco_promise_is_resolved(exco_promise *p) {
  int r;

  if (p == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&p->q);
  r = p->resolved;
  exco__waitq_unlock(&p->q);
  return r;
}

typedef struct exco__promise_wait {
  exco_promise *p;
  exco_task *self;
  int busy; /* another coroutine is the waiter */
} exco__promise_wait;

/* Under the queue's lock: ready once resolved, or at once if another
 * coroutine is the waiter already. */
static int exco__promise_ready(void *arg) {
  exco__promise_wait *pw = arg;
  exco_promise *p = pw->p;

  if (p->resolved) {
    if (p->waiter == pw->self)
      p->waiter = NULL;
    return 1;
  }
  if (p->waiter == NULL)
    p->waiter = pw->self;
  else if (p->waiter != pw->self)
    pw->busy = 1;
  return pw->busy;
}

int exco_promise_await(exco_promise *p, void **value) {
  exco__promise_wait pw;
  exco__waiter w;
  int err;

  if (p == NULL)
    return EXCO_EINVAL;
  pw.p = p;
  pw.self = exco__current();
  pw.busy = 0;
  if (pw.self == NULL)
    return EXCO_EPERM;
  /* The promise must outlive the wait even if its other owners let go. */
  exco_promise_ref(p);
  exco_await_label("promise");
  err = exco__waitq_wait(&p->q, &w, exco__promise_ready, &pw);
  if (err != 0) {
    /* Gave up: no longer the waiter.  (A wait that ended with the value
     * let go of it already, or the resolve did.) */
    exco__waitq_lock(&p->q);
    if (p->waiter == pw.self)
      p->waiter = NULL;
    exco__waitq_unlock(&p->q);
  }
  if (err == 0 && pw.busy)
    err = EXCO_EBUSY;
  if (err == 0 && value != NULL)
    *value = p->value;
  exco_promise_unref(p);
  return err;
}
