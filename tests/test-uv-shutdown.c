/*
 * test-uv-shutdown.c -- the core's timers, deadlines and asynchronous
 * close on the libuv driver (the driver interface's timer_arm and close
 * hooks, and the shared run queue's keepalive):
 *
 *   - exco_sleep() on a libuv executor sleeps at least its time, in due
 *     order, with equal sleeps in arming order, and keeps uv_run() alive;
 *   - a deadline ends a pending promise await, a libuv awaitable and a
 *     join with EXCO_ETIMEDOUT, and the task goes on normally after it;
 *   - exco_executor_close() from inside the loop -- a host's shutdown
 *     path, here a uv_signal_t handler and a timer callback -- with tasks
 *     pending in a sleep, a promise, an accept and a thread-pool job:
 *     spawning fails with EXCO_ESHUTDOWN, every task sees EXCO_ECANCELED,
 *     the callback runs exactly once, on the loop thread, after the last
 *     task, and uv_run() then returns by itself with every handle closed
 *     (uv_loop_close() == 0).  valgrind and ASan check that nothing leaks
 *     or is used after it was freed.
 *
 * Coroutines record results in plain variables; asserts come after
 * uv_run() returns.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include <check.h>

#include "exco/driver.h"
#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"

/* ---------------------------------------------------------------------- */
/* Sleeps                                                                  */
/* ---------------------------------------------------------------------- */

#define NSLEEP 6

static int order[NSLEEP];
static int norder;
static int sleep_err[NSLEEP];
static int64_t slept[NSLEEP];
static double due[NSLEEP]; /* h_now() before the sleep + its length, s */
static const uint64_t sleep_ms[NSLEEP] = {30, 10, 20, 10, 0, 10};

static void *sleeper(void *arg) {
  int i = (int)(intptr_t)arg;
  int64_t t0 = exco_now();

  due[i] = h_now() + (double)sleep_ms[i] / 1000;
  sleep_err[i] = exco_sleep(sleep_ms[i]);
  slept[i] = exco_now() - t0;
  order[norder++] = i;
  return NULL;
}

/*
 * Sleeps end in the order of their due times (each counts from its own
 * first poll, which a loaded machine may spread over milliseconds), and
 * each lasts at least its length.  Dues closer than a millisecond may come
 * out either way: the test's clock is read just before the timer is armed.
 */
START_TEST(sleep_order) {
  tloop t;
  int i;

  norder = 0;
  tl_init(&t);
  ck_assert_str_eq(exco_driver_name(t.ex), "uv");
  for (i = 0; i < NSLEEP; i++)
    tl_spawn(&t, sleeper, (void *)(intptr_t)i, NULL);
  tl_run(&t);
  tl_fini(&t);
  ck_assert_int_eq(norder, NSLEEP);
  for (i = 0; i < NSLEEP; i++) {
    ck_assert_int_eq(sleep_err[i], 0);
    ck_assert_int_ge(slept[i], (int64_t)sleep_ms[i]);
  }
  for (i = 1; i < NSLEEP; i++)
    ck_assert_msg(due[order[i - 1]] <= due[order[i]] + 0.001,
                  "sleep %d ended before sleep %d, due %.1f ms earlier",
                  order[i - 1], order[i],
                  (due[order[i - 1]] - due[order[i]]) * 1000);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Deadlines                                                               */
/* ---------------------------------------------------------------------- */

static struct {
  int promise_err;
  int64_t promise_ms;
  int read_err;
  int join_err;
  int after_err;
  void *after_value;
  int restored;
} dl;

static void *forever(void *arg) {
  exco_promise *p = arg;

  (void)exco_promise_await(p, NULL);
  exco_promise_unref(p);
  return NULL;
}

static void *deadline_body(void *arg) {
  exco_promise *p = arg;
  exco_uv_tcp *server, *client;
  struct sockaddr_in addr;
  exco_task *child;
  int64_t prev, t0;
  char c;

  /* A promise nobody resolves yet. */
  t0 = exco_now();
  exco_deadline_after(40, &prev);
  dl.promise_err = exco_promise_await(p, NULL);
  dl.promise_ms = exco_now() - t0;
  exco_deadline_set(prev, NULL);

  /* A libuv read that gets no data. */
  if (h_uv_listen_any(&server, &addr, 4) == 0 &&
      exco_uv_tcp_connect((struct sockaddr *)&addr, &client) == 0) {
    exco_deadline_after(20, &prev);
    dl.read_err = (int)exco_uv_tcp_read(client, &c, 1);
    exco_deadline_set(prev, NULL);
    exco_uv_tcp_close(client);
    exco_uv_tcp_close(server);
  }

  /* A join of a task that waits on the same promise. */
  if (exco_spawn(NULL, forever, exco_promise_ref(p), NULL, &child) == 0) {
    exco_deadline_after(20, &prev);
    dl.join_err = exco_join(child, NULL);
    exco_deadline_set(prev, NULL);
    dl.restored = exco_deadline_get() == EXCO_NO_DEADLINE;
    /* With the deadline gone, the task goes on normally. */
    exco_promise_resolve(p, &dl);
    dl.after_err = exco_promise_await(p, &dl.after_value);
    exco_join(child, NULL);
    exco_task_release(child);
  }
  exco_promise_unref(p);
  return NULL;
}

START_TEST(deadlines) {
  exco_promise *p;
  tloop t;

  memset(&dl, 0, sizeof(dl));
  dl.promise_err = dl.read_err = dl.join_err = dl.after_err = 1;
  ck_assert_int_eq(exco_promise_new(&p), 0);
  tl_init(&t);
  tl_spawn(&t, deadline_body, exco_promise_ref(p), NULL);
  tl_run(&t);
  tl_fini(&t);
  exco_promise_unref(p);
  ck_assert_int_eq(dl.promise_err, EXCO_ETIMEDOUT);
  ck_assert_int_ge(dl.promise_ms, 40);
  ck_assert_int_eq(dl.read_err, UV_ETIMEDOUT);
  ck_assert_int_eq(dl.join_err, EXCO_ETIMEDOUT);
  ck_assert_int_eq(dl.restored, 1);
  ck_assert_int_eq(dl.after_err, 0);
  ck_assert_ptr_eq(dl.after_value, &dl);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Closing from the host's shutdown path                                   */
/* ---------------------------------------------------------------------- */

enum { K_SLEEP, K_PROMISE, K_ACCEPT, K_WORK, K_YIELD, K_COUNT };

static struct {
  uv_loop_t loop;
  exco_executor *ex;
  exco_promise *never;
  exco_uv_tcp *server;
  int started[K_COUNT];
  int result[K_COUNT];
  atomic_int callbacks;
  int cb_on_loop;
  int uv_alive_in_cb;
  int spawn_after;
  int server_closed;
  int second_close;
  long live_before;
  pthread_t loop_thread;
  uv_signal_t sig;
  uv_timer_t timer;
} sd;

static void work_fn(void *arg) {
  (void)arg;
}

static void *pending(void *arg) {
  int k = (int)(intptr_t)arg;
  struct sockaddr_in addr;
  exco_uv_tcp *c;
  int i;

  sd.started[k] = 1;
  switch (k) {
  case K_SLEEP:
    sd.result[k] = exco_sleep(60000);
    break;
  case K_PROMISE:
    sd.result[k] = exco_promise_await(sd.never, NULL);
    break;
  case K_ACCEPT:
    if (h_uv_listen_any(&sd.server, &addr, 4) == 0) {
      sd.result[k] = exco_uv_tcp_accept(sd.server, &c);
      /* Releasing calls work in a cancelled task: clean up. */
      sd.server_closed = exco_uv_tcp_close(sd.server);
    }
    break;
  case K_WORK:
    /* Yields until cancelled, then a thread-pool job still completes. */
    while ((sd.result[k] = exco_yield()) == 0)
      ;
    (void)exco_uv_work(work_fn, NULL, NULL);
    break;
  default:
    for (i = 0; i < 1000000 && (sd.result[k] = exco_yield()) == 0; i++)
      ;
    break;
  }
  return NULL;
}

static void closed_cb(void *arg) {
  (void)arg;
  atomic_fetch_add(&sd.callbacks, 1);
  sd.cb_on_loop = pthread_equal(pthread_self(), sd.loop_thread);
}

/* The host's shutdown path: close the executor, and the host's own
 * handles, from inside a loop callback. */
static void shutdown_now(void) {
  sd.live_before = exco_executor_live(sd.ex);
  ck_assert_int_eq(exco_executor_close(sd.ex, closed_cb, NULL), 0);
  sd.second_close = exco_executor_close(sd.ex, closed_cb, NULL);
  sd.spawn_after =
      exco_spawn(sd.ex, pending, (void *)(intptr_t)K_SLEEP, NULL, NULL);
  uv_close((uv_handle_t *)&sd.sig, NULL);
  uv_close((uv_handle_t *)&sd.timer, NULL);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  shutdown_now();
}

static void on_timer(uv_timer_t *t) {
  (void)t;
  shutdown_now();
}

static void run_close(int by_signal) {
  int k;

  memset(&sd, 0, sizeof(sd));
  atomic_init(&sd.callbacks, 0);
  sd.loop_thread = pthread_self();
  ck_assert_int_eq(uv_loop_init(&sd.loop), 0);
  ck_assert_int_eq(exco_uv_executor_new(&sd.ex, &sd.loop), 0);
  ck_assert_int_eq(exco_promise_new(&sd.never), 0);
  for (k = 0; k < K_COUNT; k++)
    sd.result[k] = 1;
  for (k = 0; k < K_COUNT; k++)
    ck_assert_int_eq(
        exco_spawn(sd.ex, pending, (void *)(intptr_t)k, NULL, NULL), 0);
  ck_assert_int_eq(uv_signal_init(&sd.loop, &sd.sig), 0);
  ck_assert_int_eq(uv_timer_init(&sd.loop, &sd.timer), 0);
  if (by_signal) {
    ck_assert_int_eq(uv_signal_start(&sd.sig, on_signal, SIGUSR1), 0);
    /* Raised once every task is pending: from a timer that the tasks'
     * first polls precede. */
    ck_assert_int_eq(uv_run(&sd.loop, UV_RUN_NOWAIT), 1);
    ck_assert_int_eq(uv_run(&sd.loop, UV_RUN_NOWAIT), 1);
    ck_assert_int_eq(raise(SIGUSR1), 0);
  } else {
    ck_assert_int_eq(uv_timer_start(&sd.timer, on_timer, 10, 0), 0);
  }
  /* Returns by itself: every task cancelled, the executor freed, the
   * driver's handles closed. */
  ck_assert_int_eq(uv_run(&sd.loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(atomic_load(&sd.callbacks), 1);
  ck_assert_int_eq(sd.cb_on_loop, 1);
  ck_assert_int_eq(sd.second_close, EXCO_EALREADY);
  ck_assert_int_eq(sd.spawn_after, EXCO_ESHUTDOWN);
  ck_assert_int_eq(sd.live_before, K_COUNT);
  for (k = 0; k < K_COUNT; k++) {
    ck_assert_msg(sd.started[k] == 1, "task %d never ran", k);
    ck_assert_msg(sd.result[k] == EXCO_ECANCELED, "task %d returned %d", k,
                  sd.result[k]);
  }
  ck_assert_int_eq(sd.server_closed, 0);
  exco_promise_unref(sd.never);
  ck_assert_int_eq(uv_loop_close(&sd.loop), 0);
}

START_TEST(close_from_timer) {
  run_close(0);
}
END_TEST

START_TEST(close_from_signal) {
  run_close(1);
}
END_TEST

/*
 * A host's teardown (Node's environment cleanup does this) closes an
 * idle executor outside any loop callback, then runs the loop while it
 * waits for the close callback.  The close must keep the loop alive until
 * it has finished: a loop without referenced handles would return from
 * uv_run() at once, without ever taking in the close.
 */
static int idle_closed;

static void on_idle_closed(void *arg) {
  (void)arg;
  idle_closed++;
}

START_TEST(close_idle_outside_the_loop_keeps_it_alive) {
  exco_executor *ex;
  uv_loop_t loop;
  int runs = 0;

  idle_closed = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(exco_uv_executor_new(&ex, &loop), 0);
  /* Nothing live: the loop has nothing to do. */
  ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 0);
  ck_assert_int_eq(exco_executor_close(ex, on_idle_closed, NULL), 0);
  ck_assert_int_eq(idle_closed, 0);
  /* As Node's teardown does: one iteration at a time until called back.
   * Each UV_RUN_ONCE blocks until the close's wake-up arrives. */
  while (idle_closed == 0 && runs < 10) {
    uv_run(&loop, UV_RUN_ONCE);
    runs++;
  }
  ck_assert_int_eq(idle_closed, 1);
  ck_assert_int_le(runs, 2);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uv-shutdown");
  TCase *tc = h_tcase("core", 60);

  tcase_add_test(tc, sleep_order);
  tcase_add_test(tc, deadlines);
  tcase_add_test(tc, close_from_timer);
  tcase_add_test(tc, close_from_signal);
  tcase_add_test(tc, close_idle_outside_the_loop_keeps_it_alive);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
