/*
 * test-dart.c -- the Dart driver (<exco/dart.h>, libexco-dart) against the
 * stand-in isolate of tests/dart-standin.h: a port drained by its own
 * thread whose listener polls and drops as drivers/dart/exco.dart does.
 *
 * Covered: yields, promises resolved on other threads, sleeps (fired by
 * exco's timer helper thread: the driver has no timer hook), joins; exact
 * poll and drop counts for many tasks x yields; a closed port's stranded
 * tasks and the shutdown that drops them (their clean-up runs, nothing
 * leaks); messages discarded by the close; the Dart side dropping a
 * pending task (cancelled, with and without a message on its way);
 * exco_executor_close() from the isolate's thread with tasks pending;
 * two executors on two ports at once; the seed's trio on the default
 * executor; argument errors.
 *
 * No ck_assert runs on a coroutine's stack or on a stand-in's thread:
 * those record into plain or atomic variables, and the test asserts once
 * control is back on its own thread.
 */
#include "dart-standin.h"
#include "harness.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exco/dart.h"
#include "exco/driver.h"
#include "rust_async_executor.h"

#define V(n) ((void *)(uintptr_t)(n))

/* Waits until the default listener of @p has seen the message 0 and, as
 * it does next, closed the port (checking the count alone raced the
 * close: distcheck's run of test-dart found the port still open). */
static int wait_gone(dart_standin *p) {
  double end = h_now() + h_wait_timeout();
  dart_standin_stats st;

  for (;;) {
    dart_standin_stats_get(p, &st);
    if (st.gone > 0 && dart_standin_closed(p))
      return 0;
    if (h_now() > end)
      return -1;
    sched_yield();
  }
}

/* A port with the default listener and an executor on it. */
typedef struct rig {
  dart_standin *p;
  exco_executor *ex;
} rig;

static void rig_open(rig *r) {
  ck_assert_int_eq(dart_standin_open(&r->p, NULL, NULL), 0);
  ck_assert_int_eq(exco_dart_executor_new(&r->ex, dart_standin_port(r->p),
                                          dart_standin_post),
                   0);
  ck_assert_ptr_nonnull(r->ex);
}

/* Checks the listener's error counters. */
static void assert_clean(dart_standin *p) {
  dart_standin_stats st;

  dart_standin_stats_get(p, &st);
  ck_assert_uint_eq(st.poll_errors, 0);
  ck_assert_uint_eq(st.drop_errors, 0);
  ck_assert_uint_eq(st.bad_type, 0);
}

/* Frees an executor with no task left: the listener then gets 0. */
static void rig_fini(rig *r) {
  ck_assert_int_eq(dart_standin_wait_idle(r->p, h_wait_timeout()), 0);
  ck_assert_int_eq(exco_dart_executor_stranded(r->ex), 0);
  ck_assert_int_eq(exco_executor_live(r->ex), 0);
  ck_assert_int_eq(exco_executor_free(r->ex), 0);
  ck_assert_int_eq(wait_gone(r->p), 0);
  ck_assert_int_eq(dart_standin_closed(r->p), 1);
  assert_clean(r->p);
  dart_standin_free(r->p);
}

/* ---------------------------------------------------------------------- */
/* Yields: exact counts                                                    */
/* ---------------------------------------------------------------------- */

typedef struct yielder {
  int yields;
  atomic_int *steps;
  atomic_int *done;
  atomic_int *errors;
  exco_executor *expect;
} yielder;

static void *yield_body(void *arg) {
  yielder *y = arg;

  if (exco_current_executor() != y->expect)
    atomic_fetch_add(y->errors, 1);
  for (int i = 0; i < y->yields; i++) {
    if (exco_yield() != 0)
      atomic_fetch_add(y->errors, 1);
    atomic_fetch_add(y->steps, 1);
  }
  atomic_fetch_add(y->done, 1);
  return NULL;
}

START_TEST(t_yield_counts) {
  enum { TASKS = 100 };
  int yields = (int)h_scale(50);
  atomic_int steps = 0, done = 0, errors = 0;
  yielder y = {yields, &steps, &done, &errors, NULL};
  dart_standin_stats st;
  rig r;

  rig_open(&r);
  y.expect = r.ex;
  for (int i = 0; i < TASKS; i++)
    ck_assert_int_eq(exco_spawn(r.ex, yield_body, &y, NULL, NULL), 0);
  ck_assert_int_eq(h_wait_at_least(&done, TASKS), 0);
  ck_assert_int_eq(dart_standin_wait_idle(r.p, h_wait_timeout()), 0);
  ck_assert_int_eq(atomic_load(&errors), 0);
  ck_assert_int_eq(atomic_load(&steps), TASKS * yields);
  dart_standin_stats_get(r.p, &st);
  /* One message per poll: the first run, then one per yield. */
  ck_assert_uint_eq(st.posted, (unsigned long)TASKS * (yields + 1));
  ck_assert_uint_eq(st.handled, st.posted);
  ck_assert_uint_eq(st.polls, (unsigned long)TASKS * (yields + 1));
  ck_assert_uint_eq(st.pending, (unsigned long)TASKS * yields);
  ck_assert_uint_eq(st.finished, TASKS);
  ck_assert_uint_eq(st.drops, TASKS);
  ck_assert_uint_eq(st.refused, 0);
  rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Promises from other threads, sleeps, joins                              */
/* ---------------------------------------------------------------------- */

typedef struct waiter {
  exco_promise *p;
  void *value;
  int err;
  atomic_int *done;
} waiter;

static void *await_body(void *arg) {
  waiter *w = arg;

  w->err = exco_promise_await(w->p, &w->value);
  atomic_fetch_add(w->done, 1);
  return NULL;
}

typedef struct resolver {
  waiter *w;
  int n;
} resolver;

static void *resolve_thread(void *arg) {
  resolver *rs = arg;

  for (int i = 0; i < rs->n; i++) {
    sched_yield();
    exco_promise_resolve(rs->w[i].p, V(i + 1));
  }
  return NULL;
}

START_TEST(t_promise_threads) {
  enum { N = 64 };
  waiter w[N];
  atomic_int done = 0;
  resolver rs = {w, N};
  pthread_t th;
  rig r;

  rig_open(&r);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(exco_promise_new(&w[i].p), 0);
    w[i].value = NULL;
    w[i].err = 1;
    w[i].done = &done;
    ck_assert_int_eq(exco_spawn(r.ex, await_body, &w[i], NULL, NULL), 0);
  }
  h_thread_start(&th, resolve_thread, &rs);
  h_thread_join(th);
  ck_assert_int_eq(h_wait_at_least(&done, N), 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(w[i].err, 0);
    ck_assert_ptr_eq(w[i].value, V(i + 1));
    exco_promise_unref(w[i].p);
  }
  rig_fini(&r);
}
END_TEST

typedef struct sleeper {
  uint64_t ms;
  int64_t slept;
  int err;
  atomic_int *done;
} sleeper;

static void *sleep_body(void *arg) {
  sleeper *s = arg;
  int64_t t0 = exco_now();

  s->err = exco_sleep(s->ms);
  s->slept = exco_now() - t0;
  atomic_fetch_add(s->done, 1);
  return NULL;
}

START_TEST(t_sleep) {
  enum { N = 8 };
  sleeper s[N];
  atomic_int done = 0;
  rig r;

  rig_open(&r);
  for (int i = 0; i < N; i++) {
    s[i].ms = 5 + 5 * (uint64_t)i;
    s[i].slept = -1;
    s[i].err = 1;
    s[i].done = &done;
    ck_assert_int_eq(exco_spawn(r.ex, sleep_body, &s[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(h_wait_at_least(&done, N), 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(s[i].err, 0);
    ck_assert_int_ge(s[i].slept, (int64_t)s[i].ms);
  }
  rig_fini(&r);
}
END_TEST

typedef struct joiner {
  void *result;
  int err;
  int spawn_err;
  atomic_int *done;
} joiner;

static void *child_body(void *arg) {
  exco_yield();
  exco_sleep(2);
  return arg;
}

static void *join_body(void *arg) {
  joiner *j = arg;
  exco_task *child;

  /* NULL: the running coroutine's executor. */
  j->spawn_err = exco_spawn(NULL, child_body, V(42), NULL, &child);
  if (j->spawn_err == 0) {
    j->err = exco_join(child, &j->result);
    exco_task_release(child);
  }
  atomic_fetch_add(j->done, 1);
  return NULL;
}

START_TEST(t_join) {
  enum { N = 16 };
  joiner j[N];
  atomic_int done = 0;
  rig r;

  rig_open(&r);
  for (int i = 0; i < N; i++) {
    j[i].result = NULL;
    j[i].err = 1;
    j[i].spawn_err = 1;
    j[i].done = &done;
    ck_assert_int_eq(exco_spawn(r.ex, join_body, &j[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(h_wait_at_least(&done, N), 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(j[i].spawn_err, 0);
    ck_assert_int_eq(j[i].err, 0);
    ck_assert_ptr_eq(j[i].result, V(42));
  }
  rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A closed port: stranded tasks, discarded messages, shutdown             */
/* ---------------------------------------------------------------------- */

typedef struct cleaner {
  exco_promise *p;
  atomic_int ran;     /* the body started */
  atomic_int cleaned; /* it reached its clean-up */
  int err;
} cleaner;

static void *clean_body(void *arg) {
  cleaner *c = arg;

  atomic_store(&c->ran, 1);
  c->err = exco_promise_await(c->p, NULL);
  atomic_store(&c->cleaned, 1);
  return NULL;
}

typedef struct closed_cb {
  atomic_int calls;
  atomic_int on_port_thread;
  dart_standin *p;
} closed_cb;

static void on_closed(void *arg) {
  closed_cb *c = arg;

  atomic_fetch_add(&c->calls, 1);
  if (dart_standin_on_thread(c->p))
    atomic_fetch_add(&c->on_port_thread, 1);
}

typedef struct shutdown_call {
  exco_executor *ex;
  closed_cb *cb;
  long result;
  int close_port;   /* close the port first (from its own thread) */
  atomic_int *gate; /* if not NULL: wait until it is nonzero first */
  dart_standin *p;
} shutdown_call;

static void do_shutdown(void *arg) {
  shutdown_call *s = arg;

  if (s->gate != NULL)
    while (atomic_load(s->gate) == 0)
      sched_yield();
  if (s->close_port)
    dart_standin_close(s->p);
  s->result = exco_dart_executor_shutdown(s->ex, on_closed, s->cb);
}

START_TEST(t_stranded) {
  enum { N = 10 };
  cleaner c[N + 1];
  closed_cb cb = {0, 0, NULL};
  shutdown_call sc;
  dart_standin_stats st;
  rig r;

  rig_open(&r);
  cb.p = r.p;
  for (int i = 0; i < N + 1; i++) {
    ck_assert_int_eq(exco_promise_new(&c[i].p), 0);
    atomic_init(&c[i].ran, 0);
    atomic_init(&c[i].cleaned, 0);
    c[i].err = 1;
  }
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(exco_spawn(r.ex, clean_body, &c[i], NULL, NULL), 0);
  ck_assert_int_eq(dart_standin_wait_idle(r.p, h_wait_timeout()), 0);
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(atomic_load(&c[i].ran), 1);
  ck_assert_int_eq(exco_dart_executor_stranded(r.ex), 0);

  /* The isolate closes its port; the wakes that follow can't be posted. */
  dart_standin_close(r.p);
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(exco_promise_resolve(c[i].p, V(1)), 0);
  /* A spawn onto the closed port strands before it ever runs. */
  ck_assert_int_eq(exco_spawn(r.ex, clean_body, &c[N], NULL, NULL), 0);
  ck_assert_int_eq(exco_dart_executor_stranded(r.ex), N + 1);
  ck_assert_int_eq(exco_executor_live(r.ex), N + 1);
  dart_standin_stats_get(r.p, &st);
  ck_assert_uint_eq(st.refused, N + 1);
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(atomic_load(&c[i].cleaned), 0);

  /* The isolate's shutdown path, on its own thread. */
  memset(&sc, 0, sizeof(sc));
  sc.ex = r.ex;
  sc.cb = &cb;
  sc.p = r.p;
  ck_assert_int_eq(
      dart_standin_call_wait(r.p, do_shutdown, &sc, h_wait_timeout()), 0);
  ck_assert_int_eq(sc.result, N + 1);
  ck_assert_int_eq(atomic_load(&cb.calls), 1);
  ck_assert_int_eq(atomic_load(&cb.on_port_thread), 1);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(atomic_load(&c[i].cleaned), 1);
    ck_assert_int_eq(c[i].err, EXCO_ECANCELED);
  }
  /* Dropped before its first poll: it never ran. */
  ck_assert_int_eq(atomic_load(&c[N].ran), 0);
  for (int i = 0; i < N + 1; i++)
    exco_promise_unref(c[i].p);
  assert_clean(r.p);
  dart_standin_free(r.p);
}
END_TEST

/* Messages queued when the port closes are discarded; the shutdown drops
 * their tasks all the same. */
START_TEST(t_discarded) {
  enum { N = 20 };
  cleaner c[N];
  closed_cb cb = {0, 0, NULL};
  atomic_int gate = 0;
  shutdown_call sc;
  dart_standin_stats st;
  rig r;

  rig_open(&r);
  cb.p = r.p;
  memset(&sc, 0, sizeof(sc));
  sc.ex = r.ex;
  sc.cb = &cb;
  sc.p = r.p;
  sc.close_port = 1;
  sc.gate = &gate;
  /* The isolate is busy until the gate opens; then it closes its port
   * with the tasks' first messages still queued, and shuts down. */
  ck_assert_int_eq(dart_standin_call(r.p, do_shutdown, &sc), 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(exco_promise_new(&c[i].p), 0);
    atomic_init(&c[i].ran, 0);
    atomic_init(&c[i].cleaned, 0);
    ck_assert_int_eq(exco_spawn(r.ex, clean_body, &c[i], NULL, NULL), 0);
  }
  atomic_store(&gate, 1);
  ck_assert_int_eq(h_wait_at_least(&cb.calls, 1), 0);
  ck_assert_int_eq(dart_standin_wait_idle(r.p, h_wait_timeout()), 0);
  ck_assert_int_eq(sc.result, N);
  ck_assert_int_eq(atomic_load(&cb.calls), 1);
  dart_standin_stats_get(r.p, &st);
  ck_assert_uint_eq(st.posted, N);
  ck_assert_uint_eq(st.discarded, N);
  ck_assert_uint_eq(st.polls, 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(atomic_load(&c[i].ran), 0);
    exco_promise_unref(c[i].p);
  }
  dart_standin_free(r.p);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The Dart side drops a pending task                                      */
/* ---------------------------------------------------------------------- */

typedef struct dropper {
  atomic_int pending_drops; /* handles dropped while pending */
  atomic_int drop_errors;
  atomic_int other_errors;
  atomic_int finished;
} dropper;

/* A listener that drops every task the first time a poll says pending. */
static void drop_pending_listener(dart_standin *p, int64_t msg, void *arg) {
  dropper *d = arg;
  int r;

  (void)p;
  if (msg == 0)
    return;
  r = exco_dart_poll((intptr_t)msg);
  if (r < 0) {
    atomic_fetch_add(&d->other_errors, 1);
    return;
  }
  if (r > 0)
    atomic_fetch_add(&d->pending_drops, 1);
  else
    atomic_fetch_add(&d->finished, 1);
  if (exco_dart_drop((intptr_t)msg) != 0)
    atomic_fetch_add(&d->drop_errors, 1);
}

typedef struct spinner {
  atomic_int cancelled; /* the yield returned EXCO_ECANCELED */
  atomic_int loops;
} spinner;

/* Yields until cancelled: each poll leaves a message on its way. */
static void *spin_body(void *arg) {
  spinner *s = arg;

  for (;;) {
    atomic_fetch_add(&s->loops, 1);
    if (exco_yield() == EXCO_ECANCELED) {
      atomic_fetch_add(&s->cancelled, 1);
      return NULL;
    }
  }
}

START_TEST(t_drop_pending) {
  enum { N = 8 };
  dropper d;
  spinner s[N];
  cleaner c[N];
  dart_standin *p;
  exco_executor *ex;

  memset(&d, 0, sizeof(d));
  ck_assert_int_eq(dart_standin_open(&p, drop_pending_listener, &d), 0);
  ck_assert_int_eq(
      exco_dart_executor_new(&ex, dart_standin_port(p), dart_standin_post), 0);
  for (int i = 0; i < N; i++) {
    atomic_init(&s[i].cancelled, 0);
    atomic_init(&s[i].loops, 0);
    ck_assert_int_eq(exco_spawn(ex, spin_body, &s[i], NULL, NULL), 0);
    /* And tasks with no message on the way when dropped. */
    ck_assert_int_eq(exco_promise_new(&c[i].p), 0);
    atomic_init(&c[i].ran, 0);
    atomic_init(&c[i].cleaned, 0);
    c[i].err = 1;
    ck_assert_int_eq(exco_spawn(ex, clean_body, &c[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(h_wait_at_least(&d.finished, N), 0);
  ck_assert_int_eq(dart_standin_wait_idle(p, h_wait_timeout()), 0);
  /* Each task was dropped while pending: the spinners' yield messages
   * arrived after the drop and were answered with 0, then dropped. */
  ck_assert_int_eq(atomic_load(&d.pending_drops), 2 * N);
  ck_assert_int_eq(atomic_load(&d.finished), N);
  ck_assert_int_eq(atomic_load(&d.drop_errors), 0);
  ck_assert_int_eq(atomic_load(&d.other_errors), 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(atomic_load(&s[i].cancelled), 1);
    ck_assert_int_eq(atomic_load(&s[i].loops), 1);
    ck_assert_int_eq(atomic_load(&c[i].cleaned), 1);
    ck_assert_int_eq(c[i].err, EXCO_ECANCELED);
    exco_promise_unref(c[i].p);
  }
  ck_assert_int_eq(exco_executor_live(ex), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  dart_standin_free(p);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* exco_executor_close() from the isolate's thread                        */
/* ---------------------------------------------------------------------- */

typedef struct close_call {
  exco_executor *ex;
  closed_cb *cb;
  int err;
} close_call;

static void do_close(void *arg) {
  close_call *cc = arg;

  cc->err = exco_executor_close(cc->ex, on_closed, cc->cb);
}

START_TEST(t_close_pending) {
  enum { N = 10 };
  cleaner c[N];
  spinner s[N];
  closed_cb cb = {0, 0, NULL};
  close_call cc;
  dart_standin_stats st;
  rig r;

  rig_open(&r);
  cb.p = r.p;
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(exco_promise_new(&c[i].p), 0);
    atomic_init(&c[i].ran, 0);
    atomic_init(&c[i].cleaned, 0);
    c[i].err = 1;
    ck_assert_int_eq(exco_spawn(r.ex, clean_body, &c[i], NULL, NULL), 0);
    atomic_init(&s[i].cancelled, 0);
    atomic_init(&s[i].loops, 0);
    ck_assert_int_eq(exco_spawn(r.ex, spin_body, &s[i], NULL, NULL), 0);
  }
  cc.ex = r.ex;
  cc.cb = &cb;
  cc.err = 1;
  ck_assert_int_eq(dart_standin_call(r.p, do_close, &cc), 0);
  /* The listener polls the cancelled tasks to their end; the last drop
   * frees the executor, whose message 0 closes the port. */
  ck_assert_int_eq(wait_gone(r.p), 0);
  ck_assert_int_eq(dart_standin_wait_idle(r.p, h_wait_timeout()), 0);
  ck_assert_int_eq(cc.err, 0);
  ck_assert_int_eq(atomic_load(&cb.calls), 1);
  ck_assert_int_eq(atomic_load(&cb.on_port_thread), 1);
  ck_assert_int_eq(dart_standin_closed(r.p), 1);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(atomic_load(&c[i].cleaned), 1);
    ck_assert_int_eq(c[i].err, EXCO_ECANCELED);
    ck_assert_int_eq(atomic_load(&s[i].cancelled), 1);
    exco_promise_unref(c[i].p);
  }
  dart_standin_stats_get(r.p, &st);
  ck_assert_uint_eq(st.drops, 2 * N);
  ck_assert_uint_eq(st.gone, 1);
  assert_clean(r.p);
  dart_standin_free(r.p);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Two executors on two ports                                              */
/* ---------------------------------------------------------------------- */

typedef struct placed {
  dart_standin *p;
  exco_executor *ex;
  int yields;
  atomic_int *wrong;
  atomic_int *done;
} placed;

static void *placed_body(void *arg) {
  placed *pl = arg;

  for (int i = 0; i <= pl->yields; i++) {
    if (!dart_standin_on_thread(pl->p) || exco_current_executor() != pl->ex)
      atomic_fetch_add(pl->wrong, 1);
    if (i < pl->yields)
      exco_yield();
  }
  atomic_fetch_add(pl->done, 1);
  return NULL;
}

START_TEST(t_two_ports) {
  enum { N = 50 };
  int yields = (int)h_scale(20);
  atomic_int wrong = 0, done = 0;
  placed pl[2];
  rig r[2];
  dart_standin_stats st;

  for (int k = 0; k < 2; k++) {
    rig_open(&r[k]);
    pl[k].p = r[k].p;
    pl[k].ex = r[k].ex;
    pl[k].yields = yields;
    pl[k].wrong = &wrong;
    pl[k].done = &done;
  }
  for (int i = 0; i < N; i++)
    for (int k = 0; k < 2; k++)
      ck_assert_int_eq(exco_spawn(r[k].ex, placed_body, &pl[k], NULL, NULL), 0);
  ck_assert_int_eq(h_wait_at_least(&done, 2 * N), 0);
  ck_assert_int_eq(atomic_load(&wrong), 0);
  for (int k = 0; k < 2; k++) {
    ck_assert_int_eq(dart_standin_wait_idle(r[k].p, h_wait_timeout()), 0);
    dart_standin_stats_get(r[k].p, &st);
    ck_assert_uint_eq(st.polls, (unsigned long)N * (yields + 1));
    ck_assert_uint_eq(st.drops, N);
  }
  for (int k = 0; k < 2; k++)
    rig_fini(&r[k]);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The seed's trio on the default executor                                 */
/* ---------------------------------------------------------------------- */

typedef struct seed_listener {
  atomic_int polls;
  atomic_int drops;
  atomic_int zeros;
} seed_listener;

/* The seed's Dart listener: poll, drop when not pending. */
static void seed_listen(dart_standin *p, int64_t msg, void *arg) {
  seed_listener *l = arg;
  void *task = (void *)(intptr_t)msg;

  (void)p;
  if (msg == 0)
    atomic_fetch_add(&l->zeros, 1);
  atomic_fetch_add(&l->polls, 1);
  if (!rust_async_executor_dart_poll(task)) {
    rust_async_executor_dart_drop(task);
    atomic_fetch_add(&l->drops, 1);
  }
}

START_TEST(t_seed_trio) {
  enum { N = 10 };
  seed_listener l, l2;
  dart_standin *p, *p2;
  atomic_int steps = 0, done = 0, errors = 0;
  yielder y = {3, &steps, &done, &errors, NULL};
  waiter w[N];
  resolver rs = {w, N};
  pthread_t th;

  memset(&l, 0, sizeof(l));
  memset(&l2, 0, sizeof(l2));
  ck_assert_int_eq(dart_standin_open(&p, seed_listen, &l), 0);
  rust_async_executor_dart_init(dart_standin_port(p), dart_standin_post_void);
  ck_assert_str_eq(exco_driver_name(exco_default_executor()), "dart");
  y.expect = exco_default_executor();
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(exco_spawn(NULL, yield_body, &y, NULL, NULL), 0);
    ck_assert_int_eq(exco_promise_new(&w[i].p), 0);
    w[i].err = 1;
    w[i].done = &done;
    ck_assert_int_eq(exco_spawn(NULL, await_body, &w[i], NULL, NULL), 0);
  }
  /* Live tasks: the default executor can't change hands now. */
  ck_assert_int_eq(exco_dart_init(dart_standin_port(p), dart_standin_post),
                   EXCO_EBUSY);
  h_thread_start(&th, resolve_thread, &rs);
  h_thread_join(th);
  ck_assert_int_eq(h_wait_at_least(&done, 2 * N), 0);
  ck_assert_int_eq(h_wait_at_least(&l.drops, 2 * N), 0);
  ck_assert_int_eq(dart_standin_wait_idle(p, h_wait_timeout()), 0);
  ck_assert_int_eq(atomic_load(&errors), 0);
  ck_assert_int_eq(atomic_load(&steps), 3 * N);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(w[i].err, 0);
    ck_assert_ptr_eq(w[i].value, V(i + 1));
    exco_promise_unref(w[i].p);
  }
  ck_assert_int_eq(exco_executor_live(exco_default_executor()), 0);

  /* A new isolate takes the default executor over: the old port is told
   * (0), which a seed listener survives (poll(0) is false, drop ignores
   * it). */
  ck_assert_int_eq(dart_standin_open(&p2, seed_listen, &l2), 0);
  rust_async_executor_dart_init(dart_standin_port(p2), dart_standin_post_void);
  ck_assert_int_eq(h_wait_at_least(&l.zeros, 1), 0);
  ck_assert_int_eq(dart_standin_wait_idle(p, h_wait_timeout()), 0);

  /* The second isolate shuts down with a task pending. */
  ck_assert_int_eq(exco_promise_new(&w[0].p), 0);
  w[0].err = 1;
  ck_assert_int_eq(exco_spawn(NULL, await_body, &w[0], NULL, NULL), 0);
  ck_assert_int_eq(h_wait_at_least(&l2.polls, 1), 0);
  ck_assert_int_eq(dart_standin_wait_idle(p2, h_wait_timeout()), 0);
  dart_standin_close(p2);
  ck_assert_int_eq(
      exco_dart_executor_shutdown(exco_default_executor(), NULL, NULL), 1);
  ck_assert_int_eq(w[0].err, EXCO_ECANCELED);
  ck_assert_int_eq(exco_executor_live(exco_default_executor()), 0);
  /* Spawns after the shutdown never run: nobody would poll them. */
  ck_assert_int_eq(exco_spawn(NULL, yield_body, &y, NULL, NULL), 0);
  ck_assert_int_eq(exco_executor_live(exco_default_executor()), 0);
  ck_assert_int_eq(exco_dart_executor_stranded(exco_default_executor()), 0);
  ck_assert_int_eq(atomic_load(&steps), 3 * N);
  exco_promise_unref(w[0].p);
  dart_standin_free(p);
  dart_standin_free(p2);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Arguments                                                               */
/* ---------------------------------------------------------------------- */

START_TEST(t_args) {
  exco_executor *ex = NULL, *local;
  dart_standin *p;

  ck_assert_int_eq(dart_standin_open(&p, NULL, NULL), 0);
  ck_assert_int_eq(exco_dart_executor_new(NULL, 1, dart_standin_post),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_dart_executor_new(&ex, 1, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_dart_executor_new(&ex, 0, dart_standin_post),
                   EXCO_EINVAL);
  ck_assert_ptr_null(ex);
  ck_assert_int_eq(exco_dart_init(0, dart_standin_post), EXCO_EINVAL);
  ck_assert_int_eq(exco_dart_init(1, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_dart_poll(0), 0);
  ck_assert_int_eq(exco_dart_drop(0), EXCO_EINVAL);
  ck_assert(!rust_async_executor_dart_poll(NULL));
  rust_async_executor_dart_drop(NULL);
  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  ck_assert_int_eq(exco_dart_executor_stranded(local), EXCO_EINVAL);
  ck_assert_int_eq(exco_dart_executor_stranded(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_dart_executor_shutdown(local, NULL, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_dart_executor_shutdown(NULL, NULL, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_free(local), 0);
  /* A shutdown with no task frees the executor at once. */
  ck_assert_int_eq(
      exco_dart_executor_new(&ex, dart_standin_port(p), dart_standin_post), 0);
  ck_assert_str_eq(exco_driver_name(ex), "dart");
  dart_standin_close(p);
  ck_assert_int_eq(exco_dart_executor_shutdown(ex, NULL, NULL), 0);
  dart_standin_free(p);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dart");
  TCase *tc = h_tcase("standin", 60);

  tcase_add_test(tc, t_yield_counts);
  tcase_add_test(tc, t_promise_threads);
  tcase_add_test(tc, t_sleep);
  tcase_add_test(tc, t_join);
  tcase_add_test(tc, t_two_ports);
  suite_add_tcase(s, tc);
  tc = h_tcase("closed-port", 60);
  tcase_add_test(tc, t_stranded);
  tcase_add_test(tc, t_discarded);
  tcase_add_test(tc, t_drop_pending);
  tcase_add_test(tc, t_close_pending);
  suite_add_tcase(s, tc);
  tc = h_tcase("seed", 60);
  tcase_add_test(tc, t_args);
  /* Last: it leaves the default executor a Dart one whose port is shut. */
  tcase_add_test(tc, t_seed_trio);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
