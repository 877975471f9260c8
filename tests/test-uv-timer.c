/*
 * test-uv-timer.c -- exco_uv_sleep(): ordering, duration, cancellation,
 * and the timeout mechanism shared by every _timeout awaitable (with
 * exco_uv_signal_timeout and exco_uv_work_timeout as the probes).
 *
 * Coroutines record results in plain variables; asserts come after
 * uv_run() returns.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"

static uint64_t now_ms(void) {
  return uv_hrtime() / 1000000u;
}

/* ---------------------------------------------------------------------- */
/* Ordering and duration                                                   */
/* ---------------------------------------------------------------------- */

typedef struct sleep_job {
  uint64_t ms;
  int id;
  int err;
  uint64_t slept;
} sleep_job;

static int finish_order[16];
static int finished;

static void *sleep_and_record(void *arg) {
  sleep_job *j = arg;
  uint64_t t0 = now_ms();

  j->err = exco_uv_sleep(j->ms);
  j->slept = now_ms() - t0;
  finish_order[finished++] = j->id;
  return NULL;
}

START_TEST(sleeps_end_in_deadline_order) {
  sleep_job jobs[4] = {
      {60, 0, -1, 0}, {20, 1, -1, 0}, {40, 2, -1, 0}, {0, 3, -1, 0}};
  tloop t;
  int i;

  tl_init(&t);
  finished = 0;
  for (i = 0; i < 4; i++)
    tl_spawn(&t, sleep_and_record, &jobs[i], NULL);
  tl_run(&t);
  ck_assert_int_eq(finished, 4);
  ck_assert_int_eq(finish_order[0], 3);
  ck_assert_int_eq(finish_order[1], 1);
  ck_assert_int_eq(finish_order[2], 2);
  ck_assert_int_eq(finish_order[3], 0);
  for (i = 0; i < 4; i++) {
    ck_assert_int_eq(jobs[i].err, 0);
    /* At least the time asked (ms granularity of the loop clock). */
    ck_assert_uint_ge(jobs[i].slept + 1, jobs[i].ms);
  }
  tl_fini(&t);
}
END_TEST

START_TEST(equal_sleeps_end_in_start_order) {
  sleep_job jobs[8];
  tloop t;
  int i;

  tl_init(&t);
  finished = 0;
  for (i = 0; i < 8; i++) {
    jobs[i].ms = 15;
    jobs[i].id = i;
    jobs[i].err = -1;
    tl_spawn(&t, sleep_and_record, &jobs[i], NULL);
  }
  tl_run(&t);
  ck_assert_int_eq(finished, 8);
  for (i = 0; i < 8; i++) {
    ck_assert_int_eq(jobs[i].err, 0);
    ck_assert_int_eq(finish_order[i], i);
  }
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Cancellation                                                            */
/* ---------------------------------------------------------------------- */

typedef struct canceller {
  exco_task *victim;
  uint64_t after_ms;
  int err;
} canceller;

static void *cancel_later(void *arg) {
  canceller *c = arg;

  c->err = exco_uv_sleep(c->after_ms);
  exco_task_cancel(c->victim);
  return NULL;
}

static int after_cancel_err;

static void *long_sleep(void *arg) {
  sleep_job *j = arg;

  j->err = exco_uv_sleep(j->ms);
  /* Every later await is cancelled too, and returns at once. */
  after_cancel_err = exco_uv_sleep(10);
  return NULL;
}

START_TEST(sleep_cancelled) {
  sleep_job j = {60000, 0, -1, 0};
  canceller c = {NULL, 5, -1};
  uint64_t t0;
  tloop t;

  tl_init(&t);
  after_cancel_err = 0;
  tl_spawn(&t, long_sleep, &j, &c.victim);
  tl_spawn(&t, cancel_later, &c, NULL);
  t0 = now_ms();
  /* The loop ends as soon as the cancelled sleep's timer is closed,
   * not after a minute. */
  tl_run(&t);
  ck_assert_uint_lt(now_ms() - t0, 30000);
  ck_assert_int_eq(c.err, 0);
  ck_assert_int_eq(j.err, EXCO_ECANCELED);
  ck_assert_int_eq(after_cancel_err, EXCO_ECANCELED);
  exco_task_release(c.victim);
  tl_fini(&t);
}
END_TEST

static void *cancel_now(void *arg) {
  exco_task_cancel(arg);
  return NULL;
}

START_TEST(sleep_cancelled_before_first_poll) {
  sleep_job j = {60000, 0, -1, 0};
  exco_task *victim;
  tloop t;

  tl_init(&t);
  tl_spawn(&t, long_sleep, &j, &victim);
  ck_assert_int_eq(exco_task_cancel(victim), 0);
  tl_run(&t);
  /* Either the body never ran, or its first await said cancelled. */
  ck_assert(j.err == -1 || j.err == EXCO_ECANCELED);
  exco_task_release(victim);

  /* Cancelled between two sleeps by a sibling in the same loop pass. */
  j.err = -1;
  tl_spawn(&t, long_sleep, &j, &victim);
  tl_spawn(&t, cancel_now, victim, NULL);
  tl_run(&t);
  ck_assert_int_eq(j.err, EXCO_ECANCELED);
  exco_task_release(victim);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Timeouts                                                                */
/* ---------------------------------------------------------------------- */

typedef struct timeout_job {
  int err;
  uint64_t took;
} timeout_job;

static void *signal_with_timeout(void *arg) {
  timeout_job *j = arg;
  uint64_t t0 = now_ms();

  j->err = exco_uv_signal_timeout(SIGUSR1, 30);
  j->took = now_ms() - t0;
  return NULL;
}

static void *slow_ok(void *arg) {
  (void)arg;
  return NULL;
}

static void nothing(void *arg) {
  (void)arg;
}

static void *work_with_timeout(void *arg) {
  timeout_job *j = arg;

  /* A quick job with a generous deadline: the deadline timer must be
   * closed cleanly when the job wins. */
  j->err = exco_uv_work_timeout(nothing, NULL, NULL, 10000);
  return NULL;
}

START_TEST(timeouts) {
  timeout_job a = {-1, 0}, b = {-1, 0};
  tloop t;

  tl_init(&t);
  tl_spawn(&t, signal_with_timeout, &a, NULL);
  tl_spawn(&t, work_with_timeout, &b, NULL);
  tl_spawn(&t, slow_ok, NULL, NULL);
  tl_run(&t);
  ck_assert_int_eq(a.err, UV_ETIMEDOUT);
  ck_assert_uint_ge(a.took + 1, 30);
  ck_assert_int_eq(b.err, 0);
  tl_fini(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uv-timer");
  TCase *tc = h_tcase("timer", 60);

  tcase_add_test(tc, sleeps_end_in_deadline_order);
  tcase_add_test(tc, equal_sleeps_end_in_start_order);
  tcase_add_test(tc, sleep_cancelled);
  tcase_add_test(tc, sleep_cancelled_before_first_poll);
  tcase_add_test(tc, timeouts);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
