/*
 * uv-loop.h -- the libuv loop of the uv and seed adapters: a loop, and a
 * guard timer that bounds each run without keeping the loop alive.
 *
 * The guard is unreferenced, so uv_run(UV_RUN_DEFAULT) still returns by
 * itself when the driver has nothing left.  It fires every
 * h_wait_timeout() seconds; if the loop hardly iterated since the last
 * time (an unreferenced prepare handle counts iterations; the guard's own
 * wakeup makes one or two), tasks are live and nothing happens -- a lost
 * wakeup, or a loop that doesn't exit -- and the guard stops the loop and
 * makes the run fail with CF_ERR_TIMEOUT.  A slow run (the scale check
 * under ThreadSanitizer on a loaded machine) makes progress and goes on.
 * Header only, static functions: each adapter program includes it once.
 */
#ifndef EXCO_TESTS_CONFORMANCE_UV_LOOP_H
#define EXCO_TESTS_CONFORMANCE_UV_LOOP_H

#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "conformance.h"
#include "harness.h"
#include "uv-harness.h"

typedef struct cf_uv {
  uv_loop_t loop;
  uv_timer_t guard;
  uv_prepare_t tick;   /* counts the loop's iterations */
  unsigned long ticks; /* ... so far */
  unsigned long seen;  /* ... when the guard last looked */
  int fired;
  void *extra; /* the adapter's own */
} cf_uv;

static void cf_uv_tick(uv_prepare_t *p) {
  ((cf_uv *)p->data)->ticks++;
}

static void cf_uv_guard_fired(uv_timer_t *t) {
  cf_uv *u = t->data;

  if (u->ticks - u->seen > 2) {
    u->seen = u->ticks;
    return;
  }
  u->fired = 1;
  uv_stop(&u->loop);
}

static int cf_uv_init(cf_rig *r, cf_uv **out) {
  cf_uv *u = calloc(1, sizeof(*u));
  int err;

  if (u == NULL)
    return EXCO_ENOMEM;
  err = uv_loop_init(&u->loop);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "uv_loop_init: %s", uv_strerror(err));
    free(u);
    return err;
  }
  uv_timer_init(&u->loop, &u->guard);
  u->guard.data = u;
  uv_unref((uv_handle_t *)&u->guard);
  uv_prepare_init(&u->loop, &u->tick);
  u->tick.data = u;
  uv_prepare_start(&u->tick, cf_uv_tick);
  uv_unref((uv_handle_t *)&u->tick);
  r->priv = u;
  *out = u;
  return 0;
}

/* Runs the loop until it returns by itself (or the guard fires). */
static int cf_uv_run(cf_rig *r) {
  cf_uv *u = r->priv;
  int ret;

  u->fired = 0;
  u->seen = u->ticks;
  uv_timer_start(&u->guard, cf_uv_guard_fired,
                 (uint64_t)(h_wait_timeout() * 1000),
                 (uint64_t)(h_wait_timeout() * 1000));
  ret = uv_run(&u->loop, UV_RUN_DEFAULT);
  uv_timer_stop(&u->guard);
  if (u->fired) {
    snprintf(r->msg, sizeof(r->msg), "uv_run: no progress in %.0f s",
             h_wait_timeout());
    return CF_ERR_TIMEOUT;
  }
  if (ret != 0) {
    snprintf(r->msg, sizeof(r->msg), "uv_run returned %d", ret);
    return CF_ERR_OTHER;
  }
  return 0;
}

/* Closes the guard, lets the closes run and closes the loop, which must
 * then have no handle left. */
static int cf_uv_fini(cf_rig *r) {
  cf_uv *u = r->priv;
  int err;

  uv_close((uv_handle_t *)&u->guard, NULL);
  uv_close((uv_handle_t *)&u->tick, NULL);
  err = uv_run(&u->loop, UV_RUN_DEFAULT);
  if (err == 0)
    err = uv_loop_close(&u->loop);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "loop not closed: %s, %d handles left",
             uv_strerror(err), h_uv_handles(&u->loop));
    return CF_ERR_OTHER;
  }
  free(u);
  r->priv = NULL;
  return 0;
}

#endif
