/*
 * adapter-libev.c -- the conformance suite on exco's libev driver
 * (<exco/libev.h>: exco_libev_executor_new(), ev_run()), which sits on the
 * shared run queue: exco polls and drops its tasks, so there are no host
 * calls to count.  ev_run(loop, 0) is the loop, and it must return by
 * itself once every task has finished.
 *
 * A guard timer bounds each run without keeping the loop alive (it is
 * unreferenced): only if the run lasts h_wait_timeout() seconds does it
 * fire, break the loop and make the run fail with CF_ERR_TIMEOUT.
 */
#include <stdio.h>
#include <stdlib.h>

#include "conformance.h"
#include "exco/libev.h"
#include "harness.h"

typedef struct cf_libev {
  struct ev_loop *loop;
  ev_timer guard;
  int fired;
} cf_libev;

static void libev_guard_fired(struct ev_loop *loop, ev_timer *w, int revents) {
  cf_libev *l = w->data;

  (void)revents;
  /* libev stopped the one-shot timer: take its reference back. */
  ev_ref(loop);
  l->fired = 1;
  ev_break(loop, EVBREAK_ALL);
}

static int libev_make(cf_rig *r) {
  cf_libev *l = calloc(1, sizeof(*l));
  int err;

  if (l == NULL)
    return EXCO_ENOMEM;
  l->loop = ev_loop_new(EVFLAG_AUTO);
  if (l->loop == NULL) {
    snprintf(r->msg, sizeof(r->msg), "ev_loop_new failed");
    free(l);
    return CF_ERR_OTHER;
  }
  ev_timer_init(&l->guard, libev_guard_fired, 0.0, 0.0);
  l->guard.data = l;
  r->priv = l;
  err = exco_libev_executor_new(&r->ex, l->loop);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_libev_executor_new: %d", err);
    ev_loop_destroy(l->loop);
    free(l);
    r->priv = NULL;
  }
  return err;
}

static int libev_run(cf_rig *r) {
  cf_libev *l = r->priv;
  int ret;

  l->fired = 0;
  ev_now_update(l->loop);
  ev_timer_set(&l->guard, h_wait_timeout(), 0.0);
  ev_timer_start(l->loop, &l->guard);
  ev_unref(l->loop);
  ret = ev_run(l->loop, 0);
  if (ev_is_active(&l->guard)) {
    ev_ref(l->loop);
    ev_timer_stop(l->loop, &l->guard);
  }
  if (l->fired) {
    snprintf(r->msg, sizeof(r->msg), "ev_run did not return in %.0f s",
             h_wait_timeout());
    return CF_ERR_TIMEOUT;
  }
  if (ret != 0) {
    snprintf(r->msg, sizeof(r->msg), "ev_run returned %d", ret);
    return CF_ERR_OTHER;
  }
  return 0;
}

static int libev_fini(cf_rig *r) {
  cf_libev *l = r->priv;
  int err = 0, left;

  if (!atomic_load(&r->closed))
    err = exco_executor_free(r->ex);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_executor_free: %d", err);
    return err;
  }
  /* One more iteration: a watcher of the driver left active would be run
   * (on freed memory, which valgrind and ASan see), and the loop must
   * hold no reference any more. */
  left = ev_run(l->loop, EVRUN_NOWAIT);
  if (left != 0 || ev_pending_count(l->loop) != 0) {
    snprintf(r->msg, sizeof(r->msg),
             "loop not idle after free: %d active, %u pending", left,
             ev_pending_count(l->loop));
    return CF_ERR_OTHER;
  }
  ev_loop_destroy(l->loop);
  free(l);
  r->priv = NULL;
  return 0;
}

const cf_adapter cf_this_adapter = {
    .name = "libev",
    .caps = CF_LOOP_EXIT,
    .make = libev_make,
    .run = libev_run,
    .fini = libev_fini,
};
