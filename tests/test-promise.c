/*
 * test-promise.c -- promises: resolve before or after the await, from
 * other threads, double resolve, one waiter at a time, reference counts.
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define V(n) ((void *)(uintptr_t)(n))

typedef struct waiter {
  exco_promise *p;
  int unref; /* unref p when done (the task owns a reference) */
  int r;
  void *value;
  int done;
} waiter;

static void *fn_wait(void *arg) {
  waiter *w = arg;

  w->r = exco_promise_await(w->p, &w->value);
  w->done = 1;
  if (w->unref)
    exco_promise_unref(w->p);
  return NULL;
}

START_TEST(resolve_before_await) {
  h_host h;
  waiter w;
  h_ext *e;

  memset(&w, 0, sizeof(w));
  h_host_init(&h);
  ck_assert_int_eq(exco_promise_new(&w.p), 0);
  ck_assert_int_eq(exco_promise_is_resolved(w.p), 0);
  ck_assert_int_eq(exco_promise_resolve(w.p, V(7)), 0);
  ck_assert_int_eq(exco_promise_is_resolved(w.p), 1);
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait, &w, NULL, NULL), 0);
  e = h_host_pop(&h);
  /* Resolved already: the await returns at once, in the first poll. */
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(w.r, 0);
  ck_assert_ptr_eq(w.value, V(7));
  ck_assert_uint_eq(h.n_wake, 0);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  exco_promise_unref(w.p);
  h_host_destroy(&h);
}
END_TEST

START_TEST(resolve_after_await) {
  h_host h;
  waiter w;
  h_ext *e;

  memset(&w, 0, sizeof(w));
  h_host_init(&h);
  ck_assert_int_eq(exco_promise_new(&w.p), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait, &w, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(w.done, 0);
  ck_assert_uint_eq(h.n_wake, 0);
  ck_assert_int_eq(exco_promise_resolve(w.p, V(8)), 0);
  ck_assert_uint_eq(h.n_wake, 1);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(w.r, 0);
  ck_assert_ptr_eq(w.value, V(8));
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  exco_promise_unref(w.p);
  h_host_destroy(&h);
}
END_TEST

START_TEST(resolve_null_value_and_null_out) {
  exco_executor *ex;
  waiter w;
  exco_promise *p2;

  memset(&w, 0, sizeof(w));
  w.value = V(1);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_promise_new(&w.p), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_wait, &w, NULL, NULL), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  ck_assert_int_eq(exco_promise_resolve(w.p, NULL), 0);
  ck_assert_int_eq(exco_promise_is_resolved(w.p), 1);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(w.r, 0);
  ck_assert_ptr_null(w.value);
  exco_promise_unref(w.p);
  ck_assert_int_eq(exco_promise_new(&p2), 0);
  ck_assert_int_eq(exco_promise_resolve(p2, V(3)), 0);
  exco_promise_unref(p2);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct resolver {
  exco_promise *p; /* the thread's own reference */
  void *value;
  int r;
} resolver;

static void *thread_resolve(void *arg) {
  resolver *r = arg;

  r->r = exco_promise_resolve(r->p, r->value);
  exco_promise_unref(r->p);
  return NULL;
}

/* Each party holds its own reference; the creator lets go first.  The
 * counting allocator checks that the last unref, wherever it happens,
 * frees the promise. */
START_TEST(resolve_from_other_thread_refcounted) {
  long rounds = h_scale(1000), i;
  exco_executor *ex;

  h_alloc_install(0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (i = 0; i < rounds; i++) {
    exco_promise *p;
    waiter w;
    resolver rs;
    pthread_t t;
    long before = h_alloc_outstanding();

    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(exco_promise_new(&p), 0);
    w.p = exco_promise_ref(p);
    ck_assert_ptr_eq(w.p, p);
    w.unref = 1;
    rs.p = exco_promise_ref(p);
    rs.value = V(i + 1);
    rs.r = 1;
    ck_assert_int_eq(exco_spawn(ex, fn_wait, &w, NULL, NULL), 0);
    h_thread_start(&t, thread_resolve, &rs);
    exco_promise_unref(p);
    ck_assert_int_eq(exco_run(ex), 0);
    h_thread_join(t);
    ck_assert_int_eq(rs.r, 0);
    ck_assert_int_eq(w.r, 0);
    ck_assert_ptr_eq(w.value, V(i + 1));
    /* The promise and the task are gone (pooled stacks are not counted:
     * they are mmap'd). */
    ck_assert_int_le(h_alloc_outstanding(), before);
  }
  ck_assert_int_eq(exco_executor_free(ex), 0);
  ck_assert_int_eq(h_alloc_outstanding(), 0);
  h_alloc_restore();
}
END_TEST

START_TEST(refcount_frees_on_last_unref) {
  exco_promise *p;

  h_alloc_install(0);
  ck_assert_int_eq(exco_promise_new(&p), 0);
  ck_assert_int_gt(h_alloc_outstanding(), 0);
  ck_assert_ptr_eq(exco_promise_ref(p), p);
  ck_assert_ptr_eq(exco_promise_ref(p), p);
  exco_promise_unref(p);
  exco_promise_unref(p);
  ck_assert_int_gt(h_alloc_outstanding(), 0);
  ck_assert_int_eq(exco_promise_resolve(p, V(1)), 0);
  exco_promise_unref(p);
  ck_assert_int_eq(h_alloc_outstanding(), 0);
  exco_promise_unref(NULL);
  h_alloc_restore();
}
END_TEST

START_TEST(double_resolve_is_ealready) {
  exco_executor *ex;
  waiter w;

  memset(&w, 0, sizeof(w));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_promise_new(&w.p), 0);
  ck_assert_int_eq(exco_promise_resolve(w.p, V(1)), 0);
  ck_assert_int_eq(exco_promise_resolve(w.p, V(2)), EXCO_EALREADY);
  ck_assert_int_eq(exco_spawn(ex, fn_wait, &w, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_promise_resolve(w.p, V(3)), EXCO_EALREADY);
  ck_assert_int_eq(w.r, 0);
  ck_assert_ptr_eq(w.value, V(1));
  exco_promise_unref(w.p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct race_resolve {
  exco_promise *p;
  pthread_barrier_t *go;
  void *value;
  int r;
} race_resolve;

static void *thread_race_resolve(void *arg) {
  race_resolve *r = arg;

  pthread_barrier_wait(r->go);
  r->r = exco_promise_resolve(r->p, r->value);
  return NULL;
}

START_TEST(concurrent_resolves_one_wins) {
  enum { T = 4 };
  long rounds = h_scale(300), i;
  exco_executor *ex;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (i = 0; i < rounds; i++) {
    race_resolve rr[T];
    pthread_t t[T];
    pthread_barrier_t go;
    waiter w;
    int k, wins = 0, winner = -1;

    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(exco_promise_new(&w.p), 0);
    ck_assert_int_eq(exco_spawn(ex, fn_wait, &w, NULL, NULL), 0);
    ck_assert_int_eq(exco_run_until_idle(ex), 1);
    pthread_barrier_init(&go, NULL, T);
    for (k = 0; k < T; k++) {
      rr[k].p = w.p;
      rr[k].go = &go;
      rr[k].value = V(k + 1);
      h_thread_start(&t[k], thread_race_resolve, &rr[k]);
    }
    for (k = 0; k < T; k++)
      h_thread_join(t[k]);
    pthread_barrier_destroy(&go);
    ck_assert_int_eq(exco_run(ex), 0);
    for (k = 0; k < T; k++) {
      if (rr[k].r == 0) {
        wins++;
        winner = k;
      } else {
        ck_assert_int_eq(rr[k].r, EXCO_EALREADY);
      }
    }
    ck_assert_int_eq(wins, 1);
    ck_assert_int_eq(w.r, 0);
    ck_assert_ptr_eq(w.value, V(winner + 1));
    exco_promise_unref(w.p);
  }
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(second_waiter_is_busy) {
  h_host h;
  exco_promise *p;
  waiter a, b, c;
  h_ext *ea, *eb;

  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  memset(&c, 0, sizeof(c));
  h_host_init(&h);
  ck_assert_int_eq(exco_promise_new(&p), 0);
  a.p = b.p = c.p = p;
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait, &b, NULL, NULL), 0);
  ea = h_host_pop(&h);
  eb = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, ea), 1);
  /* The second waiter is refused at once. */
  ck_assert_int_eq(h_host_poll(&h, eb), 0);
  ck_assert_int_eq(b.done, 1);
  ck_assert_int_eq(b.r, EXCO_EBUSY);
  ck_assert_int_eq(h_host_drop(&h, eb), 0);
  ck_assert_int_eq(exco_promise_resolve(p, V(5)), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(a.r, 0);
  ck_assert_ptr_eq(a.value, V(5));
  /* One waiter at a time: once a's await is over, c may await. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait, &c, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(c.r, 0);
  ck_assert_ptr_eq(c.value, V(5));
  exco_promise_unref(p);
  h_host_destroy(&h);
}
END_TEST

START_TEST(cancelled_waiter_leaves) {
  h_host h;
  exco_promise *p;
  waiter a, b;
  h_ext *ea;

  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  h_host_init(&h);
  ck_assert_int_eq(exco_promise_new(&p), 0);
  a.p = b.p = p;
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait, &a, NULL, NULL), 0);
  ea = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, ea), 1);
  ck_assert_int_eq(h_host_drop(&h, ea), 0);
  ck_assert_int_eq(a.r, EXCO_ECANCELED);
  /* The cancelled waiter is gone: a new one may wait. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_wait, &b, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 1);
  ck_assert_int_eq(b.done, 0);
  /* Resolving wakes the new waiter only (no wake for the dropped one). */
  ck_assert_int_eq(exco_promise_resolve(p, V(9)), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(b.r, 0);
  ck_assert_ptr_eq(b.value, V(9));
  exco_promise_unref(p);
  h_host_destroy(&h);
}
END_TEST

typedef struct nullargs {
  int r_await_null;
  int r_await_null_value;
  exco_promise *p;
} nullargs;

static void *fn_nullargs(void *arg) {
  nullargs *n = arg;

  n->r_await_null = exco_promise_await(NULL, NULL);
  n->r_await_null_value = exco_promise_await(n->p, NULL);
  return NULL;
}

START_TEST(null_arguments) {
  exco_executor *ex;
  nullargs n = {0};

  ck_assert_int_eq(exco_promise_new(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_promise_resolve(NULL, V(1)), EXCO_EINVAL);
  ck_assert_int_eq(exco_promise_is_resolved(NULL), EXCO_EINVAL);
  exco_promise_unref(NULL);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_promise_new(&n.p), 0);
  ck_assert_int_eq(exco_promise_resolve(n.p, V(1)), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_nullargs, &n, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(n.r_await_null, EXCO_EINVAL);
  ck_assert_int_eq(n.r_await_null_value, 0);
  exco_promise_unref(n.p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* Two tasks pass a token back and forth through a chain of promises. */
enum { HOPS = 200 };

typedef struct chain {
  exco_promise *p[HOPS + 1];
  int errors;
  int last;
} chain;

typedef struct side {
  chain *c;
  int parity;
} side;

static void *fn_side(void *arg) {
  side *s = arg;
  chain *c = s->c;
  int i;

  for (i = s->parity; i < HOPS; i += 2) {
    void *v = NULL;

    if (i > 0) {
      if (exco_promise_await(c->p[i], &v) != 0 || v != V(i)) {
        c->errors++;
        return NULL;
      }
    }
    if (exco_promise_resolve(c->p[i + 1], V(i + 1)) != 0)
      c->errors++;
    c->last = i + 1;
  }
  return NULL;
}

START_TEST(ping_pong_between_tasks) {
  exco_executor *ex;
  chain c;
  side a = {&c, 0}, b = {&c, 1};
  int i;

  memset(&c, 0, sizeof(c));
  for (i = 0; i <= HOPS; i++)
    ck_assert_int_eq(exco_promise_new(&c.p[i]), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_side, &b, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_side, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(c.errors, 0);
  ck_assert_int_eq(c.last, HOPS);
  for (i = 1; i <= HOPS; i++)
    ck_assert_int_eq(exco_promise_is_resolved(c.p[i]), 1);
  for (i = 0; i <= HOPS; i++)
    exco_promise_unref(c.p[i]);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("promise");
  TCase *tc = h_tcase("promise", 60);

  tcase_add_test(tc, resolve_before_await);
  tcase_add_test(tc, resolve_after_await);
  tcase_add_test(tc, resolve_null_value_and_null_out);
  tcase_add_test(tc, resolve_from_other_thread_refcounted);
  tcase_add_test(tc, refcount_frees_on_last_unref);
  tcase_add_test(tc, double_resolve_is_ealready);
  tcase_add_test(tc, concurrent_resolves_one_wins);
  tcase_add_test(tc, second_waiter_is_busy);
  tcase_add_test(tc, cancelled_waiter_leaves);
  tcase_add_test(tc, null_arguments);
  tcase_add_test(tc, ping_pong_between_tasks);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
