/*
 * op.c -- the leaf future every awaitable waits on, and its deadline.
 *
 * An awaitable starts a libuv request, then waits in exco__uv_op_wait():
 * exco_await() with a poll function that is ready once the request's
 * callback has called exco__uv_op_complete() or the deadline timer has
 * fired.  The waker is cloned at the first pending poll (the one exco
 * lends to the poll function is only borrowed) and dropped when the wait
 * ends, so a callback that comes after the coroutine gave up finds no
 * waker to wake.
 */
#include "config.h"

#include <stdlib.h>

#include "uv-internal.h"

/* A deadline: a heap timer (a handle on the coroutine's stack could not
 * outlive the wait, and closing a handle takes a loop iteration). */
typedef struct exco__uv_deadline {
  uv_timer_t timer;
  exco__uv_op *op; /* NULL once the wait is over */
} exco__uv_deadline;

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
  *loop = exco__uv_registry_loop(exco_executor_data(exco_current_executor()));
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

  if (op->done || op->timed_out)
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

static void exco__uv_deadline_cb(uv_timer_t *timer) {
  exco__uv_deadline *dl = exco__uv_container_of(timer, exco__uv_deadline,
                                                timer);

  if (dl->op != NULL) {
    dl->op->timed_out = 1;
    if (dl->op->waker != NULL)
      exco_waker_wake(dl->op->waker);
  }
}

int exco__uv_op_prepare(exco__uv_op *op, uint64_t timeout_ms) {
  if (timeout_ms == EXCO__UV_NO_TIMEOUT || op->deadline != NULL)
    return 0;
  op->deadline = malloc(sizeof(exco__uv_deadline));
  return op->deadline != NULL ? 0 : EXCO_ENOMEM;
}

void exco__uv_op_unprepare(exco__uv_op *op) {
  /* Never initialised as a handle: a plain free. */
  free(op->deadline);
  op->deadline = NULL;
}

int exco__uv_op_wait(exco__uv_op *op, uv_loop_t *loop, uint64_t timeout_ms) {
  exco__uv_deadline *dl = op->deadline;
  int err;

  op->deadline = NULL;
  if (dl != NULL && (op->done || timeout_ms == EXCO__UV_NO_TIMEOUT)) {
    free(dl);
    dl = NULL;
  } else if (dl == NULL && !op->done && timeout_ms != EXCO__UV_NO_TIMEOUT) {
    /* Not prepared: only for operations that submit nothing before they
     * wait (reads, accepts), which can still give up cleanly. */
    dl = malloc(sizeof(*dl));
    if (dl == NULL)
      return EXCO_ENOMEM;
  }
  if (dl != NULL) {
    uv_timer_init(loop, &dl->timer);
    dl->op = op;
    /* Count from now, not from the start of this loop iteration. */
    uv_update_time(loop);
    uv_timer_start(&dl->timer, exco__uv_deadline_cb, timeout_ms, 0);
  }
  err = exco_await(exco__uv_op_poll, NULL, op);
  if (dl != NULL) {
    dl->op = NULL;
    uv_close((uv_handle_t *)&dl->timer, exco__uv_free_on_close);
  }
  exco_waker_drop(op->waker);
  op->waker = NULL;
  if (op->done)
    return 0;
  if (err == 0)
    return UV_ETIMEDOUT;
  return err;
}

int exco__uv_op_wait_or_abandon(exco__uv_op *op, uv_loop_t *loop,
                                uint64_t timeout_ms, int *abandoned,
                                uv_req_t *req) {
  int err = exco__uv_op_wait(op, loop, timeout_ms);

  if (err != 0) {
    *abandoned = 1;
    if (req != NULL)
      uv_cancel(req);
  }
  return err;
}
