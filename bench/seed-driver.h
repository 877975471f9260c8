/*
 * seed-driver.h -- the seed's libuv driver design (extern_executor's
 * README: one uv_async_t per task), ported line for line onto exco's
 * driver contract.  Not installed: it is the baseline that tests
 * (tests/test-uv-seed.c) and exco-bench compare exco's own driver with.
 * Link bench/libexco-uv-seed.la, drivers/uv/libexco-uv.la (for
 * exco_uv_attach, so the exco_uv_* awaitables work on it too) and
 * src/libexco.la.
 *
 * Limits, as in the seed: spawn only from the loop's thread (task_new
 * calls uv_async_init), one seed executor per loop, and each wake is a
 * uv_async_send (a write() system call) that makes libuv scan every
 * task's async handle.
 */
#ifndef EXCO_UV_SEED_DRIVER_H
#define EXCO_UV_SEED_DRIVER_H

#include <uv.h>

#include "exco.h"

/* The seed's uv_rust_async_executor_init(loop): sets up the default
 * executor.  Returns exco_init()'s or exco_uv_attach()'s error. */
int exco_uv_seed_init(uv_loop_t *loop);
/* Undoes exco_uv_seed_init()'s attach (the default executor keeps the
 * seed callbacks).  Returns 0 or EXCO_EINVAL. */
int exco_uv_seed_fini(uv_loop_t *loop);

/* The same callbacks on an executor instance. */
int exco_uv_seed_executor_new(exco_executor **out, uv_loop_t *loop);
/* Returns exco_executor_free()'s result (EXCO_EBUSY while tasks live). */
int exco_uv_seed_executor_free(exco_executor *ex);

#endif
