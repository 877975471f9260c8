/*
 * test-await.c -- exco_await, exco_yield, wakers, errno across awaits, the
 * current task and executor, spawning from coroutines, exco_strerror.
 */
#include <exco/driver.h>

#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(EXCO_EINVAL == -EINVAL, "EXCO_EINVAL");
_Static_assert(EXCO_ENOMEM == -ENOMEM, "EXCO_ENOMEM");
_Static_assert(EXCO_ECANCELED == -ECANCELED, "EXCO_ECANCELED");
_Static_assert(EXCO_EPERM == -EPERM, "EXCO_EPERM");
_Static_assert(EXCO_EBUSY == -EBUSY, "EXCO_EBUSY");
_Static_assert(EXCO_EALREADY == -EALREADY, "EXCO_EALREADY");
_Static_assert(EXCO_EDEADLK == -EDEADLK, "EXCO_EDEADLK");
_Static_assert(EXCO_ENOTSUP == -ENOTSUP, "EXCO_ENOTSUP");

static int ready_poll(void *arg, exco_waker *w) {
  (void)w;
  ++*(int *)arg;
  return 1;
}

typedef struct once {
  int calls;
  int result;
  int done;
} once;

static void *fn_await_ready(void *arg) {
  once *o = arg;

  o->result = exco_await(ready_poll, NULL, &o->calls);
  o->done = 1;
  return NULL;
}

START_TEST(await_ready_future_returns_at_once) {
  h_host h;
  once o = {0};
  h_ext *e;

  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_await_ready, &o, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(o.result, 0);
  ck_assert_int_eq(o.calls, 1);
  ck_assert_int_eq(o.done, 1);
  ck_assert_uint_eq(h.n_wake, 0);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  h_host_destroy(&h);
}
END_TEST

START_TEST(await_pending_future_polled_again_after_wake) {
  h_host h;
  h_flagged f = {0};
  h_ext *e;

  h_host_init(&h);
  h_flag_init(&f.flag);
  ck_assert_int_eq(exco_spawn(h.ex, h_flagged_body, &f, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(atomic_load(&f.flag.polls), 1);
  /* A wake without readiness: the future is polled again, says not
   * ready, and the task stays pending. */
  h_flag_poke(&f.flag);
  ck_assert_uint_eq(h.n_wake, 1);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(atomic_load(&f.flag.polls), 2);
  ck_assert_int_eq(f.done, 0);
  h_flag_set(&f.flag);
  ck_assert_uint_eq(h.n_wake, 2);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(atomic_load(&f.flag.polls), 3);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(f.result, 0);
  ck_assert_int_eq(atomic_load(&f.flag.cancels), 0);
  ck_assert_int_eq(atomic_load(&f.flag.wrong_task), 0);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  h_flag_destroy(&f.flag);
  h_host_destroy(&h);
}
END_TEST

/* The leaf's poll function runs on the awaiting coroutine's stack. */
typedef struct where {
  uintptr_t coro_local;
  uintptr_t poll_local;
  exco_task *self;
  exco_task *in_poll;
  int result;
} where;

static int where_poll(void *arg, exco_waker *w) {
  where *x = arg;
  volatile char local = 0;

  (void)w;
  x->poll_local = (uintptr_t)&local;
  x->in_poll = exco_current();
  return 1;
}

static void *fn_where(void *arg) {
  where *x = arg;
  volatile char local = 0;

  x->coro_local = (uintptr_t)&local;
  x->self = exco_current();
  x->result = exco_await(where_poll, NULL, x);
  return NULL;
}

START_TEST(leaf_poll_runs_on_coroutine_stack) {
  exco_executor *ex;
  where x;
  exco_task *t;
  uintptr_t d;

  memset(&x, 0, sizeof(x));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_where, &x, NULL, &t), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(x.result, 0);
  ck_assert_ptr_eq(x.self, t);
  ck_assert_ptr_eq(x.in_poll, t);
  /* Stacks grow down: the leaf's frame is a little below the coroutine's
   * own frame, on the same stack. */
  ck_assert(x.poll_local < x.coro_local);
  d = x.coro_local - x.poll_local;
  ck_assert_uint_lt(d, 64 * 1024);
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

enum { YIELDS = 5 };

typedef struct yielder {
  int results[YIELDS];
  int steps;
} yielder;

static void *fn_yield(void *arg) {
  yielder *y = arg;
  int i;

  for (i = 0; i < YIELDS; i++) {
    y->results[i] = exco_yield();
    y->steps++;
  }
  return NULL;
}

START_TEST(yield_wakes_and_suspends) {
  h_host h;
  yielder y;
  h_ext *e;
  int i;

  memset(&y, 0, sizeof(y));
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_yield, &y, NULL, NULL), 0);
  e = h_host_pop(&h);
  for (i = 0; i < YIELDS; i++) {
    ck_assert_int_eq(h_host_poll(&h, e), 1);
    ck_assert_int_eq(y.steps, i);
    /* The yield woke the task: it is queued again, once. */
    ck_assert_uint_eq(h.n_wake, (unsigned long)i + 1);
    ck_assert_ptr_eq(h_host_pop(&h), e);
    ck_assert_ptr_null(h_host_pop(&h));
  }
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(y.steps, YIELDS);
  for (i = 0; i < YIELDS; i++)
    ck_assert_int_eq(y.results[i], 0);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  h_host_destroy(&h);
}
END_TEST

typedef struct pair {
  int flag;
  int yields;
  int saw_flag;
} pair;

static void *fn_wait_flag(void *arg) {
  pair *p = arg;

  while (!p->flag && p->yields < 1000) {
    if (exco_yield() != 0)
      break;
    p->yields++;
  }
  p->saw_flag = p->flag;
  return NULL;
}

static void *fn_set_flag(void *arg) {
  pair *p = arg;

  p->flag = 1;
  return NULL;
}

START_TEST(yield_lets_others_run) {
  exco_executor *ex;
  pair p = {0};

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_wait_flag, &p, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_set_flag, &p, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(p.saw_flag, 1);
  /* The local executor is a FIFO queue: one yield puts the waiter behind
   * the setter. */
  ck_assert_int_eq(p.yields, 1);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(outside_coroutine_is_eperm) {
  int calls = 0;
  exco_promise *p;
  void *v = NULL;
  h_host h;
  h_flagged f = {0};
  exco_task *t;

  ck_assert_int_eq(exco_await(ready_poll, NULL, &calls), EXCO_EPERM);
  ck_assert_int_eq(calls, 0);
  ck_assert_int_eq(exco_yield(), EXCO_EPERM);
  ck_assert_ptr_null(exco_waker_current());
  ck_assert_ptr_null(exco_hold_stack());
  ck_assert_ptr_null(exco_current());
  ck_assert_ptr_null(exco_current_executor());
  ck_assert_int_eq(exco_promise_new(&p), 0);
  ck_assert_int_eq(exco_promise_await(p, &v), EXCO_EPERM);
  ck_assert_int_eq(exco_promise_resolve(p, &calls), 0);
  ck_assert_int_eq(exco_promise_await(p, &v), EXCO_EPERM);
  exco_promise_unref(p);

  h_host_init(&h);
  h_flag_init(&f.flag);
  ck_assert_int_eq(exco_spawn(h.ex, h_flagged_body, &f, NULL, &t), 0);
  ck_assert_int_eq(exco_join(t, &v), EXCO_EPERM);
  ck_assert_int_eq(h_host_run_until_idle(&h), 1);
  /* Not inside the coroutine, even between its polls. */
  ck_assert_ptr_null(exco_current());
  ck_assert_int_eq(exco_yield(), EXCO_EPERM);
  h_flag_set(&f.flag);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(exco_join(t, &v), EXCO_EPERM);
  exco_task_release(t);
  h_flag_destroy(&f.flag);
  h_host_destroy(&h);
}
END_TEST

typedef struct nullpoll {
  int r_null;
  int r_after;
  int calls;
} nullpoll;

static void *fn_null_poll(void *arg) {
  nullpoll *n = arg;

  n->r_null = exco_await(NULL, NULL, n);
  n->r_after = exco_await(ready_poll, NULL, &n->calls);
  return NULL;
}

START_TEST(await_null_poll_is_einval) {
  exco_executor *ex;
  nullpoll n = {0};

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_null_poll, &n, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(n.r_null, EXCO_EINVAL);
  ck_assert_int_eq(n.r_after, 0);
  ck_assert_int_eq(n.calls, 1);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

enum { ERRNO_ROUNDS = 4 };

typedef struct errno_task {
  int mine;
  h_flag flag;
  int seen[2 * ERRNO_ROUNDS];
  int results[2 * ERRNO_ROUNDS];
} errno_task;

static void *fn_errno(void *arg) {
  errno_task *t = arg;
  int i;

  errno = t->mine;
  for (i = 0; i < ERRNO_ROUNDS; i++) {
    t->results[2 * i] = exco_yield();
    t->seen[2 * i] = errno;
    errno = t->mine;
    t->results[2 * i + 1] = h_flag_await(&t->flag);
    t->seen[2 * i + 1] = errno;
    h_flag_reset(&t->flag);
    errno = t->mine;
  }
  return NULL;
}

START_TEST(errno_preserved_across_awaits) {
  h_host h;
  errno_task a, b;
  int i, round;

  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.mine = EIO;
  b.mine = ENOENT;
  h_flag_init(&a.flag);
  h_flag_init(&b.flag);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_errno, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_errno, &b, NULL, NULL), 0);
  for (round = 0; round < 4 * ERRNO_ROUNDS && h_host_live(&h) > 0; round++) {
    h_ext *e;

    /* The host clobbers errno between every two polls. */
    while ((e = h_host_pop(&h)) != NULL) {
      int r;

      errno = EBADF;
      r = h_host_poll(&h, e);
      errno = EBADF;
      if (r == 0)
        ck_assert_int_eq(h_host_drop(&h, e), 0);
    }
    h_flag_set(&a.flag);
    h_flag_set(&b.flag);
    errno = EBADF;
  }
  ck_assert_int_eq(h_host_live(&h), 0);
  for (i = 0; i < 2 * ERRNO_ROUNDS; i++) {
    ck_assert_int_eq(a.results[i], 0);
    ck_assert_int_eq(b.results[i], 0);
    ck_assert_int_eq(a.seen[i], EIO);
    ck_assert_int_eq(b.seen[i], ENOENT);
  }
  h_flag_destroy(&a.flag);
  h_flag_destroy(&b.flag);
  h_host_destroy(&h);
}
END_TEST

/*
 * The run queue and the local executor keep a yielding task's poll and
 * keep the poller's errno once around their loop, not around each resume
 * (src/resume.h): each coroutine still sees its own errno after every
 * yield, and the caller of exco_run() / exco_driver_run() gets its own
 * back.
 */
static void *fn_errno_yields(void *arg) {
  errno_task *t = arg;
  int i;

  errno = t->mine;
  for (i = 0; i < 2 * ERRNO_ROUNDS; i++) {
    t->results[i] = exco_yield();
    t->seen[i] = errno;
    errno = t->mine;
  }
  return NULL;
}

static void rq_nothing(void *data) {
  (void)data;
}

static void check_errno_tasks(errno_task *a, errno_task *b) {
  int i;

  for (i = 0; i < 2 * ERRNO_ROUNDS; i++) {
    ck_assert_int_eq(a->results[i], 0);
    ck_assert_int_eq(b->results[i], 0);
    ck_assert_int_eq(a->seen[i], EIO);
    ck_assert_int_eq(b->seen[i], ENOENT);
  }
}

START_TEST(errno_preserved_across_kept_yields) {
  static const exco_driver_ops ops = {
      .version = EXCO_DRIVER_VERSION,
      .name = "errno",
      .schedule = rq_nothing,
      .notify = rq_nothing,
  };
  exco_executor *ex;
  errno_task a, b;
  int kind, host_errno;

  for (kind = 0; kind < 2; kind++) {
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.mine = EIO;
    b.mine = ENOENT;
    if (kind == 0)
      ck_assert_int_eq(exco_executor_new_local(&ex), 0);
    else
      ck_assert_int_eq(exco_driver_executor_new(&ex, &ops, NULL), 0);
    ck_assert_int_eq(exco_spawn(ex, fn_errno_yields, &a, NULL, NULL), 0);
    ck_assert_int_eq(exco_spawn(ex, fn_errno_yields, &b, NULL, NULL), 0);
    errno = EBADF;
    if (kind == 0) {
      ck_assert_int_eq(exco_run(ex), 0);
    } else {
      while (exco_driver_live(ex) > 0)
        ck_assert_int_ge(exco_driver_run(ex, 3), 0);
    }
    host_errno = errno;
    ck_assert_int_eq(host_errno, EBADF);
    check_errno_tasks(&a, &b);
    ck_assert_int_eq(exco_executor_free(ex), 0);
  }
}
END_TEST

/* ---- Yields in place (a task alone on a kept-yield loop) ---------------- */

static const exco_driver_ops inplace_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "inplace",
    .schedule = rq_nothing,
    .notify = rq_nothing,
};

typedef struct counter {
  long resumes;
  int last;
} counter;

/* Counts the resumes a yield loop sees until its yield fails. */
static void *fn_count_yields(void *arg) {
  counter *c = arg;

  do
    c->resumes++;
  while ((c->last = exco_yield()) == 0);
  return NULL;
}

static unsigned long polls_of(exco_task *t) {
  exco_task_info info;

  ck_assert_int_eq(exco_task_get_info(t, &info), 0);
  return info.polls;
}

/* A task alone on the run queue gets exactly the budget's polls per
 * exco_driver_run(), whether its yields switch or not. */
START_TEST(yield_in_place_keeps_the_budget) {
  exco_executor *ex;
  exco_task *t;
  counter c = {0, 0};

  ck_assert_int_eq(exco_driver_executor_new(&ex, &inplace_ops, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_count_yields, &c, NULL, &t), 0);
  ck_assert_int_eq(exco_driver_run(ex, 64), 1);
  ck_assert_int_eq(c.resumes, 64);
  ck_assert_uint_eq(polls_of(t), 64);
  /* Budget 0: one poll of each task ready now. */
  ck_assert_int_eq(exco_driver_run(ex, 0), 1);
  ck_assert_int_eq(c.resumes, 65);
  ck_assert_int_eq(exco_driver_run(ex, 1), 1);
  ck_assert_int_eq(c.resumes, 66);
  ck_assert_int_eq(exco_driver_run(ex, 1000), 1);
  ck_assert_int_eq(c.resumes, 1066);
  ck_assert_uint_eq(polls_of(t), 1066);
  ck_assert_int_eq(c.last, 0);
  ck_assert_int_eq(exco_task_cancel(t), 0);
  while (exco_driver_live(ex) > 0)
    ck_assert_int_ge(exco_driver_run(ex, 0), 0);
  ck_assert_int_eq(c.last, EXCO_ECANCELED);
  ck_assert_int_eq(c.resumes, 1066);
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* Yields @n times; sets *@err if a yield fails. */
static void yield_n(int n, int *err) {
  int i;

  for (i = 0; i < n; i++)
    if (exco_yield() != 0)
      *err = 1;
}

typedef struct order {
  exco_promise *p;
  int seq[8];
  int n;
  int err;
} order;

static void *fn_order_waiter(void *arg) {
  order *o = arg;
  void *v;

  o->seq[o->n++] = 1;
  if (exco_promise_await(o->p, &v) != 0)
    o->err = 1;
  o->seq[o->n++] = 3;
  return NULL;
}

static void *fn_order_spawned(void *arg) {
  order *o = arg;

  o->seq[o->n++] = 5;
  return NULL;
}

/* Alone on the run queue, it wakes another task, then spawns one: each
 * runs before its yield returns.  (The local executor may resume a round's
 * yielded task again before tasks woken during the round, as exco_yield()
 * says, so this is the run queue's promise.) */
static void *fn_order_yielder(void *arg) {
  order *o = arg;

  yield_n(10, &o->err);
  o->seq[o->n++] = 2;
  if (exco_promise_resolve(o->p, NULL) != 0 || exco_yield() != 0)
    o->err = 1;
  o->seq[o->n++] = 4;
  yield_n(10, &o->err);
  if (exco_spawn(NULL, fn_order_spawned, o, NULL, NULL) != 0 ||
      exco_yield() != 0)
    o->err = 1;
  o->seq[o->n++] = 6;
  return NULL;
}

START_TEST(yield_in_place_lets_a_woken_task_run_first) {
  static const int want[] = {1, 2, 3, 4, 5, 6};
  exco_executor *ex;
  order o;
  int i;

  memset(&o, 0, sizeof(o));
  ck_assert_int_eq(exco_promise_new(&o.p), 0);
  ck_assert_int_eq(exco_driver_executor_new(&ex, &inplace_ops, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_order_waiter, &o, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_order_yielder, &o, NULL, NULL), 0);
  while (exco_driver_live(ex) > 0)
    ck_assert_int_ge(exco_driver_run(ex, 64), 0);
  ck_assert_int_eq(o.err, 0);
  ck_assert_int_eq(o.n, 6);
  for (i = 0; i < 6; i++)
    ck_assert_int_eq(o.seq[i], want[i]);
  exco_promise_unref(o.p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct round {
  exco_promise *p;
  atomic_int woken;
  long yields_until_woken;
  int err;
} wround;

static void *fn_round_waiter(void *arg) {
  wround *r = arg;
  void *v;

  if (exco_promise_await(r->p, &v) != 0)
    r->err = 1;
  atomic_store(&r->woken, 1);
  return NULL;
}

static void *fn_round_yielder(void *arg) {
  wround *r = arg;

  if (exco_promise_resolve(r->p, NULL) != 0)
    r->err = 1;
  while (!atomic_load(&r->woken) && r->yields_until_woken < 100000) {
    r->yields_until_woken++;
    if (exco_yield() != 0)
      r->err = 1;
  }
  return NULL;
}

/* On the local executor, a task woken during a round waits at most for
 * the round's 64 polls, in place or not (exco_yield()). */
START_TEST(yield_in_place_local_round_is_bounded) {
  exco_executor *ex;
  wround r;

  memset(&r, 0, sizeof(r));
  ck_assert_int_eq(exco_promise_new(&r.p), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_round_waiter, &r, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_round_yielder, &r, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(r.err, 0);
  ck_assert_int_eq(atomic_load(&r.woken), 1);
  ck_assert_int_ge(r.yields_until_woken, 1);
  ck_assert_int_le(r.yields_until_woken, 64);
  exco_promise_unref(r.p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct rr {
  int log[200];
  int n;
  int host_calls;
  int err;
} rr;

typedef struct rr_arg {
  rr *r;
  int id;
} rr_arg;

static void rr_host_fn(void *arg) {
  ((rr *)arg)->host_calls++;
}

static void *fn_rr(void *arg) {
  rr_arg *a = arg;
  int i;

  for (i = 0; i < 50; i++) {
    if (a->r->n < 200)
      a->r->log[a->r->n++] = a->id;
    if (a->id == 1 && i % 5 == 0 && exco_host_call(rr_host_fn, a->r) != 0)
      a->r->err = 1;
    if (exco_yield() != 0)
      a->r->err = 1;
  }
  return NULL;
}

/* Three tasks yielding on the run queue and on the local executor, where
 * each yield switches to the next task directly: still round robin,
 * across host calls and budgets. */
START_TEST(yields_between_tasks_stay_round_robin) {
  exco_executor *ex;
  rr r;
  rr_arg args[3];
  int i, budget;

  /* Budgets 1, 8 and 64 on the run queue, then the local executor. */
  for (budget = 1; budget <= 512; budget *= 8) {
    memset(&r, 0, sizeof(r));
    if (budget == 512)
      ck_assert_int_eq(exco_executor_new_local(&ex), 0);
    else
      ck_assert_int_eq(exco_driver_executor_new(&ex, &inplace_ops, NULL), 0);
    for (i = 0; i < 3; i++) {
      args[i].r = &r;
      args[i].id = i;
      ck_assert_int_eq(exco_spawn(ex, fn_rr, &args[i], NULL, NULL), 0);
    }
    if (budget == 512)
      ck_assert_int_eq(exco_run(ex), 0);
    while (budget < 512 && exco_driver_live(ex) > 0)
      ck_assert_int_ge(exco_driver_run(ex, (unsigned)budget), 0);
    ck_assert_int_eq(r.err, 0);
    ck_assert_int_eq(r.n, 150);
    ck_assert_int_eq(r.host_calls, 10);
    for (i = 0; i < 150; i++)
      ck_assert_int_eq(r.log[i], i % 3);
    ck_assert_int_eq(exco_executor_free(ex), 0);
  }
}
END_TEST

typedef struct cancel_pair {
  exco_task *victim;
  int victim_yields;
  int victim_last;
  int killer_err;
} cancel_pair;

static void *fn_victim(void *arg) {
  cancel_pair *c = arg;

  while ((c->victim_last = exco_yield()) == 0)
    c->victim_yields++;
  return NULL;
}

static void *fn_killer(void *arg) {
  cancel_pair *c = arg;

  yield_n(5, &c->killer_err);
  if (exco_task_cancel(c->victim) != 0)
    c->killer_err = 1;
  yield_n(5, &c->killer_err);
  return NULL;
}

/* A task cancelled while it waits its turn on the run queue sees
 * EXCO_ECANCELED from the yield that the canceller switches to. */
START_TEST(yield_switched_to_sees_its_cancel) {
  exco_executor *ex;
  cancel_pair c;

  memset(&c, 0, sizeof(c));
  ck_assert_int_eq(exco_driver_executor_new(&ex, &inplace_ops, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_victim, &c, NULL, &c.victim), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_killer, &c, NULL, NULL), 0);
  while (exco_driver_live(ex) > 0)
    ck_assert_int_ge(exco_driver_run(ex, 64), 0);
  ck_assert_int_eq(c.killer_err, 0);
  ck_assert_int_eq(c.victim_last, EXCO_ECANCELED);
  ck_assert_int_eq(c.victim_yields, 5);
  ck_assert_int_eq(exco_task_done(c.victim), 1);
  exco_task_release(c.victim);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct sleeper {
  atomic_int done;
  long spins;
  int err;
} sleeper;

static void *fn_sleep_then_flag(void *arg) {
  sleeper *s = arg;

  if (exco_sleep(1) != 0)
    s->err = 1;
  atomic_store(&s->done, 1);
  return NULL;
}

static void *fn_spin_until_flag(void *arg) {
  sleeper *s = arg;

  while (!atomic_load(&s->done)) {
    s->spins++;
    if (exco_yield() != 0) {
      s->err = 1;
      break;
    }
  }
  return NULL;
}

/* A task yielding alone doesn't keep the local executor from its timers:
 * a round ends after 64 polls, in place or not. */
START_TEST(yield_in_place_lets_timers_fire) {
  exco_executor *ex;
  sleeper s;

  memset(&s, 0, sizeof(s));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_sleep_then_flag, &s, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_spin_until_flag, &s, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(s.err, 0);
  ck_assert_int_eq(atomic_load(&s.done), 1);
  ck_assert_int_gt(s.spins, 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct parent {
  exco_executor *other;
  exco_task *child_default;
  exco_task *child_other;
  int r_default, r_other;
  exco_executor *ex;
  exco_executor *child_ex[2];
  int child_ran[2];
} parent;

static void *fn_child(void *arg) {
  parent *p = arg;
  int i = exco_current_executor() == p->other;

  p->child_ex[i] = exco_current_executor();
  p->child_ran[i]++;
  return NULL;
}

static void *fn_parent(void *arg) {
  parent *p = arg;

  p->ex = exco_current_executor();
  p->r_default = exco_spawn(NULL, fn_child, p, NULL, &p->child_default);
  p->r_other = exco_spawn(p->other, fn_child, p, NULL, &p->child_other);
  return NULL;
}

START_TEST(spawn_in_coroutine_defaults_to_current_executor) {
  h_host h;
  parent p;
  exco_executor *d = exco_default_executor();
  long live_default = exco_executor_live(d);

  memset(&p, 0, sizeof(p));
  h_host_init(&h);
  ck_assert_int_eq(exco_executor_new_local(&p.other), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_parent, &p, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(p.r_default, 0);
  ck_assert_int_eq(p.r_other, 0);
  ck_assert_ptr_eq(p.ex, h.ex);
  /* The NULL-executor child went to the host executor, not the default. */
  ck_assert_uint_eq(h.n_new, 2);
  ck_assert_uint_eq(h.n_run, 2);
  ck_assert_int_eq(exco_executor_live(d), live_default);
  ck_assert_int_eq(p.child_ran[0], 1);
  ck_assert_ptr_eq(p.child_ex[0], h.ex);
  ck_assert_int_eq(exco_task_done(p.child_default), 1);
  /* The other child waits for its own executor. */
  ck_assert_int_eq(p.child_ran[1], 0);
  ck_assert_int_eq(exco_executor_live(p.other), 1);
  ck_assert_int_eq(exco_run(p.other), 0);
  ck_assert_int_eq(p.child_ran[1], 1);
  ck_assert_ptr_eq(p.child_ex[1], p.other);
  exco_task_release(p.child_default);
  exco_task_release(p.child_other);
  ck_assert_int_eq(exco_executor_free(p.other), 0);
  h_host_destroy(&h);
}
END_TEST

typedef struct who {
  exco_task *self;
  exco_executor *ex;
} who;

static void *fn_who(void *arg) {
  who *w = arg;

  w->self = exco_current();
  w->ex = exco_current_executor();
  return NULL;
}

START_TEST(current_inside_and_outside) {
  exco_executor *ex;
  exco_task *t;
  who w = {0}, wd = {0};

  ck_assert_ptr_null(exco_current());
  ck_assert_ptr_null(exco_current_executor());
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_who, &w, NULL, &t), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_ptr_eq(w.self, t);
  ck_assert_ptr_eq(w.ex, ex);
  ck_assert_ptr_null(exco_current());
  ck_assert_ptr_null(exco_current_executor());
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_free(ex), 0);

  /* Outside coroutines a NULL executor means the default one. */
  ck_assert_int_eq(exco_spawn(NULL, fn_who, &wd, NULL, &t), 0);
  ck_assert_int_eq(exco_executor_live(exco_default_executor()), 1);
  ck_assert_int_eq(exco_run(NULL), 0);
  ck_assert_ptr_eq(wd.self, t);
  ck_assert_ptr_eq(wd.ex, exco_default_executor());
  exco_task_release(t);
}
END_TEST

typedef struct wakerinfo {
  exco_waker *w;
  exco_waker *w2;
  int result;
} wakerinfo;

static int wait_once_poll(void *arg, exco_waker *w) {
  int *calls = arg;

  (void)w;
  /* Pending the first time; the test wakes through its own waker. */
  return (*calls)++ > 0;
}

static void *fn_waker(void *arg) {
  wakerinfo *i = arg;
  int calls = 0;

  i->w = exco_waker_current();
  i->w2 = exco_waker_clone(i->w);
  i->result = exco_await(wait_once_poll, NULL, &calls);
  return NULL;
}

START_TEST(waker_current_clone_wake_drop) {
  h_host h;
  wakerinfo i = {0};
  h_ext *e;

  ck_assert_ptr_null(exco_waker_clone(NULL));
  exco_waker_wake(NULL);
  exco_waker_drop(NULL);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_waker, &i, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_ptr_nonnull(i.w);
  ck_assert_ptr_nonnull(i.w2);
  ck_assert_uint_eq(h.n_wake, 0);
  exco_waker_wake(i.w2);
  ck_assert_uint_eq(h.n_wake, 1);
  exco_waker_drop(i.w2);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(i.result, 0);
  /* A wake of a finished, dropped task does nothing. */
  exco_waker_wake(i.w);
  ck_assert_uint_eq(h.n_wake, 1);
  exco_waker_drop(i.w);
  h_host_destroy(&h);
}
END_TEST

START_TEST(strerror_each_code) {
  static const int codes[] = {
      EXCO_EINVAL, EXCO_ENOMEM,   EXCO_ECANCELED, EXCO_EPERM,
      EXCO_EBUSY,  EXCO_EALREADY, EXCO_EDEADLK,   EXCO_ENOTSUP,
  };
  const size_t n = sizeof(codes) / sizeof(codes[0]);
  const char *unknown = exco_strerror(-99999);
  size_t i, j;

  ck_assert_ptr_nonnull(unknown);
  ck_assert_int_ne(strlen(unknown), 0);
  ck_assert_ptr_nonnull(exco_strerror(INT32_MIN));
  ck_assert_ptr_nonnull(exco_strerror(0));
  ck_assert_ptr_nonnull(exco_strerror(12345));
  for (i = 0; i < n; i++) {
    const char *s = exco_strerror(codes[i]);

    ck_assert_ptr_nonnull(s);
    ck_assert_int_ne(strlen(s), 0);
    ck_assert_str_ne(s, unknown);
    for (j = 0; j < i; j++)
      ck_assert_str_ne(s, exco_strerror(codes[j]));
  }
  /* Any negative errno value is accepted.  (Whether one exco has no code
   * for is described or gets the generic string, the header leaves open.) */
  ck_assert_ptr_nonnull(exco_strerror(-EIO));
  ck_assert_int_ne(strlen(exco_strerror(-EIO)), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("await");
  TCase *tc = h_tcase("await", 30);

  tcase_add_test(tc, await_ready_future_returns_at_once);
  tcase_add_test(tc, await_pending_future_polled_again_after_wake);
  tcase_add_test(tc, leaf_poll_runs_on_coroutine_stack);
  tcase_add_test(tc, yield_wakes_and_suspends);
  tcase_add_test(tc, yield_lets_others_run);
  tcase_add_test(tc, outside_coroutine_is_eperm);
  tcase_add_test(tc, await_null_poll_is_einval);
  tcase_add_test(tc, errno_preserved_across_awaits);
  tcase_add_test(tc, errno_preserved_across_kept_yields);
  tcase_add_test(tc, yield_in_place_keeps_the_budget);
  tcase_add_test(tc, yield_in_place_lets_a_woken_task_run_first);
  tcase_add_test(tc, yield_in_place_lets_timers_fire);
  tcase_add_test(tc, yield_in_place_local_round_is_bounded);
  tcase_add_test(tc, yields_between_tasks_stay_round_robin);
  tcase_add_test(tc, yield_switched_to_sees_its_cancel);
  tcase_add_test(tc, spawn_in_coroutine_defaults_to_current_executor);
  tcase_add_test(tc, current_inside_and_outside);
  tcase_add_test(tc, waker_current_clone_wake_drop);
  tcase_add_test(tc, strerror_each_code);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
