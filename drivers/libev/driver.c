/*
 * driver.c -- the libev host driver, on exco's shared run queue
 * (<exco/driver.h>): four libev watchers per executor and the callbacks
 * that connect them to the queue.
 *
 *   - schedule starts an ev_prepare watcher, whose callback polls up to
 *     `budget` ready tasks just before the loop would block
 *     (exco_driver_run()) and stops itself once the queue is empty.  A
 *     task woken by an I/O or timer callback so runs in the same loop
 *     iteration, without another trip through the poll.  While tasks are
 *     left over after a budget, an ev_idle watcher (doing nothing) keeps
 *     the loop from blocking.
 *   - notify is ev_async_send() on one ev_async per executor, whose
 *     callback takes the cross-thread wakes in (exco_driver_accept()).
 *   - keepalive holds one reference on the loop (ev_ref) while the
 *     executor has live tasks, so ev_run() returns when every task has
 *     finished.
 *   - timer_arm starts one ev_timer that fires exco's timer queue.
 *   - close stops the watchers and frees the driver's state.
 *
 * None of the four watchers keeps the loop alive: each is unreferenced
 * (ev_unref) once started and referenced again (ev_ref) just before it is
 * stopped, libev's rule for such watchers.  A one-shot ev_timer is stopped
 * by libev itself as it fires, so its callback takes the reference back.
 */
#include "config.h"

#include <stdlib.h>

#include "exco/driver.h"
#include "exco/libev.h"

typedef struct exco__libev_driver {
  struct ev_loop *loop;
  exco_executor *ex;
  unsigned budget;
  int ref; /* keepalive holds a loop reference */
  ev_prepare prepare;
  ev_idle idle;
  ev_async async;
  ev_timer timer;
} exco__libev_driver;

/* Starts one of the driver's watchers, unreferenced. */
#define EXCO__LIBEV_START(d, type, w)                                          \
  do {                                                                         \
    if (!ev_is_active(w)) {                                                    \
      ev_##type##_start((d)->loop, (w));                                       \
      ev_unref((d)->loop);                                                     \
    }                                                                          \
  } while (0)

/* Stops one of the driver's watchers, taking its reference back first. */
#define EXCO__LIBEV_STOP(d, type, w)                                           \
  do {                                                                         \
    if (ev_is_active(w)) {                                                     \
      ev_ref((d)->loop);                                                       \
      ev_##type##_stop((d)->loop, (w));                                        \
    }                                                                          \
  } while (0)

/*
 * Stops the timer.  A one-shot timer that fired is stopped by libev
 * already (dropping a reference we had given up), but its callback may
 * still be pending in this loop iteration: clear that too (ev_timer_stop
 * does) and take the reference back, as the callback would have.
 */
static void exco__libev_timer_stop(exco__libev_driver *d) {
  if (ev_is_active(&d->timer) || ev_is_pending(&d->timer)) {
    ev_ref(d->loop);
    ev_timer_stop(d->loop, &d->timer);
  }
}

/* ---------------------------------------------------------------------- */
/* The watchers' callbacks                                                 */
/* ---------------------------------------------------------------------- */

static void exco__libev_prepare_cb(struct ev_loop *loop, ev_prepare *w,
                                   int revents) {
  exco__libev_driver *d = w->data;
  int ready = exco_driver_run(d->ex, d->budget);

  (void)loop;
  (void)revents;
  /* EXCO_EBUSY: ev_run() nested in a coroutine, whose loop can't poll
   * tasks; they stay queued for the outer loop. */
  if (ready == 0) {
    EXCO__LIBEV_STOP(d, prepare, &d->prepare);
    EXCO__LIBEV_STOP(d, idle, &d->idle);
  } else if (ready > 0) {
    EXCO__LIBEV_START(d, idle, &d->idle);
  }
}

/* An active idle watcher is all it takes: the loop polls without
 * blocking, and the prepare watcher runs the next budget. */
static void exco__libev_idle_cb(struct ev_loop *loop, ev_idle *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
}

static void exco__libev_async_cb(struct ev_loop *loop, ev_async *w,
                                 int revents) {
  exco__libev_driver *d = w->data;

  (void)loop;
  (void)revents;
  /* 1: the executor finished closing and is freed (the close hook has
   * stopped the watchers): nothing more to do. */
  (void)exco_driver_accept(d->ex);
}

static void exco__libev_timer_cb(struct ev_loop *loop, ev_timer *w,
                                 int revents) {
  exco__libev_driver *d = w->data;

  (void)revents;
  /* libev stopped the one-shot timer, dropping a reference we had given
   * up already: take it back. */
  ev_ref(loop);
  exco_driver_fire_timers(d->ex);
}

/* ---------------------------------------------------------------------- */
/* The driver's ops                                                        */
/* ---------------------------------------------------------------------- */

static void exco__libev_schedule(void *data) {
  exco__libev_driver *d = data;

  EXCO__LIBEV_START(d, prepare, &d->prepare);
}

static void exco__libev_notify(void *data) {
  exco__libev_driver *d = data;

  ev_async_send(d->loop, &d->async);
}

static void exco__libev_keepalive(void *data, int alive) {
  exco__libev_driver *d = data;

  d->ref = alive;
  if (alive)
    ev_ref(d->loop);
  else
    ev_unref(d->loop);
}

static void exco__libev_timer_arm(void *data, uint64_t due) {
  exco__libev_driver *d = data;
  uint64_t now = exco_driver_now_ns();
  double after = due > now ? (double)(due - now) / 1e9 : 0.0;

  exco__libev_timer_stop(d);
  /* "At least until due": count from now, not from the start of this
   * loop iteration. */
  ev_now_update(d->loop);
  ev_timer_set(&d->timer, after, 0.0);
  EXCO__LIBEV_START(d, timer, &d->timer);
}

static void exco__libev_close(void *data) {
  exco__libev_driver *d = data;

  EXCO__LIBEV_STOP(d, prepare, &d->prepare);
  EXCO__LIBEV_STOP(d, idle, &d->idle);
  exco__libev_timer_stop(d);
  EXCO__LIBEV_STOP(d, async, &d->async);
  if (d->ref)
    ev_unref(d->loop);
  free(d);
}

static const exco_driver_ops exco__libev_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "libev",
    .schedule = exco__libev_schedule,
    .notify = exco__libev_notify,
    .keepalive = exco__libev_keepalive,
    .timer_arm = exco__libev_timer_arm,
    .close = exco__libev_close,
};

/* ---------------------------------------------------------------------- */
/* Setup and the loop lookups                                              */
/* ---------------------------------------------------------------------- */

int exco_libev_executor_new(exco_executor **out, struct ev_loop *loop) {
  exco__libev_driver *d;
  int err;

  if (out == NULL || loop == NULL)
    return EXCO_EINVAL;
  d = calloc(1, sizeof(*d));
  if (d == NULL)
    return EXCO_ENOMEM;
  d->loop = loop;
  d->budget = EXCO_LIBEV_BUDGET_DEFAULT;
  ev_prepare_init(&d->prepare, exco__libev_prepare_cb);
  d->prepare.data = d;
  ev_idle_init(&d->idle, exco__libev_idle_cb);
  d->idle.data = d;
  ev_async_init(&d->async, exco__libev_async_cb);
  d->async.data = d;
  ev_init(&d->timer, exco__libev_timer_cb);
  d->timer.data = d;
  EXCO__LIBEV_START(d, async, &d->async);
  err = exco_driver_executor_new(&d->ex, &exco__libev_ops, d);
  if (err != 0) {
    exco__libev_close(d);
    return err;
  }
  *out = d->ex;
  return 0;
}

static exco__libev_driver *exco__libev_driver_of(exco_executor *ex) {
  return exco_driver_data(ex, &exco__libev_ops);
}

int exco_libev_executor_set_budget(exco_executor *ex, unsigned budget) {
  exco__libev_driver *d = exco__libev_driver_of(ex);

  if (d == NULL)
    return EXCO_EINVAL;
  d->budget = budget != 0 ? budget : EXCO_LIBEV_BUDGET_DEFAULT;
  return 0;
}

struct ev_loop *exco_libev_executor_loop(exco_executor *ex) {
  exco__libev_driver *d = exco__libev_driver_of(ex);

  return d != NULL ? d->loop : NULL;
}

struct ev_loop *exco_libev_loop(void) {
  return exco_libev_executor_loop(exco_current_executor());
}
