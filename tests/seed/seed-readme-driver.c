/*
 * seed-readme-driver.c -- the libuv driver of extern_executor's README,
 * written out whole with the seed's names, types and signatures, as a
 * user copies it.  It includes only what the README includes and is
 * compiled with -Wall -Wextra -Wpedantic -Werror against the installed
 * <rust_async_executor.h> (tests/local.mk): a warning, a type mismatch or
 * a missing declaration fails the build.
 *
 * One fix, where the README's code leaks: it closes each task's handle
 * with uv_close(handle, NULL) and never frees the malloc()ed uv_async_t,
 * one per task, which valgrind reports as definitely lost.  Here the close
 * callback task_close frees it, as a user fixing the leak would.  task_new
 * also gives up (returns NULL, which fails the spawn) if malloc() does,
 * instead of handing NULL to uv_async_init().
 */
#include <uv.h>
#include <rust_async_executor.h>

static void task_wake(RustAsyncExecutorExternTask data) {
  uv_async_t *handle = data;
  // wakeup uv's async task
  uv_async_send(handle);
}

static void task_close(uv_handle_t *handle) {
  // free uv's async task handle once libuv has let go of it
  free(handle);
}

static void task_poll(uv_async_t *handle) {
  // poll internal task until task complete
  if (!rust_async_executor_poll(handle->data)) {
    // drop internal task when task complete
    rust_async_executor_drop(handle->data);
    // drop uv's async task handle
    uv_close((uv_handle_t *)handle, task_close);
  }
}

static RustAsyncExecutorExternTask task_new(RustAsyncExecutorUserData data) {
  uv_loop_t *loop = data;
  // crate and initialize uv's async task handle
  uv_async_t *handle = malloc(sizeof(uv_async_t));
  if (handle == NULL)
    return NULL;
  uv_async_init(loop, handle, task_poll);
  return handle;
}

static void task_run(RustAsyncExecutorExternTask task,
                     RustAsyncExecutorInternTask data) {
  uv_async_t *handle = task;
  // store internal task handle to be able to poll it later
  handle->data = data;
  uv_async_send(handle); // do initial polling (important)
}

void uv_rust_async_executor_init(uv_loop_t *loop) {
  // send out executor API to Rust side
  rust_async_executor_init(task_new, task_run, task_wake, loop);
}
