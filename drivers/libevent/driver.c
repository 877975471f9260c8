/*
 * driver.c -- the libevent host driver, on exco's shared run queue
 * (<exco/driver.h>): four events per executor and the callbacks that
 * connect them to the queue.
 *
 *   - schedule makes the run event active (event_active(): on the loop
 *     thread, a link on the base's active list).  Its callback polls up to
 *     `budget` ready tasks (exco_driver_run()).  While tasks are left
 *     over, it adds itself with a zero timeout rather than making itself
 *     active again: libevent runs an event activated from a callback in
 *     the same pass over the active list, before it polls for I/O, so
 *     re-activation would starve the program's descriptors; a zero
 *     timeout has the loop poll without blocking first, as libev's idle
 *     watcher does.
 *   - notify makes the wake-up event active from another thread, which
 *     libevent turns into a write to the base's notification descriptor
 *     (a base with a lock: evthread_use_pthreads(), see <exco/libevent.h>);
 *     its callback takes the cross-thread wakes in
 *     (exco_driver_accept()).
 *   - keepalive adds a persistent, do-nothing timer of an hour while the
 *     executor has live tasks and deletes it when none is left, so that
 *     event_base_dispatch() returns by itself once every task has
 *     finished: libevent's loop exits when no event is added or active.
 *     The core's timer event is deleted then too (and re-added when tasks
 *     are back: the core doesn't re-arm a due time it armed already).
 *   - timer_arm adds the timer event, which fires exco's timer queue.
 *   - close frees the events and the driver's state.
 *
 * Apart from the keep-alive event, the driver's events are added or
 * active only while there is work for them, so none holds the base in
 * once the executor has no live task.
 */
#include "config.h"

#include <stdlib.h>

#include "exco/driver.h"
#include "exco/libevent.h"

/* The keep-alive timer's period: long, since it only has to exist. */
#define EXCO__LIBEVENT_KEEP_SECONDS 3600

typedef struct exco__libevent_driver {
  struct event_base *base;
  exco_executor *ex;
  unsigned budget;
  int alive;          /* keepalive's last word */
  int timer_parked;   /* the timer was deleted by keepalive(0) */
  uint64_t timer_due; /* the core's last armed due time */
  struct event *run;
  struct event *wake; /* cross-thread wake-ups */
  struct event *timer;
  struct event *keep;
} exco__libevent_driver;

/* ---------------------------------------------------------------------- */
/* The events' callbacks                                                   */
/* ---------------------------------------------------------------------- */

static void exco__libevent_run_cb(evutil_socket_t fd, short what, void *arg) {
  exco__libevent_driver *d = arg;
  int ready = exco_driver_run(d->ex, d->budget);

  (void)fd;
  (void)what;
  if (ready > 0) {
    static const struct timeval zero = {0, 0};

    /* Poll I/O without blocking, then run the next budget. */
    event_add(d->run, &zero);
  } else if (ready == EXCO_EBUSY) {
    /* This base's loop runs inside a coroutine of another executor, where
     * tasks can't be polled: try again later rather than spin. */
    static const struct timeval later = {0, 1000};

    event_add(d->run, &later);
  }
}

static void exco__libevent_wake_cb(evutil_socket_t fd, short what, void *arg) {
  exco__libevent_driver *d = arg;

  (void)fd;
  (void)what;
  /* 1: the executor finished closing and is freed (the close hook has
   * freed this event too): nothing more to do. */
  (void)exco_driver_accept(d->ex);
}

static void exco__libevent_timer_cb(evutil_socket_t fd, short what, void *arg) {
  exco__libevent_driver *d = arg;

  (void)fd;
  (void)what;
  exco_driver_fire_timers(d->ex);
}

static void exco__libevent_keep_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
}

/* Adds the timer event for the core's due time @p due. */
static void exco__libevent_timer_add(exco__libevent_driver *d, uint64_t due) {
  uint64_t now = exco_driver_now_ns();
  uint64_t after = due > now ? due - now : 0;
  struct timeval tv;

  /* Round up to libevent's microseconds: never early on its own part. */
  after = (after + 999) / 1000;
  tv.tv_sec = (time_t)(after / 1000000);
  tv.tv_usec = (suseconds_t)(after % 1000000);
  /* "At least until due": count from now, not from the start of this
   * pass over the active events (libevent's cached time). */
  event_base_update_cache_time(d->base);
  event_add(d->timer, &tv);
}

/* ---------------------------------------------------------------------- */
/* The driver's ops                                                        */
/* ---------------------------------------------------------------------- */

static void exco__libevent_schedule(void *data) {
  exco__libevent_driver *d = data;

  event_active(d->run, EV_TIMEOUT, 1);
}

static void exco__libevent_notify(void *data) {
  exco__libevent_driver *d = data;

  event_active(d->wake, EV_TIMEOUT, 1);
}

static void exco__libevent_keepalive(void *data, int alive) {
  exco__libevent_driver *d = data;

  d->alive = alive;
  if (alive) {
    struct timeval tv = {EXCO__LIBEVENT_KEEP_SECONDS, 0};

    event_add(d->keep, &tv);
    if (d->timer_parked) {
      /* Possibly spurious, which is harmless: the core re-arms. */
      d->timer_parked = 0;
      exco__libevent_timer_add(d, d->timer_due);
    }
  } else {
    event_del(d->keep);
    if (event_pending(d->timer, EV_TIMEOUT, NULL)) {
      event_del(d->timer);
      d->timer_parked = 1;
    }
  }
}

static void exco__libevent_timer_arm(void *data, uint64_t due) {
  exco__libevent_driver *d = data;

  d->timer_due = due;
  d->timer_parked = 0;
  exco__libevent_timer_add(d, due);
}

static void exco__libevent_free(exco__libevent_driver *d) {
  /* event_free() deletes an added or active event first. */
  if (d->run != NULL)
    event_free(d->run);
  if (d->wake != NULL)
    event_free(d->wake);
  if (d->timer != NULL)
    event_free(d->timer);
  if (d->keep != NULL)
    event_free(d->keep);
  free(d);
}

static void exco__libevent_close(void *data) {
  exco__libevent_free(data);
}

static const exco_driver_ops exco__libevent_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "libevent",
    .schedule = exco__libevent_schedule,
    .notify = exco__libevent_notify,
    .keepalive = exco__libevent_keepalive,
    .timer_arm = exco__libevent_timer_arm,
    .close = exco__libevent_close,
};

/* ---------------------------------------------------------------------- */
/* Setup and the base lookups                                              */
/* ---------------------------------------------------------------------- */

int exco_libevent_executor_new(exco_executor **out, struct event_base *base) {
  exco__libevent_driver *d;
  int err;

  if (out == NULL || base == NULL)
    return EXCO_EINVAL;
  d = calloc(1, sizeof(*d));
  if (d == NULL)
    return EXCO_ENOMEM;
  d->base = base;
  d->budget = EXCO_LIBEVENT_BUDGET_DEFAULT;
  d->run = event_new(base, -1, 0, exco__libevent_run_cb, d);
  d->wake = event_new(base, -1, 0, exco__libevent_wake_cb, d);
  d->timer = event_new(base, -1, 0, exco__libevent_timer_cb, d);
  d->keep = event_new(base, -1, EV_PERSIST, exco__libevent_keep_cb, d);
  if (d->run == NULL || d->wake == NULL || d->timer == NULL ||
      d->keep == NULL) {
    exco__libevent_free(d);
    return EXCO_ENOMEM;
  }
  err = exco_driver_executor_new(&d->ex, &exco__libevent_ops, d);
  if (err != 0) {
    exco__libevent_free(d);
    return err;
  }
  *out = d->ex;
  return 0;
}

static exco__libevent_driver *exco__libevent_driver_of(exco_executor *ex) {
  return exco_driver_data(ex, &exco__libevent_ops);
}

int exco_libevent_executor_set_budget(exco_executor *ex, unsigned budget) {
  exco__libevent_driver *d = exco__libevent_driver_of(ex);

  if (d == NULL)
    return EXCO_EINVAL;
  d->budget = budget != 0 ? budget : EXCO_LIBEVENT_BUDGET_DEFAULT;
  return 0;
}

struct event_base *exco_libevent_executor_base(exco_executor *ex) {
  exco__libevent_driver *d = exco__libevent_driver_of(ex);

  return d != NULL ? d->base : NULL;
}

struct event_base *exco_libevent_base(void) {
  return exco_libevent_executor_base(exco_current_executor());
}
