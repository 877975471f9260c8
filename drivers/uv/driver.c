/*
 * driver.c -- the libuv host driver: exco's task_new / task_run /
 * task_wake on one side, exco_poll() / exco_drop() from the loop on the
 * other, using nothing but <exco.h>.
 *
 * Per executor there is one ready queue, one uv_idle_t and one uv_async_t
 * (the seed's design has a uv_async_t per task, which costs a write()
 * per wake and a scan of every task's handle per loop wakeup):
 *
 *   - A wake on the loop thread appends the task's node to the ready queue
 *     and, if the queue was empty, starts the idle handle: O(1), no system
 *     call.  An active idle handle makes the loop poll for I/O with a zero
 *     timeout, and its callback polls ready tasks.
 *   - A wake from another thread pushes the node onto a lock-free list
 *     (a Treiber stack) and calls uv_async_send() only when that list was
 *     empty, so a storm of wakes costs one system call per loop
 *     iteration.  The async callback moves the list to the ready queue.
 *   - The idle callback, once per loop iteration, polls at most `budget`
 *     tasks, then lets the loop run its timers and I/O.
 *   - The async handle is referenced only while the executor has live
 *     tasks, so uv_run() returns when every task has finished; the idle
 *     handle is never referenced and only active while tasks are ready, so
 *     a task waiting on something the loop doesn't see blocks the loop
 *     instead of spinning it.
 *
 * Node lifetime.  exco coalesces wakes (one task_wake per poll at most)
 * and never calls task_wake after exco_drop() has returned, so a node is
 * normally on no list when its task is dropped.  The driver does not rely
 * on the coalescing, though: a node still linked on the ready queue or the
 * cross-thread list when its task is dropped is marked dead and freed by
 * whichever drain unlinks it last.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "uv-internal.h"

typedef struct exco__uv_node exco__uv_node;

struct exco__uv_node {
  exco__uv_node *next;             /* ready queue link */
  exco__uv_node *rnext;            /* cross-thread list link */
  exco__uv_node *lprev, *lnext;    /* live list (for cancel_all) */
  exco_task *task;                 /* the intern handle, from task_run */
  exco__uv_driver *d;
  atomic_int rqueued;              /* on the cross-thread list */
  unsigned char lqueued;           /* on the ready queue */
  unsigned char linked;            /* on the live list */
  unsigned char dead;              /* dropped while still on a list */
};

struct exco__uv_driver {
  uv_loop_t *loop;
  exco_executor *ex;
  pthread_t owner;                 /* the loop thread */
  unsigned budget;
  int is_default;
  int idle_on;                     /* the idle handle is started */
  int async_refd;                  /* the async handle is referenced */
  int closing;                     /* close callbacks still to come */
  long live;                       /* tasks created and not dropped */
  exco__uv_node *head;             /* ready queue */
  exco__uv_node **tailp;
  exco__uv_node *all;              /* live list */
  /* Written by other threads: kept off the loop thread's cache lines. */
  char pad1[64];
  _Atomic(exco__uv_node *) remote; /* cross-thread wakes, newest first */
  atomic_long remote_new;          /* tasks created on other threads and
                                      not yet counted in live */
  char pad2[64];
  uv_idle_t idle;
  uv_async_t async;
};

static pthread_mutex_t exco__uv_default_lock = PTHREAD_MUTEX_INITIALIZER;
static exco__uv_driver *exco__uv_default;

static int exco__uv_on_loop_thread(const exco__uv_driver *d) {
  return pthread_equal(pthread_self(), d->owner);
}

static void exco__uv_idle_cb(uv_idle_t *idle);

static void exco__uv_check_thread(const exco__uv_driver *d) {
  /* A loop run on another thread than its executor's creator would make
   * "local" wakes race with the loop.  That is a usage error this driver
   * can't survive; say so instead of corrupting the queue. */
  if (!exco__uv_on_loop_thread(d)) {
    fprintf(stderr, "exco-uv: loop %p is run on a thread other than the "
                    "one that created its executor\n", (void *)d->loop);
    abort();
  }
}

/* ---------------------------------------------------------------------- */
/* Liveness: the async handle's reference                                  */
/* ---------------------------------------------------------------------- */

static void exco__uv_update_ref(exco__uv_driver *d) {
  int want;

  d->live += atomic_exchange_explicit(&d->remote_new, 0,
                                      memory_order_relaxed);
  want = d->live > 0;
  if (want == d->async_refd)
    return;
  if (want)
    uv_ref((uv_handle_t *)&d->async);
  else
    uv_unref((uv_handle_t *)&d->async);
  d->async_refd = want;
}

/* ---------------------------------------------------------------------- */
/* Lists                                                                   */
/* ---------------------------------------------------------------------- */

static void exco__uv_link(exco__uv_driver *d, exco__uv_node *n) {
  n->lprev = NULL;
  n->lnext = d->all;
  if (d->all != NULL)
    d->all->lprev = n;
  d->all = n;
  n->linked = 1;
}

static void exco__uv_unlink(exco__uv_driver *d, exco__uv_node *n) {
  if (!n->linked)
    return;
  if (n->lprev != NULL)
    n->lprev->lnext = n->lnext;
  else
    d->all = n->lnext;
  if (n->lnext != NULL)
    n->lnext->lprev = n->lprev;
  n->linked = 0;
}

/* Loop thread: puts @n on the ready queue and makes sure it is drained. */
static void exco__uv_push_local(exco__uv_driver *d, exco__uv_node *n) {
  if (n->lqueued)
    return;
  n->lqueued = 1;
  n->next = NULL;
  *d->tailp = n;
  d->tailp = &n->next;
  if (!d->idle_on) {
    d->idle_on = 1;
    uv_idle_start(&d->idle, exco__uv_idle_cb);
  }
}

/* Any other thread: pushes @n onto the cross-thread list; wakes the loop
 * only on the list's empty -> non-empty transition. */
static void exco__uv_push_remote(exco__uv_driver *d, exco__uv_node *n) {
  exco__uv_node *old;

  if (atomic_exchange_explicit(&n->rqueued, 1, memory_order_acq_rel))
    return;
  old = atomic_load_explicit(&d->remote, memory_order_relaxed);
  do {
    n->rnext = old;
  } while (!atomic_compare_exchange_weak_explicit(
      &d->remote, &old, n, memory_order_release, memory_order_relaxed));
  if (old == NULL)
    uv_async_send(&d->async);
}

static void exco__uv_node_free_if_unlinked(exco__uv_node *n) {
  if (n->dead && !n->lqueued &&
      !atomic_load_explicit(&n->rqueued, memory_order_acquire))
    free(n);
}

/* Loop thread: moves the cross-thread list onto the ready queue, oldest
 * first, and counts the tasks created on other threads. */
static void exco__uv_drain_remote(exco__uv_driver *d) {
  exco__uv_node *n, *next, *rev = NULL;

  if (atomic_load_explicit(&d->remote, memory_order_relaxed) != NULL) {
    n = atomic_exchange_explicit(&d->remote, NULL, memory_order_acquire);
    /* Newest first: reverse. */
    while (n != NULL) {
      next = n->rnext;
      n->rnext = rev;
      rev = n;
      n = next;
    }
    for (n = rev; n != NULL; n = next) {
      next = n->rnext;
      /* The link is read before the flag is cleared: once it is clear a
       * pusher may reuse rnext. */
      atomic_store_explicit(&n->rqueued, 0, memory_order_release);
      if (n->dead) {
        exco__uv_node_free_if_unlinked(n);
        continue;
      }
      if (!n->linked)
        exco__uv_link(d, n);
      exco__uv_push_local(d, n);
    }
  }
  /* After the list: a node is pushed after its remote_new increment. */
  exco__uv_update_ref(d);
}

/* ---------------------------------------------------------------------- */
/* Polling                                                                 */
/* ---------------------------------------------------------------------- */

static void exco__uv_finished(exco__uv_driver *d, exco__uv_node *n) {
  exco_drop(n->task);
  n->task = NULL;
  exco__uv_unlink(d, n);
  d->live--;
  n->dead = 1;
  exco__uv_node_free_if_unlinked(n);
  if (d->live == 0)
    exco__uv_update_ref(d);
}

/* Polls up to the budget of ready tasks; stops the idle handle once the
 * queue is empty. */
static void exco__uv_run_ready(exco__uv_driver *d) {
  unsigned budget = d->budget;
  exco__uv_node *n;
  int r;

  while (budget > 0 && (n = d->head) != NULL) {
    d->head = n->next;
    if (d->head == NULL)
      d->tailp = &d->head;
    n->lqueued = 0;
    if (n->dead) {
      exco__uv_node_free_if_unlinked(n);
      continue;
    }
    budget--;
    r = exco_poll(n->task);
    if (r == 0)
      exco__uv_finished(d, n);
    else if (r == EXCO_EBUSY)
      /* Polled from inside a coroutine (uv_run nested in one): the wake
       * is kept pending by exco, so keep the task queued. */
      exco__uv_push_local(d, n);
  }
  if (d->head == NULL && d->idle_on) {
    d->idle_on = 0;
    uv_idle_stop(&d->idle);
  }
}

static void exco__uv_idle_cb(uv_idle_t *idle) {
  exco__uv_driver *d = idle->data;

  exco__uv_check_thread(d);
  exco__uv_run_ready(d);
}

/* Only moves cross-thread wakes to the ready queue (starting the idle
 * handle): all polling happens in the idle callback, once per loop
 * iteration, so the budget bounds the polls of an iteration. */
static void exco__uv_async_cb(uv_async_t *async) {
  exco__uv_driver *d = async->data;

  exco__uv_check_thread(d);
  exco__uv_drain_remote(d);
}

/* ---------------------------------------------------------------------- */
/* The driver contract                                                     */
/* ---------------------------------------------------------------------- */

static void *exco__uv_task_new(void *data) {
  exco__uv_driver *d = data;
  exco__uv_node *n = malloc(sizeof(*n));

  if (n == NULL)
    return NULL;
  n->next = NULL;
  n->rnext = NULL;
  n->lprev = NULL;
  n->lnext = NULL;
  n->task = NULL;
  n->d = d;
  atomic_init(&n->rqueued, 0);
  n->lqueued = 0;
  n->linked = 0;
  n->dead = 0;
  if (exco__uv_on_loop_thread(d)) {
    exco__uv_link(d, n);
    if (d->live++ == 0)
      exco__uv_update_ref(d);
  } else {
    /* The loop thread links and counts it when it arrives (task_run
     * follows at once and pushes it onto the cross-thread list). */
    atomic_fetch_add_explicit(&d->remote_new, 1, memory_order_relaxed);
  }
  return n;
}

static void exco__uv_task_wake(void *ext) {
  exco__uv_node *n = ext;
  exco__uv_driver *d = n->d;

  if (exco__uv_on_loop_thread(d))
    exco__uv_push_local(d, n);
  else
    exco__uv_push_remote(d, n);
}

static void exco__uv_task_run(void *ext, exco_task *intern) {
  exco__uv_node *n = ext;

  n->task = intern;
  exco__uv_task_wake(n);
}

/* Callbacks of a detached default executor: spawning fails cleanly. */
static void *exco__uv_dead_new(void *data) {
  (void)data;
  return NULL;
}

static void exco__uv_dead_run(void *ext, exco_task *intern) {
  (void)ext;
  (void)intern;
}

static void exco__uv_dead_wake(void *ext) {
  (void)ext;
}

/* ---------------------------------------------------------------------- */
/* Setup and teardown                                                      */
/* ---------------------------------------------------------------------- */

static void exco__uv_driver_close_cb(uv_handle_t *handle) {
  exco__uv_driver *d = handle->data;

  if (--d->closing == 0)
    free(d);
}

/* Closes the handles; the last close callback frees @d.  Nodes left on
 * the lists belong to dropped tasks: nothing can push them any more. */
static void exco__uv_driver_close(exco__uv_driver *d) {
  exco__uv_node *n, *next;

  n = atomic_exchange_explicit(&d->remote, NULL, memory_order_acquire);
  for (; n != NULL; n = next) {
    next = n->rnext;
    atomic_store_explicit(&n->rqueued, 0, memory_order_relaxed);
    exco__uv_node_free_if_unlinked(n);
  }
  for (n = d->head; n != NULL; n = next) {
    next = n->next;
    n->lqueued = 0;
    exco__uv_node_free_if_unlinked(n);
  }
  d->head = NULL;
  d->tailp = &d->head;
  d->closing = 2;
  uv_close((uv_handle_t *)&d->idle, exco__uv_driver_close_cb);
  uv_close((uv_handle_t *)&d->async, exco__uv_driver_close_cb);
}

static int exco__uv_driver_new(uv_loop_t *loop, exco__uv_driver **out) {
  exco__uv_driver *d = calloc(1, sizeof(*d));
  int err;

  if (d == NULL)
    return EXCO_ENOMEM;
  d->loop = loop;
  d->owner = pthread_self();
  d->budget = EXCO_UV_BUDGET_DEFAULT;
  d->tailp = &d->head;
  atomic_init(&d->remote, NULL);
  atomic_init(&d->remote_new, 0);
  err = uv_async_init(loop, &d->async, exco__uv_async_cb);
  if (err != 0) {
    free(d);
    return err;
  }
  d->async.data = d;
  uv_unref((uv_handle_t *)&d->async);
  /* Cannot fail. */
  uv_idle_init(loop, &d->idle);
  d->idle.data = d;
  uv_unref((uv_handle_t *)&d->idle);
  *out = d;
  return 0;
}

int exco_uv_executor_new(exco_executor **out, uv_loop_t *loop) {
  exco__uv_driver *d;
  exco_executor *ex;
  int err;

  if (out == NULL || loop == NULL)
    return EXCO_EINVAL;
  err = exco__uv_driver_new(loop, &d);
  if (err != 0)
    return err;
  err = exco_executor_new(&ex, exco__uv_task_new, exco__uv_task_run,
                          exco__uv_task_wake, d);
  if (err == 0) {
    d->ex = ex;
    err = exco__uv_registry_add(d, loop, d);
    if (err != 0)
      exco_executor_free(ex);
  }
  if (err != 0) {
    exco__uv_driver_close(d);
    return err;
  }
  *out = ex;
  return 0;
}

int exco_uv_init(uv_loop_t *loop) {
  exco__uv_driver *d, *old = NULL;
  int err;

  if (loop == NULL)
    return EXCO_EINVAL;
  err = exco__uv_driver_new(loop, &d);
  if (err != 0)
    return err;
  d->is_default = 1;
  d->ex = exco_default_executor();
  err = exco__uv_registry_add(d, loop, d);
  if (err != 0) {
    exco__uv_driver_close(d);
    return err;
  }
  pthread_mutex_lock(&exco__uv_default_lock);
  err = exco_init(exco__uv_task_new, exco__uv_task_run, exco__uv_task_wake,
                  d);
  if (err == 0) {
    old = exco__uv_default;
    exco__uv_default = d;
  }
  pthread_mutex_unlock(&exco__uv_default_lock);
  if (err != 0) {
    exco__uv_registry_remove(d, d);
    exco__uv_driver_close(d);
    return err;
  }
  if (old != NULL) {
    exco__uv_registry_remove(old, old);
    exco__uv_driver_close(old);
  }
  return 0;
}

static exco__uv_driver *exco__uv_driver_of(exco_executor *ex) {
  exco__uv_driver *d;

  if (ex == NULL)
    return NULL;
  d = exco__uv_registry_driver(exco_executor_data(ex));
  return d != NULL && d->ex == ex ? d : NULL;
}

int exco_uv_executor_free(exco_executor *ex) {
  exco__uv_driver *d = exco__uv_driver_of(ex);
  int err;

  if (d == NULL)
    return EXCO_EINVAL;
  exco__uv_check_thread(d);
  if (d->is_default) {
    pthread_mutex_lock(&exco__uv_default_lock);
    err = exco_init(exco__uv_dead_new, exco__uv_dead_run,
                    exco__uv_dead_wake, NULL);
    if (err == 0 && exco__uv_default == d)
      exco__uv_default = NULL;
    pthread_mutex_unlock(&exco__uv_default_lock);
  } else {
    err = exco_executor_free(ex);
  }
  if (err != 0)
    return err;
  exco__uv_registry_remove(d, d);
  exco__uv_driver_close(d);
  return 0;
}

int exco_uv_executor_set_budget(exco_executor *ex, unsigned budget) {
  exco__uv_driver *d = exco__uv_driver_of(ex);

  if (d == NULL)
    return EXCO_EINVAL;
  exco__uv_check_thread(d);
  d->budget = budget != 0 ? budget : EXCO_UV_BUDGET_DEFAULT;
  return 0;
}

long exco_uv_executor_cancel_all(exco_executor *ex) {
  exco__uv_driver *d = exco__uv_driver_of(ex);
  exco__uv_node *n;
  long count = 0;

  if (d == NULL)
    return EXCO_EINVAL;
  exco__uv_check_thread(d);
  /* Bring in tasks spawned from other threads that have arrived. */
  exco__uv_drain_remote(d);
  /* exco_task_cancel() only wakes: the wake lands on the ready queue and
   * the live list does not change while we walk it. */
  for (n = d->all; n != NULL; n = n->lnext)
    if (n->task != NULL && exco_task_cancel(n->task) == 0)
      count++;
  return count;
}
