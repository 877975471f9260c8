/*
 * test-select.c -- exco_chan_select(): arguments, the default case, which
 * clause is done, fairness, losers withdrawn without side effects after a
 * wake, a deadline or a cancellation, closed channels, a channel in both
 * directions, and multi-thread stress with exact counts.
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exco/sync.h"

static void clause(exco_chan_clause *cl, exco_chan *c, int op, void *elem) {
  memset(cl, 0, sizeof(*cl));
  cl->chan = c;
  cl->op = op;
  cl->elem = elem;
}

START_TEST(bad_arguments) {
  exco_chan_clause cl[2];
  exco_chan *c;
  int v = 0;

  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), 1), 0);
  ck_assert_int_eq(exco_chan_select(NULL, 1, EXCO_NO_DEADLINE), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_try_select(NULL, 1), EXCO_EINVAL);
  clause(&cl[0], c, EXCO_CHAN_RECV, &v);
  ck_assert_int_eq(exco_chan_try_select(cl, EXCO_SELECT_MAX + 1), EXCO_EINVAL);
  clause(&cl[1], NULL, EXCO_CHAN_RECV, &v);
  ck_assert_int_eq(exco_chan_try_select(cl, 2), EXCO_EINVAL);
  clause(&cl[1], c, 7, &v);
  ck_assert_int_eq(exco_chan_try_select(cl, 2), EXCO_EINVAL);
  clause(&cl[1], c, EXCO_CHAN_SEND, NULL);
  ck_assert_int_eq(exco_chan_select(cl, 2, EXCO_NO_DEADLINE), EXCO_EINVAL);
  /* Nothing was done by the refused calls. */
  ck_assert_int_eq(exco_chan_len(c), 0);
  ck_assert_int_eq(exco_chan_try_select(cl, 0), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_try_select(NULL, 0), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_select(NULL, 0, exco_now() + 5), EXCO_ETIMEDOUT);
  exco_chan_unref(c);
}
END_TEST

START_TEST(default_case_and_closed) {
  exco_chan_clause cl[3];
  exco_chan *a, *b, *z;
  int va = 0, vb = 0, vz = 0, x = 5;

  ck_assert_int_eq(exco_chan_new(&a, sizeof(int), 1), 0);
  ck_assert_int_eq(exco_chan_new(&b, sizeof(int), 0), 0);
  ck_assert_int_eq(exco_chan_new(&z, sizeof(int), 0), 0);
  clause(&cl[0], a, EXCO_CHAN_RECV, &va);
  clause(&cl[1], b, EXCO_CHAN_RECV, &vb);
  clause(&cl[2], z, EXCO_CHAN_SEND, &vz);
  ck_assert_int_eq(exco_chan_try_select(cl, 3), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_try_send(a, &x), 0);
  ck_assert_int_eq(exco_chan_try_select(cl, 3), 0);
  ck_assert_int_eq(cl[0].result, 0);
  ck_assert_int_eq(va, 5);
  ck_assert_int_eq(vb, 0);
  ck_assert_int_eq(exco_chan_try_select(cl, 3), EXCO_EAGAIN);
  /* A send on a closed channel is done at once, with EXCO_EPIPE. */
  ck_assert_int_eq(exco_chan_close(z), 0);
  ck_assert_int_eq(exco_chan_try_select(cl, 3), 2);
  ck_assert_int_eq(cl[2].result, EXCO_EPIPE);
  /* A receive on a closed channel: once drained. */
  ck_assert_int_eq(exco_chan_try_send(a, &x), 0);
  ck_assert_int_eq(exco_chan_close(a), 0);
  clause(&cl[2], b, EXCO_CHAN_SEND, &vz);
  va = 0;
  ck_assert_int_eq(exco_chan_try_select(cl, 3), 0);
  ck_assert_int_eq(cl[0].result, 0);
  ck_assert_int_eq(va, 5);
  va = 0;
  ck_assert_int_eq(exco_chan_try_select(cl, 3), 0);
  ck_assert_int_eq(cl[0].result, EXCO_EPIPE);
  ck_assert_int_eq(va, 0);
  exco_chan_unref(a);
  exco_chan_unref(b);
  exco_chan_unref(z);
}
END_TEST

/* When several clauses are ready, each gets its turn. */
START_TEST(fair_when_several_ready) {
  enum { N = 3, ROUNDS = 3000 };
  exco_chan *c[N];
  exco_chan_clause cl[N];
  int v[N], picks[N], i, k, one = 1;

  for (i = 0; i < N; i++) {
    ck_assert_int_eq(exco_chan_new(&c[i], sizeof(int), 1), 0);
    clause(&cl[i], c[i], EXCO_CHAN_RECV, &v[i]);
    picks[i] = 0;
  }
  for (k = 0; k < ROUNDS; k++) {
    int r;
    for (i = 0; i < N; i++)
      exco_chan_try_send(c[i], &one);
    r = k % 2 ? exco_chan_try_select(cl, N)
              : exco_chan_select(cl, N, EXCO_NO_DEADLINE);
    ck_assert_int_ge(r, 0);
    ck_assert_int_lt(r, N);
    picks[r]++;
  }
  for (i = 0; i < N; i++) {
    ck_assert_int_gt(picks[i], ROUNDS / N / 2);
    exco_chan_unref(c[i]);
  }
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Waiting selects in coroutines                                           */
/* ---------------------------------------------------------------------- */

typedef struct sel {
  exco_chan_clause cl[3];
  size_t n;
  int ms;      /* deadline in ms from the call; -1 none */
  int task_dl; /* use the task's deadline instead of the argument */
  int vals[3];
  int r;
  int done;
} sel;

static void *fn_select(void *arg) {
  sel *s = arg;
  int64_t prev;

  if (s->task_dl) {
    exco_deadline_after((uint64_t)s->ms, &prev);
    s->r = exco_chan_select(s->cl, s->n, EXCO_NO_DEADLINE);
    exco_deadline_set(prev, NULL);
  } else {
    s->r = exco_chan_select(s->cl, s->n,
                            s->ms < 0 ? EXCO_NO_DEADLINE : exco_now() + s->ms);
  }
  s->done = 1;
  return NULL;
}

typedef struct three {
  exco_chan *a, *b, *c; /* recv a, recv b, send c (all rendezvous) */
} three;

static void three_new(three *t, sel *s) {
  ck_assert_int_eq(exco_chan_new(&t->a, sizeof(int), 0), 0);
  ck_assert_int_eq(exco_chan_new(&t->b, sizeof(int), 0), 0);
  ck_assert_int_eq(exco_chan_new(&t->c, sizeof(int), 0), 0);
  memset(s, 0, sizeof(*s));
  s->vals[0] = s->vals[1] = -1;
  s->vals[2] = 33;
  clause(&s->cl[0], t->a, EXCO_CHAN_RECV, &s->vals[0]);
  clause(&s->cl[1], t->b, EXCO_CHAN_RECV, &s->vals[1]);
  clause(&s->cl[2], t->c, EXCO_CHAN_SEND, &s->vals[2]);
  s->n = 3;
  s->ms = -1;
}

/* No clause is left linked anywhere: every channel refuses a try. */
static void three_assert_idle(three *t) {
  int x = 1;

  ck_assert_int_eq(exco_chan_try_send(t->a, &x), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_try_send(t->b, &x), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_try_recv(t->c, &x), EXCO_EAGAIN);
}

static void three_free(three *t) {
  exco_chan_unref(t->a);
  exco_chan_unref(t->b);
  exco_chan_unref(t->c);
}

/* Each clause in turn completes a waiting select; the others are
 * withdrawn.  _i: the clause. */
START_TEST(waiting_select_one_wins) {
  h_host h;
  three t;
  sel s;
  h_ext *e;
  int x = 40 + _i, got = 0;

  h_host_init(&h);
  three_new(&t, &s);
  ck_assert_int_eq(exco_spawn(h.ex, fn_select, &s, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(s.done, 0);
  if (_i == 0)
    ck_assert_int_eq(exco_chan_try_send(t.a, &x), 0);
  else if (_i == 1)
    ck_assert_int_eq(exco_chan_try_send(t.b, &x), 0);
  else
    ck_assert_int_eq(exco_chan_try_recv(t.c, &got), 0);
  ck_assert_uint_eq(h.n_wake, 1);
  /* The other clauses are taken already, before the select runs again. */
  if (_i == 0)
    ck_assert_int_eq(exco_chan_try_send(t.b, &x), EXCO_EAGAIN);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(s.r, _i);
  ck_assert_int_eq(s.cl[_i].result, 0);
  if (_i < 2) {
    ck_assert_int_eq(s.vals[_i], x);
    ck_assert_int_eq(s.vals[1 - _i], -1);
  } else {
    ck_assert_int_eq(got, 33);
    ck_assert_int_eq(s.vals[0], -1);
    ck_assert_int_eq(s.vals[1], -1);
  }
  three_assert_idle(&t);
  three_free(&t);
  h_host_destroy(&h);
}
END_TEST

/* A deadline (argument or task) or a cancellation ends the select with
 * no clause done.  _i: 0 argument deadline, 1 task deadline, 2 cancel,
 * 3 drop. */
START_TEST(waiting_select_gives_up) {
  h_host h;
  exco_task *task;
  three t;
  sel s;
  h_ext *e;

  h_host_init(&h);
  three_new(&t, &s);
  if (_i < 2) {
    s.ms = 20;
    s.task_dl = _i;
  }
  ck_assert_int_eq(exco_spawn(h.ex, fn_select, &s, NULL, &task), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  if (_i < 2) {
    ck_assert_int_eq(h_host_run(&h), 0);
    ck_assert_int_eq(s.r, EXCO_ETIMEDOUT);
  } else if (_i == 2) {
    ck_assert_int_eq(exco_task_cancel(task), 0);
    ck_assert_int_eq(h_host_run_until_idle(&h), 0);
    ck_assert_int_eq(s.r, EXCO_ECANCELED);
  } else {
    ck_assert_int_eq(h_host_drop(&h, e), 0);
    ck_assert_int_eq(s.r, EXCO_ECANCELED);
  }
  ck_assert_int_eq(s.vals[0], -1);
  ck_assert_int_eq(s.vals[1], -1);
  three_assert_idle(&t);
  exco_task_release(task);
  three_free(&t);
  h_host_destroy(&h);
}
END_TEST

/* A plain thread's select, with a deadline and woken by a coroutine. */
typedef struct thsel {
  three t;
  sel s;
} thsel;

static void *thread_select(void *arg) {
  thsel *x = arg;

  fn_select(&x->s);
  return NULL;
}

static void *fn_send_b(void *arg) {
  thsel *x = arg;
  int v = 91;

  return (void *)(intptr_t)exco_chan_send(x->t.b, &v);
}

START_TEST(thread_selects) {
  exco_executor *ex;
  pthread_t th;
  thsel x;

  three_new(&x.t, &x.s);
  x.s.ms = 20;
  fn_select(&x.s);
  ck_assert_int_eq(x.s.r, EXCO_ETIMEDOUT);
  three_assert_idle(&x.t);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  x.s.ms = -1;
  x.s.done = 0;
  ck_assert_int_eq(exco_spawn(ex, fn_send_b, &x, NULL, NULL), 0);
  h_thread_start(&th, thread_select, &x);
  ck_assert_int_eq(exco_run(ex), 0);
  h_thread_join(th);
  ck_assert_int_eq(x.s.r, 1);
  ck_assert_int_eq(x.s.vals[1], 91);
  three_assert_idle(&x.t);
  three_free(&x.t);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* Two selects, each offering to send to and receive from the same
 * rendezvous channel, meet: one sends, the other receives. */
START_TEST(both_directions_one_channel) {
  exco_executor *ex;
  exco_chan *c;
  sel s[2];
  int i;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), 0), 0);
  for (i = 0; i < 2; i++) {
    memset(&s[i], 0, sizeof(s[i]));
    s[i].vals[0] = 100 + i;
    s[i].vals[1] = -1;
    clause(&s[i].cl[0], c, EXCO_CHAN_SEND, &s[i].vals[0]);
    clause(&s[i].cl[1], c, EXCO_CHAN_RECV, &s[i].vals[1]);
    s[i].n = 2;
    s[i].ms = -1;
    ck_assert_int_eq(exco_spawn(ex, fn_select, &s[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(s[0].r + s[1].r, 1); /* one sent (0), one received (1) */
  i = s[0].r == 1 ? 0 : 1;
  ck_assert_int_eq(s[i].vals[1], 100 + (1 - i));
  ck_assert_int_eq(s[1 - i].vals[1], -1);
  exco_chan_unref(c);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Stress                                                                  */
/* ---------------------------------------------------------------------- */

enum { SS_SENDERS = 4, SS_SELECTORS = 4 };

typedef struct sstress {
  exco_chan *in[2];  /* threads send into these */
  exco_chan *out[2]; /* selectors forward into these */
  int per;
  int total;
  atomic_int *seen;
  atomic_int forwarded;
  int bad;
} sstress;

typedef struct sworker {
  sstress *s;
  int id;
} sworker;

/* A sender thread alternates between the two input channels through a
 * select of two sends. */
static void *thread_ssend(void *arg) {
  sworker *w = arg;
  sstress *s = w->s;
  int i;

  for (i = 0; i < s->per; i++) {
    int v = w->id * s->per + i, r;
    exco_chan_clause cl[2];

    clause(&cl[0], s->in[0], EXCO_CHAN_SEND, &v);
    clause(&cl[1], s->in[1], EXCO_CHAN_SEND, &v);
    r = exco_chan_select(cl, 2, EXCO_NO_DEADLINE);
    if (r < 0 || cl[r].result != 0)
      s->bad = 1;
  }
  return NULL;
}

/* A selector coroutine receives from either input (with a short
 * deadline, retried) and forwards to either output. */
static void *fn_forward(void *arg) {
  sworker *w = arg;
  sstress *s = w->s;
  int v, r, closed = 0;

  while (closed < 2) {
    exco_chan_clause cl[2];

    clause(&cl[0], s->in[0], EXCO_CHAN_RECV, &v);
    clause(&cl[1], s->in[1], EXCO_CHAN_RECV, &v);
    r = exco_chan_select(cl, 2, w->id % 2 ? exco_now() + 1 : EXCO_NO_DEADLINE);
    if (r == EXCO_ETIMEDOUT)
      continue;
    if (r < 0) {
      s->bad = 1;
      break;
    }
    if (cl[r].result == EXCO_EPIPE) {
      closed = 2; /* both are closed together */
      break;
    }
    clause(&cl[0], s->out[0], EXCO_CHAN_SEND, &v);
    clause(&cl[1], s->out[1], EXCO_CHAN_SEND, &v);
    for (;;) {
      r = exco_chan_select(cl, 2, exco_now() + 1);
      if (r != EXCO_ETIMEDOUT)
        break;
    }
    if (r < 0 || cl[r].result != 0)
      s->bad = 1;
    atomic_fetch_add(&s->forwarded, 1);
  }
  return NULL;
}

static void *thread_forwarders(void *arg) {
  sworker *ws = arg;
  exco_executor *ex;
  int i;

  if (exco_executor_new_local(&ex) != 0)
    return arg;
  for (i = 0; i < SS_SELECTORS; i++)
    if (exco_spawn(ex, fn_forward, &ws[i], NULL, NULL) != 0)
      ws[i].s->bad = 1;
  if (exco_run(ex) != 0 || exco_executor_free(ex) != 0)
    return arg;
  return NULL;
}

/* The main thread drains both outputs, with a select too. */
START_TEST(stress_exact_counts) {
  sstress s;
  sworker snd[SS_SENDERS], fw[2][SS_SELECTORS];
  pthread_t ts[SS_SENDERS], tf[2];
  int i, got = 0, v, dup = 0, missing = 0;

  memset(&s, 0, sizeof(s));
  s.per = (int)h_scale(H_SANITIZED ? 1000 : 4000);
  s.total = s.per * SS_SENDERS;
  s.seen = calloc((size_t)s.total, sizeof(atomic_int));
  ck_assert_ptr_nonnull(s.seen);
  for (i = 0; i < 2; i++) {
    ck_assert_int_eq(exco_chan_new(&s.in[i], sizeof(int), (size_t)i * 3), 0);
    ck_assert_int_eq(exco_chan_new(&s.out[i], sizeof(int), (size_t)i), 0);
  }
  for (i = 0; i < 2 * SS_SELECTORS; i++) {
    fw[i / SS_SELECTORS][i % SS_SELECTORS].s = &s;
    fw[i / SS_SELECTORS][i % SS_SELECTORS].id = i;
  }
  h_thread_start(&tf[0], thread_forwarders, fw[0]);
  h_thread_start(&tf[1], thread_forwarders, fw[1]);
  for (i = 0; i < SS_SENDERS; i++) {
    snd[i].s = &s;
    snd[i].id = i;
    h_thread_start(&ts[i], thread_ssend, &snd[i]);
  }
  while (got < s.total) {
    exco_chan_clause cl[2];
    int r;

    clause(&cl[0], s.out[0], EXCO_CHAN_RECV, &v);
    clause(&cl[1], s.out[1], EXCO_CHAN_RECV, &v);
    r = exco_chan_select(cl, 2, exco_now() + (int64_t)(h_wait_timeout() * 1e3));
    ck_assert_int_ge(r, 0);
    ck_assert_int_eq(cl[r].result, 0);
    ck_assert(v >= 0 && v < s.total);
    atomic_fetch_add(&s.seen[v], 1);
    got++;
  }
  for (i = 0; i < SS_SENDERS; i++)
    h_thread_join(ts[i]);
  ck_assert_int_eq(exco_chan_close(s.in[0]), 0);
  ck_assert_int_eq(exco_chan_close(s.in[1]), 0);
  ck_assert_ptr_null(h_thread_join(tf[0]));
  ck_assert_ptr_null(h_thread_join(tf[1]));
  ck_assert_int_eq(s.bad, 0);
  for (i = 0; i < s.total; i++) {
    int n = atomic_load(&s.seen[i]);
    dup += n > 1;
    missing += n == 0;
  }
  ck_assert_int_eq(dup, 0);
  ck_assert_int_eq(missing, 0);
  ck_assert_int_eq(atomic_load(&s.forwarded), s.total);
  for (i = 0; i < 2; i++) {
    ck_assert_int_eq(exco_chan_try_recv(s.out[i], &v), EXCO_EAGAIN);
    exco_chan_unref(s.in[i]);
    exco_chan_unref(s.out[i]);
  }
  free(s.seen);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("select");
  TCase *tc = h_tcase("select", 60);
  TCase *ts = h_tcase("stress", 240);

  tcase_add_test(tc, bad_arguments);
  tcase_add_test(tc, default_case_and_closed);
  tcase_add_test(tc, fair_when_several_ready);
  tcase_add_loop_test(tc, waiting_select_one_wins, 0, 3);
  tcase_add_loop_test(tc, waiting_select_gives_up, 0, 4);
  tcase_add_test(tc, thread_selects);
  tcase_add_test(tc, both_directions_one_channel);
  suite_add_tcase(s, tc);
  tcase_add_test(ts, stress_exact_counts);
  suite_add_tcase(s, ts);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
