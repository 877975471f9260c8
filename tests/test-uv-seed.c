/*
 * test-uv-seed.c -- the seed's libuv driver design (one uv_async_t per
 * task, bench/seed-driver.c) against exco's core, unchanged: spawn,
 * yields, cross-thread wakes through promises, the loop ending when tasks
 * finish, the exco_uv_* awaitables on it (through exco_uv_attach), and no
 * leaked handle (the seed passes NULL to uv_close; our copy frees).
 *
 * Coroutines record results; asserts come after uv_run() returns.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"
#include "seed-driver.h"

static atomic_int finished;

static void *yield_n(void *arg) {
  long n = (long)(intptr_t)arg, i;

  for (i = 0; i < n; i++)
    if (exco_yield() != 0)
      return NULL;
  atomic_fetch_add(&finished, 1);
  return NULL;
}

START_TEST(seed_instance_yields) {
  exco_executor *ex;
  uv_loop_t loop;
  int i;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(exco_uv_seed_executor_new(&ex, &loop), 0);
  atomic_store(&finished, 0);
  for (i = 0; i < 200; i++)
    ck_assert_int_eq(
        exco_spawn(ex, yield_n, (void *)(intptr_t)(i % 23), NULL, NULL), 0);
  /* One async handle per task, referenced: uv_run returns once all the
   * tasks have finished and their handles are closed. */
  ck_assert_int_eq(h_uv_handles(&loop), 200);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(atomic_load(&finished), 200);
  ck_assert_int_eq(h_uv_handles(&loop), 0);
  ck_assert_int_eq(exco_executor_live(ex), 0);
  ck_assert_int_eq(exco_uv_seed_executor_free(ex), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Cross-thread wakes                                                      */
/* ---------------------------------------------------------------------- */

#define PROMISES 100

static exco_promise *promises[PROMISES];
static int got[PROMISES];

static void *await_one(void *arg) {
  long i = (long)(intptr_t)arg;
  void *v = NULL;

  if (exco_promise_await(promises[i], &v) == 0 && v == &got[i])
    got[i] = 1;
  return NULL;
}

static void *resolve_all(void *arg) {
  long i;

  (void)arg;
  for (i = PROMISES - 1; i >= 0; i--)
    exco_promise_resolve(promises[i], &got[i]);
  return NULL;
}

START_TEST(seed_cross_thread_wakes) {
  exco_executor *ex;
  uv_loop_t loop;
  pthread_t th;
  long i;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(exco_uv_seed_executor_new(&ex, &loop), 0);
  for (i = 0; i < PROMISES; i++) {
    got[i] = 0;
    ck_assert_int_eq(exco_promise_new(&promises[i]), 0);
    ck_assert_int_eq(exco_spawn(ex, await_one, (void *)(intptr_t)i, NULL, NULL),
                     0);
  }
  h_thread_start(&th, resolve_all, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  h_thread_join(th);
  for (i = 0; i < PROMISES; i++) {
    ck_assert_int_eq(got[i], 1);
    exco_promise_unref(promises[i]);
  }
  ck_assert_int_eq(exco_uv_seed_executor_free(ex), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The default executor, as in the seed's README, with awaitables          */
/* ---------------------------------------------------------------------- */

typedef struct seed_io {
  uv_loop_t *loop_seen;
  int sleep_err;
  int echo_ok;
  int file_err;
} seed_io;

static void *echo_once(void *arg) {
  exco_uv_tcp *server = arg, *conn;
  char buf[64];
  ssize_t n;

  if (exco_uv_tcp_accept(server, &conn) != 0)
    return NULL;
  while ((n = exco_uv_tcp_read(conn, buf, sizeof(buf))) > 0)
    exco_uv_tcp_write(conn, buf, (size_t)n);
  exco_uv_tcp_close(conn);
  return NULL;
}

static void *seed_io_task(void *arg) {
  seed_io *r = arg;
  struct sockaddr_in addr;
  exco_uv_tcp *server, *client;
  int len = sizeof(addr);
  char buf[8], *text = NULL;
  size_t got_len = 0;
  ssize_t n;

  r->loop_seen = exco_uv_loop();
  r->sleep_err = exco_uv_sleep(2);
  r->file_err = exco_uv_fs_read_file("/proc/self/status", &text, NULL);
  free(text);
  uv_ip4_addr("127.0.0.1", 0, &addr);
  if (exco_uv_tcp_listen((struct sockaddr *)&addr, 0, &server) != 0)
    return NULL;
  uv_tcp_getsockname(exco_uv_tcp_handle(server), (struct sockaddr *)&addr,
                     &len);
  /* Spawned from a coroutine on the loop's thread, as the seed needs. */
  if (exco_spawn(NULL, echo_once, server, NULL, NULL) == 0 &&
      exco_uv_tcp_connect((struct sockaddr *)&addr, &client) == 0) {
    exco_uv_tcp_write(client, "seed", 4);
    while (got_len < 4 &&
           (n = exco_uv_tcp_read(client, buf + got_len, 4 - got_len)) > 0)
      got_len += (size_t)n;
    r->echo_ok = got_len == 4 && memcmp(buf, "seed", 4) == 0;
    exco_uv_tcp_close(client);
  }
  exco_uv_tcp_close(server);
  return NULL;
}

START_TEST(seed_default_with_awaitables) {
  uv_loop_t loop;
  seed_io r;

  memset(&r, 0, sizeof(r));
  r.sleep_err = r.file_err = 1;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  /* The seed's uv_rust_async_executor_init(loop). */
  ck_assert_int_eq(exco_uv_seed_init(&loop), 0);
  ck_assert_int_eq(exco_spawn(NULL, seed_io_task, &r, NULL, NULL), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_ptr_eq(r.loop_seen, &loop);
  ck_assert_int_eq(r.sleep_err, 0);
  ck_assert_int_eq(r.file_err, 0);
  ck_assert_int_eq(r.echo_ok, 1);
  ck_assert_int_eq(exco_executor_live(exco_default_executor()), 0);
  ck_assert_int_eq(exco_uv_seed_fini(&loop), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Cancellation through the seed driver                                    */
/* ---------------------------------------------------------------------- */

static int parked_err;

static void *park_sleep(void *arg) {
  (void)arg;
  parked_err = exco_uv_sleep(60000);
  return NULL;
}

static void *cancel_it(void *arg) {
  exco_task_cancel(arg);
  return NULL;
}

START_TEST(seed_cancel) {
  exco_executor *ex;
  uv_loop_t loop;
  exco_task *t;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(exco_uv_seed_executor_new(&ex, &loop), 0);
  parked_err = 1;
  ck_assert_int_eq(exco_spawn(ex, park_sleep, NULL, NULL, &t), 0);
  ck_assert_int_eq(exco_spawn(ex, cancel_it, t, NULL, NULL), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(parked_err, EXCO_ECANCELED);
  exco_task_release(t);
  ck_assert_int_eq(exco_uv_seed_executor_free(ex), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uv-seed");
  TCase *tc = h_tcase("seed", 60);

  tcase_add_test(tc, seed_instance_yields);
  tcase_add_test(tc, seed_cross_thread_wakes);
  tcase_add_test(tc, seed_default_with_awaitables);
  tcase_add_test(tc, seed_cancel);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
