/*
 * test-timer.c -- the core's timers: exco_now, exco_sleep,
 * exco_sleep_until and task deadlines (exco_deadline_set, _after, _get),
 * on the built-in local executor (whose timed wait fires the timers) and
 * on a bare three-callback host (exco_executor_new() with the harness's
 * recording host: there exco's helper thread fires the timers through
 * task_wake, from another thread).
 *
 * Most tests run once per executor kind (Check loop tests: _i is 0 for
 * the local executor, 1 for the host).  Time is only checked from below
 * ("slept at least N ms") or by order; upper bounds appear only where a
 * wrong implementation would take a minute (a cancelled 60-second sleep).
 *
 * As everywhere: coroutines only record what they saw; the tests assert
 * after control has come back.
 */
#include "harness.h"

#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define V(n) ((void *)(uintptr_t)(n))
#define MS ((int64_t)1000 * 1000)

_Static_assert(EXCO_ETIMEDOUT == -ETIMEDOUT, "EXCO_ETIMEDOUT");
_Static_assert(EXCO_ESHUTDOWN == -ESHUTDOWN, "EXCO_ESHUTDOWN");
_Static_assert(EXCO_NO_DEADLINE == INT64_MAX, "EXCO_NO_DEADLINE");

/* CLOCK_MONOTONIC in nanoseconds. */
static int64_t mono_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 * MS + ts.tv_nsec;
}

static int ready_poll(void *arg, exco_waker *w) {
  (void)w;
  ++*(int *)arg;
  return 1;
}

/* Names of the harness's executor kinds, for messages. */
static const char *const kind_name[H_RIG_KINDS] = {"local", "host"};

/* ---------------------------------------------------------------------- */
/* Outside coroutines                                                      */
/* ---------------------------------------------------------------------- */

START_TEST(now_is_monotonic_milliseconds) {
  int64_t a0 = mono_ns(), n0 = exco_now(), a1 = mono_ns();
  int64_t n1, a2, a3;
  int i;

  /* Milliseconds of CLOCK_MONOTONIC: between the two readings around it
   * (one millisecond of slack for rounding either way). */
  ck_assert_int_ge(n0, a0 / MS - 1);
  ck_assert_int_le(n0, a1 / MS + 1);
  for (i = 0; i < 1000; i++) {
    n1 = exco_now();
    ck_assert_int_ge(n1, n0);
    n0 = n1;
  }
  a2 = mono_ns();
  n1 = exco_now();
  a3 = mono_ns();
  ck_assert_int_ge(n1, a2 / MS - 1);
  ck_assert_int_le(n1, a3 / MS + 1);
}
END_TEST

START_TEST(time_calls_outside_coroutine) {
  int64_t prev = 12345;

  ck_assert_int_eq(exco_sleep(0), EXCO_EPERM);
  ck_assert_int_eq(exco_sleep(10), EXCO_EPERM);
  ck_assert_int_eq(exco_sleep_until(0), EXCO_EPERM);
  ck_assert_int_eq(exco_sleep_until(exco_now() + 10), EXCO_EPERM);
  ck_assert_int_eq(exco_deadline_set(exco_now() + 10, &prev), EXCO_EPERM);
  ck_assert_int_eq(exco_deadline_set(EXCO_NO_DEADLINE, NULL), EXCO_EPERM);
  ck_assert_int_eq(exco_deadline_after(10, &prev), EXCO_EPERM);
  ck_assert_int_eq(exco_deadline_after(10, NULL), EXCO_EPERM);
  /* Nothing was set: still no deadline. */
  ck_assert(exco_deadline_get() == EXCO_NO_DEADLINE);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Sleeping                                                                */
/* ---------------------------------------------------------------------- */

enum { NAPS = 4 };

static const uint64_t nap_ms[NAPS] = {0, 1, 20, 50};

typedef struct napper {
  int r[NAPS];
  int64_t ns[NAPS]; /* CLOCK_MONOTONIC across the sleep */
  int64_t ms[NAPS]; /* exco_now() across the sleep */
  int64_t deadline; /* exco_deadline_get() inside */
  int done;
} napper;

static void *fn_nap(void *arg) {
  napper *n = arg;
  int i;

  n->deadline = exco_deadline_get();
  for (i = 0; i < NAPS; i++) {
    int64_t t0 = mono_ns(), m0 = exco_now();

    n->r[i] = exco_sleep(nap_ms[i]);
    n->ns[i] = mono_ns() - t0;
    n->ms[i] = exco_now() - m0;
  }
  n->done = 1;
  return NULL;
}

START_TEST(sleep_lasts_at_least_the_time) {
  h_rig r;
  napper n;
  int i;

  memset(&n, 0, sizeof(n));
  h_rig_init(&r, _i);
  h_rig_spawn(&r, fn_nap, &n, NULL);
  h_rig_run(&r);
  ck_assert_int_eq(n.done, 1);
  /* A task starts with no deadline. */
  ck_assert(n.deadline == EXCO_NO_DEADLINE);
  for (i = 0; i < NAPS; i++) {
    ck_assert_msg(n.r[i] == 0, "%s: exco_sleep(%d) returned %d", kind_name[_i],
                  (int)nap_ms[i], n.r[i]);
    ck_assert_msg(n.ns[i] >= (int64_t)nap_ms[i] * MS,
                  "%s: exco_sleep(%d) slept only %lld ns", kind_name[_i],
                  (int)nap_ms[i], (long long)n.ns[i]);
    ck_assert_msg(n.ms[i] >= (int64_t)nap_ms[i],
                  "%s: exco_sleep(%d): exco_now() moved only %lld ms",
                  kind_name[_i], (int)nap_ms[i], (long long)n.ms[i]);
  }
  h_rig_fini(&r);
}
END_TEST

enum { ORDERED = 5 };

typedef struct order {
  int next;           /* next slot of woke[] */
  int woke[ORDERED];  /* ids in the order their sleeps returned */
  int armed[ORDERED]; /* ids in the order they went to sleep */
  int next_armed;
  int64_t until;        /* the common deadline (equal-due test) */
  int64_t base;         /* due times count from here (due-order test) */
  int64_t last_started; /* the latest exco_now() before a sleep */
  int errors;
} order;

typedef struct orderly {
  order *o;
  int id;
  uint64_t ms;
  int yields; /* yields before sleeping (equal-due test) */
  int r;
} orderly;

static void *fn_sleep_ordered(void *arg) {
  orderly *s = arg;
  int64_t now = exco_now();

  if (now > s->o->last_started)
    s->o->last_started = now;
  s->o->armed[s->o->next_armed++] = s->id;
  s->r = exco_sleep_until(s->o->base + (int64_t)s->ms);
  s->o->woke[s->o->next++] = s->id;
  return NULL;
}

/*
 * Sleeps end in the order of their due times.  Each sleeps until its own
 * offset from a common base, so how far apart the host first polls them
 * does not matter (with relative sleeps 15 ms apart, ucontext+TSan under
 * load once armed them further apart than that).  A timer armed after
 * another has fired can't fire before it, so the order is checked only
 * if every sleep was armed before the base, which is SLEEP_BASE ms after
 * the start (a machine that slow checks the rest).
 */
enum { SLEEP_BASE = 100 };

START_TEST(sleeps_wake_in_due_order) {
  /* Spawned (and armed) in this order; 15 ms apart in due time. */
  static const uint64_t ms[ORDERED] = {75, 15, 60, 30, 45};
  static const int expect[ORDERED] = {1, 3, 4, 2, 0};
  h_rig r;
  order o;
  orderly s[ORDERED];
  int i;

  memset(&o, 0, sizeof(o));
  memset(s, 0, sizeof(s));
  h_rig_init(&r, _i);
  o.base = exco_now() + SLEEP_BASE;
  for (i = 0; i < ORDERED; i++) {
    s[i].o = &o;
    s[i].id = i;
    s[i].ms = ms[i];
    h_rig_spawn(&r, fn_sleep_ordered, &s[i], NULL);
  }
  h_rig_run(&r);
  ck_assert_int_eq(o.next, ORDERED);
  for (i = 0; i < ORDERED; i++) {
    ck_assert_int_eq(s[i].r, 0);
    ck_assert_msg(o.woke[i] == expect[i] || o.last_started >= o.base,
                  "%s: wake #%d was task %d, expected %d", kind_name[_i], i,
                  o.woke[i], expect[i]);
  }
  h_rig_fini(&r);
}
END_TEST

static void *fn_sleep_until_common(void *arg) {
  orderly *s = arg;
  int i;

  /* The yields reverse the arming order against the spawn order. */
  for (i = 0; i < s->yields; i++)
    if (exco_yield() != 0)
      s->o->errors++;
  s->o->armed[s->o->next_armed++] = s->id;
  s->r = exco_sleep_until(s->o->until);
  if (exco_now() < s->o->until)
    s->o->errors++;
  s->o->woke[s->o->next++] = s->id;
  return NULL;
}

START_TEST(equal_due_times_wake_in_arming_order) {
  h_rig r;
  order o;
  orderly s[ORDERED];
  int i;

  memset(&o, 0, sizeof(o));
  memset(s, 0, sizeof(s));
  h_rig_init(&r, _i);
  /* One deadline for all: the due times are equal, not merely close. */
  o.until = exco_now() + 80;
  for (i = 0; i < ORDERED; i++) {
    s[i].o = &o;
    s[i].id = i;
    s[i].yields = ORDERED - 1 - i;
    h_rig_spawn(&r, fn_sleep_until_common, &s[i], NULL);
  }
  h_rig_run(&r);
  ck_assert_int_eq(o.errors, 0);
  ck_assert_int_eq(o.next, ORDERED);
  ck_assert_int_eq(o.next_armed, ORDERED);
  /* The yields did reorder the arming (both hosts are FIFO queues), so
   * the test below is not merely the spawn order. */
  for (i = 0; i < ORDERED; i++)
    ck_assert_int_eq(o.armed[i], ORDERED - 1 - i);
  for (i = 0; i < ORDERED; i++) {
    ck_assert_int_eq(s[i].r, 0);
    ck_assert_msg(o.woke[i] == o.armed[i],
                  "%s: wake #%d was task %d; armed #%d was task %d",
                  kind_name[_i], i, o.woke[i], i, o.armed[i]);
  }
  h_rig_fini(&r);
}
END_TEST

typedef struct past {
  int flag; /* set by the other task */
  int r_past, r_zero, r_now, r_min;
  int saw_flag; /* the first sleep let the other task run */
} past;

static void *fn_sleep_past(void *arg) {
  past *p = arg;

  p->r_past = exco_sleep_until(exco_now() - 1000);
  p->saw_flag = p->flag;
  p->r_zero = exco_sleep_until(0);
  p->r_now = exco_sleep_until(exco_now());
  p->r_min = exco_sleep_until(INT64_MIN);
  return NULL;
}

static void *fn_set_flag(void *arg) {
  past *p = arg;

  p->flag = 1;
  return NULL;
}

START_TEST(sleep_until_past_returns_zero_after_one_suspension) {
  h_rig r;
  past p;

  memset(&p, 0, sizeof(p));
  h_rig_init(&r, _i);
  h_rig_spawn(&r, fn_sleep_past, &p, NULL);
  h_rig_spawn(&r, fn_set_flag, &p, NULL);
  h_rig_run(&r);
  ck_assert_int_eq(p.r_past, 0);
  ck_assert_int_eq(p.r_zero, 0);
  ck_assert_int_eq(p.r_now, 0);
  ck_assert_int_eq(p.r_min, 0);
  /* "A deadline in the past still suspends once, letting the host poll
   * others": the second task, queued behind, ran first. */
  ck_assert_msg(p.saw_flag == 1, "%s: past sleep did not suspend",
                kind_name[_i]);
  h_rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Cancelling a sleep                                                      */
/* ---------------------------------------------------------------------- */

typedef struct long_nap {
  uint64_t ms;
  atomic_int armed; /* about to call exco_sleep */
  int r;
  int r_after; /* a later sleep, also cancelled */
  int64_t ms_slept;
} long_nap;

static void *fn_long_nap(void *arg) {
  long_nap *n = arg;
  int64_t t0 = exco_now();

  atomic_store(&n->armed, 1);
  n->r = exco_sleep(n->ms);
  n->ms_slept = exco_now() - t0;
  n->r_after = exco_sleep(1);
  return NULL;
}

typedef struct canceller {
  exco_task *victim;
  int r;
} canceller;

static void *fn_cancel(void *arg) {
  canceller *c = arg;

  c->r = exco_task_cancel(c->victim);
  return NULL;
}

START_TEST(cancel_sleeping_task_from_task) {
  h_rig r;
  long_nap n;
  canceller c;
  exco_task *t;
  double t0, t1;

  memset(&n, 0, sizeof(n));
  memset(&c, 0, sizeof(c));
  n.ms = 60000;
  h_rig_init(&r, _i);
  t0 = h_now();
  h_rig_spawn(&r, fn_long_nap, &n, &t);
  c.victim = t;
  /* FIFO: the sleeper goes to sleep before the canceller runs. */
  h_rig_spawn(&r, fn_cancel, &c, NULL);
  h_rig_run(&r);
  t1 = h_now();
  ck_assert_int_eq(c.r, 0);
  ck_assert_int_eq(n.r, EXCO_ECANCELED);
  ck_assert_int_eq(n.r_after, EXCO_ECANCELED);
  /* The cancelled timer did not keep the executor running. */
  ck_assert_msg(t1 - t0 < 10.0, "%s: run took %.1f s after the cancel",
                kind_name[_i], t1 - t0);
  ck_assert_int_eq(exco_task_done(t), 1);
  exco_task_release(t);
  h_rig_fini(&r);
}
END_TEST

static void *thread_cancel_when_armed(void *arg) {
  long_nap *n = ((void **)arg)[0];
  canceller *c = ((void **)arg)[1];

  if (h_wait_at_least(&n->armed, 1) != 0) {
    c->r = 1; /* never armed */
    return NULL;
  }
  c->r = exco_task_cancel(c->victim);
  return NULL;
}

START_TEST(cancel_sleeping_task_from_thread) {
  h_rig r;
  long_nap n;
  canceller c;
  exco_task *t;
  pthread_t th;
  void *args[2];
  double t0, t1;

  memset(&n, 0, sizeof(n));
  memset(&c, 0, sizeof(c));
  n.ms = 60000;
  h_rig_init(&r, _i);
  t0 = h_now();
  h_rig_spawn(&r, fn_long_nap, &n, &t);
  c.victim = t;
  args[0] = &n;
  args[1] = &c;
  h_thread_start(&th, thread_cancel_when_armed, args);
  h_rig_run(&r);
  t1 = h_now();
  h_thread_join(th);
  ck_assert_int_eq(c.r, 0);
  ck_assert_int_eq(n.r, EXCO_ECANCELED);
  ck_assert_int_eq(n.r_after, EXCO_ECANCELED);
  ck_assert_msg(t1 - t0 < 10.0, "%s: run took %.1f s after the cancel",
                kind_name[_i], t1 - t0);
  exco_task_release(t);
  h_rig_fini(&r);
}
END_TEST

START_TEST(cancelled_timer_does_not_fire_later) {
  h_rig r;
  long_nap n, w;
  canceller c;
  exco_task *t;
  int64_t due;

  memset(&n, 0, sizeof(n));
  memset(&w, 0, sizeof(w));
  memset(&c, 0, sizeof(c));
  n.ms = 150;
  h_rig_init(&r, _i);
  due = exco_now() + 150;
  h_rig_spawn(&r, fn_long_nap, &n, &t);
  c.victim = t;
  h_rig_spawn(&r, fn_cancel, &c, NULL);
  h_rig_run(&r);
  ck_assert_int_eq(n.r, EXCO_ECANCELED);
  ck_assert_int_eq(exco_task_done(t), 1);
  exco_task_release(t);
  /* Keep the executor running past the cancelled timer's due time: a
   * timer left behind would now wake a dropped task (the host counts a
   * task_wake after exco_drop(); ASan and valgrind see a freed task). */
  w.ms = 300;
  h_rig_spawn(&r, fn_long_nap, &w, NULL);
  h_rig_run(&r);
  ck_assert_int_eq(w.r, 0);
  ck_assert_int_ge(exco_now(), due + 50);
  if (r.kind == H_RIG_HOST)
    h_host_assert_clean(&r.h);
  h_rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Deadlines                                                               */
/* ---------------------------------------------------------------------- */

typedef struct timeout {
  exco_promise *p;  /* resolved only after the timeout */
  exco_promise *go; /* tells the resolver to resolve p */
  int64_t set_before, set_after, deadline, prev, after_restore;
  int64_t woke_at; /* exco_now() when the await timed out */
  int r_after, r1, r_again, r_ready, r_restore, r2, r_resolver;
  int ready_calls;
  void *v1, *v2;
} timeout;

static void *fn_timeout_waiter(void *arg) {
  timeout *d = arg;

  d->v1 = V(1);
  d->set_before = exco_now();
  d->r_after = exco_deadline_after(50, &d->prev);
  d->set_after = exco_now();
  d->deadline = exco_deadline_get();
  d->r1 = exco_promise_await(d->p, &d->v1);
  d->woke_at = exco_now();
  /* Still past the deadline: an await that is not ready at once fails at
   * once; a ready one succeeds. */
  d->r_again = exco_promise_await(d->p, &d->v1);
  d->r_ready = exco_await(ready_poll, NULL, &d->ready_calls);
  d->r_restore = exco_deadline_set(d->prev, NULL);
  d->after_restore = exco_deadline_get();
  exco_promise_resolve(d->go, NULL);
  d->r2 = exco_promise_await(d->p, &d->v2);
  return NULL;
}

static void *fn_timeout_resolver(void *arg) {
  timeout *d = arg;

  d->r_resolver = exco_promise_await(d->go, NULL);
  exco_promise_resolve(d->p, V(7));
  return NULL;
}

START_TEST(deadline_times_out_promise_await) {
  h_rig r;
  timeout d;

  memset(&d, 0, sizeof(d));
  ck_assert_int_eq(exco_promise_new(&d.p), 0);
  ck_assert_int_eq(exco_promise_new(&d.go), 0);
  h_rig_init(&r, _i);
  h_rig_spawn(&r, fn_timeout_waiter, &d, NULL);
  h_rig_spawn(&r, fn_timeout_resolver, &d, NULL);
  h_rig_run(&r);
  ck_assert_int_eq(d.r_after, 0);
  ck_assert(d.prev == EXCO_NO_DEADLINE);
  ck_assert_int_ge(d.deadline, d.set_before + 50);
  ck_assert_int_le(d.deadline, d.set_after + 50);
  ck_assert_msg(d.r1 == EXCO_ETIMEDOUT, "%s: await returned %d", kind_name[_i],
                d.r1);
  /* At least 50 ms, on the clock deadlines are measured on. */
  ck_assert_int_ge(d.woke_at, d.deadline);
  ck_assert_int_ge(d.woke_at - d.set_before, 50);
  ck_assert_int_eq(d.r_again, EXCO_ETIMEDOUT);
  ck_assert_int_eq(d.r_ready, 0);
  ck_assert_int_eq(d.ready_calls, 1);
  /* Value written only on success. */
  ck_assert_ptr_eq(d.v1, V(1));
  ck_assert_int_eq(d.r_restore, 0);
  ck_assert(d.after_restore == EXCO_NO_DEADLINE);
  /* The timed-out promise was withdrawn, not spoilt: awaited again and
   * resolved. */
  ck_assert_int_eq(d.r_resolver, 0);
  ck_assert_int_eq(d.r2, 0);
  ck_assert_ptr_eq(d.v2, V(7));
  exco_promise_unref(d.p);
  exco_promise_unref(d.go);
  h_rig_fini(&r);
}
END_TEST

typedef struct past_deadline {
  exco_promise *p;  /* resolved before the task runs */
  exco_task *child; /* finished before the task runs */
  int child_done;
  int r_set, r_promise, r_ready, r_never, r_sleep, r_join;
  int ready_calls;
  atomic_int never_polls;
  void *v, *joined;
} past_deadline;

static void *fn_child_value(void *arg) {
  (void)arg;
  return V(33);
}

static void *fn_past_deadline(void *arg) {
  past_deadline *d = arg;

  d->child_done = exco_task_done(d->child);
  d->r_set = exco_deadline_set(exco_now() - 10, NULL);
  /* Ready futures win over the deadline... */
  d->r_promise = exco_promise_await(d->p, &d->v);
  d->r_ready = exco_await(ready_poll, NULL, &d->ready_calls);
  d->r_join = exco_join(d->child, &d->joined);
  /* ...pending ones fail at once. */
  d->r_never = exco_await(h_never_poll, NULL, &d->never_polls);
  /* Long enough never to be ready first, however slow the machine. */
  d->r_sleep = exco_sleep(600000);
  return NULL;
}

START_TEST(ready_future_beats_past_deadline) {
  h_rig r;
  past_deadline d;

  memset(&d, 0, sizeof(d));
  atomic_init(&d.never_polls, 0);
  ck_assert_int_eq(exco_promise_new(&d.p), 0);
  ck_assert_int_eq(exco_promise_resolve(d.p, V(5)), 0);
  h_rig_init(&r, _i);
  h_rig_spawn(&r, fn_child_value, NULL, &d.child);
  h_rig_spawn(&r, fn_past_deadline, &d, NULL);
  h_rig_run(&r);
  ck_assert_int_eq(d.child_done, 1);
  ck_assert_int_eq(d.r_set, 0);
  ck_assert_int_eq(d.r_promise, 0);
  ck_assert_ptr_eq(d.v, V(5));
  ck_assert_int_eq(d.r_ready, 0);
  ck_assert_int_eq(d.ready_calls, 1);
  ck_assert_int_eq(d.r_join, 0);
  ck_assert_ptr_eq(d.joined, V(33));
  ck_assert_int_eq(d.r_never, EXCO_ETIMEDOUT);
  ck_assert_int_eq(d.r_sleep, EXCO_ETIMEDOUT);
  exco_task_release(d.child);
  exco_promise_unref(d.p);
  h_rig_fini(&r);
}
END_TEST

typedef struct joiner {
  exco_promise *p; /* the child waits for it */
  exco_task *child;
  int64_t child_deadline;
  int child_r;
  int64_t set_before, woke_at, prev;
  int r1, child_done_after, r_restore, r2;
  void *res1, *res2;
} joiner;

static void *fn_join_child(void *arg) {
  joiner *j = arg;
  void *v = NULL;

  j->child_deadline = exco_deadline_get();
  j->child_r = exco_promise_await(j->p, &v);
  return v;
}

static void *fn_join_parent(void *arg) {
  joiner *j = arg;

  j->res1 = V(1);
  j->set_before = exco_now();
  exco_deadline_after(40, &j->prev);
  if (exco_spawn(NULL, fn_join_child, j, NULL, &j->child) != 0)
    return NULL;
  j->r1 = exco_join(j->child, &j->res1);
  j->woke_at = exco_now();
  /* The parent's timeout did not cancel the child. */
  j->child_done_after = exco_task_done(j->child);
  j->r_restore = exco_deadline_set(j->prev, NULL);
  exco_promise_resolve(j->p, V(21));
  j->r2 = exco_join(j->child, &j->res2);
  exco_task_release(j->child);
  return NULL;
}

START_TEST(deadline_times_out_join) {
  h_rig r;
  joiner j;

  memset(&j, 0, sizeof(j));
  ck_assert_int_eq(exco_promise_new(&j.p), 0);
  h_rig_init(&r, _i);
  h_rig_spawn(&r, fn_join_parent, &j, NULL);
  h_rig_run(&r);
  ck_assert_ptr_nonnull(j.child);
  ck_assert_int_eq(j.r1, EXCO_ETIMEDOUT);
  ck_assert_ptr_eq(j.res1, V(1));
  ck_assert_int_ge(j.woke_at - j.set_before, 40);
  ck_assert_int_eq(j.child_done_after, 0);
  ck_assert(j.prev == EXCO_NO_DEADLINE);
  ck_assert_int_eq(j.r_restore, 0);
  /* Deadlines are not inherited. */
  ck_assert(j.child_deadline == EXCO_NO_DEADLINE);
  ck_assert_int_eq(j.child_r, 0);
  ck_assert_int_eq(j.r2, 0);
  ck_assert_ptr_eq(j.res2, V(21));
  exco_promise_unref(j.p);
  h_rig_fini(&r);
}
END_TEST

typedef struct nesting {
  int64_t start, initial, prev_set, prev_long, got_long, t_timeout;
  int64_t prev_after_past, got_after_past;
  int64_t before_short, after_short, prev_short, got_short, restored;
  int r_set, r_long, r_await, r_after_past, r_clear, r_short, r_restore;
  atomic_int polls;
} nesting;

static void *fn_nesting(void *arg) {
  nesting *n = arg;

  n->initial = exco_deadline_get();
  n->start = exco_now();
  n->r_set = exco_deadline_set(n->start + 40, &n->prev_set);
  /* A later deadline does not replace a sooner one... */
  n->r_long = exco_deadline_after(60000, &n->prev_long);
  n->got_long = exco_deadline_get();
  n->r_await = exco_await(h_never_poll, NULL, &n->polls);
  n->t_timeout = exco_now();
  /* ...not even one that has passed. */
  n->r_after_past = exco_deadline_after(20, &n->prev_after_past);
  n->got_after_past = exco_deadline_get();
  /* Cleared, a new one is taken. */
  n->r_clear = exco_deadline_set(EXCO_NO_DEADLINE, NULL);
  n->before_short = exco_now();
  n->r_short = exco_deadline_after(20, &n->prev_short);
  n->after_short = exco_now();
  n->got_short = exco_deadline_get();
  n->r_restore = exco_deadline_set(n->prev_short, NULL);
  n->restored = exco_deadline_get();
  return NULL;
}

START_TEST(deadline_after_never_lengthens) {
  h_rig r;
  nesting n;

  memset(&n, 0, sizeof(n));
  atomic_init(&n.polls, 0);
  h_rig_init(&r, _i);
  h_rig_spawn(&r, fn_nesting, &n, NULL);
  h_rig_run(&r);
  ck_assert(n.initial == EXCO_NO_DEADLINE);
  ck_assert_int_eq(n.r_set, 0);
  ck_assert(n.prev_set == EXCO_NO_DEADLINE);
  ck_assert_int_eq(n.r_long, 0);
  /* Not replaced: prev is the deadline in force, so restoring it is a
   * no-op, as the header's scoping example needs. */
  ck_assert_int_eq(n.prev_long, n.start + 40);
  ck_assert_int_eq(n.got_long, n.start + 40);
  ck_assert_int_eq(n.r_await, EXCO_ETIMEDOUT);
  ck_assert_int_ge(n.t_timeout, n.start + 40);
  ck_assert_int_lt(n.t_timeout, n.start + 30000);
  ck_assert_int_eq(n.r_after_past, 0);
  ck_assert_int_eq(n.prev_after_past, n.start + 40);
  ck_assert_int_eq(n.got_after_past, n.start + 40);
  ck_assert_int_eq(n.r_clear, 0);
  ck_assert_int_eq(n.r_short, 0);
  ck_assert(n.prev_short == EXCO_NO_DEADLINE);
  ck_assert_int_ge(n.got_short, n.before_short + 20);
  ck_assert_int_le(n.got_short, n.after_short + 20);
  ck_assert_int_eq(n.r_restore, 0);
  ck_assert(n.restored == EXCO_NO_DEADLINE);
  h_rig_fini(&r);
}
END_TEST

typedef struct sleepy {
  int64_t set_before, deadline, woke_at;
  int r_long, r_short_far, r_after_clear;
} sleepy;

static void *fn_sleep_deadline(void *arg) {
  sleepy *s = arg;
  int64_t prev;

  /* A far deadline does not disturb a short sleep. */
  exco_deadline_after(60000, &prev);
  s->r_short_far = exco_sleep(5);
  exco_deadline_set(prev, NULL);
  /* A near deadline cuts a long sleep. */
  s->set_before = exco_now();
  exco_deadline_after(30, &prev);
  s->deadline = exco_deadline_get();
  s->r_long = exco_sleep(60000);
  s->woke_at = exco_now();
  exco_deadline_set(prev, NULL);
  s->r_after_clear = exco_sleep(1);
  return NULL;
}

START_TEST(deadline_cuts_sleep) {
  h_rig r;
  sleepy s;
  double t0, t1;

  memset(&s, 0, sizeof(s));
  h_rig_init(&r, _i);
  t0 = h_now();
  h_rig_spawn(&r, fn_sleep_deadline, &s, NULL);
  h_rig_run(&r);
  t1 = h_now();
  ck_assert_int_eq(s.r_short_far, 0);
  ck_assert_int_eq(s.r_long, EXCO_ETIMEDOUT);
  ck_assert_int_ge(s.woke_at, s.deadline);
  ck_assert_int_ge(s.woke_at - s.set_before, 30);
  ck_assert_int_eq(s.r_after_clear, 0);
  ck_assert_msg(t1 - t0 < 10.0, "%s: run took %.1f s", kind_name[_i], t1 - t0);
  h_rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Stress                                                                  */
/* ---------------------------------------------------------------------- */

enum { STRESS_THREADS = 4, STRESS_SLEEPS = 5 };

typedef struct stress_task {
  unsigned seed;
  int sleeps;       /* sleeps that returned 0 */
  int errors;       /* sleeps that returned anything else */
  int short_sleeps; /* returned before exco_now() said so */
  int done;
} stress_task;

static void *fn_stress_sleeper(void *arg) {
  stress_task *t = arg;
  int i;

  for (i = 0; i < STRESS_SLEEPS; i++) {
    uint64_t ms = (uint64_t)(rand_r(&t->seed) % 6);
    int64_t t0 = exco_now();
    int r = exco_sleep(ms);

    if (r != 0)
      t->errors++;
    else
      t->sleeps++;
    if (exco_now() - t0 < (int64_t)ms)
      t->short_sleeps++;
  }
  t->done = 1;
  return NULL;
}

typedef struct stress_loop {
  int kind;
  h_host *h; /* H_RIG_HOST: made by the test thread */
  stress_task *tasks;
  long n;
  int r_new, r_run, r_free;
  long spawn_errors;
} stress_loop;

static void *thread_stress_loop(void *arg) {
  stress_loop *l = arg;
  exco_executor *ex;
  long i;

  if (l->kind == H_RIG_HOST) {
    ex = l->h->ex;
  } else {
    l->r_new = exco_executor_new_local(&ex);
    if (l->r_new != 0)
      return NULL;
  }
  for (i = 0; i < l->n; i++)
    if (exco_spawn(ex, fn_stress_sleeper, &l->tasks[i], NULL, NULL) != 0)
      l->spawn_errors++;
  if (l->kind == H_RIG_HOST) {
    l->r_run = h_host_run(l->h);
  } else {
    l->r_run = exco_run(ex);
    l->r_free = exco_executor_free(ex);
  }
  return NULL;
}

START_TEST(stress_many_sleepers_on_several_threads) {
  long per = h_scale(200) / STRESS_THREADS, i;
  stress_loop l[STRESS_THREADS];
  h_host h[STRESS_THREADS];
  pthread_t t[STRESS_THREADS];
  int k;

  if (per < 2)
    per = 2;
  memset(l, 0, sizeof(l));
  for (k = 0; k < STRESS_THREADS; k++) {
    l[k].kind = k % 2 ? H_RIG_HOST : H_RIG_LOCAL;
    l[k].n = per;
    l[k].tasks = calloc((size_t)per, sizeof(stress_task));
    ck_assert_ptr_nonnull(l[k].tasks);
    for (i = 0; i < per; i++)
      l[k].tasks[i].seed = (unsigned)(k * 1000 + i + 1);
    if (l[k].kind == H_RIG_HOST) {
      h_host_init(&h[k]);
      l[k].h = &h[k];
    }
  }
  for (k = 0; k < STRESS_THREADS; k++)
    h_thread_start(&t[k], thread_stress_loop, &l[k]);
  for (k = 0; k < STRESS_THREADS; k++)
    h_thread_join(t[k]);
  for (k = 0; k < STRESS_THREADS; k++) {
    ck_assert_int_eq(l[k].r_new, 0);
    ck_assert_int_eq(l[k].spawn_errors, 0);
    ck_assert_msg(l[k].r_run == 0, "loop %d (%s): run returned %d", k,
                  kind_name[l[k].kind], l[k].r_run);
    ck_assert_int_eq(l[k].r_free, 0);
    for (i = 0; i < per; i++) {
      stress_task *st = &l[k].tasks[i];

      ck_assert_int_eq(st->done, 1);
      ck_assert_int_eq(st->errors, 0);
      ck_assert_int_eq(st->sleeps, STRESS_SLEEPS);
      ck_assert_msg(st->short_sleeps == 0,
                    "loop %d (%s) task %ld: %d short sleeps", k,
                    kind_name[l[k].kind], i, st->short_sleeps);
    }
    if (l[k].kind == H_RIG_HOST)
      h_host_destroy(&h[k]);
    free(l[k].tasks);
  }
}
END_TEST

typedef struct cstress cstress;

typedef struct cs_task {
  cstress *cs;
  unsigned seed;
  int chosen; /* sleeps until cancelled */
  int r;      /* the first nonzero sleep result, or 0 */
  int sleeps;
  int done;
} cs_task;

struct cstress {
  long n;
  cs_task *tasks;
  exco_task **handles;
  long *victims; /* indices of the chosen tasks, shuffled */
  long m;
  atomic_int started;
  unsigned seed; /* the canceller's */
  long cancel_ok, cancel_other, wait_failed;
};

enum { CS_SLEEPS = 4 };

static void *fn_cs_task(void *arg) {
  cs_task *t = arg;
  int r = 0, i;

  atomic_fetch_add(&t->cs->started, 1);
  if (t->chosen) {
    /* Only a cancellation ends this loop. */
    while ((r = exco_sleep((uint64_t)(rand_r(&t->seed) % 6))) == 0)
      t->sleeps++;
  } else {
    for (i = 0; i < CS_SLEEPS; i++) {
      r = exco_sleep((uint64_t)(rand_r(&t->seed) % 6));
      if (r != 0)
        break;
      t->sleeps++;
    }
  }
  t->r = r;
  t->done = 1;
  return NULL;
}

static void *thread_cs_canceller(void *arg) {
  cstress *cs = arg;
  long i;

  if (h_wait_at_least(&cs->started, (int)cs->n) != 0) {
    cs->wait_failed = 1;
    /* Cancel anyway, so the run can end. */
  }
  for (i = 0; i < cs->m; i++) {
    struct timespec ts = {0, (long)(rand_r(&cs->seed) % 300) * 1000};
    int r;

    /* Jitter only, so the cancels land at varied points of the sleeps;
     * nothing waits on it. */
    nanosleep(&ts, NULL);
    r = exco_task_cancel(cs->handles[cs->victims[i]]);
    if (r == 0)
      cs->cancel_ok++;
    else
      cs->cancel_other++;
  }
  return NULL;
}

START_TEST(stress_random_cancels_from_thread) {
  long n = h_scale(200), i, m = 0, normal = 0, cancelled = 0;
  unsigned pick = 12345u + (unsigned)_i;
  cstress cs;
  h_rig r;
  pthread_t th;

  if (n < 4)
    n = 4;
  memset(&cs, 0, sizeof(cs));
  atomic_init(&cs.started, 0);
  cs.n = n;
  cs.seed = 777u;
  cs.tasks = calloc((size_t)n, sizeof(*cs.tasks));
  cs.handles = calloc((size_t)n, sizeof(*cs.handles));
  cs.victims = calloc((size_t)n, sizeof(*cs.victims));
  ck_assert(cs.tasks && cs.handles && cs.victims);
  for (i = 0; i < n; i++) {
    cs.tasks[i].cs = &cs;
    cs.tasks[i].seed = (unsigned)i + 1;
    cs.tasks[i].chosen = rand_r(&pick) % 2;
    if (cs.tasks[i].chosen)
      cs.victims[m++] = i;
  }
  cs.m = m;
  /* Cancel in a random order. */
  for (i = m - 1; i > 0; i--) {
    long j = rand_r(&pick) % (i + 1), tmp = cs.victims[i];

    cs.victims[i] = cs.victims[j];
    cs.victims[j] = tmp;
  }
  h_rig_init(&r, _i);
  for (i = 0; i < n; i++)
    h_rig_spawn(&r, fn_cs_task, &cs.tasks[i], &cs.handles[i]);
  h_thread_start(&th, thread_cs_canceller, &cs);
  h_rig_run(&r);
  h_thread_join(th);
  ck_assert_int_eq(cs.wait_failed, 0);
  ck_assert_int_gt(m, 0);
  ck_assert_int_lt(m, n);
  /* Exact: every chosen task was live when cancelled, and only the
   * chosen ones saw a cancellation. */
  ck_assert_int_eq(cs.cancel_ok, m);
  ck_assert_int_eq(cs.cancel_other, 0);
  for (i = 0; i < n; i++) {
    cs_task *t = &cs.tasks[i];

    ck_assert_int_eq(t->done, 1);
    if (t->chosen) {
      ck_assert_msg(t->r == EXCO_ECANCELED, "%s: task %ld returned %d",
                    kind_name[_i], i, t->r);
      cancelled++;
    } else {
      ck_assert_msg(t->r == 0, "%s: task %ld returned %d", kind_name[_i], i,
                    t->r);
      ck_assert_int_eq(t->sleeps, CS_SLEEPS);
      normal++;
    }
    /* Finished now, all of them. */
    ck_assert_int_eq(exco_task_cancel(cs.handles[i]), EXCO_EALREADY);
    exco_task_release(cs.handles[i]);
  }
  ck_assert_int_eq(cancelled, m);
  ck_assert_int_eq(normal, n - m);
  h_rig_fini(&r);
  free(cs.tasks);
  free(cs.handles);
  free(cs.victims);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("timer");
  TCase *tc = h_tcase("outside", 30);

  tcase_add_test(tc, now_is_monotonic_milliseconds);
  tcase_add_test(tc, time_calls_outside_coroutine);
  suite_add_tcase(s, tc);

  tc = h_tcase("sleep", 60);
  tcase_add_loop_test(tc, sleep_lasts_at_least_the_time, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, sleeps_wake_in_due_order, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, equal_due_times_wake_in_arming_order, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, sleep_until_past_returns_zero_after_one_suspension, 0,
                      H_RIG_KINDS);
  suite_add_tcase(s, tc);

  tc = h_tcase("cancel", 60);
  tcase_add_loop_test(tc, cancel_sleeping_task_from_task, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, cancel_sleeping_task_from_thread, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, cancelled_timer_does_not_fire_later, 0, H_RIG_KINDS);
  suite_add_tcase(s, tc);

  tc = h_tcase("deadline", 60);
  tcase_add_loop_test(tc, deadline_times_out_promise_await, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, ready_future_beats_past_deadline, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, deadline_times_out_join, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, deadline_after_never_lengthens, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, deadline_cuts_sleep, 0, H_RIG_KINDS);
  suite_add_tcase(s, tc);

  tc = h_tcase("stress", 120);
  tcase_add_test(tc, stress_many_sleepers_on_several_threads);
  tcase_add_loop_test(tc, stress_random_cancels_from_thread, 0, H_RIG_KINDS);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
