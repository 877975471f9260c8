/*
 * seed-readme-driver.h -- the libuv driver of extern_executor's README
 * (seed-readme-driver.c), compiled unchanged against
 * <rust_async_executor.h>.  Link tests/seed/libseed-readme-driver.la,
 * src/libexco.la and libuv.
 *
 * uv_rust_async_executor_init(loop) makes the process-default executor
 * run its tasks on @p loop, one uv_async_t per task, through the seed's
 * three callbacks.  Then exco_spawn(NULL, ...) outside coroutines, or from
 * a coroutine on the loop, puts a task on the loop, and uv_run() returns
 * once every task has finished and its handle is closed (uv_loop_close()
 * then succeeds: the driver leaves nothing behind).
 *
 * As in the seed: spawn only on the loop's thread (task_new calls
 * uv_async_init(), which is not thread-safe), and this is the default
 * executor's one driver (call it again, for another loop, only once no
 * task is live).  Wakes may come from any thread (uv_async_send()).
 */
#ifndef EXCO_TESTS_SEED_README_DRIVER_H
#define EXCO_TESTS_SEED_README_DRIVER_H

#include <uv.h>

void uv_rust_async_executor_init(uv_loop_t *loop);

#endif
