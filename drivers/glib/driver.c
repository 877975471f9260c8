/*
 * driver.c -- the GLib host driver, on exco's shared run queue
 * (<exco/driver.h>): one custom GSource per executor, attached to the
 * executor's GMainContext, does everything.
 *
 *   - schedule sets a flag that the source's prepare and check functions
 *     report as "ready" (a plain store on the loop thread: no lock, no
 *     system call); the context then dispatches the source in its next
 *     iteration without blocking, and the dispatch polls up to `budget`
 *     ready tasks (exco_driver_run()), clearing the flag once the queue
 *     is empty.
 *   - notify stores a second flag, atomically, and calls
 *     g_main_context_wakeup(); check sees the flag and the dispatch takes
 *     the cross-thread wakes in (exco_driver_accept()).  GLib's wake-up
 *     (an eventfd) stays signalled until the context's check, so a notify
 *     that lands between check and poll still ends the poll.
 *   - timer_arm sets the source's ready time (GLib's monotonic clock is
 *     exco's, in microseconds), and the dispatch fires exco's timer queue
 *     once it has passed.
 *   - keepalive has nothing to hold in GLib; it records the "no live task"
 *     edge for exco_glib_executor_on_idle() and exco_glib_run_until_idle().
 *   - close destroys the source and drops the driver's references.
 *
 * The driver's state is the GSource itself (the struct extends it), so
 * GLib's reference count keeps it alive through a dispatch that frees the
 * executor (exco_driver_accept() after a close, or the idle callback).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>

#include "exco/driver.h"
#include "exco/glib.h"
#include "internal.h"

typedef struct exco__glib_driver {
  GSource source; /* first: the driver is its GSource */
  GMainContext *ctx;
  exco_executor *ex; /* NULL once the executor is freed */
  pthread_t owner;   /* the loop thread */
  unsigned budget;
  int priority;
  int ready;         /* loop thread: the run queue has work */
  atomic_int notify; /* any thread: wakes from other threads, or a close */
  int alive;         /* what keepalive was last told */
  int idle_due;      /* the live count dropped to 0 in this dispatch */
  exco_glib_idle_cb idle_cb;
  void *idle_arg;
} exco__glib_driver;

/* ---------------------------------------------------------------------- */
/* The GSource                                                             */
/* ---------------------------------------------------------------------- */

static gboolean exco__glib_prepare(GSource *source, gint *timeout) {
  exco__glib_driver *d = (exco__glib_driver *)source;

  /* The ready time (timers) is GLib's business: it shortens the timeout
   * itself. */
  *timeout = -1;
  return d->ready ||
         atomic_load_explicit(&d->notify, memory_order_relaxed) != 0;
}

static gboolean exco__glib_check(GSource *source) {
  exco__glib_driver *d = (exco__glib_driver *)source;

  return d->ready ||
         atomic_load_explicit(&d->notify, memory_order_relaxed) != 0;
}

static gboolean exco__glib_dispatch(GSource *source, GSourceFunc callback,
                                    gpointer user_data) {
  exco__glib_driver *d = (exco__glib_driver *)source;
  gint64 ready_time = g_source_get_ready_time(source);
  int n;

  (void)callback;
  (void)user_data;
  /* Wakes from other threads first.  The flag is cleared before the
   * accept drains the list: a push after the drain notifies again. */
  if (atomic_load_explicit(&d->notify, memory_order_relaxed) != 0 &&
      atomic_exchange_explicit(&d->notify, 0, memory_order_acquire) != 0 &&
      exco_driver_accept(d->ex) == 1)
    /* The executor finished closing and is freed; the close hook has
     * destroyed this source, which GLib keeps alive until we return. */
    return G_SOURCE_REMOVE;
  if (ready_time >= 0 && ready_time <= g_source_get_time(source)) {
    g_source_set_ready_time(source, -1);
    exco_driver_fire_timers(d->ex);
  }
  if (d->ready) {
    /* GIO calls made by the coroutines call back on this context. */
    g_main_context_push_thread_default(d->ctx);
    n = exco_driver_run(d->ex, d->budget);
    g_main_context_pop_thread_default(d->ctx);
    /* EXCO_EBUSY: the context iterated from inside a coroutine, which
     * can't poll tasks; they stay queued for the outer iteration (GLib
     * doesn't dispatch a source inside its own dispatch anyway). */
    if (n == 0)
      d->ready = 0;
  }
  /* Idle once no task is live and no stack is held either (a cancelled
   * GIO call's, until its callback: exco__glib_idle_kick() then brings us
   * back here). */
  if (d->idle_due && !d->alive && exco_executor_live(d->ex) == 0) {
    d->idle_due = 0;
    /* Last: the callback may free the executor (the close hook destroys
     * this source, still referenced by GLib until we return). */
    if (d->idle_cb != NULL)
      d->idle_cb(d->idle_arg);
  }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs exco__glib_source_funcs = {exco__glib_prepare,
                                               exco__glib_check,
                                               exco__glib_dispatch,
                                               NULL,
                                               NULL,
                                               NULL};

/* ---------------------------------------------------------------------- */
/* The driver's ops                                                        */
/* ---------------------------------------------------------------------- */

static void exco__glib_schedule(void *data) {
  exco__glib_driver *d = data;

  d->ready = 1;
}

static void exco__glib_notify(void *data) {
  exco__glib_driver *d = data;

  atomic_store_explicit(&d->notify, 1, memory_order_release);
  g_main_context_wakeup(d->ctx);
}

static void exco__glib_keepalive(void *data, int alive) {
  exco__glib_driver *d = data;

  d->alive = alive;
  d->idle_due = !alive;
}

static void exco__glib_timer_arm(void *data, uint64_t due) {
  exco__glib_driver *d = data;

  /* Microseconds of CLOCK_MONOTONIC, rounded up so that the dispatch
   * finds the timer due on exco's nanosecond clock too. */
  g_source_set_ready_time(&d->source, (gint64)((due + 999) / 1000));
}

static void exco__glib_close(void *data) {
  exco__glib_driver *d = data;
  GMainContext *ctx = d->ctx;

  d->ex = NULL;
  g_source_destroy(&d->source);
  g_source_unref(&d->source);
  g_main_context_unref(ctx);
}

static const exco_driver_ops exco__glib_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "glib",
    .schedule = exco__glib_schedule,
    .notify = exco__glib_notify,
    .keepalive = exco__glib_keepalive,
    .timer_arm = exco__glib_timer_arm,
    .close = exco__glib_close,
};

/* ---------------------------------------------------------------------- */
/* Setup and the lookups                                                   */
/* ---------------------------------------------------------------------- */

int exco_glib_executor_new(exco_executor **out, GMainContext *context) {
  exco__glib_driver *d;
  GSource *source;
  int err;

  if (out == NULL)
    return EXCO_EINVAL;
  if (context == NULL)
    context = g_main_context_default();
  /* GLib aborts rather than return NULL when memory runs out. */
  source = g_source_new(&exco__glib_source_funcs, sizeof(*d));
  d = (exco__glib_driver *)source;
  d->ctx = g_main_context_ref(context);
  d->owner = pthread_self();
  d->budget = EXCO_GLIB_BUDGET_DEFAULT;
  d->priority = G_PRIORITY_DEFAULT;
  atomic_init(&d->notify, 0);
  g_source_set_name(source, "exco");
  err = exco_driver_executor_new(&d->ex, &exco__glib_ops, d);
  if (err != 0) {
    exco__glib_close(d);
    return err;
  }
  g_source_attach(source, context);
  *out = d->ex;
  return 0;
}

static exco__glib_driver *exco__glib_driver_of(exco_executor *ex) {
  return exco_driver_data(ex, &exco__glib_ops);
}

int exco__glib_source_params(exco_executor *ex, GMainContext **ctx,
                             int *priority) {
  exco__glib_driver *d = exco__glib_driver_of(ex);

  if (d == NULL)
    return EXCO_ENOTSUP;
  *ctx = d->ctx;
  *priority = d->priority;
  return 0;
}

int exco_glib_executor_set_budget(exco_executor *ex, unsigned budget) {
  exco__glib_driver *d = exco__glib_driver_of(ex);

  if (d == NULL)
    return EXCO_EINVAL;
  d->budget = budget != 0 ? budget : EXCO_GLIB_BUDGET_DEFAULT;
  return 0;
}

int exco_glib_executor_set_priority(exco_executor *ex, int priority) {
  exco__glib_driver *d = exco__glib_driver_of(ex);

  if (d == NULL)
    return EXCO_EINVAL;
  d->priority = priority;
  g_source_set_priority(&d->source, priority);
  return 0;
}

int exco_glib_executor_on_idle(exco_executor *ex, exco_glib_idle_cb cb,
                               void *arg) {
  exco__glib_driver *d = exco__glib_driver_of(ex);

  if (d == NULL)
    return EXCO_EINVAL;
  d->idle_cb = cb;
  d->idle_arg = arg;
  return 0;
}

int exco_glib_run_until_idle(exco_executor *ex) {
  exco__glib_driver *d = exco__glib_driver_of(ex);
  GMainContext *ctx;
  int freed;

  if (d == NULL)
    return EXCO_EINVAL;
  if (exco_current() != NULL)
    return EXCO_EBUSY;
  if (!pthread_equal(pthread_self(), d->owner))
    return EXCO_EPERM;
  if (!g_main_context_acquire(d->ctx))
    return EXCO_EBUSY;
  /* Keep d and the context after a close has freed the executor
   * meanwhile. */
  ctx = g_main_context_ref(d->ctx);
  g_source_ref(&d->source);
  /* alive covers a close in progress; the executor's live count covers
   * tasks spawned from other threads that the loop has not taken in yet
   * (their notify has been sent, so the iteration won't block for long)
   * and stacks held by cancelled GIO calls (whose callbacks kick the
   * context, exco__glib_idle_kick()). */
  while (d->ex != NULL && (d->alive || exco_executor_live(d->ex) > 0))
    g_main_context_iteration(ctx, TRUE);
  freed = d->ex == NULL;
  g_source_unref(&d->source);
  g_main_context_release(ctx);
  g_main_context_unref(ctx);
  return freed;
}

void *exco__glib_driver_ref(exco_executor *ex) {
  exco__glib_driver *d = exco__glib_driver_of(ex);

  if (d == NULL)
    return NULL;
  g_main_context_ref(d->ctx);
  g_source_ref(&d->source);
  return d;
}

void exco__glib_idle_kick(void *driver) {
  exco__glib_driver *d = driver;
  GMainContext *ctx = d->ctx;

  /* A notify without wakes: the dispatch's accept finds nothing to take
   * in, and the idle check runs.  Harmless on a driver whose executor is
   * gone: its source is destroyed and never dispatched again. */
  atomic_store_explicit(&d->notify, 1, memory_order_release);
  g_main_context_wakeup(ctx);
  g_source_unref(&d->source);
  g_main_context_unref(ctx);
}

GMainContext *exco_glib_executor_context(exco_executor *ex) {
  exco__glib_driver *d = exco__glib_driver_of(ex);

  return d != NULL ? d->ctx : NULL;
}

GMainContext *exco_glib_context(void) {
  return exco_glib_executor_context(exco_current_executor());
}
