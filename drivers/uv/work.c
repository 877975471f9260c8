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

#include "uv-internal.h"

typedef struct exco__uv_work {
  exco__uv_req hdr; /* first: see exco__uv_req_alloc() */
  uv_work_t req;
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

  if (exco__uv_req_done(&w->hdr, status)) {
    if (w->abandon != NULL)
      w->abandon(w->arg);
    exco__uv_req_release(&w->hdr);
  }
}

int exco_uv_work_timeout(exco_uv_work_fn work, void *arg,
                         exco_uv_work_fn abandon, uint64_t timeout_ms) {
  exco__uv_work *w;
  uv_loop_t *loop;
  int err;

  if (work == NULL)
    return EXCO_EINVAL;
  /* Everything is allocated before the job is queued: once it is, an
   * EXCO_ENOMEM would hand @arg over while telling the caller it still
   * owns it. */
  w = exco__uv_req_alloc(sizeof(*w), &loop, &err);
  if (w == NULL)
    return err;
  w->fn = work;
  w->abandon = abandon;
  w->arg = arg;
  return (int)exco__uv_req_result(
      &w->hdr,
      uv_queue_work(loop, &w->req, exco__uv_work_cb, exco__uv_work_after),
      timeout_ms, (uv_req_t *)&w->req);
}

int exco_uv_work(exco_uv_work_fn work, void *arg, exco_uv_work_fn abandon) {
  return exco_uv_work_timeout(work, arg, abandon, EXCO__UV_NO_TIMEOUT);
}
