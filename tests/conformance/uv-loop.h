/*
 * uv-loop.h -- the libuv loop of the uv and seed adapters: a loop, and a
 * guard timer that bounds each run without keeping the loop alive.
 *
 * The guard is unreferenced, so uv_run(UV_RUN_DEFAULT) still returns by
 * itself when the driver has nothing left: only if the run lasts
 * h_wait_timeout() seconds does it fire, stop the loop and make the run
 * fail with CF_ERR_TIMEOUT (a lost wakeup, or a loop that doesn't exit).
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
  int fired;
  void *extra; /* the adapter's own */
} cf_uv;

static void cf_uv_guard_fired(uv_timer_t *t) {
  cf_uv *u = t->data;

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
  r->priv = u;
  *out = u;
  return 0;
}

/* Runs the loop until it returns by itself (or the guard fires). */
static int cf_uv_run(cf_rig *r) {
  cf_uv *u = r->priv;
  int ret;

  u->fired = 0;
  uv_timer_start(&u->guard, cf_uv_guard_fired,
                 (uint64_t)(h_wait_timeout() * 1000), 0);
  ret = uv_run(&u->loop, UV_RUN_DEFAULT);
  uv_timer_stop(&u->guard);
  if (u->fired) {
    snprintf(r->msg, sizeof(r->msg), "uv_run did not return in %.0f s",
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
