/*
 * seed-driver.c -- the seed's libuv driver (extern_executor's README),
 * line for line on exco's contract: each task owns a uv_async_t; a wake
 * is uv_async_send() on it; its callback polls the task and, once the
 * task has finished, drops it and closes the handle.
 *
 * One deliberate change: the seed closes the handle with
 * uv_close(handle, NULL) and never frees the malloc'd uv_async_t, leaking
 * one per task.  Here the close callback frees it.
 */
#include "config.h"

#include <stdlib.h>

#include "exco/uv.h"
#include "seed-driver.h"

static void task_wake(void *data) {
  uv_async_t *handle = data;
  // wakeup uv's async task
  uv_async_send(handle);
}

/* Not in the seed, which passes NULL to uv_close (a leak). */
static void task_closed(uv_handle_t *handle) {
  free(handle);
}

static void task_poll(uv_async_t *handle) {
  // poll internal task until task complete
  if (!exco_poll(handle->data)) {
    // drop internal task when task complete
    exco_drop(handle->data);
    // drop uv's async task handle
    uv_close((uv_handle_t *)handle, task_closed);
  }
}

static void *task_new(void *data) {
  uv_loop_t *loop = data;
  // crate and initialize uv's async task handle
  uv_async_t *handle = malloc(sizeof(uv_async_t));
  if (handle == NULL)
    return NULL;
  if (uv_async_init(loop, handle, task_poll) != 0) {
    free(handle);
    return NULL;
  }
  return handle;
}

static void task_run(void *task, exco_task *data) {
  uv_async_t *handle = task;
  // store internal task handle to be able to poll it later
  handle->data = data;
  uv_async_send(handle); // do initial polling (important)
}

int exco_uv_seed_init(uv_loop_t *loop) {
  int err;

  // send out executor API to the library side
  err = exco_init(task_new, task_run, task_wake, loop);
  if (err == 0) {
    err = exco_uv_attach(exco_default_executor(), loop);
    if (err == EXCO_EBUSY)
      err = 0; /* attached by an earlier init */
  }
  return err;
}

int exco_uv_seed_fini(uv_loop_t *loop) {
  (void)loop;
  return exco_uv_detach(exco_default_executor());
}

int exco_uv_seed_executor_new(exco_executor **out, uv_loop_t *loop) {
  int err;

  if (out == NULL || loop == NULL)
    return EXCO_EINVAL;
  err = exco_executor_new(out, task_new, task_run, task_wake, loop);
  if (err != 0)
    return err;
  err = exco_uv_attach(*out, loop);
  if (err != 0) {
    exco_executor_free(*out);
    *out = NULL;
  }
  return err;
}

int exco_uv_seed_executor_free(exco_executor *ex) {
  /* The attachment goes with the executor. */
  return exco_executor_free(ex);
}
