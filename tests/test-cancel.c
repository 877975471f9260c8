/*
 * test-cancel.c -- cancellation (docs/ARCHITECTURE.md 1.1, 2): drop of a
 * pending task, exco_task_cancel, joins of cancelled tasks, stack holds.
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RESULT ((void *)(uintptr_t)0xc0ffee)

static int ready_poll(void *arg, exco_waker *w) {
  (void)w;
  atomic_fetch_add((atomic_int *)arg, 1);
  return 1;
}

typedef struct canc {
  h_flag f1, f3;
  atomic_int ready_calls;
  exco_promise *resolved;
  int entered, resumed, cleanup;
  int r1, r2, r3, r4, r5;
  void *pv;
} canc;

static void *fn_canc(void *arg) {
  canc *c = arg;

  c->entered++;
  c->r1 = h_flag_await(&c->f1);
  c->resumed++;
  /* Every later await returns EXCO_ECANCELED without suspending. */
  c->r2 = exco_yield();
  c->r3 = h_flag_await(&c->f3);
  c->r4 = exco_await(ready_poll, NULL, &c->ready_calls);
  c->r5 = exco_promise_await(c->resolved, &c->pv);
  c->cleanup = 1;
  return RESULT;
}

static void canc_init(canc *c) {
  memset(c, 0, sizeof(*c));
  h_flag_init(&c->f1);
  h_flag_init(&c->f3);
  atomic_init(&c->ready_calls, 0);
  ck_assert_int_eq(exco_promise_new(&c->resolved), 0);
  ck_assert_int_eq(exco_promise_resolve(c->resolved, RESULT), 0);
}

static void canc_destroy(canc *c) {
  h_flag_destroy(&c->f1);
  h_flag_destroy(&c->f3);
  exco_promise_unref(c->resolved);
}

START_TEST(drop_pending_task_cancels_it) {
  h_host h;
  canc c;
  exco_task *t;
  h_ext *e;

  canc_init(&c);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_canc, &c, NULL, &t), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(c.entered, 1);
  ck_assert_int_eq(c.resumed, 0);
  ck_assert(h_flag_has_waker(&c.f1));

  ck_assert_int_eq(h_host_drop(&h, e), 0);
  /* Resumed exactly once, inside the drop. */
  ck_assert_int_eq(c.entered, 1);
  ck_assert_int_eq(c.resumed, 1);
  ck_assert_int_eq(c.cleanup, 1);
  ck_assert_int_eq(c.r1, EXCO_ECANCELED);
  ck_assert_int_eq(c.r2, EXCO_ECANCELED);
  ck_assert_int_eq(c.r3, EXCO_ECANCELED);
  ck_assert_int_eq(c.r4, EXCO_ECANCELED);
  ck_assert_int_eq(c.r5, EXCO_ECANCELED);
  /* The blocked future was told, and withdrew its waker. */
  ck_assert_int_eq(atomic_load(&c.f1.cancels), 1);
  ck_assert(!h_flag_has_waker(&c.f1));
  /* Later futures were not even polled (cancellation is checked first). */
  ck_assert_int_eq(atomic_load(&c.f3.polls), 0);
  ck_assert_int_eq(atomic_load(&c.f3.cancels), 0);
  ck_assert_int_eq(atomic_load(&c.ready_calls), 0);
  ck_assert_int_eq(exco_task_done(t), 1);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);
  /* Wakes of the gone task do nothing. */
  h_flag_set(&c.f1);
  exco_task_release(t);
  /* The stack was released: the executor frees. */
  h_host_destroy(&h);
  canc_destroy(&c);
}
END_TEST

typedef struct body {
  int ran;
} body;

static void *fn_body(void *arg) {
  ((body *)arg)->ran++;
  return RESULT;
}

typedef struct joiner {
  exco_task *target;
  int r;
  void *result;
  int done;
} joiner;

static void *fn_joiner(void *arg) {
  joiner *j = arg;

  j->r = exco_join(j->target, &j->result);
  j->done = 1;
  return NULL;
}

START_TEST(drop_never_polled_task_never_runs) {
  h_host h;
  body b = {0};
  joiner j;
  exco_executor *local;
  exco_task *t;
  h_ext *e;

  h_host_init(&h);
  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_body, &b, NULL, &t), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  ck_assert_int_eq(b.ran, 0);
  ck_assert_int_eq(exco_task_done(t), 1);
  ck_assert_int_eq(exco_task_cancel(t), EXCO_EALREADY);

  /* A join reports the cancellation, with a NULL result. */
  memset(&j, 0, sizeof(j));
  j.target = t;
  j.result = &j;
  ck_assert_int_eq(exco_spawn(local, fn_joiner, &j, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(local), 0);
  ck_assert_int_eq(j.done, 1);
  ck_assert_int_eq(j.r, EXCO_ECANCELED);
  ck_assert_ptr_null(j.result);
  ck_assert_int_eq(b.ran, 0);
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_free(local), 0);
  h_host_destroy(&h);
}
END_TEST

typedef struct twice {
  h_flag f;
  int r1, r2, r3;
  int ran;
} twice;

static void *fn_twice(void *arg) {
  twice *w = arg;

  w->ran = 1;
  w->r1 = h_flag_await(&w->f);
  w->r2 = exco_yield();
  w->r3 = h_flag_await(&w->f);
  return RESULT;
}

typedef struct canceller {
  exco_task *t;
  int r;
} canceller;

static void *thread_cancel(void *arg) {
  canceller *c = arg;

  c->r = exco_task_cancel(c->t);
  return NULL;
}

START_TEST(cancel_from_other_thread) {
  h_host h;
  twice w;
  canceller c;
  pthread_t th;
  exco_task *t;
  h_ext *e;

  memset(&w, 0, sizeof(w));
  h_flag_init(&w.f);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_twice, &w, NULL, &t), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  c.t = t;
  c.r = 1;
  h_thread_start(&th, thread_cancel, &c);
  h_thread_join(th);
  ck_assert_int_eq(c.r, 0);
  /* The cancel woke the task; the host finishes it normally. */
  ck_assert_int_eq(h_host_run(&h), 0);
  ck_assert_int_eq(w.r1, EXCO_ECANCELED);
  ck_assert_int_eq(w.r2, EXCO_ECANCELED);
  ck_assert_int_eq(w.r3, EXCO_ECANCELED);
  ck_assert_int_eq(atomic_load(&w.f.cancels), 1);
  ck_assert_int_eq(exco_task_done(t), 1);
  ck_assert_int_eq(exco_task_cancel(t), EXCO_EALREADY);
  exco_task_release(t);
  h_flag_destroy(&w.f);
  h_host_destroy(&h);
}
END_TEST

/* A cancel racing the first poll and the first await, many times. */
START_TEST(cancel_races_first_poll) {
  long rounds = h_scale(500), i;

  for (i = 0; i < rounds; i++) {
    h_host h;
    twice w;
    canceller c;
    pthread_t th;
    exco_task *t;

    memset(&w, 0, sizeof(w));
    h_flag_init(&w.f);
    h_host_init(&h);
    ck_assert_int_eq(exco_spawn(h.ex, fn_twice, &w, NULL, &t), 0);
    c.t = t;
    c.r = 1;
    h_thread_start(&th, thread_cancel, &c);
    ck_assert_int_eq(h_host_run(&h), 0);
    h_thread_join(th);
    ck_assert_int_eq(c.r, 0);
    /* Either the body never ran, or its awaits all saw the cancel. */
    if (w.ran) {
      ck_assert_int_eq(w.r1, EXCO_ECANCELED);
      ck_assert_int_eq(w.r2, EXCO_ECANCELED);
      ck_assert_int_eq(w.r3, EXCO_ECANCELED);
    }
    ck_assert_int_le(atomic_load(&w.f.cancels), 1);
    exco_task_release(t);
    h_flag_destroy(&w.f);
    h_host_destroy(&h);
  }
}
END_TEST

typedef struct selfcancel {
  int rc, r1, r2;
} selfcancel;

static void *fn_self_cancel(void *arg) {
  selfcancel *s = arg;

  s->rc = exco_task_cancel(exco_current());
  s->r1 = exco_yield();
  s->r2 = exco_yield();
  return RESULT;
}

START_TEST(cancel_self) {
  exco_executor *ex;
  selfcancel s = {0};
  joiner j;
  exco_task *t;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_self_cancel, &s, NULL, &t), 0);
  memset(&j, 0, sizeof(j));
  j.target = t;
  ck_assert_int_eq(exco_spawn(ex, fn_joiner, &j, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(s.rc, 0);
  ck_assert_int_eq(s.r1, EXCO_ECANCELED);
  ck_assert_int_eq(s.r2, EXCO_ECANCELED);
  /* A cancelled task's result is still stored. */
  ck_assert_int_eq(j.r, EXCO_ECANCELED);
  ck_assert_ptr_eq(j.result, RESULT);
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/*
 * A task cancelled while it is suspended in exco_yield(): the yield
 * returns EXCO_ECANCELED when the task is resumed (the check after the
 * switch), and the next yield too.  Run on the local executor (kept
 * yields) and on the test host (exco_poll()).
 */
typedef struct yieldcancel {
  exco_task *target;
  int yielding;     /* the target is inside its first yield */
  int saw_yielding; /* the canceller ran while it was */
  int rc, r1, r2;
} yieldcancel;

static void *fn_yield_cancelled(void *arg) {
  yieldcancel *y = arg;

  y->yielding = 1;
  y->r1 = exco_yield();
  y->yielding = 0;
  y->r2 = exco_yield();
  return RESULT;
}

static void *fn_yield_canceller(void *arg) {
  yieldcancel *y = arg;

  y->saw_yielding = y->yielding;
  y->rc = exco_task_cancel(y->target);
  return NULL;
}

START_TEST(cancel_while_suspended_in_yield_local) {
  exco_executor *ex;
  yieldcancel y = {0};

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_yield_cancelled, &y, NULL, &y.target), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_yield_canceller, &y, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(y.saw_yielding, 1);
  ck_assert_int_eq(y.rc, 0);
  ck_assert_int_eq(y.r1, EXCO_ECANCELED);
  ck_assert_int_eq(y.r2, EXCO_ECANCELED);
  exco_task_release(y.target);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(cancel_while_suspended_in_yield_host) {
  h_host h;
  yieldcancel y = {0};
  h_ext *e;

  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_yield_cancelled, &y, NULL, &y.target),
                   0);
  e = h_host_pop(&h);
  /* Suspended in its first yield, which asked for another poll. */
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(y.yielding, 1);
  ck_assert_int_eq(exco_task_cancel(y.target), 0);
  ck_assert_int_eq(h_host_run(&h), 0);
  ck_assert_int_eq(y.r1, EXCO_ECANCELED);
  ck_assert_int_eq(y.r2, EXCO_ECANCELED);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);
  exco_task_release(y.target);
  h_host_destroy(&h);
}
END_TEST

typedef struct forever {
  h_flag f;
  int r;
  int cleanup;
} forever;

static void *fn_forever(void *arg) {
  forever *f = arg;

  f->r = h_flag_await(&f->f);
  f->cleanup = 1;
  return RESULT;
}

/* Spawns a task awaiting @f's flag (@t, its host handle in @et) and a
 * task joining it (@ej), and polls both until they wait. */
static void start_join_forever(h_host *h, forever *f, joiner *j, exco_task **t,
                               h_ext **et, h_ext **ej) {
  memset(f, 0, sizeof(*f));
  memset(j, 0, sizeof(*j));
  h_flag_init(&f->f);
  h_host_init(h);
  ck_assert_int_eq(exco_spawn(h->ex, fn_forever, f, NULL, t), 0);
  j->target = *t;
  ck_assert_int_eq(exco_spawn(h->ex, fn_joiner, j, NULL, NULL), 0);
  *et = h_host_pop(h);
  *ej = h_host_pop(h);
  ck_assert_int_eq(h_host_poll(h, *et), 1);
  ck_assert_int_eq(h_host_poll(h, *ej), 1);
}

START_TEST(join_cancelled_task) {
  h_host h;
  forever f;
  joiner j;
  exco_task *t;
  h_ext *et, *ej;

  start_join_forever(&h, &f, &j, &t, &et, &ej);
  ck_assert_int_eq(j.done, 0);
  /* Dropping the target cancels it and wakes the joiner. */
  ck_assert_int_eq(h_host_drop(&h, et), 0);
  ck_assert_int_eq(f.r, EXCO_ECANCELED);
  ck_assert_int_eq(f.cleanup, 1);
  ck_assert_ptr_eq(h_host_pop(&h), ej);
  ck_assert_int_eq(h_host_poll(&h, ej), 0);
  ck_assert_int_eq(j.done, 1);
  ck_assert_int_eq(j.r, EXCO_ECANCELED);
  ck_assert_ptr_eq(j.result, RESULT);
  ck_assert_int_eq(h_host_drop(&h, ej), 0);
  exco_task_release(t);
  h_flag_destroy(&f.f);
  h_host_destroy(&h);
}
END_TEST

START_TEST(joiner_cancelled_while_waiting) {
  h_host h;
  forever f;
  joiner j;
  exco_task *t;
  h_ext *et, *ej;

  start_join_forever(&h, &f, &j, &t, &et, &ej);
  ck_assert_int_eq(h_host_drop(&h, ej), 0);
  ck_assert_int_eq(j.done, 1);
  ck_assert_int_eq(j.r, EXCO_ECANCELED);
  /* The target is unaffected and finishes normally. */
  ck_assert_int_eq(exco_task_done(t), 0);
  h_flag_set(&f.f);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(f.r, 0);
  ck_assert_int_eq(exco_task_done(t), 1);
  exco_task_release(t);
  h_flag_destroy(&f.f);
  h_host_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Stack holds                                                             */
/* ---------------------------------------------------------------------- */

enum { LENT = 256 };

typedef struct lender {
  h_flag f;
  exco_hold *hold;
  volatile char *buf; /* lent stack memory */
  int r;
  int cleanup;
} lender;

static void *fn_lend(void *arg) {
  lender *l = arg;
  volatile char buf[LENT];

  memset((char *)buf, 'a', sizeof(buf));
  /* Take the hold before lending. */
  l->hold = exco_hold_stack();
  l->buf = buf;
  l->r = h_flag_await(&l->f);
  l->cleanup = 1;
  return NULL;
}

/* Scribbles over the top of its stack, where a reused stack would have
 * the lent buffer. */
static void *fn_scribble(void *arg) {
  volatile char big[64 * 1024];

  (void)arg;
  memset((char *)big, 0x5a, sizeof(big));
  return (void *)(uintptr_t)big[100];
}

typedef struct loan_end {
  lender *l;
  char pattern;
} loan_end;

/* The "thread pool" that ends the loan: writes, then releases the hold. */
static void *thread_end_loan(void *arg) {
  loan_end *le = arg;
  int i;

  for (i = 0; i < LENT; i++)
    le->l->buf[i] = le->pattern;
  exco_hold_release(le->l->hold);
  return NULL;
}

static void hold_keeps_stack(unsigned flags, int cancel) {
  h_host h;
  lender l;
  exco_spawn_opts o;
  loan_end le;
  pthread_t th;
  h_ext *e;
  int i;

  memset(&l, 0, sizeof(l));
  memset(&o, 0, sizeof(o));
  o.flags = flags;
  h_flag_init(&l.f);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_lend, &l, &o, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_ptr_nonnull(l.hold);
  ck_assert(l.buf != NULL);
  if (cancel) {
    ck_assert_int_eq(h_host_drop(&h, e), 0);
    ck_assert_int_eq(l.r, EXCO_ECANCELED);
  } else {
    h_flag_set(&l.f);
    ck_assert_int_eq(h_host_run_until_idle(&h), 0);
    ck_assert_int_eq(l.r, 0);
  }
  ck_assert_int_eq(l.cleanup, 1);

  /* The task is gone but its stack is held: the loan goes on.  (The
   * buffer's old contents are not checked: the task's frame is gone, and
   * exco's own code may have used that stack area since.) */
  for (i = 0; i < LENT; i++)
    l.buf[i] = 'b';
  /* Other tasks of the same stack class must not get the held stack. */
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(exco_spawn(h.ex, fn_scribble, NULL, &o, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  for (i = 0; i < LENT; i++)
    ck_assert_int_eq(l.buf[i], 'b');

  /* The loan ends on another thread. */
  le.l = &l;
  le.pattern = 'c';
  h_thread_start(&th, thread_end_loan, &le);
  h_thread_join(th);
  h_flag_destroy(&l.f);
  h_host_destroy(&h);
}

START_TEST(hold_keeps_stack_after_cancel) {
  hold_keeps_stack(0, 1);
}
END_TEST

START_TEST(hold_keeps_stack_after_return) {
  hold_keeps_stack(0, 0);
}
END_TEST

START_TEST(hold_keeps_noguard_stack_after_cancel) {
  hold_keeps_stack(EXCO_SPAWN_NOGUARD, 1);
}
END_TEST

/* exco_executor_live() counts a dropped task while a hold keeps its
 * stack: the stack belongs to the executor's pool, so the executor must
 * not be freed before the hold ends. */
START_TEST(held_task_stays_live) {
  h_host h;
  lender l;
  h_ext *e;
  long live_after_drop;

  memset(&l, 0, sizeof(l));
  h_flag_init(&l.f);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_lend, &l, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(exco_executor_live(h.ex), 1);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  live_after_drop = exco_executor_live(h.ex);
  ck_assert_int_eq(exco_executor_free(h.ex), EXCO_EBUSY);
  exco_hold_release(l.hold);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);
  ck_assert_int_eq(live_after_drop, 1);
  h_flag_destroy(&l.f);
  h_host_destroy(&h);
}
END_TEST

typedef struct early {
  int r;
  int got;
} early;

static void *fn_early_release(void *arg) {
  early *e = arg;
  exco_hold *hold = exco_hold_stack();

  e->got = hold != NULL;
  exco_hold_release(hold);
  e->r = exco_yield();
  return NULL;
}

START_TEST(hold_released_early) {
  exco_executor *ex;
  early e = {0};

  exco_hold_release(NULL);
  ck_assert_ptr_null(exco_hold_stack());
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_early_release, &e, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(e.got, 1);
  ck_assert_int_eq(e.r, 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("cancel");
  TCase *tc = h_tcase("cancel", 60);

  tcase_add_test(tc, drop_pending_task_cancels_it);
  tcase_add_test(tc, drop_never_polled_task_never_runs);
  tcase_add_test(tc, cancel_from_other_thread);
  tcase_add_test(tc, cancel_races_first_poll);
  tcase_add_test(tc, cancel_self);
  tcase_add_test(tc, cancel_while_suspended_in_yield_local);
  tcase_add_test(tc, cancel_while_suspended_in_yield_host);
  tcase_add_test(tc, join_cancelled_task);
  tcase_add_test(tc, joiner_cancelled_while_waiting);
  suite_add_tcase(s, tc);

  tc = h_tcase("hold", 30);
  tcase_add_test(tc, hold_keeps_stack_after_cancel);
  tcase_add_test(tc, hold_keeps_stack_after_return);
  tcase_add_test(tc, hold_keeps_noguard_stack_after_cancel);
  tcase_add_test(tc, hold_released_early);
  tcase_add_test(tc, held_task_stays_live);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
