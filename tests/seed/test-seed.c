/*
 * test-seed.c -- seed source compatibility (<rust_async_executor.h>): the
 * libuv driver of extern_executor's README (seed-readme-driver.c, built
 * unchanged) drives exco's default executor, whose straight-line
 * coroutines yield, sleep, await promises resolved on another thread and
 * join each other; the seed's init refuses what exco_init() refuses and
 * keeps its driver; poll errors read as "pending"; and
 * rust_async_executor_uv_init() puts the default executor on exco's own
 * libuv driver.
 *
 * Coroutines record results; asserts come after uv_run() returns.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"
#include "rust_async_executor.h"
#include "seed-readme-driver.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------- */
/* Straight-line coroutines on the README's driver                         */
/* ---------------------------------------------------------------------- */

#define YIELDERS 8
#define SLEEPERS 4
#define WAITERS 16

static exco_promise *promises[WAITERS];
static int values[WAITERS];

/* Yields n times, then returns n + 1000 (or -1 if a yield failed). */
static void *yielder(void *arg) {
  intptr_t n = (intptr_t)arg, i;

  for (i = 0; i < n; i++)
    if (exco_yield() != 0)
      return (void *)(intptr_t)-1;
  return (void *)(n + 1000);
}

/* Sleeps ms; returns ms if the sleep succeeded and lasted that long. */
static void *sleeper(void *arg) {
  intptr_t ms = (intptr_t)arg;
  int64_t t0 = exco_now();

  if (exco_sleep((uint64_t)ms) != 0 || exco_now() - t0 < ms)
    return (void *)(intptr_t)-1;
  return (void *)ms;
}

/* Awaits promises[k]; returns the int its value points to. */
static void *waiter(void *arg) {
  intptr_t k = (intptr_t)arg;
  void *v = NULL;

  if (exco_promise_await(promises[k], &v) != 0 || v != &values[k])
    return (void *)(intptr_t)-1;
  return (void *)(intptr_t)values[k];
}

/* A chain of joins: link(n) spawns link(n - 1), joins it and adds 1. */
static void *link_task(void *arg) {
  intptr_t n = (intptr_t)arg;
  exco_task *child;
  void *r;

  if (n == 0)
    return (void *)(intptr_t)0;
  if (exco_spawn(NULL, link_task, (void *)(n - 1), NULL, &child) != 0)
    return (void *)(intptr_t)-1;
  if (exco_join(child, &r) != 0)
    r = (void *)(intptr_t)-1000;
  exco_task_release(child);
  return (void *)((intptr_t)r + 1);
}

/* What the parent saw; checked after uv_run(). */
static struct {
  int spawn_err;
  int join_err;
  intptr_t yields[YIELDERS];
  intptr_t sleeps[SLEEPERS];
  intptr_t waits[WAITERS];
  intptr_t chain;
  int done;
} seen;

/* Spawns every kind of child from inside a coroutine (on the loop's
 * thread, as the README's driver needs) and joins them all, in turn. */
static void *parent(void *arg) {
  exco_task *ys[YIELDERS], *ss[SLEEPERS], *ws[WAITERS], *chain;
  void *r;
  int i;

  (void)arg;
  for (i = 0; i < YIELDERS; i++)
    seen.spawn_err |=
        exco_spawn(NULL, yielder, (void *)(intptr_t)(i * 3), NULL, &ys[i]);
  for (i = 0; i < SLEEPERS; i++)
    seen.spawn_err |=
        exco_spawn(NULL, sleeper, (void *)(intptr_t)(5 + 10 * i), NULL, &ss[i]);
  for (i = 0; i < WAITERS; i++)
    seen.spawn_err |=
        exco_spawn(NULL, waiter, (void *)(intptr_t)i, NULL, &ws[i]);
  seen.spawn_err |=
      exco_spawn(NULL, link_task, (void *)(intptr_t)5, NULL, &chain);
  if (seen.spawn_err != 0)
    return NULL;
  /* Join in the reverse order of finishing, roughly: the waiters wait for
   * another thread, the sleepers for the timer thread. */
  for (i = 0; i < WAITERS; i++) {
    seen.join_err |= exco_join(ws[i], &r);
    seen.waits[i] = (intptr_t)r;
    exco_task_release(ws[i]);
  }
  for (i = 0; i < SLEEPERS; i++) {
    seen.join_err |= exco_join(ss[i], &r);
    seen.sleeps[i] = (intptr_t)r;
    exco_task_release(ss[i]);
  }
  for (i = 0; i < YIELDERS; i++) {
    seen.join_err |= exco_join(ys[i], &r);
    seen.yields[i] = (intptr_t)r;
    exco_task_release(ys[i]);
  }
  seen.join_err |= exco_join(chain, &r);
  seen.chain = (intptr_t)r;
  exco_task_release(chain);
  seen.done = 1;
  return NULL;
}

/* Resolves the promises from another thread, last first, a little later
 * than the loop starts so most waiters are suspended by then. */
static void *resolve_all(void *arg) {
  int i;

  (void)arg;
  sleep_ms(5);
  for (i = WAITERS - 1; i >= 0; i--)
    exco_promise_resolve(promises[i], &values[i]);
  return NULL;
}

static void promises_new(void) {
  int i;

  for (i = 0; i < WAITERS; i++) {
    values[i] = 100 + i * i;
    ck_assert_int_eq(exco_promise_new(&promises[i]), 0);
  }
}

static void promises_unref(void) {
  int i;

  for (i = 0; i < WAITERS; i++)
    exco_promise_unref(promises[i]);
}

START_TEST(readme_driver_runs_coroutines) {
  exco_executor *ex = exco_default_executor();
  exco_task *top_yielder, *top_sleeper;
  uv_loop_t loop;
  pthread_t th;
  int i;

  memset(&seen, 0, sizeof(seen));
  promises_new();
  /* The seed README's main(). */
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  uv_rust_async_executor_init(&loop);
  ck_assert_ptr_eq(exco_executor_data(ex), &loop);
  ck_assert_int_eq(exco_spawn(NULL, parent, NULL, NULL, NULL), 0);
  /* Tasks spawned outside any coroutine, joined from here afterwards. */
  ck_assert_int_eq(
      exco_spawn(NULL, yielder, (void *)(intptr_t)7, NULL, &top_yielder), 0);
  ck_assert_int_eq(
      exco_spawn(NULL, sleeper, (void *)(intptr_t)3, NULL, &top_sleeper), 0);
  /* One uv_async_t per task, none polled yet. */
  ck_assert_int_eq(h_uv_handles(&loop), 3);
  h_thread_start(&th, resolve_all, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  h_thread_join(th);

  ck_assert_int_eq(seen.spawn_err, 0);
  ck_assert_int_eq(seen.join_err, 0);
  ck_assert_int_eq(seen.done, 1);
  for (i = 0; i < YIELDERS; i++)
    ck_assert_int_eq(seen.yields[i], i * 3 + 1000);
  for (i = 0; i < SLEEPERS; i++)
    ck_assert_int_eq(seen.sleeps[i], 5 + 10 * i);
  for (i = 0; i < WAITERS; i++)
    ck_assert_int_eq(seen.waits[i], 100 + i * i);
  ck_assert_int_eq(seen.chain, 5);
  ck_assert_int_eq(exco_task_done(top_yielder), 1);
  ck_assert_int_eq(exco_task_done(top_sleeper), 1);
  exco_task_release(top_yielder);
  exco_task_release(top_sleeper);
  /* Every task dropped, every handle closed and freed. */
  ck_assert_int_eq(exco_executor_live(ex), 0);
  ck_assert_int_eq(h_uv_handles(&loop), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  promises_unref();
}
END_TEST

/* ---------------------------------------------------------------------- */
/* rust_async_executor_init() refusals keep the driver                     */
/* ---------------------------------------------------------------------- */

static int other_calls;

static RustAsyncExecutorExternTask other_new(RustAsyncExecutorUserData data) {
  (void)data;
  other_calls++;
  return NULL;
}

static void other_run(RustAsyncExecutorExternTask task,
                      RustAsyncExecutorInternTask data) {
  (void)task;
  (void)data;
  other_calls++;
}

static void other_wake(RustAsyncExecutorExternTask task) {
  (void)task;
  other_calls++;
}

START_TEST(refused_init_keeps_driver) {
  exco_executor *ex = exco_default_executor();
  exco_task *w, *y;
  uv_loop_t loop, other;

  promises_new();
  other_calls = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  uv_rust_async_executor_init(&loop);
  /* A NULL callback: ignored. */
  rust_async_executor_init(other_new, NULL, other_wake, &other);
  ck_assert_ptr_eq(exco_executor_data(ex), &loop);
  ck_assert_int_eq(exco_spawn(NULL, waiter, (void *)(intptr_t)3, NULL, &w), 0);
  /* A live task: refused, and the README driver's task_run stays. */
  rust_async_executor_init(other_new, other_run, other_wake, &other);
  ck_assert_ptr_eq(exco_executor_data(ex), &loop);
  ck_assert_int_eq(exco_spawn(NULL, yielder, (void *)(intptr_t)2, NULL, &y), 0);
  ck_assert_int_eq(h_uv_handles(&loop), 2);
  ck_assert_int_eq(exco_promise_resolve(promises[3], &values[3]), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(other_calls, 0);
  ck_assert_int_eq(exco_task_done(w), 1);
  ck_assert_int_eq(exco_task_done(y), 1);
  exco_task_release(w);
  exco_task_release(y);
  ck_assert_int_eq(exco_executor_live(ex), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  promises_unref();
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Errors of exco_poll() read as "pending"                                 */
/* ---------------------------------------------------------------------- */

static void *short_task(void *arg) {
  (void)arg;
  exco_yield();
  return (void *)(intptr_t)42;
}

START_TEST(poll_errors_read_pending) {
  exco_executor *ex;
  exco_task *t;
  uv_loop_t loop;

  /* EXCO_EINVAL. */
  ck_assert(rust_async_executor_poll(NULL));
  rust_async_executor_drop(NULL);
  /* EXCO_EPERM: a task that exco's libuv driver owns.  Neither call
   * touches it, and it finishes normally. */
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(exco_uv_executor_new(&ex, &loop), 0);
  ck_assert_int_eq(exco_spawn(ex, short_task, NULL, NULL, &t), 0);
  ck_assert(rust_async_executor_poll(t));
  rust_async_executor_drop(t);
  ck_assert_int_eq(exco_task_done(t), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(exco_task_done(t), 1);
  exco_task_release(t);
  ck_assert_int_eq(exco_uv_executor_free(ex), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* rust_async_executor_uv_init(): exco's own libuv driver                  */
/* ---------------------------------------------------------------------- */

static struct {
  uv_loop_t *loop;
  int uv_sleep_err;
  intptr_t chain;
} uv_seen;

static void *uv_task(void *arg) {
  exco_task *chain;
  void *r = NULL;

  (void)arg;
  uv_seen.loop = exco_uv_loop();
  uv_seen.uv_sleep_err = exco_uv_sleep(3);
  if (exco_spawn(NULL, link_task, (void *)(intptr_t)4, NULL, &chain) == 0) {
    if (exco_join(chain, &r) != 0)
      r = (void *)(intptr_t)-1;
    exco_task_release(chain);
  }
  uv_seen.chain = (intptr_t)r;
  return NULL;
}

START_TEST(builtin_uv_init) {
  exco_executor *ex = exco_default_executor();
  exco_task *s;
  uv_loop_t loop;

  memset(&uv_seen, 0, sizeof(uv_seen));
  uv_seen.uv_sleep_err = 1;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  rust_async_executor_uv_init(&loop);
  ck_assert_ptr_eq(exco_uv_executor_loop(ex), &loop);
  ck_assert_int_eq(exco_spawn(NULL, uv_task, NULL, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(NULL, sleeper, (void *)(intptr_t)4, NULL, &s), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_ptr_eq(uv_seen.loop, &loop);
  ck_assert_int_eq(uv_seen.uv_sleep_err, 0);
  ck_assert_int_eq(uv_seen.chain, 4);
  ck_assert_int_eq(exco_task_done(s), 1);
  exco_task_release(s);
  ck_assert_int_eq(exco_executor_live(ex), 0);
  /* Detach the default executor and let the driver's handles close. */
  ck_assert_int_eq(exco_uv_executor_free(ex), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("seed");
  TCase *tc = h_tcase("seed", 60);

  tcase_add_test(tc, readme_driver_runs_coroutines);
  tcase_add_test(tc, refused_init_keeps_driver);
  tcase_add_test(tc, poll_errors_read_pending);
  tcase_add_test(tc, builtin_uv_init);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
