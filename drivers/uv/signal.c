/*
 * signal.c -- exco_uv_signal(): wait for one delivery of a signal.
 *
 * A one-shot uv_signal_t per wait, on the heap, closed whether the signal
 * came or the wait was cancelled; the close callback frees it.
 */
#include "config.h"

#include <stdlib.h>

#include "uv-internal.h"

typedef struct exco__uv_signal {
  uv_signal_t handle; /* first: the close callback frees the record */
  exco__uv_op op;
} exco__uv_signal;

static void exco__uv_signal_cb(uv_signal_t *handle, int signum) {
  exco__uv_signal *s = exco__uv_container_of(handle, exco__uv_signal, handle);

  (void)signum;
  exco__uv_op_complete(&s->op, 0);
}

int exco_uv_signal_timeout(int signum, uint64_t timeout_ms) {
  exco__uv_signal *s;
  uv_loop_t *loop;
  int err;

  s = exco__uv_enter_alloc(&loop, sizeof(*s), &err);
  if (s == NULL)
    return err;
  exco__uv_op_init(&s->op);
  err = uv_signal_init(loop, &s->handle);
  if (err != 0) {
    free(s);
    return err;
  }
  err = uv_signal_start_oneshot(&s->handle, exco__uv_signal_cb, signum);
  if (err == 0)
    err = exco__uv_op_wait(&s->op, timeout_ms);
  uv_close((uv_handle_t *)&s->handle, exco__uv_free_on_close);
  return err;
}

int exco_uv_signal(int signum) {
  return exco_uv_signal_timeout(signum, EXCO__UV_NO_TIMEOUT);
}
