/*
 * driver.c -- the libuv host driver, on exco's shared run queue
 * (<exco/driver.h>): four libuv handles per executor and the callbacks
 * that connect them to the queue.
 *
 *   - schedule starts a uv_check_t, whose callback polls up to `budget`
 *     ready tasks per loop iteration (exco_driver_run()), and a uv_idle_t;
 *     both are stopped once the queue is empty.  The check phase comes
 *     right after the poll for I/O in the same loop iteration, so a task
 *     woken by an I/O callback runs before the loop polls again (from an
 *     idle callback, before the poll, it would wait for one more poll).
 *     The idle handle does nothing but make the loop poll for I/O with a
 *     zero timeout while tasks are queued, so a task woken by a timer, a
 *     close callback or a spawn from outside runs in the check phase of
 *     the same or the next iteration without the poll blocking first.
 *     Neither handle is ever referenced, so a task waiting on something
 *     the loop doesn't see blocks the loop instead of spinning it.
 *   - notify is uv_async_send() on one uv_async_t per executor, whose
 *     callback takes the cross-thread wakes in (exco_driver_accept()).
 *   - keepalive references the async handle while the executor has live
 *     tasks, so uv_run() returns when every task has finished.
 *   - timer_arm starts one uv_timer_t (unreferenced: the tasks keep the
 *     loop alive, not their timers) that fires exco's timer queue.
 *   - close closes the four handles; the last close callback frees the
 *     driver's state.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "uv-internal.h"

#include "rust_async_executor.h"

struct exco__uv_driver {
  uv_loop_t *loop;
  exco_executor *ex;
  pthread_t owner; /* the loop thread */
  unsigned budget;
  int closing; /* close callbacks still to come */
  uv_idle_t idle;
  uv_check_t check;
  uv_async_t async;
  uv_timer_t timer;
};

atomic_uint exco__uv_epoch;

static pthread_mutex_t exco__uv_default_lock = PTHREAD_MUTEX_INITIALIZER;

/* The key of exco_uv_attach()'s attachment: its address. */
static const char exco__uv_attach_key = 0;

static void exco__uv_check_thread(const exco__uv_driver *d) {
  /* A loop run on another thread than its executor's creator would make
   * "local" wakes race with the loop.  That is a usage error this driver
   * can't survive; say so instead of corrupting the queue. */
  if (!pthread_equal(pthread_self(), d->owner)) {
    fprintf(stderr,
            "exco-uv: loop %p is run on a thread other than the "
            "one that created its executor\n",
            (void *)d->loop);
    abort();
  }
}

/* ---------------------------------------------------------------------- */
/* The handles' callbacks                                                  */
/* ---------------------------------------------------------------------- */

/* Active only to keep the poll for I/O from blocking (see above). */
static void exco__uv_idle_cb(uv_idle_t *idle) {
  (void)idle;
}

static void exco__uv_check_cb(uv_check_t *check) {
  exco__uv_driver *d = check->data;

  exco__uv_check_thread(d);
  /* EXCO_EBUSY: uv_run() nested in a coroutine, whose loop can't poll
   * tasks; they stay queued for the outer loop. */
  if (exco_driver_run(d->ex, d->budget) == 0) {
    uv_idle_stop(&d->idle);
    uv_check_stop(&d->check);
  }
}

static void exco__uv_async_cb(uv_async_t *async) {
  exco__uv_driver *d = async->data;

  exco__uv_check_thread(d);
  /* 1: the executor finished closing and is freed (the close hook has
   * closed these handles): nothing more to do. */
  (void)exco_driver_accept(d->ex);
}

static void exco__uv_timer_cb(uv_timer_t *timer) {
  exco__uv_driver *d = timer->data;

  exco_driver_fire_timers(d->ex);
}

/* ---------------------------------------------------------------------- */
/* The driver's ops                                                        */
/* ---------------------------------------------------------------------- */

static void exco__uv_schedule(void *data) {
  exco__uv_driver *d = data;

  uv_idle_start(&d->idle, exco__uv_idle_cb);
  uv_check_start(&d->check, exco__uv_check_cb);
}

static void exco__uv_notify(void *data) {
  exco__uv_driver *d = data;

  uv_async_send(&d->async);
}

static void exco__uv_keepalive(void *data, int alive) {
  exco__uv_driver *d = data;

  if (alive)
    uv_ref((uv_handle_t *)&d->async);
  else
    uv_unref((uv_handle_t *)&d->async);
}

static void exco__uv_timer_arm(void *data, uint64_t due) {
  exco__uv_driver *d = data;
  uint64_t now = uv_hrtime();
  uint64_t ms = due > now ? (due - now + 999999) / 1000000 : 0;

  /* "At least until due": count from now, not from the start of this
   * loop iteration. */
  uv_update_time(d->loop);
  uv_timer_start(&d->timer, exco__uv_timer_cb, ms, 0);
}

static void exco__uv_close_cb(uv_handle_t *handle) {
  exco__uv_driver *d = handle->data;

  if (--d->closing == 0)
    free(d);
}

/* Closes the handles; the last close callback frees @d. */
static void exco__uv_close(void *data) {
  exco__uv_driver *d = data;

  /* Caches of "this executor runs on that loop" are stale from now on:
   * the executor's address may come back as another one. */
  atomic_fetch_add_explicit(&exco__uv_epoch, 1, memory_order_release);
  d->ex = NULL;
  d->closing = 4;
  uv_close((uv_handle_t *)&d->idle, exco__uv_close_cb);
  uv_close((uv_handle_t *)&d->check, exco__uv_close_cb);
  uv_close((uv_handle_t *)&d->async, exco__uv_close_cb);
  uv_close((uv_handle_t *)&d->timer, exco__uv_close_cb);
}

static const exco_driver_ops exco__uv_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "uv",
    .schedule = exco__uv_schedule,
    .notify = exco__uv_notify,
    .keepalive = exco__uv_keepalive,
    .timer_arm = exco__uv_timer_arm,
    .close = exco__uv_close,
};

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

static int exco__uv_driver_new(uv_loop_t *loop, exco__uv_driver **out) {
  exco__uv_driver *d = calloc(1, sizeof(*d));
  int err;

  if (d == NULL)
    return EXCO_ENOMEM;
  d->loop = loop;
  d->owner = pthread_self();
  d->budget = EXCO_UV_BUDGET_DEFAULT;
  err = uv_async_init(loop, &d->async, exco__uv_async_cb);
  if (err != 0) {
    free(d);
    return err;
  }
  d->async.data = d;
  uv_unref((uv_handle_t *)&d->async);
  /* Neither can fail. */
  uv_idle_init(loop, &d->idle);
  d->idle.data = d;
  uv_unref((uv_handle_t *)&d->idle);
  uv_check_init(loop, &d->check);
  d->check.data = d;
  uv_unref((uv_handle_t *)&d->check);
  uv_timer_init(loop, &d->timer);
  d->timer.data = d;
  uv_unref((uv_handle_t *)&d->timer);
  *out = d;
  return 0;
}

int exco_uv_executor_new(exco_executor **out, uv_loop_t *loop) {
  exco__uv_driver *d;
  int err;

  if (out == NULL || loop == NULL)
    return EXCO_EINVAL;
  err = exco__uv_driver_new(loop, &d);
  if (err != 0)
    return err;
  err = exco_driver_executor_new(&d->ex, &exco__uv_ops, d);
  if (err != 0) {
    exco__uv_close(d);
    return err;
  }
  *out = d->ex;
  return 0;
}

int exco_uv_init(uv_loop_t *loop) {
  exco__uv_driver *d;
  int err;

  if (loop == NULL)
    return EXCO_EINVAL;
  err = exco__uv_driver_new(loop, &d);
  if (err != 0)
    return err;
  d->ex = exco_default_executor();
  /* A driver this replaces is closed by exco (its close hook). */
  pthread_mutex_lock(&exco__uv_default_lock);
  err = exco_driver_init(&exco__uv_ops, d);
  pthread_mutex_unlock(&exco__uv_default_lock);
  if (err != 0)
    exco__uv_close(d);
  return err;
}

static exco__uv_driver *exco__uv_driver_of(exco_executor *ex) {
  return exco_driver_data(ex, &exco__uv_ops);
}

int exco_uv_executor_free(exco_executor *ex) {
  exco__uv_driver *d = exco__uv_driver_of(ex);
  int err;

  if (d == NULL)
    return EXCO_EINVAL;
  exco__uv_check_thread(d);
  if (ex != exco_default_executor())
    return exco_executor_free(ex);
  pthread_mutex_lock(&exco__uv_default_lock);
  err =
      exco_init(exco__uv_dead_new, exco__uv_dead_run, exco__uv_dead_wake, NULL);
  pthread_mutex_unlock(&exco__uv_default_lock);
  return err;
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

  if (d == NULL)
    return EXCO_EINVAL;
  exco__uv_check_thread(d);
  return exco_executor_cancel_all(ex);
}

/* ---------------------------------------------------------------------- */
/* Which loop an executor runs on                                          */
/* ---------------------------------------------------------------------- */

int exco_uv_attach(exco_executor *ex, uv_loop_t *loop) {
  if (loop == NULL || exco__uv_driver_of(ex) != NULL)
    return EXCO_EINVAL;
  return exco_executor_attach(ex, &exco__uv_attach_key, loop);
}

int exco_uv_detach(exco_executor *ex) {
  return exco_executor_detach(ex, &exco__uv_attach_key);
}

uv_loop_t *exco_uv_executor_loop(exco_executor *ex) {
  exco__uv_driver *d = exco__uv_driver_of(ex);

  if (d != NULL)
    return d->loop;
  return exco_executor_attachment(ex, &exco__uv_attach_key);
}

uv_loop_t *exco__uv_current_loop(int *driven) {
  return exco__uv_executor_loop(exco_current_executor(), driven);
}

uv_loop_t *exco__uv_executor_loop(exco_executor *ex, int *driven) {
  exco__uv_driver *d = exco__uv_driver_of(ex);

  *driven = d != NULL;
  if (d != NULL)
    return d->loop;
  return exco_executor_attachment(ex, &exco__uv_attach_key);
}

uv_loop_t *exco_uv_loop(void) {
  return exco_uv_executor_loop(exco_current_executor());
}

/* ---------------------------------------------------------------------- */
/* The seed's entry point (<rust_async_executor.h>)                        */
/* ---------------------------------------------------------------------- */

/* Declared with libuv's struct tag (RustAsyncExecutorUvLoop is struct
 * uv_loop_s, the same type as uv_loop_t); the seed returns nothing, so
 * exco_uv_init()'s error is dropped. */
void rust_async_executor_uv_init(RustAsyncExecutorUvLoop *uv_loop) {
  (void)exco_uv_init(uv_loop);
}
