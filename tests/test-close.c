/*
 * test-close.c -- the tasks of an executor and closing it:
 * exco_executor_foreach, exco_executor_cancel_all and
 * exco_executor_close, on the local executor, on a bare three-callback
 * host (the harness's recording host) and on a small driver on the shared
 * run queue written here (<exco/driver.h>: schedule, notify, keepalive and
 * close hooks over an eventfd).
 *
 * As everywhere: coroutines only record what they saw; the tests assert
 * after control has come back.
 */
#include "harness.h"

#include <exco/driver.h>

#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define V(n) ((void *)(uintptr_t)(n))
#define SENTINEL ((exco_task *)V(0xdead))

/*
 * Zeroed memory passed where an executor is expected: the library must
 * see that it is not one rather than use it.
 */
static _Alignas(64) unsigned char not_a_handle[8192];
#define NOT_AN_EXECUTOR ((exco_executor *)(void *)not_a_handle)

static void *fn_nothing(void *arg) {
  (void)arg;
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* The close callback and the tasks that get closed on                     */
/* ---------------------------------------------------------------------- */

typedef struct closer {
  int calls;
  int *counter; /* a shared sequence counter, or NULL */
  int seq;      /* its value stamped at the call */
  int *watch;   /* a value to snapshot at the call, or NULL */
  int watch_at_cb;
  int *flag; /* another one, or NULL */
  int flag_at_cb;
  int in_coroutine;
  pthread_t thread;
} closer;

static void on_close(void *arg) {
  closer *c = arg;

  c->calls++;
  c->thread = pthread_self();
  c->in_coroutine = exco_current() != NULL;
  if (c->counter != NULL)
    c->seq = ++*c->counter;
  if (c->watch != NULL)
    c->watch_at_cb = *c->watch;
  if (c->flag != NULL)
    c->flag_at_cb = *c->flag;
}

enum { V_AWAIT, V_SLEEP, V_YIELD };

/* A task that waits until cancelled, then tries to spawn. */
typedef struct victim {
  int how;             /* V_AWAIT, V_SLEEP, V_YIELD */
  exco_promise *p;     /* V_AWAIT: never resolved */
  int *finished;       /* shared count of victims that returned */
  atomic_int *waiting; /* counts victims about to wait, or NULL */
  int spawn_after;     /* try exco_spawn() once the wait has ended */
  int ran;
  int r;       /* the result that ended the wait */
  int r_spawn; /* exco_spawn() after that */
  long yields;
} victim;

static void *fn_victim(void *arg) {
  victim *v = arg;

  v->ran = 1;
  if (v->waiting != NULL)
    atomic_fetch_add(v->waiting, 1);
  switch (v->how) {
  case V_AWAIT:
    v->r = exco_promise_await(v->p, NULL);
    break;
  case V_SLEEP:
    v->r = exco_sleep(60000);
    break;
  default:
    while ((v->r = exco_yield()) == 0)
      v->yields++;
    break;
  }
  if (v->spawn_after)
    v->r_spawn = exco_spawn(NULL, fn_nothing, NULL, NULL, NULL);
  if (v->finished != NULL)
    ++*v->finished;
  return NULL;
}

static void victim_init(victim *v, int how, int *finished) {
  memset(v, 0, sizeof(*v));
  v->how = how;
  v->finished = finished;
  v->r = 1;
  v->r_spawn = 1;
  if (how == V_AWAIT)
    ck_assert_int_eq(exco_promise_new(&v->p), 0);
}

static void victim_fini(victim *v) {
  exco_promise_unref(v->p);
  v->p = NULL;
}

/* ---------------------------------------------------------------------- */
/* exco_executor_foreach                                                   */
/* ---------------------------------------------------------------------- */

enum { FE_TASKS = 5, FE_MAX = 16 };

static const char *const fe_names[FE_TASKS] = {"t0", "t1", "t2", "t3", "t4"};

typedef struct seen {
  int n;
  const char *names[FE_MAX];
  exco_task *tasks[FE_MAX];
  int in_coroutine;
  int stop_after; /* return stop_value at this visit (0: never) */
  int stop_value;
  const char *cancel_name; /* exco_task_cancel() the task so named */
  int r_cancel;
} seen;

static int visit(exco_task *t, void *arg) {
  seen *s = arg;
  const char *name = exco_task_name(t);

  if (s->n < FE_MAX) {
    s->names[s->n] = name;
    s->tasks[s->n] = t;
  }
  s->n++;
  if (exco_current() != NULL)
    s->in_coroutine = 1;
  if (s->cancel_name != NULL && name != NULL &&
      strcmp(name, s->cancel_name) == 0)
    s->r_cancel = exco_task_cancel(t);
  return s->n == s->stop_after ? s->stop_value : 0;
}

static void seen_reset(seen *s) {
  memset(s, 0, sizeof(*s));
  s->r_cancel = 1;
}

START_TEST(foreach_visits_exactly_the_live_tasks) {
  h_rig r;
  victim v[FE_TASKS];
  exco_task *unnamed_handle;
  exco_task *handles[FE_TASKS];
  victim unnamed;
  seen s;
  int i, finished = 0;

  h_rig_init(&r, _i);
  for (i = 0; i < FE_TASKS; i++) {
    exco_spawn_opts o;

    memset(&o, 0, sizeof(o));
    o.name = fe_names[i];
    victim_init(&v[i], V_AWAIT, &finished);
    ck_assert_int_eq(exco_spawn(r.ex, fn_victim, &v[i], &o, &handles[i]), 0);
  }
  /* Spawned and not yet polled: live, oldest first. */
  seen_reset(&s);
  ck_assert_int_eq(exco_executor_foreach(r.ex, visit, &s), 0);
  ck_assert_int_eq(s.n, FE_TASKS);
  for (i = 0; i < FE_TASKS; i++) {
    ck_assert_ptr_nonnull(s.names[i]);
    ck_assert_str_eq(s.names[i], fe_names[i]);
    ck_assert_ptr_eq(s.tasks[i], handles[i]);
  }
  ck_assert_int_eq(s.in_coroutine, 0);
  ck_assert_int_eq(h_rig_run_until_idle(&r), FE_TASKS);
  seen_reset(&s);
  ck_assert_int_eq(exco_executor_foreach(r.ex, visit, &s), 0);
  ck_assert_int_eq(s.n, FE_TASKS);

  /* Two finish and are dropped; an unnamed one joins. */
  ck_assert_int_eq(exco_promise_resolve(v[1].p, NULL), 0);
  ck_assert_int_eq(exco_promise_resolve(v[3].p, NULL), 0);
  victim_init(&unnamed, V_AWAIT, &finished);
  ck_assert_int_eq(exco_spawn(r.ex, fn_victim, &unnamed, NULL, &unnamed_handle),
                   0);
  ck_assert_int_eq(h_rig_run_until_idle(&r), FE_TASKS - 2 + 1);
  ck_assert_int_eq(finished, 2);
  seen_reset(&s);
  ck_assert_int_eq(exco_executor_foreach(r.ex, visit, &s), 0);
  ck_assert_int_eq(s.n, 4);
  ck_assert_str_eq(s.names[0], "t0");
  ck_assert_str_eq(s.names[1], "t2");
  ck_assert_str_eq(s.names[2], "t4");
  ck_assert_ptr_null(s.names[3]);
  ck_assert_ptr_eq(s.tasks[3], unnamed_handle);

  /* Stops at the first nonzero return, and returns it. */
  seen_reset(&s);
  s.stop_after = 2;
  s.stop_value = 7;
  ck_assert_int_eq(exco_executor_foreach(r.ex, visit, &s), 7);
  ck_assert_int_eq(s.n, 2);
  seen_reset(&s);
  s.stop_after = 1;
  s.stop_value = -3;
  ck_assert_int_eq(exco_executor_foreach(r.ex, visit, &s), -3);
  ck_assert_int_eq(s.n, 1);

  /* Bad arguments. */
  seen_reset(&s);
  ck_assert_int_eq(exco_executor_foreach(NULL, visit, &s), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_foreach(r.ex, NULL, &s), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_foreach(NOT_AN_EXECUTOR, visit, &s),
                   EXCO_EINVAL);
  ck_assert_int_eq(s.n, 0);

  /* Everything finishes: nothing left to visit. */
  for (i = 0; i < FE_TASKS; i++)
    if (i != 1 && i != 3)
      ck_assert_int_eq(exco_promise_resolve(v[i].p, NULL), 0);
  ck_assert_int_eq(exco_promise_resolve(unnamed.p, NULL), 0);
  ck_assert_int_eq(h_rig_run_until_idle(&r), 0);
  seen_reset(&s);
  ck_assert_int_eq(exco_executor_foreach(r.ex, visit, &s), 0);
  ck_assert_int_eq(s.n, 0);
  ck_assert_int_eq(finished, FE_TASKS + 1);
  for (i = 0; i < FE_TASKS; i++) {
    ck_assert_int_eq(v[i].r, 0);
    exco_task_release(handles[i]);
    victim_fini(&v[i]);
  }
  exco_task_release(unnamed_handle);
  victim_fini(&unnamed);
  h_rig_fini(&r);
}
END_TEST

START_TEST(foreach_may_cancel) {
  h_rig r;
  victim v[FE_TASKS];
  seen s;
  int i, finished = 0;

  h_rig_init(&r, _i);
  for (i = 0; i < FE_TASKS; i++) {
    exco_spawn_opts o;

    memset(&o, 0, sizeof(o));
    o.name = fe_names[i];
    victim_init(&v[i], V_AWAIT, &finished);
    ck_assert_int_eq(exco_spawn(r.ex, fn_victim, &v[i], &o, NULL), 0);
  }
  ck_assert_int_eq(h_rig_run_until_idle(&r), FE_TASKS);
  seen_reset(&s);
  s.cancel_name = "t2";
  ck_assert_int_eq(exco_executor_foreach(r.ex, visit, &s), 0);
  ck_assert_int_eq(s.n, FE_TASKS);
  ck_assert_int_eq(s.r_cancel, 0);
  ck_assert_int_eq(h_rig_run_until_idle(&r), FE_TASKS - 1);
  ck_assert_int_eq(finished, 1);
  ck_assert_int_eq(v[2].r, EXCO_ECANCELED);
  for (i = 0; i < FE_TASKS; i++)
    if (i != 2)
      ck_assert_int_eq(exco_promise_resolve(v[i].p, NULL), 0);
  ck_assert_int_eq(h_rig_run_until_idle(&r), 0);
  for (i = 0; i < FE_TASKS; i++) {
    if (i != 2)
      ck_assert_int_eq(v[i].r, 0);
    victim_fini(&v[i]);
  }
  h_rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* exco_executor_cancel_all                                                */
/* ---------------------------------------------------------------------- */

START_TEST(cancel_all_counts_unfinished_tasks) {
  h_host h;
  h_ext *eq;
  victim w[3], u;
  int i, finished = 0;

  h_host_init(&h);
  ck_assert_int_eq(exco_executor_cancel_all(h.ex), 0);
  /* One task finished but not dropped yet. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_nothing, NULL, NULL, NULL), 0);
  eq = h_host_pop(&h);
  ck_assert_ptr_nonnull(eq);
  ck_assert_int_eq(h_host_poll(&h, eq), 0);
  /* Three waiting, and one never polled. */
  for (i = 0; i < 3; i++) {
    victim_init(&w[i], V_AWAIT, &finished);
    ck_assert_int_eq(exco_spawn(h.ex, fn_victim, &w[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(h_host_run_until_idle(&h), 4);
  victim_init(&u, V_AWAIT, &finished);
  ck_assert_int_eq(exco_spawn(h.ex, fn_victim, &u, NULL, NULL), 0);
  ck_assert_int_eq(u.ran, 0);

  ck_assert_int_eq(exco_executor_cancel_all(h.ex), 4);
  ck_assert_int_eq(h_host_run_until_idle(&h), 1);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(w[i].r, EXCO_ECANCELED);
  /* The never-polled task still ran, from the top, its await failing. */
  ck_assert_int_eq(u.ran, 1);
  ck_assert_int_eq(u.r, EXCO_ECANCELED);
  ck_assert_int_eq(finished, 4);
  /* Only the finished one is left: nothing to cancel. */
  ck_assert_int_eq(exco_executor_cancel_all(h.ex), 0);
  ck_assert_int_eq(h_host_drop(&h, eq), 0);
  ck_assert_int_eq(exco_executor_cancel_all(h.ex), 0);

  ck_assert_int_eq(exco_executor_cancel_all(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_cancel_all(NOT_AN_EXECUTOR), EXCO_EINVAL);
  for (i = 0; i < 3; i++)
    victim_fini(&w[i]);
  victim_fini(&u);
  h_host_destroy(&h);
}
END_TEST

enum { CA_TASKS = 20 };

typedef struct ca_thread {
  exco_executor *ex;
  atomic_int *waiting;
  long n;
  long r;
  int wait_failed;
} ca_thread;

static void *thread_cancel_all(void *arg) {
  ca_thread *c = arg;

  c->wait_failed = h_wait_at_least(c->waiting, (int)c->n) != 0;
  c->r = exco_executor_cancel_all(c->ex);
  return NULL;
}

START_TEST(cancel_all_from_another_thread) {
  exco_executor *ex;
  victim v[CA_TASKS];
  atomic_int waiting;
  ca_thread c;
  pthread_t t;
  int i, finished = 0;
  double t0;

  atomic_init(&waiting, 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (i = 0; i < CA_TASKS; i++) {
    victim_init(&v[i], i % 3 == 0 ? V_SLEEP : V_AWAIT, &finished);
    v[i].waiting = &waiting;
    ck_assert_int_eq(exco_spawn(ex, fn_victim, &v[i], NULL, NULL), 0);
  }
  memset(&c, 0, sizeof(c));
  c.ex = ex;
  c.waiting = &waiting;
  c.n = CA_TASKS;
  h_thread_start(&t, thread_cancel_all, &c);
  t0 = h_now();
  ck_assert_int_eq(exco_run(ex), 0);
  h_thread_join(t);
  ck_assert_int_eq(c.wait_failed, 0);
  /* None of them can finish before the cancel: exact. */
  ck_assert_int_eq(c.r, CA_TASKS);
  ck_assert_int_eq(finished, CA_TASKS);
  for (i = 0; i < CA_TASKS; i++) {
    ck_assert_int_eq(v[i].r, EXCO_ECANCELED);
    victim_fini(&v[i]);
  }
  ck_assert_msg(h_now() - t0 < 10.0, "run took %.1f s", h_now() - t0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* exco_executor_close: the local executor                                 */
/* ---------------------------------------------------------------------- */

typedef struct spawn_try {
  exco_executor *ex;
  exco_task *out;
  int r;
} spawn_try;

static void *thread_spawn(void *arg) {
  spawn_try *s = arg;

  s->r = exco_spawn(s->ex, fn_nothing, NULL, NULL, &s->out);
  return NULL;
}

START_TEST(close_local_with_pending_tasks) {
  exco_executor *ex;
  victim a, b, c;
  exco_task *ta, *out = SENTINEL;
  closer cl;
  spawn_try st;
  pthread_t t;
  int finished = 0;
  double t0;

  memset(&cl, 0, sizeof(cl));
  cl.watch = &finished;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  victim_init(&a, V_AWAIT, &finished);
  victim_init(&b, V_SLEEP, &finished);
  victim_init(&c, V_AWAIT, &finished);
  a.spawn_after = b.spawn_after = c.spawn_after = 1;
  ck_assert_int_eq(exco_spawn(ex, fn_victim, &a, NULL, &ta), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_victim, &b, NULL, NULL), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 2);
  /* Spawned, never polled. */
  ck_assert_int_eq(exco_spawn(ex, fn_victim, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_executor_live(ex), 3);

  ck_assert_int_eq(exco_executor_close(ex, on_close, &cl), 0);
  ck_assert_int_eq(cl.calls, 0);
  /* No new tasks, from this thread or another; out is not written. */
  ck_assert_int_eq(exco_spawn(ex, fn_nothing, NULL, NULL, &out),
                   EXCO_ESHUTDOWN);
  ck_assert_ptr_eq(out, SENTINEL);
  st.ex = ex;
  st.out = SENTINEL;
  st.r = 1;
  h_thread_start(&t, thread_spawn, &st);
  h_thread_join(t);
  ck_assert_int_eq(st.r, EXCO_ESHUTDOWN);
  ck_assert_ptr_eq(st.out, SENTINEL);
  ck_assert_int_eq(exco_executor_close(ex, on_close, &cl), EXCO_EALREADY);
  ck_assert_int_eq(exco_executor_live(ex), 3);
  ck_assert_int_eq(cl.calls, 0);

  t0 = h_now();
  ck_assert_int_eq(exco_run(ex), 0);
  /* ex is gone now. */
  ck_assert_msg(h_now() - t0 < 10.0, "run took %.1f s", h_now() - t0);
  ck_assert_int_eq(cl.calls, 1);
  ck_assert_int_eq(cl.watch_at_cb, 3);
  ck_assert_int_eq(cl.in_coroutine, 0);
  ck_assert(pthread_equal(cl.thread, pthread_self()));
  ck_assert_int_eq(a.r, EXCO_ECANCELED);
  ck_assert_int_eq(b.r, EXCO_ECANCELED);
  ck_assert_int_eq(c.ran, 1);
  ck_assert_int_eq(c.r, EXCO_ECANCELED);
  ck_assert_int_eq(a.r_spawn, EXCO_ESHUTDOWN);
  ck_assert_int_eq(b.r_spawn, EXCO_ESHUTDOWN);
  ck_assert_int_eq(c.r_spawn, EXCO_ESHUTDOWN);
  /* A join handle outlives the executor. */
  ck_assert_int_eq(exco_task_done(ta), 1);
  exco_task_release(ta);
  victim_fini(&a);
  victim_fini(&b);
  victim_fini(&c);
}
END_TEST

START_TEST(close_local_then_run_until_idle) {
  exco_executor *ex;
  victim a, b;
  closer cl;
  int finished = 0;

  memset(&cl, 0, sizeof(cl));
  cl.watch = &finished;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  victim_init(&a, V_AWAIT, &finished);
  victim_init(&b, V_SLEEP, &finished);
  ck_assert_int_eq(exco_spawn(ex, fn_victim, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_victim, &b, NULL, NULL), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 2);
  ck_assert_int_eq(exco_executor_close(ex, on_close, &cl), 0);
  ck_assert_int_eq(cl.calls, 0);
  /* The cancellations made both ready: one pass finishes them. */
  ck_assert_int_eq(exco_run_until_idle(ex), 0);
  ck_assert_int_eq(cl.calls, 1);
  ck_assert_int_eq(cl.watch_at_cb, 2);
  ck_assert_int_eq(a.r, EXCO_ECANCELED);
  ck_assert_int_eq(b.r, EXCO_ECANCELED);
  victim_fini(&a);
  victim_fini(&b);
}
END_TEST

typedef struct self_closer {
  closer *cl;
  int r_close;
  int calls_in_task;
  int r_yield;
  int r_close_again;
} self_closer;

static void *fn_self_close(void *arg) {
  self_closer *s = arg;

  s->r_close = exco_executor_close(exco_current_executor(), on_close, s->cl);
  s->calls_in_task = s->cl->calls;
  s->r_close_again = exco_executor_close(exco_current_executor(), NULL, NULL);
  /* This task is one of the live ones: cancelled too. */
  s->r_yield = exco_yield();
  return NULL;
}

START_TEST(close_local_from_inside_a_coroutine) {
  exco_executor *ex;
  victim w;
  self_closer s;
  closer cl;
  int finished = 0;

  memset(&cl, 0, sizeof(cl));
  memset(&s, 0, sizeof(s));
  cl.watch = &finished;
  s.cl = &cl;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  victim_init(&w, V_AWAIT, &finished);
  ck_assert_int_eq(exco_spawn(ex, fn_victim, &w, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_self_close, &s, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(s.r_close, 0);
  ck_assert_int_eq(s.calls_in_task, 0);
  ck_assert_int_eq(s.r_close_again, EXCO_EALREADY);
  ck_assert_int_eq(s.r_yield, EXCO_ECANCELED);
  ck_assert_int_eq(w.r, EXCO_ECANCELED);
  ck_assert_int_eq(cl.calls, 1);
  ck_assert_int_eq(cl.watch_at_cb, 1);
  ck_assert_int_eq(cl.in_coroutine, 0);
  victim_fini(&w);
}
END_TEST

START_TEST(close_with_no_live_task_calls_back_at_once) {
  exco_executor *ex;
  closer cl;
  h_host h;

  /* Never used. */
  memset(&cl, 0, sizeof(cl));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_executor_close(ex, on_close, &cl), 0);
  ck_assert_int_eq(cl.calls, 1);
  ck_assert(pthread_equal(cl.thread, pthread_self()));

  /* Used, all tasks gone. */
  memset(&cl, 0, sizeof(cl));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_nothing, NULL, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_executor_close(ex, on_close, &cl), 0);
  ck_assert_int_eq(cl.calls, 1);

  /* No callback. */
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_executor_close(ex, NULL, NULL), 0);

  /* The three-callback host, likewise. */
  memset(&cl, 0, sizeof(cl));
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_nothing, NULL, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run(&h), 0);
  ck_assert_int_eq(exco_executor_close(h.ex, on_close, &cl), 0);
  ck_assert_int_eq(cl.calls, 1);
  h.ex = NULL;
  h_host_assert_clean(&h);
  h_host_free_exts(&h);
}
END_TEST

START_TEST(close_bad_executors) {
  closer cl;
  exco_executor *d = exco_default_executor();

  memset(&cl, 0, sizeof(cl));
  ck_assert_int_eq(exco_executor_close(NULL, on_close, &cl), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_close(NOT_AN_EXECUTOR, on_close, &cl),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_close(d, on_close, &cl), EXCO_EINVAL);
  ck_assert_int_eq(cl.calls, 0);
  /* The default executor still works. */
  ck_assert_int_eq(exco_spawn(d, fn_nothing, NULL, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(NULL), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* exco_executor_close: a bare three-callback host                         */
/* ---------------------------------------------------------------------- */

/* The host's loop in its shutdown path: polls and drops until the close
 * callback has fired.  Returns 0, or -1 on a lost wakeup. */
static int pump_until_closed(h_host *h, closer *cl, int *in_drop) {
  while (cl->calls == 0) {
    h_ext *e = h_host_pop(h);
    struct timespec deadline;
    int r = 0;

    if (e != NULL) {
      if (e->dropped)
        continue;
      if (h_host_poll(h, e) == 0) {
        *in_drop = 1;
        r = h_host_drop(h, e);
        *in_drop = 0;
        if (r != 0)
          return -2;
      }
      continue;
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)h_wait_timeout();
    pthread_mutex_lock(&h->mu);
    while (h->qhead == NULL && r == 0)
      r = pthread_cond_timedwait(&h->cv, &h->mu, &deadline);
    pthread_mutex_unlock(&h->mu);
    if (r != 0)
      return -1;
  }
  return 0;
}

START_TEST(close_host_from_its_shutdown_path) {
  h_host h;
  victim a, b, c;
  h_flagged f;
  closer cl;
  exco_task *out = SENTINEL;
  int finished = 0, in_drop = 0;

  memset(&cl, 0, sizeof(cl));
  memset(&f, 0, sizeof(f));
  cl.watch = &finished;
  cl.flag = &in_drop;
  h_host_init(&h);
  h_flag_init(&f.flag);
  victim_init(&a, V_AWAIT, &finished);
  victim_init(&b, V_SLEEP, &finished);
  victim_init(&c, V_AWAIT, &finished);
  a.spawn_after = 1;
  ck_assert_int_eq(exco_spawn(h.ex, fn_victim, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_victim, &b, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(h.ex, h_flagged_body, &f, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 3);
  ck_assert_int_eq(exco_spawn(h.ex, fn_victim, &c, NULL, NULL), 0);

  /* The shutdown path. */
  ck_assert_int_eq(exco_executor_close(h.ex, on_close, &cl), 0);
  ck_assert_int_eq(cl.calls, 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_nothing, NULL, NULL, &out),
                   EXCO_ESHUTDOWN);
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert_int_eq(exco_executor_close(h.ex, on_close, &cl), EXCO_EALREADY);
  ck_assert_int_eq(pump_until_closed(&h, &cl, &in_drop), 0);
  ck_assert_int_eq(cl.calls, 1);
  /* Inside the exco_drop() that let the last task go, after all of them
   * had returned. */
  ck_assert_int_eq(cl.flag_at_cb, 1);
  ck_assert_int_eq(cl.watch_at_cb, 3);
  ck_assert_int_eq(cl.in_coroutine, 0);
  ck_assert_int_eq(h_host_live(&h), 0);
  ck_assert_int_eq(a.r, EXCO_ECANCELED);
  ck_assert_int_eq(b.r, EXCO_ECANCELED);
  ck_assert_int_eq(c.r, EXCO_ECANCELED);
  ck_assert_int_eq(c.ran, 1);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(f.result, EXCO_ECANCELED);
  ck_assert_int_eq(atomic_load(&f.flag.cancels), 1);
  ck_assert_int_eq(a.r_spawn, EXCO_ESHUTDOWN);
  /* Nothing more comes: the queue stays empty. */
  ck_assert_ptr_null(h_host_pop(&h));
  ck_assert_int_eq(cl.calls, 1);
  /* The host frees its own state; the executor is gone already. */
  h.ex = NULL;
  h_host_assert_clean(&h);
  h_host_free_exts(&h);
  h_flag_destroy(&f.flag);
  victim_fini(&a);
  victim_fini(&b);
  victim_fini(&c);
}
END_TEST

typedef struct holder {
  exco_hold *hold;
} holder;

static void *fn_hold(void *arg) {
  holder *h = arg;

  h->hold = exco_hold_stack();
  return NULL;
}

START_TEST(close_host_waits_for_stack_hold) {
  h_host h;
  holder hd;
  closer cl;
  int in_release = 0;

  memset(&cl, 0, sizeof(cl));
  memset(&hd, 0, sizeof(hd));
  cl.flag = &in_release;
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_hold, &hd, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run(&h), 0);
  ck_assert_ptr_nonnull(hd.hold);
  /* Dropped, but its stack is held. */
  ck_assert_int_eq(exco_executor_live(h.ex), 1);
  ck_assert_int_eq(exco_executor_close(h.ex, on_close, &cl), 0);
  ck_assert_int_eq(cl.calls, 0);
  in_release = 1;
  exco_hold_release(hd.hold);
  in_release = 0;
  ck_assert_int_eq(cl.calls, 1);
  ck_assert_int_eq(cl.flag_at_cb, 1);
  h.ex = NULL;
  h_host_assert_clean(&h);
  h_host_free_exts(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A driver on the shared run queue                                        */
/* ---------------------------------------------------------------------- */

/*
 * The loop: schedule sets a flag that makes the next iteration call
 * exco_driver_run(); notify writes an eventfd whose readiness makes it call
 * exco_driver_accept(); keepalive says whether the loop may block.  Like
 * uv_run(), the loop returns once nothing keeps it alive and nothing is
 * to do.  Everything but notify runs on the loop thread, which this
 * records.
 */
typedef struct tloop tloop;

struct tloop {
  exco_executor *ex;
  pthread_t thread; /* the loop thread (made the executor) */
  int efd;
  unsigned budget; /* for exco_driver_run() */
  int scheduled;
  int alive; /* from keepalive */
  int in_run, in_accept;
  int seq;        /* stamps for ordering */
  long runs;      /* exco_driver_run() calls */
  long max_ready; /* largest value it returned */
  atomic_int n_schedule, n_notify;
  atomic_int off_thread; /* schedule, keepalive or close hook elsewhere */
  int ka[16];            /* keepalive values, in order */
  int n_ka;
  int hook_calls, hook_seq, hook_in_accept, hook_in_run;
  int accept_seq;        /* when exco_driver_accept() returned 1 */
  void (*each)(tloop *); /* called at the top of each iteration */
  void *user;
};

enum { TL_IDLE = 0, TL_FREED = 1, TL_LOST = -1, TL_ERROR = -2 };

static int on_loop_thread(tloop *l) {
  if (pthread_equal(pthread_self(), l->thread))
    return 1;
  atomic_fetch_add(&l->off_thread, 1);
  return 0;
}

static void tl_schedule(void *data) {
  tloop *l = data;

  atomic_fetch_add(&l->n_schedule, 1);
  if (on_loop_thread(l))
    l->scheduled = 1;
}

static void tl_notify(void *data) {
  tloop *l = data;
  uint64_t one = 1;
  ssize_t r;

  atomic_fetch_add(&l->n_notify, 1);
  r = write(l->efd, &one, sizeof(one));
  (void)r;
}

static void tl_keepalive(void *data, int alive) {
  tloop *l = data;

  if (!on_loop_thread(l))
    return;
  if (l->n_ka < (int)(sizeof(l->ka) / sizeof(l->ka[0])))
    l->ka[l->n_ka] = alive;
  l->n_ka++;
  l->alive = alive;
}

static void tl_close_hook(void *data) {
  tloop *l = data;

  on_loop_thread(l);
  l->hook_calls++;
  l->hook_seq = ++l->seq;
  l->hook_in_accept = l->in_accept;
  l->hook_in_run = l->in_run;
}

static const exco_driver_ops tl_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "test-loop",
    .schedule = tl_schedule,
    .notify = tl_notify,
    .keepalive = tl_keepalive,
    .close = tl_close_hook,
};

static void tl_init(tloop *l) {
  memset(l, 0, sizeof(*l));
  atomic_init(&l->n_schedule, 0);
  atomic_init(&l->n_notify, 0);
  atomic_init(&l->off_thread, 0);
  l->thread = pthread_self();
  l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ck_assert_int_ge(l->efd, 0);
  ck_assert_int_eq(exco_driver_executor_new(&l->ex, &tl_ops, l), 0);
  ck_assert_ptr_nonnull(l->ex);
}

static void tl_fini(tloop *l) {
  close(l->efd);
  l->efd = -1;
}

static int tl_run(tloop *l) {
  for (;;) {
    struct pollfd pfd;
    uint64_t v;
    int r;

    if (l->each != NULL)
      l->each(l);
    if (read(l->efd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
      l->in_accept = 1;
      r = exco_driver_accept(l->ex);
      l->in_accept = 0;
      if (r == 1) {
        l->accept_seq = ++l->seq;
        l->ex = NULL;
        return TL_FREED;
      }
      if (r != 0)
        return TL_ERROR;
      continue;
    }
    if (l->scheduled) {
      l->scheduled = 0;
      l->in_run = 1;
      r = exco_driver_run(l->ex, l->budget);
      l->in_run = 0;
      l->runs++;
      if (r < 0)
        return TL_ERROR;
      if (r > l->max_ready)
        l->max_ready = r;
      if (r > 0)
        l->scheduled = 1;
      continue;
    }
    if (!l->alive)
      return TL_IDLE;
    pfd.fd = l->efd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, (int)(h_wait_timeout() * 1000)) == 0)
      return TL_LOST;
  }
}

/*
 * Closes an executor with no live task.  On the shared run queue the
 * close is finished by the loop thread, outside any poll: the close
 * notifies, and the next exco_driver_accept() calls the driver's hook,
 * then the callback, and returns 1 (exco.h, exco_executor_close()).  So
 * nothing of it may happen inside the call.
 */
static void tl_close_idle(tloop *l) {
  closer cl;
  int hooks = l->hook_calls, notifies = atomic_load(&l->n_notify), r;

  memset(&cl, 0, sizeof(cl));
  cl.counter = &l->seq;
  ck_assert_int_eq(exco_driver_live(l->ex), 0);
  ck_assert_int_eq(exco_executor_close(l->ex, on_close, &cl), 0);
  ck_assert_msg(l->hook_calls == hooks, "close hook called inside close");
  ck_assert_msg(cl.calls == 0, "callback called inside close");
  ck_assert_int_gt(atomic_load(&l->n_notify), notifies);
  r = tl_run(l);
  ck_assert_msg(r == TL_FREED, "deferred idle close: loop returned %d", r);
  ck_assert_int_eq(l->hook_calls, hooks + 1);
  ck_assert_int_eq(cl.calls, 1);
  ck_assert_int_lt(cl.seq, l->accept_seq);
  ck_assert_int_lt(l->hook_seq, cl.seq);
  ck_assert(pthread_equal(cl.thread, l->thread));
}

/* Tasks for the driver. */
typedef struct stepper {
  int yields;
  int steps;
  int errors;
  pthread_t ran_on;
} stepper;

static void *fn_stepper(void *arg) {
  stepper *s = arg;
  int i;

  s->ran_on = pthread_self();
  for (i = 0; i < s->yields; i++) {
    s->steps++;
    if (exco_yield() != 0)
      s->errors++;
  }
  s->steps++;
  return NULL;
}

START_TEST(rq_runs_and_yields) {
  tloop l;
  stepper s[2];
  int i, call;

  tl_init(&l);
  memset(s, 0, sizeof(s));
  ck_assert_int_eq(exco_driver_live(l.ex), 0);
  for (i = 0; i < 2; i++) {
    s[i].yields = 3;
    ck_assert_int_eq(exco_spawn(l.ex, fn_stepper, &s[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(exco_driver_live(l.ex), 2);
  ck_assert_int_eq(exco_executor_live(l.ex), 2);
  /* Not run before the loop runs them. */
  ck_assert_int_eq(s[0].steps, 0);
  /* One call to arrange for a run, whichever way the spawns went. */
  ck_assert_int_eq(atomic_load(&l.n_schedule) + atomic_load(&l.n_notify), 1);
  /* Each call polls each task once: the ones that yield wait for the
   * next call. */
  for (call = 1; call <= 3; call++) {
    ck_assert_int_eq(exco_driver_run(l.ex, 0), 2);
    ck_assert_int_eq(s[0].steps, call);
    ck_assert_int_eq(s[1].steps, call);
  }
  ck_assert_int_eq(exco_driver_run(l.ex, 0), 0);
  ck_assert_int_eq(s[0].steps, 4);
  ck_assert_int_eq(s[1].steps, 4);
  ck_assert_int_eq(s[0].errors + s[1].errors, 0);
  ck_assert(pthread_equal(s[0].ran_on, l.thread));
  ck_assert_int_eq(exco_driver_live(l.ex), 0);
  /* Whatever is still pending (a keepalive update after a notify) is
   * handled by the loop, which then has nothing to keep it alive. */
  ck_assert_int_eq(tl_run(&l), TL_IDLE);
  ck_assert_int_eq(l.n_ka, 2);
  ck_assert_int_eq(l.ka[0], 1);
  ck_assert_int_eq(l.ka[1], 0);
  ck_assert_int_eq(atomic_load(&l.off_thread), 0);
  tl_close_idle(&l);
  tl_fini(&l);
}
END_TEST

static void *fn_count(void *arg) {
  ++*(int *)arg;
  return NULL;
}

START_TEST(rq_budget_is_honoured) {
  tloop l;
  int ran = 0, i;

  tl_init(&l);
  for (i = 0; i < 10; i++)
    ck_assert_int_eq(exco_spawn(l.ex, fn_count, &ran, NULL, NULL), 0);
  ck_assert_int_eq(atomic_load(&l.n_schedule) + atomic_load(&l.n_notify), 1);
  ck_assert_int_eq(exco_driver_live(l.ex), 10);
  ck_assert_int_eq(exco_driver_run(l.ex, 3), 7);
  ck_assert_int_eq(ran, 3);
  ck_assert_int_eq(exco_driver_live(l.ex), 7);
  ck_assert_int_eq(exco_driver_run(l.ex, 3), 4);
  ck_assert_int_eq(ran, 6);
  ck_assert_int_eq(exco_driver_run(l.ex, 1), 3);
  ck_assert_int_eq(ran, 7);
  ck_assert_int_eq(exco_driver_run(l.ex, 0), 0);
  ck_assert_int_eq(ran, 10);
  ck_assert_int_eq(exco_driver_live(l.ex), 0);
  ck_assert_int_eq(exco_driver_run(l.ex, 0), 0);
  ck_assert_int_eq(tl_run(&l), TL_IDLE);
  ck_assert_int_eq(l.n_ka, 2);
  ck_assert_int_eq(l.ka[0], 1);
  ck_assert_int_eq(l.ka[1], 0);
  ck_assert_int_eq(atomic_load(&l.off_thread), 0);
  tl_close_idle(&l);
  tl_fini(&l);
}
END_TEST

START_TEST(rq_loop_with_budget) {
  enum { N = 30 };
  tloop l;
  stepper s[N];
  int i;

  tl_init(&l);
  memset(s, 0, sizeof(s));
  l.budget = 4;
  for (i = 0; i < N; i++) {
    s[i].yields = i % 5;
    ck_assert_int_eq(exco_spawn(l.ex, fn_stepper, &s[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(tl_run(&l), TL_IDLE);
  for (i = 0; i < N; i++) {
    ck_assert_int_eq(s[i].steps, s[i].yields + 1);
    ck_assert_int_eq(s[i].errors, 0);
  }
  /* Never more than the budget per call: at least N/4 calls. */
  ck_assert_int_ge(l.runs, N / 4);
  ck_assert_int_gt(l.max_ready, 0);
  ck_assert_int_eq(l.n_ka, 2);
  ck_assert_int_eq(atomic_load(&l.off_thread), 0);
  tl_close_idle(&l);
  tl_fini(&l);
}
END_TEST

enum { XW_TASKS = 8 };

typedef struct xwait {
  exco_promise *p;
  atomic_int *waiting;
  int r;
  void *v;
  pthread_t ran_on;
} xwait;

static void *fn_xwait(void *arg) {
  xwait *w = arg;

  w->ran_on = pthread_self();
  atomic_fetch_add(w->waiting, 1);
  w->r = exco_promise_await(w->p, &w->v);
  return NULL;
}

typedef struct xthread {
  exco_executor *ex;
  xwait *w;
  atomic_int *waiting;
  stepper extra;
  int r_spawn;
  int wait_failed;
} xthread;

static void *thread_resolve_all(void *arg) {
  xthread *x = arg;
  int i;

  x->wait_failed = h_wait_at_least(x->waiting, XW_TASKS) != 0;
  /* A spawn from another thread, while the tasks keep the loop alive. */
  x->r_spawn = exco_spawn(x->ex, fn_stepper, &x->extra, NULL, NULL);
  for (i = 0; i < XW_TASKS; i++) {
    exco_promise_resolve(x->w[i].p, V(100 + i));
    if (i % 3 == 0)
      sched_yield();
  }
  return NULL;
}

START_TEST(rq_cross_thread_wakes_are_delivered) {
  tloop l;
  xwait w[XW_TASKS];
  xthread x;
  atomic_int waiting;
  pthread_t t;
  int i;

  atomic_init(&waiting, 0);
  tl_init(&l);
  memset(w, 0, sizeof(w));
  memset(&x, 0, sizeof(x));
  for (i = 0; i < XW_TASKS; i++) {
    ck_assert_int_eq(exco_promise_new(&w[i].p), 0);
    w[i].waiting = &waiting;
    w[i].r = 1;
    ck_assert_int_eq(exco_spawn(l.ex, fn_xwait, &w[i], NULL, NULL), 0);
  }
  x.ex = l.ex;
  x.w = w;
  x.waiting = &waiting;
  x.extra.yields = 2;
  x.r_spawn = 1;
  h_thread_start(&t, thread_resolve_all, &x);
  ck_assert_int_eq(tl_run(&l), TL_IDLE);
  h_thread_join(t);
  ck_assert_int_eq(x.wait_failed, 0);
  ck_assert_int_eq(x.r_spawn, 0);
  ck_assert_int_eq(x.extra.steps, 3);
  ck_assert(pthread_equal(x.extra.ran_on, l.thread));
  for (i = 0; i < XW_TASKS; i++) {
    ck_assert_int_eq(w[i].r, 0);
    ck_assert_ptr_eq(w[i].v, V(100 + i));
    ck_assert(pthread_equal(w[i].ran_on, l.thread));
    exco_promise_unref(w[i].p);
  }
  /* At least one notification, and no more than one per wake from the
   * other thread (the resolves and the spawn). */
  ck_assert_int_ge(atomic_load(&l.n_notify), 1);
  ck_assert_int_le(atomic_load(&l.n_notify), XW_TASKS + 1);
  ck_assert_int_eq(l.n_ka, 2);
  ck_assert_int_eq(l.ka[0], 1);
  ck_assert_int_eq(l.ka[1], 0);
  ck_assert_int_eq(atomic_load(&l.off_thread), 0);
  ck_assert_int_eq(exco_driver_live(l.ex), 0);
  tl_close_idle(&l);
  tl_fini(&l);
}
END_TEST

/* Closes the executor from the loop, once it has run the tasks twice. */
typedef struct loop_closer {
  closer cl;
  int done;
  int r_close;
  int r_spawn;
  int r_close_again;
  int calls_at_close;
} loop_closer;

static void close_after_first_run(tloop *l) {
  loop_closer *lc = l->user;

  if (lc->done || l->runs < 2)
    return;
  lc->done = 1;
  lc->r_close = exco_executor_close(l->ex, on_close, &lc->cl);
  lc->calls_at_close = lc->cl.calls;
  lc->r_spawn = exco_spawn(l->ex, fn_nothing, NULL, NULL, NULL);
  lc->r_close_again = exco_executor_close(l->ex, on_close, &lc->cl);
}

START_TEST(rq_close_from_the_loop_with_tasks_pending) {
  tloop l;
  victim a, b, c;
  loop_closer lc;
  int finished = 0, r;
  double t0;

  tl_init(&l);
  memset(&lc, 0, sizeof(lc));
  lc.cl.counter = &l.seq;
  lc.cl.watch = &finished;
  lc.cl.flag = &l.in_accept;
  l.user = &lc;
  l.each = close_after_first_run;
  victim_init(&a, V_AWAIT, &finished);
  victim_init(&b, V_SLEEP, &finished);
  victim_init(&c, V_YIELD, &finished);
  a.spawn_after = 1;
  ck_assert_int_eq(exco_spawn(l.ex, fn_victim, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(l.ex, fn_victim, &b, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(l.ex, fn_victim, &c, NULL, NULL), 0);
  t0 = h_now();
  r = tl_run(&l);
  ck_assert_msg(r == TL_FREED, "loop returned %d", r);
  ck_assert_msg(h_now() - t0 < 10.0, "loop took %.1f s", h_now() - t0);
  ck_assert_int_eq(lc.done, 1);
  ck_assert_int_eq(lc.r_close, 0);
  ck_assert_int_eq(lc.calls_at_close, 0);
  ck_assert_int_eq(lc.r_spawn, EXCO_ESHUTDOWN);
  ck_assert_int_eq(lc.r_close_again, EXCO_EALREADY);
  /* The driver's hook, then the user's callback, both inside the
   * exco_driver_accept() that then returned 1, none inside a run. */
  ck_assert_int_eq(l.hook_calls, 1);
  ck_assert_int_eq(lc.cl.calls, 1);
  ck_assert_int_gt(l.hook_seq, 0);
  ck_assert_int_lt(l.hook_seq, lc.cl.seq);
  ck_assert_int_lt(lc.cl.seq, l.accept_seq);
  ck_assert_int_eq(l.hook_in_accept, 1);
  ck_assert_int_eq(l.hook_in_run, 0);
  ck_assert_int_eq(lc.cl.flag_at_cb, 1);
  ck_assert_int_eq(lc.cl.in_coroutine, 0);
  ck_assert(pthread_equal(lc.cl.thread, l.thread));
  /* After every task had returned. */
  ck_assert_int_eq(lc.cl.watch_at_cb, 3);
  ck_assert_int_eq(a.r, EXCO_ECANCELED);
  ck_assert_int_eq(b.r, EXCO_ECANCELED);
  ck_assert_int_eq(c.r, EXCO_ECANCELED);
  ck_assert_int_gt(c.yields, 0);
  ck_assert_int_eq(a.r_spawn, EXCO_ESHUTDOWN);
  ck_assert_int_eq(atomic_load(&l.off_thread), 0);
  tl_fini(&l);
  victim_fini(&a);
  victim_fini(&b);
  victim_fini(&c);
}
END_TEST

START_TEST(rq_close_from_a_coroutine) {
  tloop l;
  victim w;
  self_closer s;
  closer cl;
  int finished = 0, r;

  tl_init(&l);
  memset(&cl, 0, sizeof(cl));
  memset(&s, 0, sizeof(s));
  cl.counter = &l.seq;
  cl.watch = &finished;
  s.cl = &cl;
  victim_init(&w, V_AWAIT, &finished);
  ck_assert_int_eq(exco_spawn(l.ex, fn_victim, &w, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(l.ex, fn_self_close, &s, NULL, NULL), 0);
  r = tl_run(&l);
  ck_assert_msg(r == TL_FREED, "loop returned %d", r);
  ck_assert_int_eq(s.r_close, 0);
  ck_assert_int_eq(s.calls_in_task, 0);
  ck_assert_int_eq(s.r_close_again, EXCO_EALREADY);
  ck_assert_int_eq(s.r_yield, EXCO_ECANCELED);
  ck_assert_int_eq(w.r, EXCO_ECANCELED);
  ck_assert_int_eq(l.hook_calls, 1);
  ck_assert_int_eq(cl.calls, 1);
  ck_assert_int_lt(l.hook_seq, cl.seq);
  ck_assert_int_lt(cl.seq, l.accept_seq);
  ck_assert_int_eq(l.hook_in_run, 0);
  ck_assert_int_eq(cl.in_coroutine, 0);
  ck_assert_int_eq(cl.watch_at_cb, 1);
  ck_assert_int_eq(atomic_load(&l.off_thread), 0);
  tl_fini(&l);
  victim_fini(&w);
}
END_TEST

START_TEST(rq_close_idle_and_foreach) {
  tloop l;
  victim v;
  seen s;
  int finished = 0;

  tl_init(&l);
  /* foreach and cancel_all work on this kind too. */
  victim_init(&v, V_AWAIT, &finished);
  ck_assert_int_eq(exco_spawn(l.ex, fn_victim, &v, NULL, NULL), 0);
  seen_reset(&s);
  ck_assert_int_eq(exco_executor_foreach(l.ex, visit, &s), 0);
  ck_assert_int_eq(s.n, 1);
  ck_assert_int_eq(exco_driver_run(l.ex, 0), 0);
  ck_assert_int_eq(exco_executor_cancel_all(l.ex), 1);
  ck_assert_int_eq(tl_run(&l), TL_IDLE);
  ck_assert_int_eq(v.r, EXCO_ECANCELED);
  ck_assert_int_eq(exco_executor_cancel_all(l.ex), 0);
  tl_close_idle(&l);
  ck_assert_int_eq(l.hook_calls, 1);
  ck_assert_int_eq(l.hook_in_run, 0);
  ck_assert_int_eq(atomic_load(&l.off_thread), 0);
  tl_fini(&l);
  victim_fini(&v);
}
END_TEST

START_TEST(rq_close_idle_frees_at_next_accept) {
  tloop l;
  int ran = 0;

  /* Never used. */
  tl_init(&l);
  tl_close_idle(&l);
  tl_fini(&l);

  /* Used, all tasks gone. */
  tl_init(&l);
  ck_assert_int_eq(exco_spawn(l.ex, fn_count, &ran, NULL, NULL), 0);
  ck_assert_int_eq(tl_run(&l), TL_IDLE);
  ck_assert_int_eq(ran, 1);
  tl_close_idle(&l);
  ck_assert_int_eq(l.hook_in_run, 0);
  ck_assert_int_eq(atomic_load(&l.off_thread), 0);
  tl_fini(&l);
}
END_TEST

/* A stack hold released on another thread is the close's last stake: the
 * close is then finished from that thread's notify, by the loop. */
typedef struct remote_holder {
  holder h; /* fn_hold's */
  atomic_int go;
} remote_holder;

static void *thread_release(void *arg) {
  remote_holder *rh = arg;

  if (h_wait_at_least(&rh->go, 1) == 0)
    exco_hold_release(rh->h.hold);
  return NULL;
}

START_TEST(rq_close_finished_by_a_hold_released_elsewhere) {
  tloop l;
  remote_holder h;
  closer cl;
  pthread_t t;
  int r;

  tl_init(&l);
  memset(&h, 0, sizeof(h));
  atomic_init(&h.go, 0);
  memset(&cl, 0, sizeof(cl));
  cl.counter = &l.seq;
  ck_assert_int_eq(exco_spawn(l.ex, fn_hold, &h.h, NULL, NULL), 0);
  ck_assert_int_eq(tl_run(&l), TL_IDLE);
  ck_assert_ptr_nonnull(h.h.hold);
  /* The task is dropped; its held stack still counts. */
  ck_assert_int_eq(exco_driver_live(l.ex), 0);
  ck_assert_int_eq(exco_executor_live(l.ex), 1);
  ck_assert_int_eq(exco_executor_close(l.ex, on_close, &cl), 0);
  h_thread_start(&t, thread_release, &h);
  atomic_store(&h.go, 1);
  r = tl_run(&l);
  h_thread_join(t);
  ck_assert_msg(r == TL_FREED, "loop returned %d", r);
  ck_assert_int_eq(l.hook_calls, 1);
  ck_assert_int_eq(cl.calls, 1);
  ck_assert_int_lt(l.hook_seq, cl.seq);
  ck_assert(pthread_equal(cl.thread, l.thread));
  ck_assert_int_eq(atomic_load(&l.off_thread), 0);
  tl_fini(&l);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("close");
  TCase *tc = h_tcase("foreach", 30);

  tcase_add_loop_test(tc, foreach_visits_exactly_the_live_tasks, 0,
                      H_RIG_KINDS);
  tcase_add_loop_test(tc, foreach_may_cancel, 0, H_RIG_KINDS);
  tcase_add_test(tc, cancel_all_counts_unfinished_tasks);
  tcase_add_test(tc, cancel_all_from_another_thread);
  suite_add_tcase(s, tc);

  tc = h_tcase("close", 30);
  tcase_add_test(tc, close_local_with_pending_tasks);
  tcase_add_test(tc, close_local_then_run_until_idle);
  tcase_add_test(tc, close_local_from_inside_a_coroutine);
  tcase_add_test(tc, close_with_no_live_task_calls_back_at_once);
  tcase_add_test(tc, close_bad_executors);
  tcase_add_test(tc, close_host_from_its_shutdown_path);
  tcase_add_test(tc, close_host_waits_for_stack_hold);
  suite_add_tcase(s, tc);

  tc = h_tcase("run-queue", 30);
  tcase_add_test(tc, rq_runs_and_yields);
  tcase_add_test(tc, rq_budget_is_honoured);
  tcase_add_test(tc, rq_loop_with_budget);
  tcase_add_test(tc, rq_cross_thread_wakes_are_delivered);
  tcase_add_test(tc, rq_close_from_the_loop_with_tasks_pending);
  tcase_add_test(tc, rq_close_from_a_coroutine);
  tcase_add_test(tc, rq_close_idle_and_foreach);
  tcase_add_test(tc, rq_close_idle_frees_at_next_accept);
  tcase_add_test(tc, rq_close_finished_by_a_hold_released_elsewhere);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
