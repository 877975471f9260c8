/*
 * test-driver.c -- the driver interface of <exco/driver.h>:
 * exco_driver_executor_new()'s checks, exco_driver_data() and
 * exco_driver_name(), the shared run queue's entry points where they
 * don't apply, a contract-shaped driver (the harness's recording host
 * behind an exco_driver_ops), executor attachments, and the timer_arm
 * hook with exco_driver_fire_timers().
 *
 * The timer tests drive the executor by hand on the test thread (its loop
 * thread).  They move time forward by waiting on the clock until a due
 * time has passed, never by sleeping a guessed amount.
 *
 * As everywhere: coroutines only record what they saw; the tests assert
 * after control has come back.
 */
#include "harness.h"

#include <exco/driver.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define V(n) ((void *)(uintptr_t)(n))
#define MS ((uint64_t)1000 * 1000)

/*
 * Zeroed memory passed where an executor is expected: the library must
 * see that it is not one rather than use it.
 */
static _Alignas(64) unsigned char not_a_handle[8192];
#define NOT_AN_EXECUTOR ((exco_executor *)(void *)not_a_handle)

/* Waits on the clock until exco_driver_now_ns() >= @t. */
static void wait_until_ns(uint64_t t) {
  uint64_t now;

  while ((now = exco_driver_now_ns()) < t) {
    uint64_t d = t - now;
    struct timespec ts = {(time_t)(d / (1000 * MS)), (long)(d % (1000 * MS))};

    nanosleep(&ts, NULL);
  }
}

static uint64_t mono_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 * MS + (uint64_t)ts.tv_nsec;
}

static void noop_data(void *data) {
  (void)data;
}

static void *fn_count(void *arg) {
  ++*(int *)arg;
  return NULL;
}

typedef struct closer {
  int calls;
} closer;

static void on_close(void *arg) {
  ((closer *)arg)->calls++;
}

/*
 * Closes a run-queue executor that has no live task: the loop finishes it,
 * at the next exco_driver_accept(), which returns 1 (exco.h,
 * exco_executor_close(); test-close's rq_close_idle_frees_at_next_accept
 * checks the order of hook and callback).
 */
static void close_rq_idle(exco_executor *ex) {
  closer cl = {0};

  ck_assert_int_eq(exco_executor_close(ex, on_close, &cl), 0);
  ck_assert_int_eq(cl.calls, 0);
  ck_assert_int_eq(exco_driver_accept(ex), 1);
  ck_assert_int_eq(cl.calls, 1);
}

/* ---------------------------------------------------------------------- */
/* exco_driver_executor_new                                                */
/* ---------------------------------------------------------------------- */

static const exco_driver_ops contract_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "test-contract",
    .task_new = h_task_new,
    .task_run = h_task_run,
    .task_wake = h_task_wake,
};

/* The same contents at another address. */
static const exco_driver_ops contract_ops_twin = {
    .version = EXCO_DRIVER_VERSION,
    .name = "test-contract",
    .task_new = h_task_new,
    .task_run = h_task_run,
    .task_wake = h_task_wake,
};

static const exco_driver_ops rq_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = NULL,
    .schedule = noop_data,
    .notify = noop_data,
};

/* Expects exco_driver_executor_new() to refuse @ops. */
static void expect_refused(const exco_driver_ops *ops, const char *what) {
  exco_executor *ex = NULL;
  int r = exco_driver_executor_new(&ex, ops, NULL);

  ck_assert_msg(r == EXCO_EINVAL, "%s: got %d, expected EXCO_EINVAL", what, r);
}

START_TEST(executor_new_checks_its_arguments) {
  exco_driver_ops o;
  exco_executor *ex = NULL;

  ck_assert_int_eq(exco_driver_executor_new(NULL, &contract_ops, NULL),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_executor_new(&ex, NULL, NULL), EXCO_EINVAL);

  o = contract_ops;
  o.version = 0;
  expect_refused(&o, "version 0");
  o.version = EXCO_DRIVER_VERSION + 1;
  expect_refused(&o, "version + 1");

  o = contract_ops;
  o.task_wake = NULL;
  expect_refused(&o, "contract without task_wake");
  o = contract_ops;
  o.task_new = NULL;
  expect_refused(&o, "contract without task_new");
  o = contract_ops;
  o.task_run = NULL;
  expect_refused(&o, "contract without task_run");
  memset(&o, 0, sizeof(o));
  o.version = EXCO_DRIVER_VERSION;
  o.task_wake = h_task_wake;
  expect_refused(&o, "task_wake alone");

  o = rq_ops;
  o.notify = NULL;
  expect_refused(&o, "run queue without notify");
  o = rq_ops;
  o.schedule = NULL;
  expect_refused(&o, "run queue without schedule");
  /* A partial contract is not a run queue either. */
  o = rq_ops;
  o.task_new = h_task_new;
  expect_refused(&o, "run queue with task_new");

  memset(&o, 0, sizeof(o));
  o.version = EXCO_DRIVER_VERSION;
  expect_refused(&o, "no hooks at all");
  o.close = noop_data;
  expect_refused(&o, "close hook alone");

  /* The two shapes are accepted (and, with no task, closed at once). */
  ck_assert_int_eq(exco_driver_executor_new(&ex, &contract_ops, NULL), 0);
  ck_assert_ptr_nonnull(ex);
  ck_assert_int_eq(exco_executor_close(ex, NULL, NULL), 0);
  ex = NULL;
  ck_assert_int_eq(exco_driver_executor_new(&ex, &rq_ops, NULL), 0);
  ck_assert_ptr_nonnull(ex);
  close_rq_idle(ex);
}
END_TEST

typedef struct lookup {
  exco_executor *ex;
  void *data;
} lookup;

static void *thread_lookup(void *arg) {
  lookup *l = arg;

  l->data = exco_driver_data(l->ex, &contract_ops);
  return NULL;
}

START_TEST(driver_data_matches_ops_by_address) {
  int token_a, token_b;
  exco_executor *a, *b, *local, *cb;
  h_host h;
  lookup lk;
  pthread_t t;

  ck_assert_int_eq(exco_driver_executor_new(&a, &contract_ops, &token_a), 0);
  ck_assert_int_eq(exco_driver_executor_new(&b, &rq_ops, &token_b), 0);
  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  h_host_init(&h);
  cb = h.ex;

  ck_assert_ptr_eq(exco_driver_data(a, &contract_ops), &token_a);
  ck_assert_ptr_eq(exco_driver_data(b, &rq_ops), &token_b);
  /* Equal contents, another address: not the same driver. */
  ck_assert_ptr_null(exco_driver_data(a, &contract_ops_twin));
  ck_assert_ptr_null(exco_driver_data(a, &rq_ops));
  ck_assert_ptr_null(exco_driver_data(b, &contract_ops));
  ck_assert_ptr_null(exco_driver_data(local, &contract_ops));
  ck_assert_ptr_null(exco_driver_data(cb, &contract_ops));
  ck_assert_ptr_null(exco_driver_data(a, NULL));
  ck_assert_ptr_null(exco_driver_data(NULL, &contract_ops));
  ck_assert_ptr_null(exco_driver_data(NOT_AN_EXECUTOR, &contract_ops));
  /* From any thread. */
  lk.ex = a;
  lk.data = NULL;
  h_thread_start(&t, thread_lookup, &lk);
  h_thread_join(t);
  ck_assert_ptr_eq(lk.data, &token_a);

  /* Names. */
  ck_assert_ptr_nonnull(exco_driver_name(a));
  ck_assert_str_eq(exco_driver_name(a), "test-contract");
  ck_assert_ptr_null(exco_driver_name(b));
  ck_assert_ptr_null(exco_driver_name(NULL));
  /* The header's examples: the built-in kinds have these names. */
  ck_assert_ptr_nonnull(exco_driver_name(local));
  ck_assert_str_eq(exco_driver_name(local), "local");
  ck_assert_ptr_nonnull(exco_driver_name(cb));
  ck_assert_str_eq(exco_driver_name(cb), "callbacks");

  ck_assert_int_eq(exco_executor_close(a, NULL, NULL), 0);
  close_rq_idle(b);
  ck_assert_int_eq(exco_executor_free(local), 0);
  h_host_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A contract-shaped driver                                                */
/* ---------------------------------------------------------------------- */

typedef struct inside {
  void *data;
  void *data_twin;
  const char *name;
  int r_sleep;
} inside;

static void *fn_inside(void *arg) {
  inside *in = arg;
  exco_executor *ex = exco_current_executor();

  in->data = exco_driver_data(ex, &contract_ops);
  in->data_twin = exco_driver_data(ex, &contract_ops_twin);
  in->name = exco_driver_name(ex);
  /* No timer_arm: exco's helper thread fires this, via task_wake. */
  in->r_sleep = exco_sleep(20);
  return NULL;
}

START_TEST(contract_driver_runs_tasks) {
  h_host h;
  h_flagged f;
  inside in;
  closer cl = {0};

  memset(&f, 0, sizeof(f));
  memset(&in, 0, sizeof(in));
  h_host_init_bare(&h);
  h_flag_init(&f.flag);
  ck_assert_int_eq(exco_driver_executor_new(&h.ex, &contract_ops, &h), 0);
  ck_assert_int_eq(exco_spawn(h.ex, h_flagged_body, &f, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_inside, &in, NULL, NULL), 0);
  /* task_new got the driver's data. */
  ck_assert_ptr_eq(h.last_new_data, &h);
  ck_assert_uint_eq(h.n_new, 2);
  ck_assert_uint_eq(h.n_run, 2);
  ck_assert_int_eq(h_host_run_until_idle(&h), 2);
  h_flag_set(&f.flag);
  ck_assert_int_eq(h_host_run(&h), 0);
  ck_assert_int_eq(f.result, 0);
  ck_assert_ptr_eq(in.data, &h);
  ck_assert_ptr_null(in.data_twin);
  ck_assert_ptr_nonnull(in.name);
  ck_assert_str_eq(in.name, "test-contract");
  ck_assert_int_eq(in.r_sleep, 0);
  /* Not a run-queue executor. */
  ck_assert_int_eq(exco_driver_run(h.ex, 0), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_accept(h.ex), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_live(h.ex), EXCO_EINVAL);
  h_host_assert_clean(&h);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);
  ck_assert_int_eq(exco_executor_close(h.ex, on_close, &cl), 0);
  ck_assert_int_eq(cl.calls, 1);
  h.ex = NULL;
  h_flag_destroy(&f.flag);
  h_host_free_exts(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The run queue's entry points where they don't apply                     */
/* ---------------------------------------------------------------------- */

typedef struct nested_run {
  exco_executor *other;
  int r_own, r_other, r_fire;
} nested_run;

static void *fn_nested_run(void *arg) {
  nested_run *n = arg;

  n->r_own = exco_driver_run(exco_current_executor(), 0);
  n->r_other = exco_driver_run(n->other, 0);
  return NULL;
}

START_TEST(run_queue_calls_on_wrong_executors) {
  exco_executor *local, *a, *b;
  nested_run n;
  int ran = 0;

  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  ck_assert_int_eq(exco_driver_run(local, 0), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_accept(local), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_live(local), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_run(NULL, 0), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_accept(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_live(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_fire_timers(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_run(NOT_AN_EXECUTOR, 0), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_accept(NOT_AN_EXECUTOR), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_live(NOT_AN_EXECUTOR), EXCO_EINVAL);
  ck_assert_int_eq(exco_driver_fire_timers(NOT_AN_EXECUTOR), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_free(local), 0);

  /* Inside a coroutine exco_driver_run() polls nothing. */
  ck_assert_int_eq(exco_driver_executor_new(&a, &rq_ops, NULL), 0);
  ck_assert_int_eq(exco_driver_executor_new(&b, &rq_ops, NULL), 0);
  memset(&n, 0, sizeof(n));
  n.other = b;
  ck_assert_int_eq(exco_spawn(b, fn_count, &ran, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(a, fn_nested_run, &n, NULL, NULL), 0);
  ck_assert_int_eq(exco_driver_run(a, 0), 0);
  ck_assert_int_eq(n.r_own, EXCO_EBUSY);
  ck_assert_int_eq(n.r_other, EXCO_EBUSY);
  ck_assert_int_eq(ran, 0);
  ck_assert_int_eq(exco_driver_run(b, 0), 0);
  ck_assert_int_eq(ran, 1);
  ck_assert_int_eq(exco_driver_live(a), 0);
  ck_assert_int_eq(exco_driver_live(b), 0);
  close_rq_idle(a);
  close_rq_idle(b);
}
END_TEST

START_TEST(now_ns_is_the_monotonic_clock) {
  uint64_t a0 = mono_ns(), n0 = exco_driver_now_ns(), a1 = mono_ns();
  int64_t m;
  uint64_t n1;
  int i;

  ck_assert_uint_ge(n0, a0);
  ck_assert_uint_le(n0, a1);
  for (i = 0; i < 1000; i++) {
    n1 = exco_driver_now_ns();
    ck_assert_uint_ge(n1, n0);
    n0 = n1;
  }
  /* exco_now() is the same clock in milliseconds. */
  a0 = exco_driver_now_ns();
  m = exco_now();
  a1 = exco_driver_now_ns();
  ck_assert_int_ge(m, (int64_t)(a0 / MS) - 1);
  ck_assert_int_le(m, (int64_t)(a1 / MS) + 1);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Attachments                                                             */
/* ---------------------------------------------------------------------- */

static const char keys[EXCO_ATTACH_MAX + 2];

typedef struct att_seen {
  void *v0;
  void *v_missing;
} att_seen;

static void *fn_attachment(void *arg) {
  att_seen *s = arg;
  exco_executor *ex = exco_current_executor();

  s->v0 = exco_executor_attachment(ex, &keys[0]);
  s->v_missing = exco_executor_attachment(ex, &keys[EXCO_ATTACH_MAX + 1]);
  return NULL;
}

typedef struct att_thread {
  exco_executor *ex;
  int r_attach;
  void *v;
} att_thread;

static void *thread_attach(void *arg) {
  att_thread *a = arg;

  a->r_attach = exco_executor_attach(a->ex, &keys[1], V(0x11));
  a->v = exco_executor_attachment(a->ex, &keys[0]);
  return NULL;
}

START_TEST(attachments) {
  exco_executor *ex, *other;
  att_seen s;
  att_thread at;
  pthread_t t;
  int i;

  ck_assert_int_eq(EXCO_ATTACH_MAX, 4);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_executor_new_local(&other), 0);
  ck_assert_ptr_null(exco_executor_attachment(ex, &keys[0]));

  ck_assert_int_eq(exco_executor_attach(ex, &keys[0], V(0x10)), 0);
  ck_assert_ptr_eq(exco_executor_attachment(ex, &keys[0]), V(0x10));
  ck_assert_int_eq(exco_executor_attach(ex, &keys[0], V(0x99)), EXCO_EBUSY);
  ck_assert_ptr_eq(exco_executor_attachment(ex, &keys[0]), V(0x10));
  /* Per executor. */
  ck_assert_ptr_null(exco_executor_attachment(other, &keys[0]));

  /* From another thread. */
  memset(&at, 0, sizeof(at));
  at.ex = ex;
  at.r_attach = 1;
  h_thread_start(&t, thread_attach, &at);
  h_thread_join(t);
  ck_assert_int_eq(at.r_attach, 0);
  ck_assert_ptr_eq(at.v, V(0x10));
  ck_assert_ptr_eq(exco_executor_attachment(ex, &keys[1]), V(0x11));

  /* Fill the slots, then one too many. */
  for (i = 2; i < EXCO_ATTACH_MAX; i++)
    ck_assert_int_eq(exco_executor_attach(ex, &keys[i], V(0x10 + i)), 0);
  ck_assert_int_eq(exco_executor_attach(ex, &keys[EXCO_ATTACH_MAX], V(0x50)),
                   EXCO_ENOMEM);
  ck_assert_ptr_null(exco_executor_attachment(ex, &keys[EXCO_ATTACH_MAX]));
  for (i = 0; i < EXCO_ATTACH_MAX; i++)
    ck_assert_ptr_eq(exco_executor_attachment(ex, &keys[i]), V(0x10 + i));
  /* A freed slot is reused. */
  ck_assert_int_eq(exco_executor_detach(ex, &keys[1]), 0);
  ck_assert_ptr_null(exco_executor_attachment(ex, &keys[1]));
  ck_assert_int_eq(exco_executor_detach(ex, &keys[1]), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_attach(ex, &keys[EXCO_ATTACH_MAX], V(0x50)),
                   0);
  ck_assert_ptr_eq(exco_executor_attachment(ex, &keys[EXCO_ATTACH_MAX]),
                   V(0x50));

  /* Bad arguments. */
  ck_assert_int_eq(exco_executor_attach(NULL, &keys[1], V(1)), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_attach(ex, NULL, V(1)), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_attach(ex, &keys[1], NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_attach(NOT_AN_EXECUTOR, &keys[1], V(1)),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_detach(NULL, &keys[0]), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_detach(ex, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_detach(other, &keys[0]), EXCO_EINVAL);
  ck_assert_ptr_null(exco_executor_attachment(NULL, &keys[0]));
  ck_assert_ptr_null(exco_executor_attachment(ex, NULL));
  ck_assert_ptr_null(exco_executor_attachment(NOT_AN_EXECUTOR, &keys[0]));
  /* Nothing changed. */
  ck_assert_ptr_eq(exco_executor_attachment(ex, &keys[0]), V(0x10));
  ck_assert_ptr_null(exco_executor_attachment(ex, &keys[1]));

  /* From inside a coroutine. */
  memset(&s, 0, sizeof(s));
  s.v_missing = V(1);
  ck_assert_int_eq(exco_spawn(ex, fn_attachment, &s, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_ptr_eq(s.v0, V(0x10));
  ck_assert_ptr_null(s.v_missing);

  /* Freed with attachments in place (nothing to leak). */
  ck_assert_int_eq(exco_executor_free(ex), 0);
  ck_assert_int_eq(exco_executor_free(other), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* timer_arm and exco_driver_fire_timers                                   */
/* ---------------------------------------------------------------------- */

/* A run-queue driver driven by hand; it records the hooks' calls. */
typedef struct tdrv {
  exco_executor *ex;
  pthread_t thread;
  atomic_int n_schedule, n_notify, n_arm, off_thread;
  uint64_t due; /* the last arming */
  int hook_calls;
} tdrv;

static void td_check_thread(tdrv *t) {
  if (!pthread_equal(pthread_self(), t->thread))
    atomic_fetch_add(&t->off_thread, 1);
}

static void td_schedule(void *data) {
  tdrv *t = data;

  td_check_thread(t);
  atomic_fetch_add(&t->n_schedule, 1);
}

static void td_notify(void *data) {
  atomic_fetch_add(&((tdrv *)data)->n_notify, 1);
}

static void td_arm(void *data, uint64_t due) {
  tdrv *t = data;

  td_check_thread(t);
  t->due = due;
  atomic_fetch_add(&t->n_arm, 1);
}

static void td_close(void *data) {
  ((tdrv *)data)->hook_calls++;
}

static const exco_driver_ops td_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "test-timers",
    .schedule = td_schedule,
    .notify = td_notify,
    .timer_arm = td_arm,
    .close = td_close,
};

static void td_init(tdrv *t) {
  memset(t, 0, sizeof(*t));
  atomic_init(&t->n_schedule, 0);
  atomic_init(&t->n_notify, 0);
  atomic_init(&t->n_arm, 0);
  atomic_init(&t->off_thread, 0);
  t->thread = pthread_self();
  ck_assert_int_eq(exco_driver_executor_new(&t->ex, &td_ops, t), 0);
}

static void td_fini(tdrv *t) {
  ck_assert_int_eq(exco_driver_live(t->ex), 0);
  /* exco's helper thread never fired this executor's timers. */
  ck_assert_int_eq(atomic_load(&t->n_notify), 0);
  ck_assert_int_eq(atomic_load(&t->off_thread), 0);
  close_rq_idle(t->ex);
  ck_assert_int_eq(t->hook_calls, 1);
  t->ex = NULL;
}

typedef struct tsleeper {
  uint64_t ms;
  exco_promise *p; /* if set: await it under a deadline of ms */
  uint64_t before, after;
  int r;
  int done;
} tsleeper;

static void *fn_tsleeper(void *arg) {
  tsleeper *s = arg;

  s->before = exco_driver_now_ns();
  if (s->p != NULL) {
    exco_deadline_after(s->ms, NULL);
    s->r = exco_promise_await(s->p, NULL);
  } else {
    s->r = exco_sleep(s->ms);
  }
  s->after = exco_driver_now_ns();
  s->done = 1;
  return NULL;
}

START_TEST(timer_arm_gets_the_due_time_and_fire_wakes) {
  tdrv t;
  tsleeper s;
  uint64_t ran_at, now;
  int sched;

  td_init(&t);
  memset(&s, 0, sizeof(s));
  s.ms = 150;
  ck_assert_int_eq(exco_spawn(t.ex, fn_tsleeper, &s, NULL, NULL), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ran_at = exco_driver_now_ns();
  ck_assert_int_eq(s.done, 0);
  ck_assert_int_ge(atomic_load(&t.n_arm), 1);
  /* Due at least 150 ms after the sleep began (and not much later than
   * 150 ms after the run; one millisecond of rounding allowed). */
  ck_assert_uint_ge(t.due, s.before + 150 * MS);
  ck_assert_uint_le(t.due, ran_at + 151 * MS);

  /* Fired early: nothing is due, nothing wakes. */
  sched = atomic_load(&t.n_schedule);
  now = exco_driver_now_ns();
  ck_assert_uint_lt(now, t.due);
  ck_assert_int_eq(exco_driver_fire_timers(t.ex), 0);
  ck_assert_int_eq(atomic_load(&t.n_schedule), sched);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ck_assert_int_eq(s.done, 0);

  /* Past due, but the driver has not fired: still asleep (exco's helper
   * thread does not fire an executor whose driver has timer_arm). */
  wait_until_ns(t.due + 20 * MS);
  ck_assert_int_eq(atomic_load(&t.n_notify), 0);
  ck_assert_int_eq(atomic_load(&t.n_schedule), sched);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ck_assert_int_eq(s.done, 0);

  /* Fired after due: a wake on the loop thread, so one schedule. */
  ck_assert_int_eq(exco_driver_fire_timers(t.ex), 0);
  ck_assert_int_eq(atomic_load(&t.n_schedule), sched + 1);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ck_assert_int_eq(s.done, 1);
  ck_assert_int_eq(s.r, 0);
  ck_assert_uint_ge(s.after - s.before, 150 * MS);
  /* A spurious fire is harmless. */
  ck_assert_int_eq(exco_driver_fire_timers(t.ex), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  td_fini(&t);
}
END_TEST

START_TEST(timer_arm_follows_the_earliest_timer) {
  tdrv t;
  tsleeper late, early;
  uint64_t ran_at;
  int arms;

  td_init(&t);
  memset(&late, 0, sizeof(late));
  memset(&early, 0, sizeof(early));
  late.ms = 300;
  early.ms = 100;
  ck_assert_int_eq(exco_spawn(t.ex, fn_tsleeper, &late, NULL, NULL), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ck_assert_uint_ge(t.due, late.before + 300 * MS);
  arms = atomic_load(&t.n_arm);
  ck_assert_int_ge(arms, 1);

  /* A sooner timer re-arms. */
  ck_assert_int_eq(exco_spawn(t.ex, fn_tsleeper, &early, NULL, NULL), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ran_at = exco_driver_now_ns();
  ck_assert_int_gt(atomic_load(&t.n_arm), arms);
  ck_assert_uint_ge(t.due, early.before + 100 * MS);
  ck_assert_uint_le(t.due, ran_at + 101 * MS);
  ck_assert_uint_lt(t.due, late.before + 300 * MS);

  /* It fires the early one only, and arms the next. */
  wait_until_ns(t.due);
  arms = atomic_load(&t.n_arm);
  ck_assert_int_eq(exco_driver_fire_timers(t.ex), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ck_assert_int_eq(early.done, 1);
  ck_assert_int_eq(early.r, 0);
  ck_assert_int_eq(late.done, 0);
  ck_assert_int_gt(atomic_load(&t.n_arm), arms);
  ck_assert_uint_ge(t.due, late.before + 300 * MS);

  wait_until_ns(t.due);
  ck_assert_int_eq(exco_driver_fire_timers(t.ex), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ck_assert_int_eq(late.done, 1);
  ck_assert_int_eq(late.r, 0);
  ck_assert_uint_ge(late.after - late.before, 300 * MS);
  td_fini(&t);
}
END_TEST

START_TEST(timer_arm_drives_deadlines) {
  tdrv t;
  tsleeper d;

  td_init(&t);
  memset(&d, 0, sizeof(d));
  d.ms = 80;
  ck_assert_int_eq(exco_promise_new(&d.p), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_tsleeper, &d, NULL, NULL), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ck_assert_int_ge(atomic_load(&t.n_arm), 1);
  /* Deadlines are whole milliseconds: allow one for the rounding. */
  ck_assert_uint_ge(t.due + MS, d.before + 80 * MS);
  wait_until_ns(t.due);
  ck_assert_int_eq(exco_driver_fire_timers(t.ex), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ck_assert_int_eq(d.done, 1);
  ck_assert_int_eq(d.r, EXCO_ETIMEDOUT);
  exco_promise_unref(d.p);
  td_fini(&t);
}
END_TEST

START_TEST(timer_arm_cancelled_sleep_leaves_no_timer) {
  tdrv t;
  tsleeper s;
  exco_task *task;
  uint64_t due;
  int sched;

  td_init(&t);
  memset(&s, 0, sizeof(s));
  s.ms = 100;
  ck_assert_int_eq(exco_spawn(t.ex, fn_tsleeper, &s, NULL, &task), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  due = t.due;
  ck_assert_int_ge(atomic_load(&t.n_arm), 1);
  ck_assert_int_eq(exco_task_cancel(task), 0);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  ck_assert_int_eq(s.done, 1);
  ck_assert_int_eq(s.r, EXCO_ECANCELED);
  ck_assert_int_eq(exco_driver_live(t.ex), 0);
  /* The timer went with the task: firing past its due time wakes
   * nothing. */
  wait_until_ns(due);
  sched = atomic_load(&t.n_schedule);
  ck_assert_int_eq(exco_driver_fire_timers(t.ex), 0);
  ck_assert_int_eq(atomic_load(&t.n_schedule), sched);
  ck_assert_int_eq(exco_driver_run(t.ex, 0), 0);
  exco_task_release(task);
  td_fini(&t);
}
END_TEST

/* A contract driver with timer_arm: the host's own struct first, so the
 * harness's callbacks find their h_host at the same address. */
typedef struct thost {
  h_host h;
  int n_arm;
  uint64_t due;
} thost;

static void th_arm(void *data, uint64_t due) {
  thost *t = data;

  t->n_arm++;
  t->due = due;
}

static const exco_driver_ops th_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "test-contract-timers",
    .task_new = h_task_new,
    .task_run = h_task_run,
    .task_wake = h_task_wake,
    .timer_arm = th_arm,
};

START_TEST(timer_arm_on_a_contract_driver) {
  thost th;
  tsleeper s;
  unsigned long wakes;

  memset(&th, 0, sizeof(th));
  memset(&s, 0, sizeof(s));
  s.ms = 60;
  h_host_init_bare(&th.h);
  ck_assert_int_eq(exco_driver_executor_new(&th.h.ex, &th_ops, &th), 0);
  ck_assert_int_eq(exco_spawn(th.h.ex, fn_tsleeper, &s, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&th.h), 1);
  ck_assert_int_ge(th.n_arm, 1);
  ck_assert_uint_ge(th.due, s.before + 60 * MS);
  wakes = h_host_wakes(&th.h);
  /* Only the driver fires. */
  wait_until_ns(th.due + 20 * MS);
  ck_assert_uint_eq(h_host_wakes(&th.h), wakes);
  ck_assert_int_eq(exco_driver_fire_timers(th.h.ex), 0);
  ck_assert_uint_eq(h_host_wakes(&th.h), wakes + 1);
  ck_assert_int_eq(h_host_run_until_idle(&th.h), 0);
  ck_assert_int_eq(s.done, 1);
  ck_assert_int_eq(s.r, 0);
  h_host_assert_clean(&th.h);
  ck_assert_int_eq(exco_executor_close(th.h.ex, NULL, NULL), 0);
  th.h.ex = NULL;
  h_host_free_exts(&th.h);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("driver");
  TCase *tc = h_tcase("ops", 30);

  tcase_add_test(tc, executor_new_checks_its_arguments);
  tcase_add_test(tc, driver_data_matches_ops_by_address);
  tcase_add_test(tc, contract_driver_runs_tasks);
  tcase_add_test(tc, run_queue_calls_on_wrong_executors);
  tcase_add_test(tc, now_ns_is_the_monotonic_clock);
  tcase_add_test(tc, attachments);
  suite_add_tcase(s, tc);

  tc = h_tcase("timers", 30);
  tcase_add_test(tc, timer_arm_gets_the_due_time_and_fire_wakes);
  tcase_add_test(tc, timer_arm_follows_the_earliest_timer);
  tcase_add_test(tc, timer_arm_drives_deadlines);
  tcase_add_test(tc, timer_arm_cancelled_sleep_leaves_no_timer);
  tcase_add_test(tc, timer_arm_on_a_contract_driver);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
