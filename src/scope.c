/*
 * scope.c -- task-local storage and scopes (include/exco/sync.h).
 *
 * Task-local values are a short list of slots hanging off the task
 * (exco_task.tls), touched only by the task itself; task.c calls
 * exco__tls_finish() on the task's stack once its function returns.  Keys
 * are indexes into a process-wide table, with a generation so that a
 * deleted key's slots are recognised and reused.
 *
 * A scope is a wait queue whose lock guards the count of live children,
 * their list (for cancelling them) and the first failure.  Each child is
 * a task running a wrapper that records the child's result and, as the
 * last thing under the lock, unlinks itself and wakes the joiner when it
 * was the last.  The scope is reference counted (the owner, and each live
 * child), so a child can still touch it after its parent has left.
 */
#include "config.h"

#include "exco-internal.h"
#include "exco/sync.h"

/* ---------------------------------------------------------------------- */
/* Task-local storage                                                      */
/* ---------------------------------------------------------------------- */

typedef struct exco__tls_slot {
  struct exco__tls_slot *next;
  exco_tls_key key;
  void *value;
} exco__tls_slot;

/* Per key index: (generation << 1) | in use, and the destructor. */
static atomic_uint exco__keys[EXCO_TLS_KEYS_MAX];
static void (*_Atomic exco__key_dtor[EXCO_TLS_KEYS_MAX])(void *);
static pthread_mutex_t exco__keys_lock = PTHREAD_MUTEX_INITIALIZER;

#define EXCO__TLS_ROUNDS 5

void exco__tls_fork(int phase) {
  if (phase == EXCO__FORK_PREPARE)
    pthread_mutex_lock(&exco__keys_lock);
  else
    pthread_mutex_unlock(&exco__keys_lock);
}

static int exco__key_valid(exco_tls_key key) {
  unsigned i = key & 0xffu;

  if (i >= EXCO_TLS_KEYS_MAX)
    return 0;
  return atomic_load_explicit(&exco__keys[i], memory_order_acquire) ==
         (((key >> 8) << 1) | 1u);
}

int exco_tls_key_create(exco_tls_key *key, void (*dtor)(void *)) {
  unsigned i, st, gen;

  if (key == NULL)
    return EXCO_EINVAL;
  pthread_mutex_lock(&exco__keys_lock);
  for (i = 0; i < EXCO_TLS_KEYS_MAX; i++) {
    st = atomic_load_explicit(&exco__keys[i], memory_order_relaxed);
    if (st & 1u)
      continue;
    gen = ((st >> 1) + 1) & 0xffffffu; /* the key keeps 24 bits of it */
    atomic_store_explicit(&exco__key_dtor[i], dtor, memory_order_relaxed);
    atomic_store_explicit(&exco__keys[i], (gen << 1) | 1u,
                          memory_order_release);
    pthread_mutex_unlock(&exco__keys_lock);
    *key = (gen << 8) | i;
    return 0;
  }
  pthread_mutex_unlock(&exco__keys_lock);
  return EXCO_EAGAIN;
}

int exco_tls_key_delete(exco_tls_key key) {
  unsigned i = key & 0xffu;
  int err = EXCO_EINVAL;

  pthread_mutex_lock(&exco__keys_lock);
  if (exco__key_valid(key)) {
    atomic_store_explicit(&exco__keys[i], (key >> 8) << 1,
                          memory_order_release);
    err = 0;
  }
  pthread_mutex_unlock(&exco__keys_lock);
  return err;
}

int exco_tls_set(exco_tls_key key, void *value) {
  exco_task *t = exco__current();
  exco__tls_slot *s, *free_slot = NULL;

  if (t == NULL)
    return EXCO_EPERM;
  if (!exco__key_valid(key))
    return EXCO_EINVAL;
  for (s = t->tls; s != NULL; s = s->next) {
    if (s->key == key) {
      s->value = value;
      return 0;
    }
    if (free_slot == NULL && !exco__key_valid(s->key))
      free_slot = s; /* its key was deleted: reuse it */
  }
  if (free_slot == NULL) {
    free_slot = exco__malloc(sizeof(*free_slot));
    if (free_slot == NULL)
      return EXCO_ENOMEM;
    free_slot->next = t->tls;
    t->tls = free_slot;
  }
  free_slot->key = key;
  free_slot->value = value;
  return 0;
}

void *exco_tls_get(exco_tls_key key) {
  exco_task *t = exco__current();
  exco__tls_slot *s;

  if (t == NULL || !exco__key_valid(key))
    return NULL;
  for (s = t->tls; s != NULL; s = s->next)
    if (s->key == key)
      return s->value;
  return NULL;
}

void exco__tls_finish(exco_task *t) {
  exco__tls_slot *s, *next;
  int round, any;

  for (round = 0; round < EXCO__TLS_ROUNDS; round++) {
    any = 0;
    for (s = t->tls; s != NULL; s = s->next) {
      void (*dtor)(void *);
      void *v = s->value;

      if (v == NULL || !exco__key_valid(s->key))
        continue;
      s->value = NULL;
      dtor = atomic_load_explicit(&exco__key_dtor[s->key & 0xffu],
                                  memory_order_relaxed);
      if (dtor != NULL) {
        dtor(v);
        any = 1;
      }
    }
    if (!any)
      break;
  }
  for (s = t->tls; s != NULL; s = next) {
    next = s->next;
    exco__free(s);
  }
  t->tls = NULL;
}

/* ---------------------------------------------------------------------- */
/* Scopes                                                                  */
/* ---------------------------------------------------------------------- */

struct exco_scope {
  atomic_long refs; /* the owner's, and one per live child */
  exco__waitq q;    /* its lock guards the fields below */
  long live;        /* children not finished */
  int err;          /* the first failure */
  int closed;       /* cancelled or failed: no more spawns */
  int joined;       /* exco_scope_join() has returned */
  int spawned;      /* a child was ever spawned */
  exco__list children;
  exco_hold *hold; /* the parent's stack, if it had to leave early */
};

typedef struct exco__scope_child {
  exco__list link; /* in children while live */
  exco_scope *s;
  exco_scope_fn fn;
  void *arg;
  exco_task *t; /* join handle */
} exco__scope_child;

static void exco__scope_unref(exco_scope *s) {
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
    exco__free(s);
}

int exco_scope_new(exco_scope **out) {
  exco_scope *s;

  if (out == NULL)
    return EXCO_EINVAL;
  s = exco__malloc(sizeof(*s));
  if (s == NULL)
    return EXCO_ENOMEM;
  atomic_init(&s->refs, 1);
  exco__waitq_init(&s->q, 0);
  s->live = 0;
  s->err = 0;
  s->closed = 0;
  s->joined = 0;
  s->spawned = 0;
  exco__list_init(&s->children);
  s->hold = NULL;
  *out = s;
  return 0;
}

/* Under the lock: no more spawns, and every live child is cancelled. */
static void exco__scope_cancel_locked(exco_scope *s, int err) {
  exco__list *l;

  if (s->err == 0)
    s->err = err;
  s->closed = 1;
  for (l = s->children.next; l != &s->children; l = l->next)
    exco_task_cancel(exco__container_of(l, exco__scope_child, link)->t);
}

static void *exco__scope_child_run(void *arg) {
  exco__scope_child *c = arg;
  exco_scope *s = c->s;
  exco_hold *hold = NULL;
  int r = c->fn(c->arg);

  exco__waitq_lock(&s->q);
  if (r != 0)
    exco__scope_cancel_locked(s, r);
  exco__list_remove(&c->link);
  if (--s->live == 0) {
    exco__waitq_broadcast_locked(&s->q, NULL);
    hold = s->hold;
    s->hold = NULL;
  }
  exco__waitq_unlock(&s->q);
  exco_task_release(c->t);
  exco__free(c);
  exco_hold_release(hold);
  exco__scope_unref(s);
  return NULL;
}

int exco_scope_spawn(exco_scope *s, exco_executor *ex, exco_scope_fn fn,
                     void *arg, const exco_spawn_opts *opts) {
  exco__scope_child *c;
  int err;

  if (s == NULL || fn == NULL)
    return EXCO_EINVAL;
  c = exco__malloc(sizeof(*c));
  if (c == NULL)
    return EXCO_ENOMEM;
  c->s = s;
  c->fn = fn;
  c->arg = arg;
  /* Under the lock, so the child can't finish (and unlink itself) before
   * it is linked and its handle stored.  task_run never polls at once. */
  exco__waitq_lock(&s->q);
  if (s->joined) {
    err = EXCO_EINVAL;
  } else if (s->closed) {
    err = EXCO_ECANCELED;
  } else {
    err = exco_spawn(ex, exco__scope_child_run, c, opts, &c->t);
    if (err == 0) {
      exco__list_insert_tail(&s->children, &c->link);
      s->live++;
      s->spawned = 1;
      atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    }
  }
  exco__waitq_unlock(&s->q);
  if (err != 0)
    exco__free(c);
  return err;
}

int exco_scope_cancel(exco_scope *s) {
  if (s == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&s->q);
  exco__scope_cancel_locked(s, EXCO_ECANCELED);
  exco__waitq_unlock(&s->q);
  return 0;
}

static int exco__scope_empty(void *arg) {
  exco_scope *s = arg;

  return s->live == 0;
}

/*
 * Waits for the (cancelled) children to finish whatever the task's own
 * cancellation and deadline: exco_await() would return at once.  Only a
 * drop by the host, which resumes the task until it returns, can't be
 * waited through: then the parent's stack is held for the children.
 */
static void exco__scope_wait_all(exco_scope *s, exco_task *t) {
  exco__waiter w;
  exco__waitq_wait_arg a = {&s->q, &w, exco__scope_empty, s};

  exco__list_init(&w.link);
  w.task = NULL;
  w.signalled = 0;
  w.value = NULL;
  for (;;) {
    if (exco__waitq_poll(&a, (exco_waker *)t))
      return;
    if (atomic_load_explicit(&t->state, memory_order_acquire) & EXCO__DROPPED) {
      exco__waitq_cancel(&a);
      exco__waitq_lock(&s->q);
      if (s->live > 0 && s->hold == NULL)
        s->hold = exco_hold_stack();
      exco__waitq_unlock(&s->q);
      return;
    }
    exco__task_suspend(t);
  }
}

int exco_scope_join(exco_scope *s) {
  exco_task *t = exco__current();
  exco__waiter w;
  int err;

  if (s == NULL)
    return EXCO_EINVAL;
  if (t == NULL)
    return EXCO_EPERM;
  exco__waitq_lock(&s->q);
  err = s->joined ? EXCO_EINVAL : 0;
  exco__waitq_unlock(&s->q);
  if (err != 0)
    return err;
  err = exco__waitq_wait(&s->q, &w, exco__scope_empty, s);
  if (err != 0) {
    /* The parent was cancelled or its deadline passed: so are the
     * children, and they are waited for all the same. */
    exco__waitq_lock(&s->q);
    exco__scope_cancel_locked(s, err);
    exco__waitq_unlock(&s->q);
    exco__scope_wait_all(s, t);
  }
  exco__waitq_lock(&s->q);
  s->joined = 1;
  s->closed = 1;
  err = s->err;
  exco__waitq_unlock(&s->q);
  return err;
}

int exco_scope_free(exco_scope *s) {
  int busy;

  if (s == NULL)
    return EXCO_EINVAL;
  exco__waitq_lock(&s->q);
  busy = s->spawned && !s->joined;
  exco__waitq_unlock(&s->q);
  if (busy)
    return EXCO_EBUSY;
  exco__scope_unref(s);
  return 0;
}
