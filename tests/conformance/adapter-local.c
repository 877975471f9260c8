/*
 * adapter-local.c -- the conformance suite on the built-in local executor
 * (exco_executor_new_local(), exco_run()).
 *
 * exco_run() returns by itself once every task has finished and sleeps
 * while all of them wait on other threads, so it is the loop here.  It
 * has no timeout: a lost wakeup shows as the harness's watchdog firing.
 */
#include "conformance.h"

static int local_make(cf_rig *r) {
  return exco_executor_new_local(&r->ex);
}

static int local_run(cf_rig *r) {
  /* A close with no live task left would have freed the executor. */
  if (atomic_load(&r->closed))
    return 0;
  return exco_run(r->ex);
}

static int local_fini(cf_rig *r) {
  if (atomic_load(&r->closed))
    return 0;
  return exco_executor_free(r->ex);
}

const cf_adapter cf_this_adapter = {
    .name = "local",
    .caps = CF_LOOP_EXIT,
    .make = local_make,
    .run = local_run,
    .fini = local_fini,
};
