/*
 * op.c -- the leaf future every awaitable waits on.
 *
 * An awaitable starts a libuv request, then waits in exco__uv_op_wait():
 * exco_await() with a poll function that is ready once the request's
 * callback has called exco__uv_op_complete().  Timeouts are the core's
 * deadlines, so they work the same on every executor and allocate
 * nothing.  The waker is cloned at the first pending poll (the one exco
 * lends to the poll function is only borrowed) and dropped when the wait
 * ends, so a callback that comes after the coroutine gave up finds no
 * waker to wake.
 *
 * Requests that libuv may still hold after the call returns live in a
 * heap record headed by an exco__uv_req (see uv-internal.h): the wait,
 * the hand-over of an abandoned record to the request's callback and the
 * record's release are done here once for every such family.
 */
#include "config.h"

#include <stdlib.h>

#include "uv-internal.h"

static int exco__uv_ready_poll(void *arg, exco_waker *waker) {
  (void)arg;
  (void)waker;
  return 1;
}

int exco__uv_enter(uv_loop_t **loop) {
  /* A future that is ready at once: exco_await() then says whether we are
   * in a coroutine (EXCO_EPERM) and whether it is cancelled already. */
  int err = exco_await(exco__uv_ready_poll, NULL, NULL);

  if (err != 0)
    return err;
  *loop = exco_uv_loop();
  return *loop != NULL ? 0 : EXCO_ENOTSUP;
}

void *exco__uv_enter_alloc(uv_loop_t **loop, size_t size, int *err) {
  void *rec;

  *err = exco__uv_enter(loop);
  if (*err != 0)
    return NULL;
  rec = malloc(size);
  if (rec == NULL)
    *err = EXCO_ENOMEM;
  return rec;
}

void exco__uv_free_on_close(uv_handle_t *handle) {
  free(handle);
}

static int exco__uv_op_poll(void *arg, exco_waker *waker) {
  exco__uv_op *op = arg;

  if (op->done)
    return 1;
  if (op->waker == NULL)
    op->waker = exco_waker_clone(waker);
  return 0;
}

void exco__uv_op_complete(exco__uv_op *op, ssize_t result) {
  if (op->done)
    return;
  op->done = 1;
  op->result = result;
  if (op->waker != NULL)
    exco_waker_wake(op->waker);
}

int exco__uv_op_wait(exco__uv_op *op, uint64_t timeout_ms) {
  int64_t prev = EXCO_NO_DEADLINE;
  int err;

  if (timeout_ms != EXCO__UV_NO_TIMEOUT)
    exco_deadline_after(timeout_ms, &prev);
  exco_await_label("uv");
  err = exco_await(exco__uv_op_poll, NULL, op);
  if (timeout_ms != EXCO__UV_NO_TIMEOUT)
    exco_deadline_set(prev, NULL);
  exco_waker_drop(op->waker);
  op->waker = NULL;
  return op->done ? 0 : err;
}

/* ---------------------------------------------------------------------- */
/* Heap requests                                                           */
/* ---------------------------------------------------------------------- */

void *exco__uv_req_alloc(size_t size, uv_loop_t **loop, int *err) {
  exco__uv_req *r;

  if (loop != NULL) {
    r = exco__uv_enter_alloc(loop, size, err);
  } else {
    r = malloc(size);
    *err = r != NULL ? 0 : EXCO_ENOMEM;
  }
  if (r != NULL) {
    exco__uv_op_init(&r->op);
    r->abandoned = 0;
    r->release = NULL;
  }
  return r;
}

void exco__uv_req_release(exco__uv_req *r) {
  if (r->release != NULL)
    r->release(r);
  else
    free(r);
}

int exco__uv_req_submitted(exco__uv_req *r, int submitted, uint64_t timeout_ms,
                           uv_req_t *cancel) {
  int err;

  if (submitted < 0) {
    exco__uv_req_release(r);
    return submitted;
  }
  err = exco__uv_op_wait(&r->op, timeout_ms);
  if (err != 0) {
    /* From here on the callback frees the record. */
    r->abandoned = 1;
    if (cancel != NULL)
      uv_cancel(cancel);
  }
  return err;
}

ssize_t exco__uv_req_result(exco__uv_req *r, int submitted, uint64_t timeout_ms,
                            uv_req_t *cancel) {
  ssize_t res;
  int err = exco__uv_req_submitted(r, submitted, timeout_ms, cancel);

  if (err != 0)
    return err;
  res = r->op.result;
  exco__uv_req_release(r);
  return res;
}

int exco__uv_req_done(exco__uv_req *r, ssize_t result) {
  if (r->abandoned)
    return 1;
  exco__uv_op_complete(&r->op, result);
  return 0;
}

void exco__uv_req_finish(exco__uv_req *r, ssize_t result) {
  if (exco__uv_req_done(r, result))
    exco__uv_req_release(r);
}
