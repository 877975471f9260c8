/*
 * test-uv-driver.c -- exco's libuv driver: the loop exits when tasks
 * finish, ready-queue order and the poll budget, a task woken by I/O runs
 * in the same loop iteration, no spinning while tasks wait, cross-thread
 * wake storms, spawns from other threads, two loops on two threads,
 * cancel_all, freeing, the default executor and argument errors.
 *
 * Coroutines never call ck_assert*: they record into plain variables and
 * the test asserts after uv_run() returns.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"

/* ---------------------------------------------------------------------- */
/* uv_run returns when every task has finished                             */
/* ---------------------------------------------------------------------- */

static atomic_int done_count;

static void *yield_n(void *arg) {
  long n = (long)(intptr_t)arg, i;

  for (i = 0; i < n; i++)
    if (exco_yield() != 0)
      return (void *)1;
  atomic_fetch_add(&done_count, 1);
  return NULL;
}

START_TEST(loop_exits_when_tasks_finish) {
  tloop t;
  long i;

  tl_init(&t);
  atomic_store(&done_count, 0);
  for (i = 0; i < 100; i++)
    tl_spawn(&t, yield_n, (void *)(intptr_t)(i % 17), NULL);
  /* Nothing else is on the loop: uv_run returns only because the async
   * handle is unreferenced once the last task is dropped. */
  tl_run(&t);
  ck_assert_int_eq(atomic_load(&done_count), 100);
  ck_assert_int_eq(exco_executor_live(t.ex), 0);
  ck_assert_int_eq(uv_loop_alive(&t.loop), 0);
  /* The executor can be used again after the loop returned. */
  tl_spawn(&t, yield_n, (void *)3, NULL);
  tl_run(&t);
  ck_assert_int_eq(atomic_load(&done_count), 101);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* FIFO order                                                              */
/* ---------------------------------------------------------------------- */

static char order[64];
static int order_len;

static void *record_yields(void *arg) {
  char c = *(char *)arg;
  int i;

  for (i = 0; i < 3; i++) {
    order[order_len++] = c;
    exco_yield();
  }
  return NULL;
}

START_TEST(ready_queue_is_fifo) {
  static char names[] = "abc";
  tloop t;
  int i;

  tl_init(&t);
  order_len = 0;
  for (i = 0; i < 3; i++)
    tl_spawn(&t, record_yields, &names[i], NULL);
  tl_run(&t);
  order[order_len] = '\0';
  ck_assert_str_eq(order, "abcabcabc");
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A task woken by an I/O callback runs in the same loop iteration         */
/* ---------------------------------------------------------------------- */

static struct {
  exco_uv_tcp *client, *conn;
  int setup;
  ssize_t got;
} io;

static void *io_reader(void *arg) {
  struct sockaddr_in addr;
  exco_uv_tcp *server = NULL;
  char buf[16];
  int err;

  (void)arg;
  err = h_uv_listen_any(&server, &addr, 4);
  if (err == 0)
    err = exco_uv_tcp_connect((struct sockaddr *)&addr, &io.client);
  if (err == 0)
    err = exco_uv_tcp_accept(server, &io.conn);
  if (server != NULL)
    exco_uv_tcp_close(server);
  if (err != 0)
    return NULL;
  io.setup = 1;
  io.got = exco_uv_tcp_read(io.conn, buf, sizeof(buf));
  return NULL;
}

START_TEST(io_wake_runs_same_iteration) {
  exco_task_info info;
  exco_task *reader;
  uv_buf_t b = uv_buf_init((char *)"x", 1);
  int i;
  tloop t;

  memset(&io, 0, sizeof(io));
  tl_init(&t);
  tl_spawn(&t, io_reader, NULL, &reader);
  /* Step the loop until the reader waits in its read. */
  for (i = 0; i < 10000; i++) {
    uv_run(&t.loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(exco_task_get_info(reader, &info), 0);
    if (io.setup && info.state == EXCO_TASK_PENDING)
      break;
  }
  ck_assert_int_eq(io.setup, 1);
  ck_assert_int_eq(info.state, EXCO_TASK_PENDING);
  /* Loopback: the byte is in conn's receive queue when this returns. */
  ck_assert_int_eq(
      uv_try_write((uv_stream_t *)exco_uv_tcp_handle(io.client), &b, 1), 1);
  /* One iteration: the poll sees the byte, the read callback wakes the
   * reader, and the check phase after it runs the reader. */
  uv_run(&t.loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(exco_task_get_info(reader, &info), 0);
  ck_assert_int_eq(info.state, EXCO_TASK_FINISHED);
  ck_assert_int_eq(io.got, 1);
  exco_task_release(reader);
  exco_uv_tcp_close(io.client);
  exco_uv_tcp_close(io.conn);
  tl_run(&t);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The poll budget: busy coroutines don't starve timers and I/O            */
/* ---------------------------------------------------------------------- */

static long busy_yields;
static int sleeper_done;
static long max_per_iteration, last_seen;
static int check_calls;

static void *busy(void *arg) {
  (void)arg;
  while (!sleeper_done) {
    busy_yields++;
    if (exco_yield() != 0)
      break;
  }
  return NULL;
}

static void *sleeper(void *arg) {
  (void)arg;
  sleeper_done = exco_uv_sleep(5) == 0 ? 1 : -1;
  return NULL;
}

static void count_iteration(uv_check_t *check) {
  long d = busy_yields - last_seen;

  (void)check;
  if (d > max_per_iteration)
    max_per_iteration = d;
  last_seen = busy_yields;
  check_calls++;
}

START_TEST(budget_lets_timers_run) {
  uv_check_t check;
  tloop t;

  tl_init(&t);
  busy_yields = 0;
  sleeper_done = 0;
  max_per_iteration = 0;
  last_seen = 0;
  check_calls = 0;
  ck_assert_int_eq(exco_uv_executor_set_budget(t.ex, 16), 0);
  uv_check_init(&t.loop, &check);
  uv_check_start(&check, count_iteration);
  uv_unref((uv_handle_t *)&check);
  tl_spawn(&t, busy, NULL, NULL);
  tl_spawn(&t, sleeper, NULL, NULL);
  /* Without a budget the busy task would never let the loop reach its
   * timers, and this would hang until the watchdog fires. */
  tl_run(&t);
  ck_assert_int_eq(sleeper_done, 1);
  /* More than one loop iteration ran, none with more than a budget of
   * polls.  (How many yields fit in 5 ms depends on the machine's load:
   * under valgrind on a busy machine, barely one budget.) */
  ck_assert_int_gt(busy_yields, 0);
  ck_assert_int_gt(check_calls, 1);
  ck_assert_int_le(max_per_iteration, 16);
  ck_assert_int_eq(exco_uv_executor_set_budget(t.ex, 0), 0);
  uv_close((uv_handle_t *)&check, NULL);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A task waiting on another thread blocks the loop, it doesn't spin       */
/* ---------------------------------------------------------------------- */

static int parked_started;
static int parked_result = -1;

static void *park_on_promise(void *arg) {
  void *v = NULL;

  parked_started = 1;
  parked_result = exco_promise_await(arg, &v);
  if (parked_result == 0 && v != (void *)0x1234)
    parked_result = -2;
  return NULL;
}

static void *resolve_from_thread(void *arg) {
  exco_promise_resolve(arg, (void *)0x1234);
  return NULL;
}

START_TEST(parked_task_blocks_not_spins) {
  exco_promise *p;
  pthread_t th;
  tloop t;

  tl_init(&t);
  ck_assert_int_eq(exco_promise_new(&p), 0);
  parked_started = 0;
  parked_result = -1;
  tl_spawn(&t, park_on_promise, p, NULL);
  while (!parked_started)
    uv_run(&t.loop, UV_RUN_NOWAIT);
  uv_run(&t.loop, UV_RUN_NOWAIT);
  /* Alive (a task is live), and the next poll would block forever: no
   * idle handle is active, no timer is due. */
  ck_assert_int_eq(uv_loop_alive(&t.loop), 1);
  ck_assert_int_eq(uv_backend_timeout(&t.loop), -1);
  h_thread_start(&th, resolve_from_thread, p);
  tl_run(&t);
  h_thread_join(th);
  ck_assert_int_eq(parked_result, 0);
  exco_promise_unref(p);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Cross-thread wake storm                                                 */
/* ---------------------------------------------------------------------- */

#define STORM_TASKS 200
#define STORM_ROUNDS 200

typedef struct storm_slot {
  pthread_mutex_t mu;
  long count;        /* bumped by the waker threads */
  exco_waker *waker; /* the task's, registered at its last poll */
  long seen;         /* task side: rounds observed */
  long polls;
} storm_slot;

static storm_slot storm[STORM_TASKS];

typedef struct storm_wait {
  storm_slot *s;
  long target;
} storm_wait;

static int storm_poll(void *arg, exco_waker *w) {
  storm_wait *sw = arg;
  int ready;

  pthread_mutex_lock(&sw->s->mu);
  sw->s->polls++;
  ready = sw->s->count >= sw->target;
  if (!ready && sw->s->waker == NULL)
    sw->s->waker = exco_waker_clone(w);
  pthread_mutex_unlock(&sw->s->mu);
  return ready;
}

static void *storm_task(void *arg) {
  storm_slot *s = arg;
  storm_wait sw = {s, 0};

  /* Wait for every round in turn: each wake may cover several. */
  while (s->seen < STORM_ROUNDS) {
    sw.target = s->seen + 1;
    if (exco_await(storm_poll, NULL, &sw) != 0)
      break;
    pthread_mutex_lock(&s->mu);
    s->seen = s->count;
    pthread_mutex_unlock(&s->mu);
  }
  pthread_mutex_lock(&s->mu);
  exco_waker_drop(s->waker);
  s->waker = NULL;
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static void *storm_thread(void *arg) {
  long parity = (long)(intptr_t)arg, r, i;

  for (r = 0; r < STORM_ROUNDS / 2; r++)
    for (i = 0; i < STORM_TASKS; i++) {
      storm_slot *s = &storm[i];

      (void)parity;
      pthread_mutex_lock(&s->mu);
      s->count++;
      /* Wake and keep: the task drops it when it ends; waking a waker
       * whose task has finished does nothing. */
      exco_waker_wake(s->waker);
      pthread_mutex_unlock(&s->mu);
    }
  return NULL;
}

START_TEST(cross_thread_wake_storm) {
  pthread_t th[2];
  tloop t;
  long i, polls = 0;

  tl_init(&t);
  for (i = 0; i < STORM_TASKS; i++) {
    pthread_mutex_init(&storm[i].mu, NULL);
    storm[i].count = 0;
    storm[i].waker = NULL;
    storm[i].seen = 0;
    storm[i].polls = 0;
    tl_spawn(&t, storm_task, &storm[i], NULL);
  }
  /* Let every task register its waker, then storm while the loop runs. */
  uv_run(&t.loop, UV_RUN_NOWAIT);
  h_thread_start(&th[0], storm_thread, (void *)0);
  h_thread_start(&th[1], storm_thread, (void *)1);
  tl_run(&t);
  h_thread_join(th[0]);
  h_thread_join(th[1]);
  for (i = 0; i < STORM_TASKS; i++) {
    ck_assert_int_eq(storm[i].seen, STORM_ROUNDS);
    ck_assert_ptr_null(storm[i].waker);
    polls += storm[i].polls;
    pthread_mutex_destroy(&storm[i].mu);
  }
  /* Every wake is at most one poll, plus the first. */
  ck_assert_int_le(polls, (long)STORM_TASKS * (STORM_ROUNDS + 2));
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Spawning into a running loop from another thread                        */
/* ---------------------------------------------------------------------- */

#define REMOTE_SPAWNS 300

typedef struct remote_ctx {
  exco_executor *ex;
  exco_promise *all_done;
  atomic_int ran;
  uv_loop_t *loop;
  atomic_int wrong_loop;
  int spawn_errors;
} remote_ctx;

static void *remote_child(void *arg) {
  remote_ctx *c = arg;

  if (exco_uv_loop() != c->loop)
    atomic_fetch_add(&c->wrong_loop, 1);
  exco_yield();
  if (atomic_fetch_add(&c->ran, 1) + 1 == REMOTE_SPAWNS)
    exco_promise_resolve(c->all_done, NULL);
  return NULL;
}

static void *remote_spawner(void *arg) {
  remote_ctx *c = arg;
  int i;

  for (i = 0; i < REMOTE_SPAWNS; i++)
    if (exco_spawn(c->ex, remote_child, c, NULL, NULL) != 0)
      c->spawn_errors++;
  return NULL;
}

START_TEST(spawn_from_other_thread) {
  remote_ctx c;
  pthread_t th;
  tloop t;

  tl_init(&t);
  memset(&c, 0, sizeof(c));
  c.ex = t.ex;
  c.loop = &t.loop;
  atomic_init(&c.ran, 0);
  atomic_init(&c.wrong_loop, 0);
  ck_assert_int_eq(exco_promise_new(&c.all_done), 0);
  /* The parked task keeps the loop alive until the children are done. */
  parked_started = 0;
  tl_spawn(&t, park_on_promise, c.all_done, NULL);
  h_thread_start(&th, remote_spawner, &c);
  tl_run(&t);
  h_thread_join(th);
  ck_assert_int_eq(c.spawn_errors, 0);
  ck_assert_int_eq(atomic_load(&c.ran), REMOTE_SPAWNS);
  ck_assert_int_eq(atomic_load(&c.wrong_loop), 0);
  ck_assert_int_eq(exco_executor_live(t.ex), 0);
  exco_promise_unref(c.all_done);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Two loops on two threads, waking each other                             */
/* ---------------------------------------------------------------------- */

typedef struct twin {
  exco_promise *mine; /* resolved by the other loop's task */
  exco_promise *theirs;
  uv_loop_t *loop; /* set by the thread */
  int yields_ok;
  int sleep_ok;
  int loop_ok;
  int got;
  int fini_ok;
} twin;

static void *twin_task(void *arg) {
  twin *w = arg;
  void *v = NULL;
  int i, ok = 1;

  for (i = 0; i < 1000; i++)
    if (exco_yield() != 0)
      ok = 0;
  w->yields_ok = ok;
  w->loop_ok = exco_uv_loop() == w->loop;
  w->sleep_ok = exco_uv_sleep(1) == 0;
  exco_promise_resolve(w->theirs, w);
  if (exco_promise_await(w->mine, &v) == 0 && v != NULL)
    w->got = 1;
  return NULL;
}

static void *twin_thread(void *arg) {
  twin *w = arg;
  uv_loop_t loop;
  exco_executor *ex;
  int i, ok = 1;

  if (uv_loop_init(&loop) != 0)
    return NULL;
  w->loop = &loop;
  if (exco_uv_executor_new(&ex, &loop) != 0)
    return NULL;
  for (i = 0; i < 10; i++)
    if (exco_spawn(ex, yield_n, (void *)100, NULL, NULL) != 0)
      ok = 0;
  if (exco_spawn(ex, twin_task, w, NULL, NULL) != 0)
    ok = 0;
  if (uv_run(&loop, UV_RUN_DEFAULT) != 0)
    ok = 0;
  if (exco_uv_executor_free(ex) != 0)
    ok = 0;
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    ok = 0;
  w->fini_ok = ok;
  return NULL;
}

START_TEST(two_loops_two_threads) {
  twin a, b;
  pthread_t ta, tb;

  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  ck_assert_int_eq(exco_promise_new(&a.mine), 0);
  ck_assert_int_eq(exco_promise_new(&b.mine), 0);
  a.theirs = b.mine;
  b.theirs = a.mine;
  atomic_store(&done_count, 0);
  h_thread_start(&ta, twin_thread, &a);
  h_thread_start(&tb, twin_thread, &b);
  h_thread_join(ta);
  h_thread_join(tb);
  ck_assert_int_eq(atomic_load(&done_count), 20);
  ck_assert_int_eq(a.yields_ok && b.yields_ok, 1);
  ck_assert_int_eq(a.loop_ok && b.loop_ok, 1);
  ck_assert_int_eq(a.sleep_ok && b.sleep_ok, 1);
  ck_assert_int_eq(a.got && b.got, 1);
  ck_assert_int_eq(a.fini_ok && b.fini_ok, 1);
  exco_promise_unref(a.mine);
  exco_promise_unref(b.mine);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* cancel_all and freeing                                                  */
/* ---------------------------------------------------------------------- */

static int cancelled_count;

static void *park_forever(void *arg) {
  (void)arg;
  if (exco_await(h_never_poll, NULL, NULL) == EXCO_ECANCELED)
    cancelled_count++;
  return NULL;
}

START_TEST(cancel_all_then_free) {
  tloop t;
  int i;

  tl_init(&t);
  cancelled_count = 0;
  for (i = 0; i < 50; i++)
    tl_spawn(&t, park_forever, NULL, NULL);
  uv_run(&t.loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(exco_executor_live(t.ex), 50);
  ck_assert_int_eq(exco_uv_executor_free(t.ex), EXCO_EBUSY);
  ck_assert_int_eq(exco_uv_executor_cancel_all(t.ex), 50);
  tl_run(&t);
  ck_assert_int_eq(cancelled_count, 50);
  ck_assert_int_eq(exco_uv_executor_cancel_all(t.ex), 0);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The default executor                                                    */
/* ---------------------------------------------------------------------- */

static uv_loop_t *seen_loop;

static void *note_loop(void *arg) {
  (void)arg;
  seen_loop = exco_uv_loop();
  exco_yield();
  atomic_fetch_add(&done_count, 1);
  return NULL;
}

START_TEST(default_executor) {
  uv_loop_t loop, loop2;
  exco_task *j;
  void *res = (void *)1;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_loop_init(&loop2), 0);
  ck_assert_int_eq(exco_uv_init(&loop), 0);
  ck_assert_ptr_eq(exco_uv_executor_loop(exco_default_executor()), &loop);
  atomic_store(&done_count, 0);
  ck_assert_int_eq(exco_spawn(NULL, note_loop, NULL, NULL, &j), 0);
  ck_assert_int_eq(exco_uv_init(&loop2), EXCO_EBUSY);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(exco_task_done(j), 1);
  exco_task_release(j);
  ck_assert_ptr_eq(seen_loop, &loop);
  ck_assert_int_eq(atomic_load(&done_count), 1);

  /* Re-init onto another loop: the first driver's handles are closed. */
  ck_assert_int_eq(exco_uv_init(&loop2), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(exco_spawn(NULL, note_loop, NULL, NULL, NULL), 0);
  ck_assert_int_eq(uv_run(&loop2, UV_RUN_DEFAULT), 0);
  ck_assert_ptr_eq(seen_loop, &loop2);

  /* Detach: spawning on the default executor fails cleanly. */
  ck_assert_int_eq(exco_uv_executor_free(exco_default_executor()), 0);
  ck_assert_int_eq(exco_spawn(NULL, note_loop, NULL, NULL, NULL), EXCO_ENOMEM);
  ck_assert_int_eq(exco_uv_executor_free(exco_default_executor()), EXCO_EINVAL);
  ck_assert_ptr_null(exco_uv_executor_loop(exco_default_executor()));
  ck_assert_int_eq(uv_run(&loop2, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop2), 0);
  (void)res;
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

static int local_sleep_err;

static void *sleep_on_local(void *arg) {
  (void)arg;
  local_sleep_err = exco_uv_sleep(1);
  return NULL;
}

START_TEST(argument_errors) {
  exco_executor *local;
  uv_loop_t loop;
  tloop t;
  int x = 0;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(exco_uv_executor_new(NULL, &loop), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_executor_new(&local, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_init(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_executor_free(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_executor_cancel_all(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_executor_set_budget(NULL, 1), EXCO_EINVAL);
  ck_assert_ptr_null(exco_uv_loop());
  ck_assert_ptr_null(exco_uv_executor_loop(NULL));

  /* Outside a coroutine. */
  ck_assert_int_eq(exco_uv_sleep(1), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_fs_open("/", 0, 0), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_tcp_close(NULL), EXCO_EINVAL);

  /* In a coroutine of an executor without a loop. */
  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  ck_assert_int_eq(exco_uv_executor_free(local), EXCO_EINVAL);
  ck_assert_ptr_null(exco_uv_executor_loop(local));
  local_sleep_err = 0;
  ck_assert_int_eq(exco_spawn(local, sleep_on_local, NULL, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(local), 0);
  ck_assert_int_eq(local_sleep_err, EXCO_ENOTSUP);
  ck_assert_int_eq(exco_executor_free(local), 0);

  /* Attach and detach, on an executor of another driver. */
  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  ck_assert_int_eq(exco_uv_attach(NULL, &loop), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_attach(local, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_attach((exco_executor *)&x, &loop), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_attach(local, &loop), 0);
  ck_assert_ptr_eq(exco_uv_executor_loop(local), &loop);
  ck_assert_int_eq(exco_uv_attach(local, &loop), EXCO_EBUSY);
  ck_assert_int_eq(exco_uv_detach(local), 0);
  ck_assert_ptr_null(exco_uv_executor_loop(local));
  ck_assert_int_eq(exco_uv_detach(local), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_detach(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_free(local), 0);
  tl_init(&t);
  /* A driver's own executor knows its loop: nothing to attach or detach. */
  ck_assert_int_eq(exco_uv_attach(t.ex, &loop), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_detach(t.ex), EXCO_EINVAL);
  ck_assert_ptr_eq(exco_uv_executor_loop(t.ex), &t.loop);
  tl_fini(&t);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uv-driver");
  TCase *tc = h_tcase("driver", 60);

  tcase_add_test(tc, loop_exits_when_tasks_finish);
  tcase_add_test(tc, ready_queue_is_fifo);
  tcase_add_test(tc, budget_lets_timers_run);
  tcase_add_test(tc, io_wake_runs_same_iteration);
  tcase_add_test(tc, parked_task_blocks_not_spins);
  tcase_add_test(tc, cross_thread_wake_storm);
  tcase_add_test(tc, spawn_from_other_thread);
  tcase_add_test(tc, two_loops_two_threads);
  tcase_add_test(tc, cancel_all_then_free);
  tcase_add_test(tc, default_executor);
  tcase_add_test(tc, argument_errors);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
