/*
 * adapter-libevent.c -- the conformance suite on exco's libevent driver
 * (<exco/libevent.h>: exco_libevent_executor_new(),
 * event_base_dispatch()), which sits on the shared run queue: exco polls
 * and drops its tasks, so there are no host calls to count.
 * event_base_dispatch() is the loop, and it must return by itself (1:
 * nothing added or active) once every task has finished.
 *
 * The bases are made after evthread_use_pthreads() (the suite wakes tasks
 * from other threads; see THREADS in <exco/libevent.h>).  A guard thread
 * (tests/libevent-guard.h) bounds each run without keeping the base in:
 * only if the run lasts h_wait_timeout() seconds does it break the loop
 * and make the run fail with CF_ERR_TIMEOUT.
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/thread.h>

#include "conformance.h"
#include "exco/libevent.h"
#include "harness.h"
#include "libevent-guard.h"

#define CF_ALL_EVENTS                                                          \
  (EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_VIRTUAL)

static int libevent_make(cf_rig *r) {
  static int threads_on;
  struct event_base *base;
  int err;

  if (!threads_on) {
    if (evthread_use_pthreads() != 0) {
      snprintf(r->msg, sizeof(r->msg), "evthread_use_pthreads failed");
      return CF_ERR_OTHER;
    }
    threads_on = 1;
  }
  base = event_base_new();
  if (base == NULL) {
    snprintf(r->msg, sizeof(r->msg), "event_base_new failed");
    return CF_ERR_OTHER;
  }
  err = exco_libevent_executor_new(&r->ex, base);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_libevent_executor_new: %d", err);
    event_base_free(base);
    return err;
  }
  r->priv = base;
  return 0;
}

static int libevent_run(cf_rig *r) {
  struct event_base *base = r->priv;
  lg_guard g;
  int ret, err;

  err = lg_start(&g, base, h_wait_timeout());
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "guard thread: %d", err);
    return CF_ERR_OTHER;
  }
  ret = event_base_dispatch(base);
  if (lg_stop(&g)) {
    snprintf(r->msg, sizeof(r->msg),
             "event_base_dispatch did not return in %.0f s", h_wait_timeout());
    return CF_ERR_TIMEOUT;
  }
  if (ret != 1) {
    snprintf(r->msg, sizeof(r->msg),
             "event_base_dispatch returned %d, not 1 (no events left)", ret);
    return CF_ERR_OTHER;
  }
  return 0;
}

static int libevent_fini(cf_rig *r) {
  struct event_base *base = r->priv;
  int err = 0, left;

  if (!atomic_load(&r->closed))
    err = exco_executor_free(r->ex);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_executor_free: %d", err);
    return err;
  }
  /* No event of the driver's may be left added or active (one would run
   * on freed memory in the next iteration, which valgrind and ASan see). */
  left = event_base_get_num_events(base, CF_ALL_EVENTS);
  if (left != 0 || event_base_loop(base, EVLOOP_NONBLOCK) != 1) {
    snprintf(r->msg, sizeof(r->msg),
             "base not empty after free: %d events added or active", left);
    return CF_ERR_OTHER;
  }
  event_base_free(base);
  r->priv = NULL;
  return 0;
}

const cf_adapter cf_this_adapter = {
    .name = "libevent",
    .caps = CF_LOOP_EXIT,
    .make = libevent_make,
    .run = libevent_run,
    .fini = libevent_fini,
};
