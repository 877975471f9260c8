/*
 * test-host-call.c -- exco_host_call(): the function runs on the poller's
 * own (thread) stack, inside the same poll, is not a suspension, and
 * passes errno back; on the bare host, the local executor and through a
 * drop's cancellation.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* The calling thread's stack, as pthreads reports it. */
static void thread_stack(uintptr_t *lo, uintptr_t *hi) {
  pthread_attr_t a;
  void *addr;
  size_t size;

  ck_assert_int_eq(pthread_getattr_np(pthread_self(), &a), 0);
  ck_assert_int_eq(pthread_attr_getstack(&a, &addr, &size), 0);
  pthread_attr_destroy(&a);
  *lo = (uintptr_t)addr;
  *hi = (uintptr_t)addr + size;
}

typedef struct hc {
  /* Filled in on the host side. */
  uintptr_t fn_local;     /* a local of the host function */
  exco_task *fn_current;  /* exco_current() inside it */
  int fn_await;           /* exco_await() inside it */
  unsigned long fn_wakes; /* host wakes seen by the time it ran */
  int fn_calls;
  h_host *host;
  /* Filled in on the coroutine's side. */
  uintptr_t co_local; /* a local of the coroutine */
  int ret[3];
  int err_after;
  int cancel_seen;
  int done;
} hc;

static int ready_poll(void *arg, exco_waker *w) {
  (void)arg;
  (void)w;
  return 1;
}

static void host_fn(void *arg) {
  hc *c = arg;
  volatile char local = 0;

  c->fn_local = (uintptr_t)&local;
  c->fn_current = exco_current();
  c->fn_await = exco_await(ready_poll, NULL, NULL);
  c->fn_wakes = c->host != NULL ? h_host_wakes(c->host) : 0;
  c->fn_calls++;
  errno = E2BIG;
}

static void *fn_call(void *arg) {
  hc *c = arg;
  volatile char local = 0;

  c->co_local = (uintptr_t)&local;
  errno = EINTR;
  c->ret[0] = exco_host_call(host_fn, c);
  c->err_after = errno;
  c->ret[1] = exco_host_call(NULL, c);
  c->done = 1;
  return NULL;
}

START_TEST(runs_on_thread_stack_in_the_same_poll) {
  uintptr_t lo, hi;
  hc c = {0};
  h_host h;
  h_ext *e;

  thread_stack(&lo, &hi);
  h_host_init(&h);
  c.host = &h;
  ck_assert_int_eq(exco_spawn(h.ex, fn_call, &c, NULL, NULL), 0);
  e = h_host_pop(&h);
  /* One poll runs the task to its end: the call is not a suspension. */
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(c.done, 1);
  ck_assert_int_eq(c.fn_calls, 1);
  ck_assert_int_eq(c.ret[0], 0);
  ck_assert_int_eq(c.ret[1], EXCO_EINVAL);
  ck_assert_int_eq(c.err_after, E2BIG);
  ck_assert(c.fn_local >= lo && c.fn_local < hi);
  ck_assert(!(c.co_local >= lo && c.co_local < hi));
  ck_assert_ptr_null(c.fn_current);
  ck_assert_int_eq(c.fn_await, EXCO_EPERM);
  ck_assert_uint_eq(c.fn_wakes, 0);
  ck_assert_uint_eq(h_host_wakes(&h), 0);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  h_host_destroy(&h);
}
END_TEST

START_TEST(outside_a_coroutine_calls_directly) {
  uintptr_t lo, hi;
  hc c = {0};

  thread_stack(&lo, &hi);
  errno = 0;
  ck_assert_int_eq(exco_host_call(host_fn, &c), 0);
  ck_assert_int_eq(errno, E2BIG);
  ck_assert_int_eq(c.fn_calls, 1);
  ck_assert(c.fn_local >= lo && c.fn_local < hi);
  ck_assert_int_eq(exco_host_call(NULL, NULL), EXCO_EINVAL);
}
END_TEST

/* A 256 KiB frame, far more than the coroutine's 16 KiB stack holds. */
static void deep_fn(void *arg) {
  volatile unsigned char big[256 * 1024];
  unsigned sum = 0;
  size_t i;

  memset((void *)big, 1, sizeof(big));
  for (i = 0; i < sizeof(big); i += 4096)
    sum += big[i];
  *(unsigned *)arg = sum;
}

typedef struct deep {
  unsigned sum;
  int ret;
} deep;

static void *fn_deep(void *arg) {
  deep *d = arg;

  d->ret = exco_host_call(deep_fn, &d->sum);
  return NULL;
}

START_TEST(deep_call_from_a_small_stack) {
  exco_spawn_opts o = {16 * 1024, "small", 0};
  exco_executor *ex;
  deep d = {0, -1};

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_deep, &d, &o, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(d.ret, 0);
  ck_assert_uint_eq(d.sum, 256 / 4);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* The host function cancels its own task: the call still returns 0 (it
 * is not an await), and the next await sees the cancellation. */
typedef struct selfcancel {
  exco_task *self;
  int ret;
  int next;
} selfcancel;

static void cancel_fn(void *arg) {
  selfcancel *s = arg;

  exco_task_cancel(s->self);
}

static void *fn_selfcancel(void *arg) {
  selfcancel *s = arg;

  s->self = exco_current();
  s->ret = exco_host_call(cancel_fn, s);
  s->next = exco_yield();
  return NULL;
}

START_TEST(cancellation_meanwhile_is_seen_by_the_next_await) {
  selfcancel s = {NULL, -1, -1};
  h_host h;

  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_selfcancel, &s, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(s.ret, 0);
  ck_assert_int_eq(s.next, EXCO_ECANCELED);
  h_host_destroy(&h);
}
END_TEST

/* A task cancelled by a drop may still call the host: the dropping
 * thread's stack runs the function. */
static int never_poll(void *arg, exco_waker *w) {
  (void)arg;
  (void)w;
  return 0;
}

static void *fn_call_after_cancel(void *arg) {
  hc *c = arg;

  c->ret[2] = exco_await(never_poll, NULL, NULL);
  c->ret[0] = exco_host_call(host_fn, c);
  c->done = 1;
  return NULL;
}

START_TEST(call_during_a_drop) {
  uintptr_t lo, hi;
  hc c = {0};
  h_host h;
  h_ext *e;

  thread_stack(&lo, &hi);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_call_after_cancel, &c, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(c.done, 0);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  ck_assert_int_eq(c.done, 1);
  ck_assert_int_eq(c.ret[2], EXCO_ECANCELED);
  ck_assert_int_eq(c.ret[0], 0);
  ck_assert_int_eq(c.fn_calls, 1);
  ck_assert(c.fn_local >= lo && c.fn_local < hi);
  h_host_destroy(&h);
}
END_TEST

/* Many calls from many tasks: each function runs once, in order. */
typedef struct many {
  int count;
  int ret_sum;
} many;

static void count_fn(void *arg) {
  ((many *)arg)->count++;
}

static void *fn_many(void *arg) {
  many *m = arg;
  int i;

  for (i = 0; i < 100; i++) {
    m->ret_sum += exco_host_call(count_fn, m);
    if (i % 10 == 0)
      exco_yield();
  }
  return NULL;
}

START_TEST(many_calls_many_tasks) {
  exco_executor *ex;
  many m = {0, 0};
  int i;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (i = 0; i < 50; i++)
    ck_assert_int_eq(exco_spawn(ex, fn_many, &m, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(m.count, 5000);
  ck_assert_int_eq(m.ret_sum, 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

static Suite *host_call_suite(void) {
  Suite *s = suite_create("host-call");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, runs_on_thread_stack_in_the_same_poll);
  tcase_add_test(tc, outside_a_coroutine_calls_directly);
  tcase_add_test(tc, deep_call_from_a_small_stack);
  tcase_add_test(tc, cancellation_meanwhile_is_seen_by_the_next_await);
  tcase_add_test(tc, call_during_a_drop);
  tcase_add_test(tc, many_calls_many_tasks);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(host_call_suite());
}
