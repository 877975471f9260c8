/*
 * test-join.c -- join handles: results, self-join, joins across executors
 * and threads, exco_task_done, spawning into a running executor from
 * another thread.
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define V(n) ((void *)(uintptr_t)(n))

typedef struct joiner {
  exco_task *target;
  int release; /* release the join handle after joining */
  int r;
  void *result;
  int done;
} joiner;

static void *fn_joiner(void *arg) {
  joiner *j = arg;

  j->r = exco_join(j->target, &j->result);
  j->done = 1;
  if (j->release)
    exco_task_release(j->target);
  return NULL;
}

typedef struct worker {
  int yields;
  void *value;
} worker;

static void *fn_worker(void *arg) {
  worker *w = arg;
  int i;

  for (i = 0; i < w->yields; i++)
    exco_yield();
  return w->value;
}

START_TEST(join_waits_for_result) {
  exco_executor *ex;
  worker w = {3, V(42)};
  joiner j;

  memset(&j, 0, sizeof(j));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  /* The joiner runs first and has to wait. */
  ck_assert_int_eq(exco_spawn(ex, fn_joiner, &j, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_worker, &w, NULL, &j.target), 0);
  j.release = 1;
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(j.done, 1);
  ck_assert_int_eq(j.r, 0);
  ck_assert_ptr_eq(j.result, V(42));
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(join_finished_and_dropped_task) {
  h_host h;
  worker w = {0, V(43)};
  joiner j;
  exco_task *t;

  memset(&j, 0, sizeof(j));
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_worker, &w, NULL, &t), 0);
  ck_assert_int_eq(exco_task_done(t), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  /* Finished and dropped by the host; the handle keeps the result. */
  ck_assert_int_eq(exco_task_done(t), 1);
  j.target = t;
  ck_assert_int_eq(exco_spawn(h.ex, fn_joiner, &j, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(j.r, 0);
  ck_assert_ptr_eq(j.result, V(43));
  /* Join does not release: a second join works too. */
  memset(&j, 0, sizeof(j));
  j.target = t;
  ck_assert_int_eq(exco_spawn(h.ex, fn_joiner, &j, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(j.r, 0);
  ck_assert_ptr_eq(j.result, V(43));
  exco_task_release(t);
  h_host_destroy(&h);
}
END_TEST

typedef struct selfjoin {
  int r_self;
  int r_null;
  int r_null_result;
  exco_task *other;
} selfjoin;

static void *fn_selfjoin(void *arg) {
  selfjoin *s = arg;
  void *res = V(1);

  s->r_self = exco_join(exco_current(), &res);
  s->r_null = exco_join(NULL, &res);
  s->r_null_result = exco_join(s->other, NULL);
  return NULL;
}

START_TEST(join_self_and_bad_arguments) {
  exco_executor *ex;
  worker w = {0, V(1)};
  selfjoin s;

  memset(&s, 0, sizeof(s));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_worker, &w, NULL, &s.other), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_selfjoin, &s, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(s.r_self, EXCO_EDEADLK);
  ck_assert_int_eq(s.r_null, EXCO_EINVAL);
  ck_assert_int_eq(s.r_null_result, 0);
  exco_task_release(s.other);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(release_without_join) {
  exco_executor *ex;
  worker w = {2, V(1)};
  exco_task *t1, *t2;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_worker, &w, NULL, &t1), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_worker, &w, NULL, &t2), 0);
  /* Before it ran, and after it finished. */
  exco_task_release(t1);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_task_done(t2), 1);
  exco_task_release(t2);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Across executors and threads.                                           */
/* ---------------------------------------------------------------------- */

typedef struct runner {
  exco_executor *ex;
  int r;
} runner;

static void *thread_run(void *arg) {
  runner *r = arg;

  r->r = exco_run(r->ex);
  return NULL;
}

START_TEST(join_task_on_other_thread) {
  long rounds = h_scale(200), i;
  exco_executor *a, *b;

  ck_assert_int_eq(exco_executor_new_local(&a), 0);
  ck_assert_int_eq(exco_executor_new_local(&b), 0);
  for (i = 0; i < rounds; i++) {
    worker w = {(int)(i % 7), V(i + 100)};
    joiner j;
    runner ra;
    pthread_t t;

    memset(&j, 0, sizeof(j));
    ck_assert_int_eq(exco_spawn(a, fn_worker, &w, NULL, &j.target), 0);
    j.release = 1;
    ck_assert_int_eq(exco_spawn(b, fn_joiner, &j, NULL, NULL), 0);
    ra.ex = a;
    ra.r = 1;
    /* a runs on another thread, b here; the join wakes across. */
    h_thread_start(&t, thread_run, &ra);
    ck_assert_int_eq(exco_run(b), 0);
    h_thread_join(t);
    ck_assert_int_eq(ra.r, 0);
    ck_assert_int_eq(j.r, 0);
    ck_assert_ptr_eq(j.result, V(i + 100));
  }
  ck_assert_int_eq(exco_executor_free(a), 0);
  ck_assert_int_eq(exco_executor_free(b), 0);
}
END_TEST

typedef struct host_runner {
  h_host *h;
  int r;
} host_runner;

static void *thread_host_run(void *arg) {
  host_runner *r = arg;

  r->r = h_host_run(r->h);
  return NULL;
}

START_TEST(join_task_on_host_executor_other_thread) {
  long rounds = h_scale(100), i;
  exco_executor *b;
  h_host h;

  h_host_init(&h);
  ck_assert_int_eq(exco_executor_new_local(&b), 0);
  for (i = 0; i < rounds; i++) {
    worker w = {(int)(i % 5), V(i + 7)};
    joiner j;
    host_runner hr;
    pthread_t t;

    memset(&j, 0, sizeof(j));
    ck_assert_int_eq(exco_spawn(h.ex, fn_worker, &w, NULL, &j.target), 0);
    j.release = 1;
    ck_assert_int_eq(exco_spawn(b, fn_joiner, &j, NULL, NULL), 0);
    hr.h = &h;
    hr.r = 1;
    h_thread_start(&t, thread_host_run, &hr);
    ck_assert_int_eq(exco_run(b), 0);
    h_thread_join(t);
    ck_assert_int_eq(hr.r, 0);
    ck_assert_int_eq(j.r, 0);
    ck_assert_ptr_eq(j.result, V(i + 7));
  }
  ck_assert_int_eq(exco_executor_free(b), 0);
  h_host_destroy(&h);
}
END_TEST

START_TEST(task_done_states) {
  exco_executor *ex;
  worker w = {2, V(0)};
  exco_task *t;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_worker, &w, NULL, &t), 0);
  ck_assert_int_eq(exco_task_done(t), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 0);
  ck_assert_int_eq(exco_task_done(t), 1);
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("join");
  TCase *tc = h_tcase("join", 60);

  tcase_add_test(tc, join_waits_for_result);
  tcase_add_test(tc, join_finished_and_dropped_task);
  tcase_add_test(tc, join_self_and_bad_arguments);
  tcase_add_test(tc, release_without_join);
  tcase_add_test(tc, join_task_on_other_thread);
  tcase_add_test(tc, join_task_on_host_executor_other_thread);
  tcase_add_test(tc, task_done_states);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
