/*
 * adapter-host.c -- the conformance suite on a bare three-callback host:
 * the test harness's recording host (tests/harness.h), a thread-safe FIFO
 * that exco_executor_new() hooks up and that polls and drops tasks
 * itself.  It counts every host call and records contract violations.
 *
 * Its loop (h_host_run()) polls until no task is live, blocking on a
 * condition variable for wakes, and gives up after h_wait_timeout()
 * seconds without one.  Timers come from exco's helper thread.
 */
#include <stdio.h>
#include <stdlib.h>

#include "conformance.h"
#include "harness.h"

static int host_make(cf_rig *r) {
  h_host *h = malloc(sizeof(*h));
  int err;

  if (h == NULL)
    return EXCO_ENOMEM;
  h_host_init_bare(h);
  err = exco_executor_new(&h->ex, h_task_new, h_task_run, h_task_wake, h);
  if (err != 0) {
    h_host_free_exts(h);
    free(h);
    return err;
  }
  r->priv = h;
  r->ex = h->ex;
  return 0;
}

static int host_run(cf_rig *r) {
  /* After a close, the last drop frees the executor: h_host_run() only
   * watches the host's own count of live tasks, so it stops then. */
  return h_host_run(r->priv) == 0 ? 0 : CF_ERR_TIMEOUT;
}

static int host_fini(cf_rig *r) {
  h_host *h = r->priv;
  long live = h_host_live(h);
  int err = 0;

  if (live != 0) {
    snprintf(r->msg, sizeof(r->msg), "%ld tasks not dropped", live);
    err = CF_ERR_OTHER;
  } else if (!atomic_load(&r->closed)) {
    err = exco_executor_free(h->ex);
  }
  h->ex = NULL;
  h_host_free_exts(h);
  free(h);
  r->priv = NULL;
  return err;
}

static int host_counts(cf_rig *r, cf_counts *out) {
  h_host *h = r->priv;

  pthread_mutex_lock(&h->mu);
  out->task_new = h->n_new;
  out->task_run = h->n_run;
  out->task_wake = h->n_wake;
  out->polls = h->n_polls;
  out->drops = h->n_drops;
  out->v_run_twice = h->v_run_twice + h->v_run_null;
  out->v_wake_dropped = h->v_wake_dropped;
  out->v_wake_extra = h->v_wake_extra;
  out->v_wake_unknown = h->v_wake_unknown;
  out->v_host_error = h->v_poll_error + h->v_drop_error;
  pthread_mutex_unlock(&h->mu);
  return 0;
}

const cf_adapter cf_this_adapter = {
    .name = "host",
    .caps = CF_COUNTS,
    .make = host_make,
    .run = host_run,
    .fini = host_fini,
    .counts = host_counts,
};
