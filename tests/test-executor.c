/*
 * test-executor.c -- the built-in local executor: exco_run,
 * exco_run_until_idle, sleeping while tasks wait on other threads,
 * several executors on several threads.
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define V(n) ((void *)(uintptr_t)(n))

typedef struct counter {
  int yields;
  int steps;
  int errors;
} counter;

static void *fn_count(void *arg) {
  counter *c = arg;
  int i;

  for (i = 0; i < c->yields; i++) {
    if (exco_yield() != 0)
      c->errors++;
    c->steps++;
  }
  return NULL;
}

START_TEST(run_completes_all_tasks) {
  enum { N = 100 };
  exco_executor *ex;
  counter c[N];
  int i;

  memset(c, 0, sizeof(c));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  /* Nothing to run. */
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 0);
  for (i = 0; i < N; i++) {
    c[i].yields = i % 13;
    ck_assert_int_eq(exco_spawn(ex, fn_count, &c[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(exco_executor_live(ex), N);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_executor_live(ex), 0);
  for (i = 0; i < N; i++) {
    ck_assert_int_eq(c[i].steps, c[i].yields);
    ck_assert_int_eq(c[i].errors, 0);
  }
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct waiter {
  exco_promise *p;
  int r;
  void *value;
} waiter;

static void *fn_wait(void *arg) {
  waiter *w = arg;

  w->r = exco_promise_await(w->p, &w->value);
  return NULL;
}

START_TEST(run_until_idle_returns_live_count) {
  exco_executor *ex;
  counter c1 = {0, 0, 0}, c2 = {3, 0, 0};
  waiter w1, w2;

  memset(&w1, 0, sizeof(w1));
  memset(&w2, 0, sizeof(w2));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_promise_new(&w1.p), 0);
  ck_assert_int_eq(exco_promise_new(&w2.p), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_count, &c1, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_wait, &w1, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_count, &c2, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_wait, &w2, NULL, NULL), 0);
  /* Runs everything that is ready, yields included, and reports the two
   * waiters. */
  ck_assert_int_eq(exco_run_until_idle(ex), 2);
  ck_assert_int_eq(c2.steps, 3);
  ck_assert_int_eq(exco_run_until_idle(ex), 2);
  ck_assert_int_eq(exco_promise_resolve(w1.p, V(1)), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  ck_assert_int_eq(w1.r, 0);
  ck_assert_ptr_eq(w1.value, V(1));
  ck_assert_int_eq(exco_promise_resolve(w2.p, V(2)), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 0);
  ck_assert_ptr_eq(w2.value, V(2));
  exco_promise_unref(w1.p);
  exco_promise_unref(w2.p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct sleeper {
  pthread_t main;
  exco_promise *p;
  double cpu_s; /* CPU time the main thread used in the window */
  int err;
} sleeper;

static double thread_cpu(pthread_t t) {
  clockid_t id;
  struct timespec ts;

  if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0)
    return -1.0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *thread_sleeper(void *arg) {
  sleeper *s = arg;
  struct timespec window = {0, 300 * 1000 * 1000};
  double c0, c1;

  /* The sleep only opens a window to measure in; nothing depends on its
   * length for correctness: the resolve below is what ends exco_run. */
  c0 = thread_cpu(s->main);
  nanosleep(&window, NULL);
  c1 = thread_cpu(s->main);
  s->cpu_s = c1 - c0;
  if (c0 < 0 || c1 < 0)
    s->err = 1;
  exco_promise_resolve(s->p, V(5));
  exco_promise_unref(s->p);
  return NULL;
}

START_TEST(run_sleeps_while_tasks_wait) {
  exco_executor *ex;
  waiter w;
  sleeper s;
  pthread_t t;

  memset(&w, 0, sizeof(w));
  memset(&s, 0, sizeof(s));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_promise_new(&w.p), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_wait, &w, NULL, NULL), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  s.main = pthread_self();
  s.p = exco_promise_ref(w.p);
  h_thread_start(&t, thread_sleeper, &s);
  ck_assert_int_eq(exco_run(ex), 0);
  h_thread_join(t);
  ck_assert_int_eq(w.r, 0);
  ck_assert_ptr_eq(w.value, V(5));
  ck_assert_int_eq(s.err, 0);
  /* A spinning exco_run would have burnt ~0.3 s of CPU. */
  ck_assert_msg(s.cpu_s < 0.1, "exco_run used %.3f s of CPU while idle",
                s.cpu_s);
  exco_promise_unref(w.p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(host_executor_has_no_run) {
  h_host h;

  h_host_init(&h);
  ck_assert_int_eq(exco_run(h.ex), EXCO_ENOTSUP);
  ck_assert_int_eq(exco_run_until_idle(h.ex), EXCO_ENOTSUP);
  h_host_destroy(&h);
}
END_TEST

typedef struct inner {
  exco_executor *other;
  int r_run_own, r_run_other, r_idle_own, r_idle_other, r_run_null;
} inner;

static void *fn_inner_run(void *arg) {
  inner *i = arg;

  i->r_run_own = exco_run(exco_current_executor());
  i->r_run_other = exco_run(i->other);
  i->r_idle_own = exco_run_until_idle(exco_current_executor());
  i->r_idle_other = exco_run_until_idle(i->other);
  i->r_run_null = exco_run(NULL);
  return NULL;
}

START_TEST(run_inside_coroutine_is_busy) {
  exco_executor *ex;
  inner i;
  counter c = {1, 0, 0};

  memset(&i, 0, sizeof(i));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_executor_new_local(&i.other), 0);
  ck_assert_int_eq(exco_spawn(i.other, fn_count, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_inner_run, &i, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(i.r_run_own, EXCO_EBUSY);
  ck_assert_int_eq(i.r_run_other, EXCO_EBUSY);
  ck_assert_int_eq(i.r_idle_own, EXCO_EBUSY);
  ck_assert_int_eq(i.r_idle_other, EXCO_EBUSY);
  ck_assert_int_eq(i.r_run_null, EXCO_EBUSY);
  /* Nothing ran on the other executor. */
  ck_assert_int_eq(c.steps, 0);
  ck_assert_int_eq(exco_run(i.other), 0);
  ck_assert_int_eq(c.steps, 1);
  ck_assert_int_eq(exco_executor_free(i.other), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(free_local_with_live_tasks_is_busy) {
  exco_executor *ex;
  counter c = {2, 0, 0};

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_count, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_executor_free(ex), EXCO_EBUSY);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(c.steps, 2);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Threads                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct spawn_later {
  exco_executor *ex;
  exco_promise *p;
  int r_spawn;
} spawn_later;

static void *fn_resolve(void *arg) {
  exco_promise *p = arg;

  exco_promise_resolve(p, V(11));
  exco_promise_unref(p);
  return NULL;
}

static void *thread_spawn_into(void *arg) {
  spawn_later *s = arg;

  s->r_spawn = exco_spawn(s->ex, fn_resolve, s->p, NULL, NULL);
  return NULL;
}

START_TEST(spawn_into_running_executor_from_other_thread) {
  long rounds = h_scale(200), i;
  exco_executor *ex;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (i = 0; i < rounds; i++) {
    waiter w;
    spawn_later s;
    pthread_t t;

    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(exco_promise_new(&w.p), 0);
    ck_assert_int_eq(exco_spawn(ex, fn_wait, &w, NULL, NULL), 0);
    s.ex = ex;
    s.p = exco_promise_ref(w.p);
    s.r_spawn = 1;
    h_thread_start(&t, thread_spawn_into, &s);
    /* Blocks until the other thread's task resolved the promise. */
    ck_assert_int_eq(exco_run(ex), 0);
    h_thread_join(t);
    ck_assert_int_eq(s.r_spawn, 0);
    ck_assert_int_eq(w.r, 0);
    ck_assert_ptr_eq(w.value, V(11));
    exco_promise_unref(w.p);
  }
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

enum { LOOPS = 4, LOOP_TASKS = 50, LOOP_YIELDS = 50 };

typedef struct ring {
  exco_promise *p[LOOPS];
  pthread_barrier_t go;
} ring;

typedef struct relay {
  ring *ring;
  int id;
  int r_await;
  int r_resolve;
  void *got;
} relay;

/* A token goes once around the ring of executors. */
static void *fn_relay(void *arg) {
  relay *rl = arg;
  ring *rg = rl->ring;
  exco_promise *next = rg->p[(rl->id + 1) % LOOPS];

  if (rl->id == 0) {
    rl->r_resolve = exco_promise_resolve(next, V(1));
    rl->r_await = exco_promise_await(rg->p[0], &rl->got);
  } else {
    rl->r_await = exco_promise_await(rg->p[rl->id], &rl->got);
    rl->r_resolve = exco_promise_resolve(next, V((uintptr_t)rl->got + 1));
  }
  return NULL;
}

typedef struct loop {
  ring *ring;
  relay relay;
  counter c[LOOP_TASKS];
  int r_new, r_run, r_free;
  long spawn_errors;
} loop;

static void *thread_loop(void *arg) {
  loop *l = arg;
  exco_executor *ex;
  int i;

  l->r_new = exco_executor_new_local(&ex);
  pthread_barrier_wait(&l->ring->go);
  if (l->r_new != 0)
    return NULL;
  for (i = 0; i < LOOP_TASKS; i++) {
    l->c[i].yields = LOOP_YIELDS;
    if (exco_spawn(ex, fn_count, &l->c[i], NULL, NULL) != 0)
      l->spawn_errors++;
  }
  if (exco_spawn(ex, fn_relay, &l->relay, NULL, NULL) != 0)
    l->spawn_errors++;
  l->r_run = exco_run(ex);
  l->r_free = exco_executor_free(ex);
  return NULL;
}

START_TEST(executors_on_several_threads) {
  ring rg;
  loop l[LOOPS];
  pthread_t t[LOOPS];
  int i, k;

  memset(l, 0, sizeof(l));
  for (i = 0; i < LOOPS; i++)
    ck_assert_int_eq(exco_promise_new(&rg.p[i]), 0);
  pthread_barrier_init(&rg.go, NULL, LOOPS);
  for (i = 0; i < LOOPS; i++) {
    l[i].ring = &rg;
    l[i].relay.ring = &rg;
    l[i].relay.id = i;
    h_thread_start(&t[i], thread_loop, &l[i]);
  }
  for (i = 0; i < LOOPS; i++)
    h_thread_join(t[i]);
  pthread_barrier_destroy(&rg.go);
  for (i = 0; i < LOOPS; i++) {
    ck_assert_int_eq(l[i].r_new, 0);
    ck_assert_int_eq(l[i].spawn_errors, 0);
    ck_assert_int_eq(l[i].r_run, 0);
    ck_assert_int_eq(l[i].r_free, 0);
    ck_assert_int_eq(l[i].relay.r_await, 0);
    ck_assert_int_eq(l[i].relay.r_resolve, 0);
    for (k = 0; k < LOOP_TASKS; k++) {
      ck_assert_int_eq(l[i].c[k].steps, LOOP_YIELDS);
      ck_assert_int_eq(l[i].c[k].errors, 0);
    }
  }
  /* The token went 0 -> 1 -> ... -> LOOPS-1 -> 0, counting hops. */
  for (i = 1; i < LOOPS; i++)
    ck_assert_ptr_eq(l[i].relay.got, V(i));
  ck_assert_ptr_eq(l[0].relay.got, V(LOOPS));
  for (i = 0; i < LOOPS; i++)
    exco_promise_unref(rg.p[i]);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("executor");
  TCase *tc = h_tcase("local", 60);

  tcase_add_test(tc, run_completes_all_tasks);
  tcase_add_test(tc, run_until_idle_returns_live_count);
  tcase_add_test(tc, run_sleeps_while_tasks_wait);
  tcase_add_test(tc, host_executor_has_no_run);
  tcase_add_test(tc, run_inside_coroutine_is_busy);
  tcase_add_test(tc, free_local_with_live_tasks_is_busy);
  suite_add_tcase(s, tc);

  tc = h_tcase("threads", 60);
  tcase_add_test(tc, spawn_into_running_executor_from_other_thread);
  tcase_add_test(tc, executors_on_several_threads);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
