/*
 * timer.c -- timer queues (see timer.h), exco_now(), and the helper thread
 * that fires the timers of executors whose driver has no timers.
 *
 * The heap is a pairing heap: arming is O(1), firing the earliest and
 * disarming any node O(log n) amortised, and the nodes are the timers
 * themselves, so nothing is allocated.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "exco-internal.h"

uint64_t exco__now_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t exco__coarse_now_ns(void) {
  struct timespec ts;

#ifdef CLOCK_MONOTONIC_COARSE
  if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
  return exco__now_ns();
}

uint64_t exco_driver_now_ns(void) {
  return exco__now_ns();
}

int64_t exco_now(void) {
  return (int64_t)(exco__now_ns() / 1000000u);
}

uint64_t exco__ms_to_due(int64_t deadline_ms) {
  if (deadline_ms <= 0)
    return 0;
  if ((uint64_t)deadline_ms >= UINT64_MAX / 1000000u)
    return UINT64_MAX;
  return (uint64_t)deadline_ms * 1000000u;
}

/* ---------------------------------------------------------------------- */
/* The pairing heap                                                        */
/* ---------------------------------------------------------------------- */

static int exco__timer_before(const exco__timer *a, const exco__timer *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* Melds two detached heaps (either may be NULL); returns the root. */
static exco__timer *exco__timer_meld(exco__timer *a, exco__timer *b) {
  if (a == NULL)
    return b;
  if (b == NULL)
    return a;
  if (exco__timer_before(b, a)) {
    exco__timer *x = a;
    a = b;
    b = x;
  }
  /* b becomes a's first child. */
  b->prev = a;
  b->next = a->child;
  if (a->child != NULL)
    a->child->prev = b;
  a->child = b;
  a->next = NULL;
  a->prev = NULL;
  return a;
}

/* Melds the sibling list starting at @first in two passes; returns the
 * root of the result. */
static exco__timer *exco__timer_merge_pairs(exco__timer *first) {
  exco__timer *pairs = NULL, *a, *b, *next, *root = NULL;

  /* Left to right: meld pairs, and chain the results through next. */
  while (first != NULL) {
    a = first;
    b = a->next;
    next = b != NULL ? b->next : NULL;
    a->next = a->prev = NULL;
    if (b != NULL)
      b->next = b->prev = NULL;
    a = exco__timer_meld(a, b);
    a->next = pairs;
    pairs = a;
    first = next;
  }
  /* Right to left (the chain is reversed already): meld into one. */
  while (pairs != NULL) {
    next = pairs->next;
    pairs->next = NULL;
    root = exco__timer_meld(root, pairs);
    pairs = next;
  }
  return root;
}

static void exco__timer_remove(exco__timers *q, exco__timer *tm) {
  exco__timer *sub = exco__timer_merge_pairs(tm->child);

  if (tm == q->root) {
    q->root = sub;
  } else {
    /* Cut tm out of its sibling list, then meld its children back in. */
    if (tm->prev->child == tm)
      tm->prev->child = tm->next;
    else
      tm->prev->next = tm->next;
    if (tm->next != NULL)
      tm->next->prev = tm->prev;
    q->root = exco__timer_meld(q->root, sub);
  }
  tm->child = tm->next = tm->prev = NULL;
  tm->queued = 0;
}

/* ---------------------------------------------------------------------- */
/* The helper thread                                                       */
/* ---------------------------------------------------------------------- */

/*
 * The helper thread lives while it has timers to fire, and lingers
 * EXCO__HELPER_LINGER_NS after its queue empties so that a task sleeping
 * in a loop does not start a thread per sleep.  A thread that leaves on
 * its own detaches itself; one still there at exit is told to leave and
 * joined, so no thread of exco's outlives the process's own (valgrind and
 * TSan see none left behind).
 */
#define EXCO__HELPER_LINGER_NS ((uint64_t)1000000000u)

static exco__timers exco__helper_q;
static pthread_cond_t exco__helper_cond;
static pthread_once_t exco__helper_once = PTHREAD_ONCE_INIT;
static int exco__helper_running;  /* a thread serves the queue */
static int exco__helper_joinable; /* a thread was started, not joined */
static int exco__helper_quit;     /* exit: leave now */
static pthread_t exco__helper_thread;
static uint64_t exco__helper_wait; /* the due time it sleeps until */
static int exco__helper_inited;

static void exco__helper_init(void) {
  pthread_condattr_t attr;

  exco__helper_inited = 1;
  exco__timers_init(&exco__helper_q, NULL);
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&exco__helper_cond, &attr);
  pthread_condattr_destroy(&attr);
}

exco__timers *exco__timers_helper(void) {
  pthread_once(&exco__helper_once, exco__helper_init);
  return &exco__helper_q;
}

/*
 * Fires the due timers of @q; called with its lock held, which it lets go
 * around each wake: the host's task_wake may take a lock of the host's
 * that the host holds while it polls a coroutine that arms a timer.  The
 * node is not touched after the lock is gone (its coroutine may have
 * disarmed it and left), and a reference keeps its task alive for the
 * wake.
 */
static void exco__timers_fire_locked(exco__timers *q, uint64_t now) {
  exco__timer *tm;
  exco_task *t;

  while ((tm = q->root) != NULL && tm->due <= now) {
    exco__timer_remove(q, tm);
    t = tm->task;
    exco__task_ref(t);
    atomic_store_explicit(&tm->fired, 1, memory_order_release);
    pthread_mutex_unlock(&q->lock);
    exco__task_wake(t);
    exco__task_unref(t);
    pthread_mutex_lock(&q->lock);
  }
}

static void exco__helper_sleep(uint64_t due) {
  struct timespec ts;

  ts.tv_sec = (time_t)(due / 1000000000u);
  ts.tv_nsec = (long)(due % 1000000000u);
  pthread_cond_timedwait(&exco__helper_cond, &exco__helper_q.lock, &ts);
}

static void *exco__helper_main(void *arg) {
  exco__timers *q = &exco__helper_q;
  uint64_t now, idle_since = 0;

  (void)arg;
  pthread_mutex_lock(&q->lock);
  while (!exco__helper_quit) {
    now = exco__now_ns();
    exco__timers_fire_locked(q, now);
    if (q->root != NULL) {
      idle_since = 0;
      exco__helper_wait = q->root->due;
    } else if (idle_since == 0) {
      idle_since = now;
      exco__helper_wait = now + EXCO__HELPER_LINGER_NS;
    } else if (now - idle_since >= EXCO__HELPER_LINGER_NS) {
      /* Leaving on its own: nobody will join it. */
      pthread_detach(pthread_self());
      exco__helper_joinable = 0;
      break;
    }
    exco__helper_sleep(exco__helper_wait);
  }
  exco__helper_running = 0;
  pthread_mutex_unlock(&q->lock);
  return NULL;
}

/* Called with the helper queue's lock held after @due became its
 * earliest: start a thread, or wake it if it sleeps for longer. */
static void exco__helper_kick(uint64_t due) {
  if (exco__helper_running) {
    if (due < exco__helper_wait)
      pthread_cond_signal(&exco__helper_cond);
    return;
  }
  /* A thread told to quit at exit is joined there; one that left on its
   * own has detached itself. */
  exco__helper_wait = due;
  if (pthread_create(&exco__helper_thread, NULL, exco__helper_main, NULL) !=
      0) {
    /* Nothing would ever fire.  Say so, loudly, rather than hang. */
    fprintf(stderr, "exco: cannot start the timer thread\n");
    abort();
  }
  exco__helper_running = 1;
  exco__helper_joinable = 1;
}

/*
 * fork(): the helper's lock is held across it (so the child's copy is
 * consistent), and in the child, where only the forking thread exists,
 * the helper is gone: a later timer starts a new one.  The parent's
 * timers belong to executors the child must not run (exco.h, FORK): the
 * child's helper queue starts empty.
 */
void exco__timers_fork(int phase) {
  pthread_condattr_t attr;

  exco__timers_helper(); /* initialised, so the lock exists */
  switch (phase) {
  case EXCO__FORK_PREPARE:
    pthread_mutex_lock(&exco__helper_q.lock);
    break;
  case EXCO__FORK_PARENT:
    pthread_mutex_unlock(&exco__helper_q.lock);
    break;
  default:
    exco__helper_running = 0;
    exco__helper_joinable = 0;
    exco__helper_quit = 0;
    exco__helper_q.root = NULL;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&exco__helper_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_unlock(&exco__helper_q.lock);
    break;
  }
}

/* At exit (or when the library is unloaded): no thread left behind. */
__attribute__((destructor)) static void exco__helper_fini(void) {
  int join;

  if (!exco__helper_inited)
    return;
  pthread_mutex_lock(&exco__helper_q.lock);
  join = exco__helper_joinable;
  exco__helper_joinable = 0;
  exco__helper_quit = 1;
  pthread_cond_signal(&exco__helper_cond);
  pthread_mutex_unlock(&exco__helper_q.lock);
  if (join)
    pthread_join(exco__helper_thread, NULL);
}

/* ---------------------------------------------------------------------- */
/* Queues                                                                  */
/* ---------------------------------------------------------------------- */

int exco__timers_init(exco__timers *q, exco_executor *ex) {
  if (pthread_mutex_init(&q->lock, NULL) != 0)
    return EXCO_ENOMEM;
  q->root = NULL;
  q->seq = 0;
  q->armed = UINT64_MAX;
  q->ex = ex;
  return 0;
}

void exco__timers_fini(exco__timers *q) {
  pthread_mutex_destroy(&q->lock);
}

/* Tells whoever fires @q that @due is now its earliest.  Lock held. */
static void exco__timers_kick(exco__timers *q, uint64_t due) {
  if (q->ex == NULL) {
    exco__helper_kick(due);
  } else if (due < q->armed) {
    q->armed = due;
    q->ex->ops->timer_arm(q->ex->data, due);
  }
}

void exco__timer_arm(exco__timers *q, exco__timer *tm, uint64_t due,
                     exco_task *task) {
  tm->child = tm->next = tm->prev = NULL;
  tm->due = due;
  tm->task = task;
  atomic_init(&tm->fired, 0);
  pthread_mutex_lock(&q->lock);
  tm->seq = q->seq++;
  tm->queued = 1;
  q->root = exco__timer_meld(q->root, tm);
  if (q->root == tm)
    exco__timers_kick(q, due);
  pthread_mutex_unlock(&q->lock);
}

int exco__timer_disarm(exco__timers *q, exco__timer *tm) {
  pthread_mutex_lock(&q->lock);
  if (tm->queued)
    exco__timer_remove(q, tm);
  pthread_mutex_unlock(&q->lock);
  return atomic_load_explicit(&tm->fired, memory_order_acquire);
}

void exco__timers_fire(exco__timers *q) {
  pthread_mutex_lock(&q->lock);
  exco__timers_fire_locked(q, exco__now_ns());
  /* Whatever was armed has fired (or will, harmlessly): arm afresh. */
  q->armed = UINT64_MAX;
  if (q->root != NULL)
    exco__timers_kick(q, q->root->due);
  pthread_mutex_unlock(&q->lock);
}

uint64_t exco__timers_next(exco__timers *q) {
  uint64_t due;

  pthread_mutex_lock(&q->lock);
  due = q->root != NULL ? q->root->due : UINT64_MAX;
  pthread_mutex_unlock(&q->lock);
  return due;
}

int exco_driver_fire_timers(exco_executor *ex) {
  if (!exco__executor_valid(ex) || ex->timers != &ex->own_timers)
    return EXCO_EINVAL;
  exco__timers_fire(ex->timers);
  return 0;
}
