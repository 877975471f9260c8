/*
 * uv-harness.h -- helpers shared by the libuv driver's Check tests: a
 * loop with exco's uv executor on it (tloop), and a TCP listener on an
 * ephemeral port.
 *
 * Header only (static inline): tests/libharness.la does not link libuv,
 * and these are a few lines each.  The tl_* functions assert, so call
 * them from the test itself, never from a coroutine.
 */
#ifndef EXCO_TESTS_UV_HARNESS_H
#define EXCO_TESTS_UV_HARNESS_H

#include <check.h>

#include "exco/uv.h"

/* A libuv loop and an exco executor driven by it. */
typedef struct tloop {
  uv_loop_t loop;
  exco_executor *ex;
} tloop;

static inline void tl_init(tloop *t) {
  ck_assert_int_eq(uv_loop_init(&t->loop), 0);
  ck_assert_int_eq(exco_uv_executor_new(&t->ex, &t->loop), 0);
}

/* uv_run() must return 0 by itself: no handle left active. */
static inline void tl_run(tloop *t) {
  ck_assert_int_eq(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
}

/* Frees the executor, lets its closes run, and closes the loop: every
 * handle must be gone by then. */
static inline void tl_fini(tloop *t) {
  ck_assert_int_eq(exco_uv_executor_free(t->ex), 0);
  ck_assert_int_eq(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&t->loop), 0);
}

static inline void tl_spawn(tloop *t, exco_fn fn, void *arg, exco_task **out) {
  ck_assert_int_eq(exco_spawn(t->ex, fn, arg, NULL, out), 0);
}

/* Runs @fn(@arg) as the only task of a fresh loop, to the end. */
static inline void tl_run_one(exco_fn fn, void *arg) {
  tloop t;

  tl_init(&t);
  tl_spawn(&t, fn, arg, NULL);
  tl_run(&t);
  tl_fini(&t);
}

/* Listens on 127.0.0.1 at an ephemeral port (from inside a coroutine);
 * the address bound is stored in @bound.  Returns 0 or an error. */
static inline void h_uv_count_handle(uv_handle_t *h, void *arg) {
  (void)h;
  ++*(int *)arg;
}

/* The number of handles @loop still has (all must be gone once closed). */
static inline int h_uv_handles(uv_loop_t *loop) {
  int n = 0;

  uv_walk(loop, h_uv_count_handle, &n);
  return n;
}

static inline int h_uv_listen_any(exco_uv_tcp **server,
                                  struct sockaddr_in *bound, int backlog) {
  struct sockaddr_in addr;
  int len = sizeof(*bound), err;

  uv_ip4_addr("127.0.0.1", 0, &addr);
  err = exco_uv_tcp_listen((struct sockaddr *)&addr, backlog, server);
  if (err != 0)
    return err;
  return uv_tcp_getsockname(exco_uv_tcp_handle(*server),
                            (struct sockaddr *)bound, &len);
}

#endif
