/*
 * adapter-glib.c -- the conformance suite on exco's GLib driver
 * (<exco/glib.h>: exco_glib_executor_new() on a GMainContext of its own),
 * which sits on the shared run queue: exco polls and drops its tasks, so
 * there are no host calls to count.  exco_glib_run_until_idle() is the
 * loop (GLib's own g_main_loop_run() never returns by itself; the driver's
 * call iterates the context until no task is live), and it must return by
 * itself once every task has finished, or once a close has finished.
 *
 * A guard timeout source bounds each run: it fires every h_wait_timeout()
 * seconds, and if the context has not iterated since the last time (a
 * counting source's prepare tells; the guard's own iteration aside) --
 * tasks live and nothing happening, a lost wakeup -- it cancels every
 * task, so that the run can return, and the run fails with
 * CF_ERR_TIMEOUT.  A slow run (the scale check under ThreadSanitizer on a
 * loaded machine) makes progress and goes on.
 */
#include <stdio.h>
#include <stdlib.h>

#include "conformance.h"
#include "exco/driver.h"
#include "exco/glib.h"
#include "harness.h"

/* A source that only counts the context's iterations and is never ready. */
typedef struct cf_counter {
  GSource source;
  unsigned long prepares;
} cf_counter;

static gboolean counter_prepare(GSource *s, gint *timeout) {
  ((cf_counter *)s)->prepares++;
  *timeout = -1;
  return FALSE;
}

static gboolean counter_check(GSource *s) {
  (void)s;
  return FALSE;
}

static gboolean counter_dispatch(GSource *s, GSourceFunc cb, gpointer data) {
  (void)s;
  (void)cb;
  (void)data;
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs counter_funcs = {
    counter_prepare, counter_check, counter_dispatch, NULL, NULL, NULL};

typedef struct cf_glib {
  GMainContext *ctx;
  cf_rig *r;
  cf_counter *counter;
  unsigned long seen; /* counter->prepares at the last guard tick */
  int fired;
} cf_glib;

/* GSources attached to @ctx and not destroyed: ids are handed out in
 * order per context, so a probe's id bounds them. */
static unsigned glib_sources(GMainContext *ctx) {
  GSource *probe = g_idle_source_new();
  guint id = g_source_attach(probe, ctx), i;
  unsigned n = 0;

  g_source_destroy(probe);
  g_source_unref(probe);
  for (i = 1; i < id; i++)
    n += g_main_context_find_source_by_id(ctx, i) != NULL;
  return n;
}

static gboolean glib_guard_fired(gpointer data) {
  cf_glib *l = data;
  unsigned long now = l->counter->prepares;

  /* The iteration that dispatches this guard counts once. */
  if (now - l->seen > 1) {
    l->seen = now;
    return G_SOURCE_CONTINUE;
  }
  l->fired = 1;
  if (!atomic_load(&l->r->closed))
    exco_executor_cancel_all(l->r->ex);
  return G_SOURCE_REMOVE;
}

static int glib_make(cf_rig *r) {
  cf_glib *l = calloc(1, sizeof(*l));
  int err;

  if (l == NULL)
    return EXCO_ENOMEM;
  l->ctx = g_main_context_new();
  l->r = r;
  l->counter = (cf_counter *)g_source_new(&counter_funcs, sizeof(cf_counter));
  g_source_attach(&l->counter->source, l->ctx);
  r->priv = l;
  err = exco_glib_executor_new(&r->ex, l->ctx);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_glib_executor_new: %d", err);
    g_source_destroy(&l->counter->source);
    g_source_unref(&l->counter->source);
    g_main_context_unref(l->ctx);
    free(l);
    r->priv = NULL;
  }
  return err;
}

static int glib_run(cf_rig *r) {
  cf_glib *l = r->priv;
  GSource *guard;
  int ret;

  if (atomic_load(&r->closed))
    return 0;
  l->fired = 0;
  l->seen = l->counter->prepares;
  guard = g_timeout_source_new((guint)(h_wait_timeout() * 1000));
  g_source_set_callback(guard, glib_guard_fired, l, NULL);
  g_source_attach(guard, l->ctx);
  ret = exco_glib_run_until_idle(r->ex);
  g_source_destroy(guard);
  g_source_unref(guard);
  if (l->fired) {
    snprintf(r->msg, sizeof(r->msg),
             "exco_glib_run_until_idle: no progress in %.0f s",
             h_wait_timeout());
    return CF_ERR_TIMEOUT;
  }
  if (ret < 0 || (ret == 1) != atomic_load(&r->closed)) {
    snprintf(r->msg, sizeof(r->msg),
             "exco_glib_run_until_idle returned %d (closed: %d)", ret,
             atomic_load(&r->closed));
    return CF_ERR_OTHER;
  }
  return 0;
}

static int glib_fini(cf_rig *r) {
  cf_glib *l = r->priv;
  int err = 0;
  unsigned left;

  if (!atomic_load(&r->closed))
    err = exco_executor_free(r->ex);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_executor_free: %d", err);
    return err;
  }
  /* One more iteration: a source of the driver's left attached would be
   * dispatched (on freed memory, which valgrind and ASan see); and no
   * source but the counter may be left at all. */
  g_main_context_iteration(l->ctx, FALSE);
  g_source_destroy(&l->counter->source);
  g_source_unref(&l->counter->source);
  left = glib_sources(l->ctx);
  if (left != 0 || g_main_context_pending(l->ctx)) {
    snprintf(r->msg, sizeof(r->msg),
             "context not idle after free: %u sources left", left);
    return CF_ERR_OTHER;
  }
  g_main_context_unref(l->ctx);
  free(l);
  r->priv = NULL;
  return 0;
}

const cf_adapter cf_this_adapter = {
    .name = "glib",
    .caps = CF_LOOP_EXIT,
    .make = glib_make,
    .run = glib_run,
    .fini = glib_fini,
};
