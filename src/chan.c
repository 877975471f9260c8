/*
 * chan.c -- channels and select (include/exco/sync.h).
 *
 * A channel is a ring buffer and two lists of waiting clauses (senders,
 * receivers), all under one spin lock.  Each blocked operation -- a send,
 * a receive, or a select of several clauses -- has one parker: a state
 * word that decides who completes it.  The parker starts WAITING; the
 * first party to move it away wins:
 *
 *   - a counterpart (a sender for a waiting receiver, a receiver for a
 *     waiting sender, or a close) CASes WAITING -> CLAIMED under the lock
 *     of the channel where it found the clause, moves the element, stores
 *     which clause and the result, sets DONE and wakes the waiter, all
 *     before it lets go of that lock;
 *   - the waiter itself, when it is cancelled or times out, CASes
 *     WAITING -> CANCELLED.
 *
 * A counterpart whose CAS fails (the waiter gave up, or another channel's
 * counterpart won a select) unlinks that clause and tries the next
 * waiter, so a waiter that gives up never eats an element or a wake.  A
 * waiter whose CAS fails was completed: it reports success.
 *
 * The waiter always leaves the same way: it locks every channel of its
 * clauses (in address order, as it did to link them) and unlinks what is
 * still linked.  Taking those locks orders it after the counterpart that
 * completed it (which held one of them from its CAS to its wake), so the
 * waiter's frame, where the parker and the clauses live, outlives every
 * use of them.  tests/model/chan.pml checks this protocol with spin.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "exco-internal.h"
#include "exco/sync.h"

/* The parker's states. */
enum {
  EXCO__P_WAITING,  /* linked, nobody has decided yet */
  EXCO__P_CLAIMED,  /* a counterpart is completing it (under a lock) */
  EXCO__P_DONE,     /* completed: which and result are set */
  EXCO__P_CANCELLED /* the waiter gave up first */
};

/* A plain thread's way to sleep: one per thread, set up on first use. */
typedef struct exco__thread_park {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int ready;
} exco__thread_park;

typedef struct exco__parker {
  atomic_int state;
  int which;                 /* the clause done (DONE) */
  int result;                /* its result: 0 or EXCO_EPIPE */
  exco_task *task;           /* the waiting coroutine, or NULL */
  exco__thread_park *tp;     /* the waiting thread, if no task */
  exco_chan_clause *clauses; /* the waiter's clauses */
} exco__parker;

/* What a clause's private words hold while it waits. */
typedef struct exco__chan_node {
  exco__list link; /* in chan->senders or chan->receivers */
  exco__parker *p;
} exco__chan_node;

_Static_assert(sizeof(exco__chan_node) <=
                   sizeof(((exco_chan_clause *)0)->exco_private_),
               "exco_chan_clause's private words hold a node");

struct exco_chan {
  atomic_flag lock;
  atomic_long refs;
  size_t elem;   /* element size */
  size_t cap;    /* capacity: 0, N or EXCO_CHAN_UNBOUNDED */
  size_t ring_n; /* slots in ring */
  size_t head;   /* oldest element's slot */
  size_t len;    /* elements buffered */
  unsigned char *ring;
  int closed;
  exco__list senders;   /* waiting send clauses, FIFO */
  exco__list receivers; /* waiting receive clauses, FIFO */
};

static exco__chan_node *exco__node(exco_chan_clause *cl) {
  return (exco__chan_node *)(void *)cl->exco_private_;
}

static exco_chan_clause *exco__node_clause(exco__list *l) {
  exco__chan_node *n = exco__container_of(l, exco__chan_node, link);

  return exco__container_of((void *)n, exco_chan_clause, exco_private_);
}

/* ---------------------------------------------------------------------- */
/* Creation and references                                                 */
/* ---------------------------------------------------------------------- */

int exco_chan_new(exco_chan **out, size_t elem_size, size_t capacity) {
  exco_chan *c;
  size_t ring_n = 0;

  if (out == NULL || elem_size > EXCO_CHAN_ELEM_MAX)
    return EXCO_EINVAL;
  if (capacity != EXCO_CHAN_UNBOUNDED && capacity > 0) {
    if (elem_size > 0 && capacity > SIZE_MAX / 2 / elem_size)
      return EXCO_ENOMEM;
    ring_n = capacity;
  }
  c = exco__malloc(sizeof(*c));
  if (c == NULL)
    return EXCO_ENOMEM;
  c->ring = NULL;
  if (ring_n > 0 && elem_size > 0) {
    c->ring = exco__malloc(ring_n * elem_size);
    if (c->ring == NULL) {
      exco__free(c);
      return EXCO_ENOMEM;
    }
  }
  atomic_flag_clear(&c->lock);
  atomic_init(&c->refs, 1);
  c->elem = elem_size;
  c->cap = capacity;
  c->ring_n = ring_n;
  c->head = 0;
  c->len = 0;
  c->closed = 0;
  exco__list_init(&c->senders);
  exco__list_init(&c->receivers);
  *out = c;
  return 0;
}

exco_chan *exco_chan_ref(exco_chan *c) {
  if (c != NULL)
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

void exco_chan_unref(exco_chan *c) {
  if (c == NULL)
    return;
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
    return;
  exco__free(c->ring);
  exco__free(c);
}

/* ---------------------------------------------------------------------- */
/* The buffer (under the lock)                                             */
/* ---------------------------------------------------------------------- */

/* Makes room for one more element of an unbounded channel. */
static int exco__chan_grow(exco_chan *c) {
  size_t n = c->ring_n != 0 ? c->ring_n * 2 : 16, i;
  unsigned char *ring;

  if (c->elem == 0) {
    c->ring_n = SIZE_MAX; /* nothing to store: only count */
    return 0;
  }
  if (n > SIZE_MAX / 2 / c->elem)
    return EXCO_ENOMEM;
  ring = exco__malloc(n * c->elem);
  if (ring == NULL)
    return EXCO_ENOMEM;
  for (i = 0; i < c->len; i++)
    memcpy(ring + i * c->elem, c->ring + ((c->head + i) % c->ring_n) * c->elem,
           c->elem);
  exco__free(c->ring);
  c->ring = ring;
  c->ring_n = n;
  c->head = 0;
  return 0;
}

static void exco__chan_push(exco_chan *c, const void *elem) {
  size_t slot = (c->head + c->len) % c->ring_n;

  if (c->elem > 0)
    memcpy(c->ring + slot * c->elem, elem, c->elem);
  c->len++;
}

static void exco__chan_pop(exco_chan *c, void *elem) {
  if (c->elem > 0)
    memcpy(elem, c->ring + c->head * c->elem, c->elem);
  c->head = c->ring_n == SIZE_MAX ? 0 : (c->head + 1) % c->ring_n;
  c->len--;
}

/* ---------------------------------------------------------------------- */
/* Claiming a waiter (under the lock of the channel it was found on)       */
/* ---------------------------------------------------------------------- */

/* Unlinks the first waiting clause of @list and claims its parker;
 * returns the clause, or NULL when none could be claimed (those that
 * could not are unlinked too: their waiters have given up or been
 * completed elsewhere). */
static exco_chan_clause *exco__chan_claim_first(exco__list *list) {
  while (!exco__list_empty(list)) {
    exco_chan_clause *cl = exco__node_clause(list->next);
    exco__parker *p = exco__node(cl)->p;
    int expect = EXCO__P_WAITING;

    exco__list_remove(&exco__node(cl)->link);
    if (atomic_compare_exchange_strong_explicit(
            &p->state, &expect, EXCO__P_CLAIMED, memory_order_acq_rel,
            memory_order_acquire))
      return cl;
  }
  return NULL;
}

/* Completes a claimed clause with @result and wakes its waiter.  Still
 * under the lock: the waiter can't leave (nor its frame go) before it has
 * taken that lock too. */
static void exco__chan_finish(exco_chan_clause *cl, int result) {
  exco__parker *p = exco__node(cl)->p;

  p->which = (int)(cl - p->clauses);
  p->result = result;
  cl->result = result;
  if (p->task != NULL) {
    exco_task *t = p->task;

    atomic_store_explicit(&p->state, EXCO__P_DONE, memory_order_release);
    exco__task_wake(t);
  } else {
    exco__thread_park *tp = p->tp;

    pthread_mutex_lock(&tp->mu);
    atomic_store_explicit(&p->state, EXCO__P_DONE, memory_order_release);
    pthread_cond_signal(&tp->cv);
    pthread_mutex_unlock(&tp->mu);
  }
}

/* ---------------------------------------------------------------------- */
/* One operation without waiting (under the lock)                          */
/* ---------------------------------------------------------------------- */

/* 1 done, 0 would wait, or EXCO_EPIPE / EXCO_ENOMEM. */
static int exco__chan_send_locked(exco_chan *c, const void *elem) {
  exco_chan_clause *r;

  if (c->closed)
    return EXCO_EPIPE;
  r = exco__chan_claim_first(&c->receivers);
  if (r != NULL) {
    /* A receiver waits only while the buffer is empty: hand over. */
    if (c->elem > 0)
      memcpy(r->elem, elem, c->elem);
    exco__chan_finish(r, 0);
    return 1;
  }
  if (c->cap == EXCO_CHAN_UNBOUNDED) {
    if (c->len == c->ring_n) {
      int err = exco__chan_grow(c);
      if (err != 0)
        return err;
    }
  } else if (c->len >= c->cap) {
    return 0;
  }
  exco__chan_push(c, elem);
  return 1;
}

/* 1 done, 0 would wait, or EXCO_EPIPE. */
static int exco__chan_recv_locked(exco_chan *c, void *elem) {
  exco_chan_clause *s;

  if (c->len > 0) {
    exco__chan_pop(c, elem);
    /* A slot is free: the oldest waiting sender fills it. */
    s = exco__chan_claim_first(&c->senders);
    if (s != NULL) {
      exco__chan_push(c, s->elem);
      exco__chan_finish(s, 0);
    }
    return 1;
  }
  s = exco__chan_claim_first(&c->senders);
  if (s != NULL) {
    /* Rendezvous: straight from the sender. */
    if (c->elem > 0)
      memcpy(elem, s->elem, c->elem);
    exco__chan_finish(s, 0);
    return 1;
  }
  return c->closed ? EXCO_EPIPE : 0;
}

static int exco__clause_try(exco_chan_clause *cl) {
  if (cl->op == EXCO_CHAN_SEND)
    return exco__chan_send_locked(cl->chan, cl->elem);
  return exco__chan_recv_locked(cl->chan, cl->elem);
}

/* ---------------------------------------------------------------------- */
/* Locking several channels                                                */
/* ---------------------------------------------------------------------- */

typedef struct exco__chanset {
  exco_chan *c[EXCO_SELECT_MAX]; /* distinct, ascending addresses */
  size_t n;
} exco__chanset;

static void exco__chanset_make(exco__chanset *s, exco_chan_clause *cl,
                               size_t n) {
  size_t i, j;

  s->n = 0;
  for (i = 0; i < n; i++) {
    exco_chan *c = cl[i].chan;

    for (j = s->n; j > 0 && (uintptr_t)s->c[j - 1] > (uintptr_t)c; j--)
      ;
    if (j > 0 && s->c[j - 1] == c)
      continue;
    memmove(&s->c[j + 1], &s->c[j], (s->n - j) * sizeof(s->c[0]));
    s->c[j] = c;
    s->n++;
  }
}

static void exco__chanset_lock(exco__chanset *s) {
  size_t i;

  for (i = 0; i < s->n; i++)
    exco__spin_lock(&s->c[i]->lock);
}

static void exco__chanset_unlock(exco__chanset *s) {
  size_t i;

  for (i = s->n; i > 0; i--)
    exco__spin_unlock(&s->c[i - 1]->lock);
}

/* ---------------------------------------------------------------------- */
/* Waiting                                                                 */
/* ---------------------------------------------------------------------- */

static _Thread_local exco__thread_park exco__tpark;

static exco__thread_park *exco__thread_park_get(void) {
  exco__thread_park *tp = &exco__tpark;

  if (!tp->ready) {
    pthread_condattr_t a;

    pthread_mutex_init(&tp->mu, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&tp->cv, &a);
    pthread_condattr_destroy(&a);
    tp->ready = 1;
  }
  return tp;
}

/* A random clause to start from, so that no ready clause is starved. */
static size_t exco__select_start(size_t n) {
  static _Thread_local uint32_t x;

  if (n <= 1)
    return 0;
  if (x == 0)
    x = (uint32_t)(uintptr_t)&x ^ (uint32_t)exco__now_ns() ^ 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x % n;
}

static int exco__parker_poll(void *arg, exco_waker *w) {
  exco__parker *p = arg;

  (void)w;
  return atomic_load_explicit(&p->state, memory_order_acquire) == EXCO__P_DONE;
}

/* Blocks the thread until DONE or @deadline; 0 or EXCO_ETIMEDOUT. */
static int exco__thread_wait(exco__parker *p, int64_t deadline) {
  exco__thread_park *tp = p->tp;
  struct timespec ts;
  int err = 0;

  if (deadline != EXCO_NO_DEADLINE) {
    uint64_t due = exco__ms_to_due(deadline);

    ts.tv_sec = (time_t)(due / 1000000000u);
    ts.tv_nsec = (long)(due % 1000000000u);
  }
  pthread_mutex_lock(&tp->mu);
  while (atomic_load_explicit(&p->state, memory_order_acquire) !=
         EXCO__P_DONE) {
    if (deadline == EXCO_NO_DEADLINE) {
      pthread_cond_wait(&tp->cv, &tp->mu);
    } else if (pthread_cond_timedwait(&tp->cv, &tp->mu, &ts) == ETIMEDOUT) {
      if (atomic_load_explicit(&p->state, memory_order_acquire) != EXCO__P_DONE)
        err = EXCO_ETIMEDOUT;
      break;
    }
  }
  pthread_mutex_unlock(&tp->mu);
  return err;
}

static int exco__clauses_valid(exco_chan_clause *cl, size_t n) {
  size_t i;

  if (n > EXCO_SELECT_MAX || (n > 0 && cl == NULL))
    return 0;
  for (i = 0; i < n; i++) {
    if (cl[i].chan == NULL)
      return 0;
    if (cl[i].op != EXCO_CHAN_SEND && cl[i].op != EXCO_CHAN_RECV)
      return 0;
    if (cl[i].elem == NULL && cl[i].chan->elem > 0)
      return 0;
  }
  return 1;
}

/*
 * The one engine behind every operation: @nowait for the try_ forms.
 * Returns the index of the clause done, or an error.
 */
static int exco__select(exco_chan_clause *cl, size_t n, int64_t deadline,
                        int nowait) {
  exco_task *t = NULL;
  exco__chanset set;
  exco__parker p;
  size_t start, k, i;
  int err = 0, r;

  if (!exco__clauses_valid(cl, n))
    return EXCO_EINVAL;
  if (!nowait) {
    t = exco__current();
    if (t != NULL && exco__task_cancelled(t))
      return EXCO_ECANCELED;
  }
  for (i = 0; i < n; i++)
    cl[i].result = 0;
  exco__chanset_make(&set, cl, n);
  exco__chanset_lock(&set);
  /* Ready now?  From a random clause on. */
  start = exco__select_start(n);
  for (k = 0; k < n; k++) {
    i = (start + k) % n;
    r = exco__clause_try(&cl[i]);
    if (r == 0)
      continue;
    exco__chanset_unlock(&set);
    if (r == EXCO_EPIPE) {
      cl[i].result = EXCO_EPIPE;
      r = 1;
    }
    return r == 1 ? (int)i : r;
  }
  if (nowait) {
    exco__chanset_unlock(&set);
    return EXCO_EAGAIN;
  }
  if (t == NULL && deadline != EXCO_NO_DEADLINE && deadline <= exco_now()) {
    exco__chanset_unlock(&set);
    return EXCO_ETIMEDOUT;
  }
  /* Wait: link every clause, all channels locked, so no counterpart
   * sees some of them and not the others. */
  atomic_init(&p.state, EXCO__P_WAITING);
  p.which = -1;
  p.result = 0;
  p.task = t;
  p.tp = t == NULL ? exco__thread_park_get() : NULL;
  p.clauses = cl;
  for (i = 0; i < n; i++) {
    exco__chan_node *node = exco__node(&cl[i]);

    node->p = &p;
    exco__list_insert_tail(cl[i].op == EXCO_CHAN_SEND ? &cl[i].chan->senders
                                                      : &cl[i].chan->receivers,
                           &node->link);
  }
  exco__chanset_unlock(&set);

  if (t != NULL) {
    int64_t prev = t->deadline;

    if (deadline < prev)
      t->deadline = deadline;
    err = exco_await(exco__parker_poll, NULL, &p);
    t->deadline = prev;
  } else {
    err = exco__thread_wait(&p, deadline);
  }
  if (err != 0) {
    int expect = EXCO__P_WAITING;

    /* Give up, unless a counterpart got there first. */
    if (!atomic_compare_exchange_strong_explicit(
            &p.state, &expect, EXCO__P_CANCELLED, memory_order_acq_rel,
            memory_order_acquire))
      err = 0;
  }
  /* Leave: after these locks, whoever completed us is done with us. */
  exco__chanset_lock(&set);
  for (i = 0; i < n; i++)
    exco__list_remove(&exco__node(&cl[i])->link);
  exco__chanset_unlock(&set);
  if (err != 0)
    return err;
  return p.which;
}

/* ---------------------------------------------------------------------- */
/* The public operations                                                   */
/* ---------------------------------------------------------------------- */

static int exco__chan_op(exco_chan *c, int op, void *elem, int64_t deadline,
                         int nowait) {
  exco_chan_clause cl;
  int r;

  if (c == NULL)
    return EXCO_EINVAL;
  cl.chan = c;
  cl.op = op;
  cl.elem = elem;
  r = exco__select(&cl, 1, deadline, nowait);
  return r < 0 ? r : cl.result;
}

int exco_chan_send(exco_chan *c, const void *elem) {
  return exco__chan_op(c, EXCO_CHAN_SEND, (void *)elem, EXCO_NO_DEADLINE, 0);
}

int exco_chan_recv(exco_chan *c, void *elem) {
  return exco__chan_op(c, EXCO_CHAN_RECV, elem, EXCO_NO_DEADLINE, 0);
}

int exco_chan_send_until(exco_chan *c, const void *elem, int64_t deadline) {
  return exco__chan_op(c, EXCO_CHAN_SEND, (void *)elem, deadline, 0);
}

int exco_chan_recv_until(exco_chan *c, void *elem, int64_t deadline) {
  return exco__chan_op(c, EXCO_CHAN_RECV, elem, deadline, 0);
}

int exco_chan_try_send(exco_chan *c, const void *elem) {
  return exco__chan_op(c, EXCO_CHAN_SEND, (void *)elem, EXCO_NO_DEADLINE, 1);
}

int exco_chan_try_recv(exco_chan *c, void *elem) {
  return exco__chan_op(c, EXCO_CHAN_RECV, elem, EXCO_NO_DEADLINE, 1);
}

int exco_chan_select(exco_chan_clause *clauses, size_t n, int64_t deadline) {
  return exco__select(clauses, n, deadline, 0);
}

int exco_chan_try_select(exco_chan_clause *clauses, size_t n) {
  return exco__select(clauses, n, EXCO_NO_DEADLINE, 1);
}

int exco_chan_close(exco_chan *c) {
  exco_chan_clause *cl;

  if (c == NULL)
    return EXCO_EINVAL;
  exco__spin_lock(&c->lock);
  if (c->closed) {
    exco__spin_unlock(&c->lock);
    return EXCO_EALREADY;
  }
  c->closed = 1;
  /* Waiting senders can't deliver any more; waiting receivers wait only
   * while the buffer is empty, so they get nothing more either. */
  while ((cl = exco__chan_claim_first(&c->senders)) != NULL)
    exco__chan_finish(cl, EXCO_EPIPE);
  while ((cl = exco__chan_claim_first(&c->receivers)) != NULL)
    exco__chan_finish(cl, EXCO_EPIPE);
  exco__spin_unlock(&c->lock);
  return 0;
}

long exco_chan_len(exco_chan *c) {
  long n;

  if (c == NULL)
    return EXCO_EINVAL;
  exco__spin_lock(&c->lock);
  n = (long)c->len;
  exco__spin_unlock(&c->lock);
  return n;
}

int exco_chan_is_closed(exco_chan *c) {
  int r;

  if (c == NULL)
    return EXCO_EINVAL;
  exco__spin_lock(&c->lock);
  r = c->closed;
  exco__spin_unlock(&c->lock);
  return r;
}
