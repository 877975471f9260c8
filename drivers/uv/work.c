/*
 * work.c -- exco_uv_work(): a blocking function on libuv's thread pool.
 *
 * The job can't be stopped once a pool thread runs it.  A cancelled or
 * timed-out call therefore hands the job over: uv_cancel() removes it if it
 * has not started, and either way the after-work callback, on the loop
 * thread, calls the caller's abandon function with the argument and frees
 * the record.
 */
#include "config.h"

#include <stdlib.h>

#include "uv-internal.h"

typedef struct exco__uv_work {
  uv_work_t req;
  exco__uv_op op;
  int abandoned;
  exco_uv_work_fn fn;
  exco_uv_work_fn abandon;
  void *arg;
} exco__uv_work;

static void exco__uv_work_cb(uv_work_t *req) {
  exco__uv_work *w = exco__uv_container_of(req, exco__uv_work, req);

  w->fn(w->arg);
}

static void exco__uv_work_after(uv_work_t *req, int status) {
  exco__uv_work *w = exco__uv_container_of(req, exco__uv_work, req);

  if (w->abandoned) {
    if (w->abandon != NULL)
      w->abandon(w->arg);
    free(w);
    return;
  }
  exco__uv_op_complete(&w->op, status);
}

int exco_uv_work_timeout(exco_uv_work_fn work, void *arg,
                         exco_uv_work_fn abandon, uint64_t timeout_ms) {
  exco__uv_work *w;
  uv_loop_t *loop;
  int err;

  if (work == NULL)
    return EXCO_EINVAL;
  w = exco__uv_enter_alloc(&loop, sizeof(*w), &err);
  if (w == NULL)
    return err;
  exco__uv_op_init(&w->op);
  w->abandoned = 0;
  w->fn = work;
  w->abandon = abandon;
  w->arg = arg;
  /* Before queueing: once the job is queued, an EXCO_ENOMEM would hand
   * @arg over while telling the caller it still owns it. */
  err = uv_queue_work(loop, &w->req, exco__uv_work_cb,
                      exco__uv_work_after);
  if (err != 0) {
    free(w);
    return err;
  }
  err = exco__uv_op_wait_or_abandon(&w->op, timeout_ms, &w->abandoned,
                                    (uv_req_t *)&w->req);
  if (err != 0)
    return err;
  err = (int)w->op.result;
  free(w);
  return err;
}

int exco_uv_work(exco_uv_work_fn work, void *arg, exco_uv_work_fn abandon) {
  return exco_uv_work_timeout(work, arg, abandon, EXCO__UV_NO_TIMEOUT);
}
