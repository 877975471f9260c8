/*
 * adapter-uv.c -- the conformance suite on exco's libuv driver
 * (<exco/uv.h>: exco_uv_executor_new(), uv_run()), which sits on the
 * shared run queue: exco polls and drops its tasks, so there are no host
 * calls to count.  uv_run(UV_RUN_DEFAULT) is the loop, and it must return
 * by itself once every task has finished.
 */
#include <stdio.h>

#include "exco/uv.h"
#include "uv-loop.h"

static int uv_make(cf_rig *r) {
  cf_uv *u;
  int err = cf_uv_init(r, &u);

  if (err != 0)
    return err;
  err = exco_uv_executor_new(&r->ex, &u->loop);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_uv_executor_new: %d", err);
    cf_uv_fini(r);
  }
  return err;
}

static int uv_run_rig(cf_rig *r) {
  return cf_uv_run(r);
}

static int uv_fini(cf_rig *r) {
  int err = 0;

  if (!atomic_load(&r->closed))
    err = exco_uv_executor_free(r->ex);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_uv_executor_free: %d", err);
    return err;
  }
  return cf_uv_fini(r);
}

const cf_adapter cf_this_adapter = {
    .name = "uv",
    .caps = CF_LOOP_EXIT,
    .make = uv_make,
    .run = uv_run_rig,
    .fini = uv_fini,
};
