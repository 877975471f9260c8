/*
 * test-api.c -- promises of the public headers (include/exco.h,
 * include/exco/uv.h) that the other test files don't pin down: the error
 * code of each documented failure path, exco_strerror()'s strings, handles
 * that are not tasks or executors, task states seen through a join handle,
 * promises, and the uv awaitables called where they can't work.
 *
 * As everywhere: coroutines only record what they saw; the tests assert
 * after control has come back.
 */
#include "harness.h"
#include "uv-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define V(n) ((void *)(uintptr_t)(n))
#define SENTINEL V(0xdead)

/*
 * Zeroed memory passed where a task or an executor is expected: the
 * library must see that it is not one (its magic word is not set) rather
 * than use it.  Large and aligned enough for either structure.
 */
static _Alignas(64) unsigned char not_a_handle[8192];
#define NOT_A_TASK ((exco_task *)(void *)not_a_handle)
#define NOT_AN_EXECUTOR ((exco_executor *)(void *)not_a_handle)

/* ---------------------------------------------------------------------- */
/* exco_strerror                                                           */
/* ---------------------------------------------------------------------- */

START_TEST(strerror_strings) {
  static const int codes[] = {
      EXCO_EINVAL, EXCO_ENOMEM,   EXCO_ECANCELED, EXCO_EPERM,
      EXCO_EBUSY,  EXCO_EALREADY, EXCO_EDEADLK,   EXCO_ENOTSUP,
  };
  static const int plain[] = {EIO, ENOENT, EACCES, EPIPE, ECONNREFUSED};
  size_t i;

  ck_assert_str_eq(exco_strerror(0), "success");
  /* Anything that is not a negative errno value: the generic string. */
  ck_assert_str_eq(exco_strerror(-99999), "unknown error");
  ck_assert_str_eq(exco_strerror(EIO), "unknown error");
  ck_assert_str_eq(exco_strerror(1), "unknown error");
  ck_assert_str_eq(exco_strerror(INT32_MAX), "unknown error");
  ck_assert_str_eq(exco_strerror(INT32_MIN), "unknown error");
  /* exco's own codes have their own (non-generic) strings. */
  for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
    const char *s = exco_strerror(codes[i]);

    ck_assert_ptr_nonnull(s);
    ck_assert_str_ne(s, "unknown error");
    ck_assert_str_ne(s, "success");
  }
  /* Other negative errno values: the C library's description. */
  for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
    char expect[256];

    snprintf(expect, sizeof(expect), "%s", strerror(plain[i]));
    ck_assert_str_eq(exco_strerror(-plain[i]), expect);
  }
  /* A static string: the same pointer every time. */
  ck_assert_ptr_eq(exco_strerror(-EIO), exco_strerror(-EIO));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Handles that are not tasks or executors                                 */
/* ---------------------------------------------------------------------- */

static void *fn_count(void *arg) {
  int *n = arg;

  (*n)++;
  return V(7);
}

START_TEST(not_a_task_or_executor) {
  exco_task *t = SENTINEL;
  int ran = 0;

  memset(not_a_handle, 0, sizeof(not_a_handle));
  ck_assert_int_eq(exco_poll(NOT_A_TASK), EXCO_EINVAL);
  ck_assert_int_eq(exco_drop(NOT_A_TASK), EXCO_EINVAL);
  ck_assert_int_eq(exco_task_done(NOT_A_TASK), EXCO_EINVAL);
  ck_assert_int_eq(exco_task_cancel(NOT_A_TASK), EXCO_EINVAL);
  ck_assert_ptr_null(exco_task_name(NOT_A_TASK));
  exco_task_release(NOT_A_TASK);

  ck_assert_int_eq(exco_spawn(NOT_AN_EXECUTOR, fn_count, &ran, NULL, &t),
                   EXCO_EINVAL);
  ck_assert_ptr_eq(t, SENTINEL);
  ck_assert_int_eq(exco_executor_free(NOT_AN_EXECUTOR), EXCO_EINVAL);
  ck_assert_ptr_null(exco_executor_data(NOT_AN_EXECUTOR));
  ck_assert_int_eq(exco_executor_live(NOT_AN_EXECUTOR), EXCO_EINVAL);
  ck_assert_int_eq(exco_run(NOT_AN_EXECUTOR), EXCO_EINVAL);
  ck_assert_int_eq(exco_run_until_idle(NOT_AN_EXECUTOR), EXCO_EINVAL);
  ck_assert_ptr_null(exco_uv_executor_loop(NOT_AN_EXECUTOR));
  ck_assert_int_eq(exco_uv_executor_free(NOT_AN_EXECUTOR), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_executor_set_budget(NOT_AN_EXECUTOR, 1),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_executor_cancel_all(NOT_AN_EXECUTOR), EXCO_EINVAL);
  ck_assert_int_eq(ran, 0);
  /* Nothing above wrote to it. */
  for (size_t i = 0; i < sizeof(not_a_handle); i++)
    ck_assert_uint_eq(not_a_handle[i], 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Spawn options                                                           */
/* ---------------------------------------------------------------------- */

START_TEST(spawn_options_validation) {
  static const unsigned bad_flags[] = {0x2u, 0x4u, 0x100u, ~0u,
                                       EXCO_SPAWN_NOGUARD | 0x8u};
  exco_executor *ex;
  exco_spawn_opts o;
  exco_task *t;
  int ran = 0;
  size_t i;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
    memset(&o, 0, sizeof(o));
    o.flags = bad_flags[i];
    t = SENTINEL;
    ck_assert_int_eq(exco_spawn(ex, fn_count, &ran, &o, &t), EXCO_EINVAL);
    ck_assert_ptr_eq(t, SENTINEL);
  }
  /* Above 1 TiB: refused before any mapping is tried. */
  memset(&o, 0, sizeof(o));
  o.stack_size = ((size_t)1 << 40) + 1;
  t = SENTINEL;
  ck_assert_int_eq(exco_spawn(ex, fn_count, &ran, &o, &t), EXCO_EINVAL);
  ck_assert_ptr_eq(t, SENTINEL);
  o.stack_size = SIZE_MAX / 2;
  ck_assert_int_eq(exco_spawn(ex, fn_count, &ran, &o, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_live(ex), 0);
  ck_assert_int_eq(ran, 0);

  /* Small sizes are rounded up, odd ones to pages; both flags values ok. */
  memset(&o, 0, sizeof(o));
  o.stack_size = 1;
  ck_assert_int_eq(exco_spawn(ex, fn_count, &ran, &o, NULL), 0);
  o.stack_size = EXCO_STACK_MIN + 123;
  o.flags = EXCO_SPAWN_NOGUARD;
  ck_assert_int_eq(exco_spawn(ex, fn_count, &ran, &o, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(ran, 2);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(spawn_task_new_null_is_enomem) {
  h_host h;
  exco_task *t = SENTINEL;
  int ran = 0;

  h_host_init(&h);
  h.fail_new = 1;
  ck_assert_int_eq(exco_spawn(h.ex, fn_count, &ran, NULL, &t), EXCO_ENOMEM);
  h.fail_new = 0;
  ck_assert_ptr_eq(t, SENTINEL);
  ck_assert_uint_eq(h.n_run, 0);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);
  ck_assert_int_eq(ran, 0);
  h_host_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Task states, cancel, join                                               */
/* ---------------------------------------------------------------------- */

typedef struct waiter {
  h_flag flag;
  int ran;
  int r1, r2;
} waiter;

static void *fn_wait_twice(void *arg) {
  waiter *w = arg;

  w->ran++;
  w->r1 = h_flag_await(&w->flag);
  w->r2 = exco_yield();
  return V(42);
}

START_TEST(task_done_each_state) {
  h_host h;
  waiter w1, w2, w3;
  exco_task *t1, *t2, *t3;
  h_ext *e;

  memset(&w1, 0, sizeof(w1));
  memset(&w2, 0, sizeof(w2));
  memset(&w3, 0, sizeof(w3));
  h_flag_init(&w1.flag);
  h_flag_init(&w2.flag);
  h_flag_init(&w3.flag);
  h_host_init(&h);

  /* Spawned, never polled, then dropped: done, never ran. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait_twice, &w1, NULL, &t1), 0);
  ck_assert_int_eq(exco_task_done(t1), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  ck_assert_int_eq(exco_task_done(t1), 1);
  ck_assert_int_eq(w1.ran, 0);
  ck_assert_int_eq(exco_task_cancel(t1), EXCO_EALREADY);
  ck_assert_int_eq(exco_poll(t1), EXCO_EALREADY);

  /* Pending, then dropped: cancelled, ran to its end inside the drop. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait_twice, &w2, NULL, &t2), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(exco_task_done(t2), 0);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  ck_assert_int_eq(exco_task_done(t2), 1);
  ck_assert_int_eq(w2.r1, EXCO_ECANCELED);
  ck_assert_int_eq(w2.r2, EXCO_ECANCELED);

  /* Pending, then finished normally: done; polling again returns 0. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait_twice, &w3, NULL, &t3), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 1);
  ck_assert_int_eq(exco_task_done(t3), 0);
  h_flag_set(&w3.flag);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1); /* now in the yield */
  ck_assert_int_eq(exco_task_done(t3), 0);
  ck_assert_int_eq(h_host_poll(&h, h_host_pop(&h)), 0);
  ck_assert_int_eq(exco_task_done(t3), 1);
  ck_assert_int_eq(exco_poll(t3), 0);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  ck_assert_int_eq(exco_task_done(t3), 1);
  ck_assert_int_eq(w3.r1, 0);
  ck_assert_int_eq(w3.r2, 0);

  exco_task_release(t1);
  exco_task_release(t2);
  exco_task_release(t3);
  h_flag_destroy(&w1.flag);
  h_flag_destroy(&w2.flag);
  h_flag_destroy(&w3.flag);
  h_host_destroy(&h);
}
END_TEST

typedef struct joiner {
  exco_task *target;
  int cancel_self;
  int r;
  void *result;
} joiner;

static void *fn_join(void *arg) {
  joiner *j = arg;

  j->result = SENTINEL;
  if (j->cancel_self)
    (void)exco_task_cancel(exco_current());
  j->r = exco_join(j->target, &j->result);
  return NULL;
}

/* exco_task_cancel() before the first poll: unlike a drop, the function
 * still runs, with every await failing; its result is kept for joiners. */
START_TEST(cancel_before_first_poll_still_runs) {
  exco_executor *ex;
  waiter w;
  joiner j = {0};
  exco_task *t;

  memset(&w, 0, sizeof(w));
  h_flag_init(&w.flag);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_wait_twice, &w, NULL, &t), 0);
  ck_assert_int_eq(exco_task_cancel(t), 0);
  ck_assert_int_eq(exco_task_cancel(t), 0); /* again: harmless */
  ck_assert_int_eq(exco_task_done(t), 0);
  j.target = t;
  ck_assert_int_eq(exco_spawn(ex, fn_join, &j, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(w.ran, 1);
  ck_assert_int_eq(w.r1, EXCO_ECANCELED);
  ck_assert_int_eq(w.r2, EXCO_ECANCELED);
  ck_assert_int_eq(atomic_load(&w.flag.polls), 0);
  ck_assert_int_eq(j.r, EXCO_ECANCELED);
  ck_assert_ptr_eq(j.result, V(42));
  ck_assert_int_eq(exco_task_done(t), 1);
  ck_assert_int_eq(exco_task_cancel(t), EXCO_EALREADY);
  exco_task_release(t);
  h_flag_destroy(&w.flag);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* A cancelled caller's join fails even if the target is done, and leaves
 * the result alone. */
START_TEST(join_by_cancelled_caller) {
  exco_executor *ex;
  joiner j = {0};
  int ran = 0;
  exco_task *t;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_count, &ran, NULL, &t), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_task_done(t), 1);
  j.target = t;
  j.cancel_self = 1;
  ck_assert_int_eq(exco_spawn(ex, fn_join, &j, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(j.r, EXCO_ECANCELED);
  ck_assert_ptr_eq(j.result, SENTINEL);
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct inside {
  int join_not_task, join_null;
  int run_fake, idle_fake;
  int await_null_poll;
  exco_executor *ex_null_spawn;
  int spawn_r;
} inside;

static void *fn_report_ex(void *arg) {
  exco_executor **out = arg;

  *out = exco_current_executor();
  return NULL;
}

static void *fn_inside(void *arg) {
  inside *in = arg;

  in->join_not_task = exco_join(NOT_A_TASK, NULL);
  in->join_null = exco_join(NULL, NULL);
  /* Host entry points refuse coroutines before looking at arguments. */
  in->run_fake = exco_run(NOT_AN_EXECUTOR);
  in->idle_fake = exco_run_until_idle(NOT_AN_EXECUTOR);
  in->await_null_poll = exco_await(NULL, NULL, NULL);
  /* NULL: the running coroutine's executor. */
  in->spawn_r = exco_spawn(NULL, fn_report_ex, &in->ex_null_spawn, NULL, NULL);
  return NULL;
}

START_TEST(error_precedence) {
  exco_executor *ex;
  inside in;

  memset(not_a_handle, 0, sizeof(not_a_handle));
  memset(&in, 0, sizeof(in));
  /* Outside a coroutine, EXCO_EPERM comes first. */
  ck_assert_int_eq(exco_join(NULL, NULL), EXCO_EPERM);
  ck_assert_int_eq(exco_join(NOT_A_TASK, NULL), EXCO_EPERM);
  ck_assert_int_eq(exco_await(NULL, NULL, NULL), EXCO_EPERM);
  /* But exco_promise_await() checks its promise first. */
  ck_assert_int_eq(exco_promise_await(NULL, NULL), EXCO_EINVAL);

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_inside, &in, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(in.join_not_task, EXCO_EINVAL);
  ck_assert_int_eq(in.join_null, EXCO_EINVAL);
  ck_assert_int_eq(in.run_fake, EXCO_EBUSY);
  ck_assert_int_eq(in.idle_fake, EXCO_EBUSY);
  ck_assert_int_eq(in.await_null_poll, EXCO_EINVAL);
  ck_assert_int_eq(in.spawn_r, 0);
  ck_assert_ptr_eq(in.ex_null_spawn, ex);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Promises                                                                */
/* ---------------------------------------------------------------------- */

typedef struct pawait {
  exco_promise *p;
  int cancel_self;
  int r1, r2;
  void *v1, *v2;
} pawait;

static void *fn_pawait(void *arg) {
  pawait *a = arg;

  a->v1 = SENTINEL;
  a->v2 = SENTINEL;
  if (a->cancel_self)
    (void)exco_task_cancel(exco_current());
  a->r1 = exco_promise_await(a->p, &a->v1);
  a->r2 = exco_promise_await(a->p, &a->v2);
  return NULL;
}

START_TEST(promise_value_not_consumed) {
  exco_executor *ex;
  exco_promise *p;
  pawait a = {0}, c = {0};

  ck_assert_int_eq(exco_promise_new(&p), 0);
  ck_assert_ptr_null(exco_promise_ref(NULL));
  ck_assert_ptr_eq(exco_promise_ref(p), p);
  exco_promise_unref(p);
  ck_assert_int_eq(exco_promise_is_resolved(p), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  a.p = p;
  ck_assert_int_eq(exco_spawn(ex, fn_pawait, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  ck_assert_int_eq(exco_promise_is_resolved(p), 0);
  ck_assert_int_eq(exco_promise_resolve(p, V(5)), 0);
  ck_assert_int_eq(exco_promise_is_resolved(p), 1);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(a.r1, 0);
  ck_assert_int_eq(a.r2, 0);
  ck_assert_ptr_eq(a.v1, V(5));
  ck_assert_ptr_eq(a.v2, V(5));
  /* A cancelled task's await fails even on a resolved promise, and
   * leaves @value alone. */
  c.p = p;
  c.cancel_self = 1;
  ck_assert_int_eq(exco_spawn(ex, fn_pawait, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(c.r1, EXCO_ECANCELED);
  ck_assert_int_eq(c.r2, EXCO_ECANCELED);
  ck_assert_ptr_eq(c.v1, SENTINEL);
  ck_assert_ptr_eq(c.v2, SENTINEL);
  ck_assert_int_eq(exco_promise_is_resolved(p), 1);
  exco_promise_unref(p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Wakers                                                                  */
/* ---------------------------------------------------------------------- */

static void *fn_keep_waker(void *arg) {
  exco_waker **w = arg;

  *w = exco_waker_current();
  return NULL;
}

START_TEST(waker_outlives_task) {
  exco_executor *ex;
  exco_waker *w = NULL, *w2;

  ck_assert_ptr_null(exco_waker_clone(NULL));
  exco_waker_wake(NULL);
  exco_waker_drop(NULL);
  exco_hold_release(NULL);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_keep_waker, &w, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_ptr_nonnull(w);
  /* The task is finished and dropped: waking does nothing. */
  w2 = exco_waker_clone(w);
  ck_assert_ptr_eq(w2, w);
  exco_waker_wake(w);
  exco_waker_wake(w2);
  ck_assert_int_eq(exco_run_until_idle(ex), 0);
  exco_waker_drop(w2);
  exco_waker_drop(w);
  ck_assert_int_eq(exco_executor_live(ex), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* libuv awaitables where they can't work                                  */
/* ---------------------------------------------------------------------- */

static int work_runs;

static void work_fn(void *arg) {
  (void)arg;
  work_runs++;
}

/* Every awaitable that needs no handle, with valid arguments: r[i]. */
#define N_FREE_CALLS 18

static void free_calls(int *r) {
  struct sockaddr_in addr;
  struct addrinfo *res = NULL;
  exco_uv_tcp *tcp = NULL;
  exco_uv_udp *udp = NULL;
  uv_stat_t st;
  char buf[8], *data = NULL;
  size_t len;
  int i = 0;

  uv_ip4_addr("127.0.0.1", 9, &addr);
  r[i++] = exco_uv_sleep(0);
  r[i++] = exco_uv_fs_open("/dev/null", O_RDONLY, 0);
  r[i++] = exco_uv_fs_open_timeout("/dev/null", O_RDONLY, 0, 1000);
  r[i++] = exco_uv_fs_close(-1);
  r[i++] = (int)exco_uv_fs_read(0, buf, sizeof(buf), 0);
  r[i++] = (int)exco_uv_fs_write(1, "x", 1, -1);
  r[i++] = exco_uv_fs_stat("/", &st);
  r[i++] = exco_uv_fs_unlink("/nonexistent/exco-test-api");
  r[i++] = exco_uv_fs_read_file("/dev/null", &data, &len);
  r[i++] = exco_uv_getaddrinfo("localhost", NULL, NULL, &res);
  r[i++] = exco_uv_tcp_connect((struct sockaddr *)&addr, &tcp);
  r[i++] = exco_uv_tcp_connect_timeout((struct sockaddr *)&addr, &tcp, 10);
  r[i++] = exco_uv_tcp_listen((struct sockaddr *)&addr, 0, &tcp);
  r[i++] = exco_uv_udp_open(NULL, &udp);
  r[i++] = exco_uv_work(work_fn, NULL, NULL);
  r[i++] = exco_uv_work_timeout(work_fn, NULL, NULL, 1000);
  r[i++] = exco_uv_signal(SIGUSR2);
  r[i++] = exco_uv_signal_timeout(SIGUSR2, 0);
  /* None of them may have produced anything. */
  if (i != N_FREE_CALLS || res != NULL || tcp != NULL || udp != NULL ||
      data != NULL)
    r[0] = 12345;
}

START_TEST(uv_outside_coroutine_is_eperm) {
  int r[N_FREE_CALLS], i;

  work_runs = 0;
  free_calls(r);
  for (i = 0; i < N_FREE_CALLS; i++)
    ck_assert_msg(r[i] == EXCO_EPERM, "call %d returned %d", i, r[i]);
  ck_assert_int_eq(work_runs, 0);
  ck_assert_ptr_null(exco_uv_loop());
  ck_assert_ptr_null(exco_uv_executor_loop(NULL));
  ck_assert_ptr_null(exco_uv_tcp_handle(NULL));
  ck_assert_ptr_null(exco_uv_udp_handle(NULL));
  ck_assert_int_eq(exco_uv_udp_close(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_tcp_close(NULL), EXCO_EINVAL);
}
END_TEST

typedef struct freecalls {
  int r[N_FREE_CALLS];
  uv_loop_t *loop;
} freecalls;

static void *fn_free_calls(void *arg) {
  freecalls *f = arg;

  f->loop = exco_uv_loop();
  free_calls(f->r);
  return NULL;
}

START_TEST(uv_on_executor_without_loop_is_enotsup) {
  exco_executor *ex;
  freecalls f;
  int i;

  memset(&f, 0, sizeof(f));
  f.loop = SENTINEL;
  work_runs = 0;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_ptr_null(exco_uv_executor_loop(ex));
  ck_assert_int_eq(exco_spawn(ex, fn_free_calls, &f, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  for (i = 0; i < N_FREE_CALLS; i++)
    ck_assert_msg(f.r[i] == EXCO_ENOTSUP, "call %d returned %d", i, f.r[i]);
  ck_assert_ptr_null(f.loop);
  ck_assert_int_eq(work_runs, 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* The same calls in a task that has cancelled itself: nothing happens. */
typedef struct cancelled {
  freecalls f;
  int fd;
  int close_r;
  int fd_valid_after;
} cancelled;

static void *fn_cancelled_calls(void *arg) {
  cancelled *c = arg;

  c->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  (void)exco_task_cancel(exco_current());
  fn_free_calls(&c->f);
  /* Except exco_uv_fs_close(), which closes at once. */
  c->close_r = exco_uv_fs_close(c->fd);
  c->fd_valid_after = fcntl(c->fd, F_GETFD) != -1;
  return NULL;
}

START_TEST(uv_in_cancelled_task_is_ecanceled) {
  tloop t;
  cancelled c;
  int i;

  memset(&c, 0, sizeof(c));
  work_runs = 0;
  tl_init(&t);
  ck_assert_ptr_eq(exco_uv_executor_loop(t.ex), &t.loop);
  tl_spawn(&t, fn_cancelled_calls, &c, NULL);
  tl_run(&t);
  tl_fini(&t);
  ck_assert_ptr_eq(c.f.loop, &t.loop);
  /* r[3] is exco_uv_fs_close(-1): it closes even now, and fails. */
  for (i = 0; i < N_FREE_CALLS; i++) {
    if (i == 3)
      ck_assert_int_eq(c.f.r[i], UV_EBADF);
    else
      ck_assert_msg(c.f.r[i] == EXCO_ECANCELED, "call %d returned %d", i,
                    c.f.r[i]);
  }
  ck_assert_int_eq(work_runs, 0);
  ck_assert_int_ge(c.fd, 0);
  ck_assert_int_eq(c.close_r, 0);
  ck_assert_int_eq(c.fd_valid_after, 0);
}
END_TEST

/* NULL pointers where one is needed, and handles being closed. */
typedef struct badargs {
  int r[24];
  int n;
  int msgsize;
} badargs;

static void *fn_bad_args(void *arg) {
  badargs *b = arg;
  struct sockaddr_in addr;
  exco_uv_udp *udp = NULL;
  exco_uv_tcp *srv = NULL, *tcp = NULL;
  char buf[8], *big;
  int i = 0;

  uv_ip4_addr("127.0.0.1", 0, &addr);
  b->r[i++] = exco_uv_fs_open(NULL, O_RDONLY, 0);
  b->r[i++] = exco_uv_fs_stat("/", NULL);
  b->r[i++] = exco_uv_fs_stat(NULL, NULL);
  b->r[i++] = (int)exco_uv_fs_read(0, NULL, 1, 0);
  b->r[i++] = (int)exco_uv_fs_write(1, NULL, 1, 0);
  b->r[i++] = exco_uv_fs_unlink(NULL);
  b->r[i++] = exco_uv_fs_read_file("/dev/null", NULL, NULL);
  b->r[i++] = exco_uv_fs_read_file(NULL, NULL, NULL);
  b->r[i++] = exco_uv_getaddrinfo("localhost", NULL, NULL, NULL);
  b->r[i++] = exco_uv_tcp_connect(NULL, &tcp);
  b->r[i++] = exco_uv_tcp_listen((struct sockaddr *)&addr, 0, NULL);
  b->r[i++] = exco_uv_udp_open(NULL, NULL);
  b->r[i++] = (int)exco_uv_tcp_read(NULL, buf, sizeof(buf));
  b->r[i++] = exco_uv_tcp_accept(NULL, &tcp);
  b->r[i++] = exco_uv_work(NULL, NULL, NULL);
  if (h_uv_listen_any(&srv, &addr, 1) == 0) {
    b->r[i++] = exco_uv_tcp_accept(srv, NULL);
    b->r[i++] = exco_uv_tcp_close(srv);
    b->r[i++] = exco_uv_tcp_close(srv) == EXCO_EALREADY ? EXCO_EINVAL : 1;
  }
  if (exco_uv_udp_open(NULL, &udp) == 0) {
    b->r[i++] = exco_uv_udp_send(udp, buf, 1, NULL);
    b->r[i++] = (int)exco_uv_udp_recv(udp, NULL, 1, NULL);
    /* Too long for a datagram: libuv's code, passed through. */
    uv_ip4_addr("127.0.0.1", 9, &addr);
    big = calloc(1, 70000);
    if (big != NULL)
      b->msgsize = exco_uv_udp_send(udp, big, 70000, (struct sockaddr *)&addr);
    free(big);
    (void)exco_uv_udp_close(udp);
    /* Being closed: not usable, and a second close says so. */
    b->r[i++] = (int)exco_uv_udp_recv(udp, buf, sizeof(buf), NULL);
    b->r[i++] = exco_uv_udp_close(udp) == EXCO_EALREADY ? EXCO_EINVAL : 1;
  }
  b->n = i;
  return NULL;
}

START_TEST(uv_bad_arguments_are_einval) {
  tloop t;
  badargs b;
  int i;

  memset(&b, 0, sizeof(b));
  tl_init(&t);
  tl_spawn(&t, fn_bad_args, &b, NULL);
  tl_run(&t);
  tl_fini(&t);
  ck_assert_int_eq(b.n, 22);
  for (i = 0; i < b.n; i++) {
    if (i == 16) /* the first close of the listener */
      ck_assert_int_eq(b.r[i], 0);
    else
      ck_assert_msg(b.r[i] == EXCO_EINVAL, "call %d returned %d", i, b.r[i]);
  }
  ck_assert_int_eq(b.msgsize, UV_EMSGSIZE);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("api");
  TCase *core = h_tcase("core", 30);
  TCase *uv = h_tcase("uv", 30);

  tcase_add_test(core, strerror_strings);
  tcase_add_test(core, not_a_task_or_executor);
  tcase_add_test(core, spawn_options_validation);
  tcase_add_test(core, spawn_task_new_null_is_enomem);
  tcase_add_test(core, task_done_each_state);
  tcase_add_test(core, cancel_before_first_poll_still_runs);
  tcase_add_test(core, join_by_cancelled_caller);
  tcase_add_test(core, error_precedence);
  tcase_add_test(core, promise_value_not_consumed);
  tcase_add_test(core, waker_outlives_task);
  suite_add_tcase(s, core);
  tcase_add_test(uv, uv_outside_coroutine_is_eperm);
  tcase_add_test(uv, uv_on_executor_without_loop_is_enotsup);
  tcase_add_test(uv, uv_in_cancelled_task_is_ecanceled);
  tcase_add_test(uv, uv_bad_arguments_are_einval);
  suite_add_tcase(s, uv);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
