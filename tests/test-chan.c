/*
 * test-chan.c -- channels: arguments, the try_ forms, rendezvous, bounded
 * and unbounded channels between coroutines on both executor kinds,
 * plain threads, closing and draining, deadlines and cancellation at
 * every suspension point (a waiter that gives up takes nothing with it),
 * and multi-thread stress with exact counts.
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exco/sync.h"

/* ---------------------------------------------------------------------- */
/* Arguments and the non-blocking forms                                    */
/* ---------------------------------------------------------------------- */

START_TEST(bad_arguments) {
  exco_chan *c;
  int v = 1;

  ck_assert_int_eq(exco_chan_new(NULL, 4, 1), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_new(&c, EXCO_CHAN_ELEM_MAX + 1, 1), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_new(&c, 1024, SIZE_MAX / 8), EXCO_ENOMEM);
  ck_assert_int_eq(exco_chan_send(NULL, &v), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_recv(NULL, &v), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_try_send(NULL, &v), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_try_recv(NULL, &v), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_close(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_len(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_is_closed(NULL), EXCO_EINVAL);
  ck_assert_ptr_null(exco_chan_ref(NULL));
  exco_chan_unref(NULL);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), 2), 0);
  ck_assert_int_eq(exco_chan_try_send(c, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_try_recv(c, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_chan_send(c, NULL), EXCO_EINVAL);
  exco_chan_unref(c);
  /* Element size 0: NULL elements are fine. */
  ck_assert_int_eq(exco_chan_new(&c, 0, 2), 0);
  ck_assert_int_eq(exco_chan_try_send(c, NULL), 0);
  ck_assert_int_eq(exco_chan_try_send(c, NULL), 0);
  ck_assert_int_eq(exco_chan_try_send(c, NULL), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_len(c), 2);
  ck_assert_int_eq(exco_chan_try_recv(c, NULL), 0);
  ck_assert_int_eq(exco_chan_len(c), 1);
  exco_chan_unref(c);
}
END_TEST

START_TEST(try_forms_bounded_fifo) {
  exco_chan *c;
  int i, v;

  h_alloc_install(0);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), 4), 0);
  ck_assert_int_eq(exco_chan_try_recv(c, &v), EXCO_EAGAIN);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(exco_chan_try_send(c, &i), 0);
  ck_assert_int_eq(exco_chan_try_send(c, &i), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_len(c), 4);
  /* Wrap around the ring a few times. */
  for (i = 4; i < 40; i++) {
    ck_assert_int_eq(exco_chan_try_recv(c, &v), 0);
    ck_assert_int_eq(v, i - 4);
    ck_assert_int_eq(exco_chan_try_send(c, &i), 0);
  }
  ck_assert_int_eq(exco_chan_close(c), 0);
  ck_assert_int_eq(exco_chan_close(c), EXCO_EALREADY);
  ck_assert_int_eq(exco_chan_is_closed(c), 1);
  ck_assert_int_eq(exco_chan_try_send(c, &i), EXCO_EPIPE);
  /* Drain after close, in order, then EXCO_EPIPE. */
  for (i = 36; i < 40; i++) {
    v = -1;
    ck_assert_int_eq(exco_chan_try_recv(c, &v), 0);
    ck_assert_int_eq(v, i);
  }
  v = -1;
  ck_assert_int_eq(exco_chan_try_recv(c, &v), EXCO_EPIPE);
  ck_assert_int_eq(v, -1);
  ck_assert_ptr_eq(exco_chan_ref(c), c);
  exco_chan_unref(c);
  ck_assert_int_gt(h_alloc_outstanding(), 0);
  exco_chan_unref(c);
  ck_assert_int_eq(h_alloc_outstanding(), 0);
  h_alloc_restore();
}
END_TEST

START_TEST(try_forms_rendezvous_and_unbounded) {
  exco_chan *c;
  long i, n = 100000, v;

  ck_assert_int_eq(exco_chan_new(&c, sizeof(long), 0), 0);
  ck_assert_int_eq(exco_chan_try_send(c, &n), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_try_recv(c, &v), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_len(c), 0);
  exco_chan_unref(c);

  h_alloc_install(0);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(long), EXCO_CHAN_UNBOUNDED), 0);
  for (i = 0; i < n; i++)
    ck_assert_int_eq(exco_chan_try_send(c, &i), 0);
  ck_assert_int_eq(exco_chan_len(c), n);
  for (i = 0; i < n; i++) {
    ck_assert_int_eq(exco_chan_try_recv(c, &v), 0);
    ck_assert_int_eq(v, i);
  }
  exco_chan_unref(c);
  ck_assert_int_eq(h_alloc_outstanding(), 0);
  /* An unbounded channel fails a send with EXCO_ENOMEM, keeping what it
   * holds, when its buffer can't grow. */
  h_alloc_restore();
  h_alloc_install(3);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(long), EXCO_CHAN_UNBOUNDED), 0);
  for (i = 0; i < 16; i++)
    ck_assert_int_eq(exco_chan_try_send(c, &i), 0);
  ck_assert_int_eq(exco_chan_try_send(c, &i), EXCO_ENOMEM);
  ck_assert_int_eq(exco_chan_len(c), 16);
  for (i = 0; i < 16; i++) {
    ck_assert_int_eq(exco_chan_try_recv(c, &v), 0);
    ck_assert_int_eq(v, i);
  }
  exco_chan_unref(c);
  ck_assert_int_eq(h_alloc_outstanding(), 0);
  h_alloc_restore();
}
END_TEST

START_TEST(unbounded_keeps_order_across_growth) {
  exco_chan *c;
  long i, n = 5000, v, next = 0;

  ck_assert_int_eq(exco_chan_new(&c, sizeof(long), EXCO_CHAN_UNBOUNDED), 0);
  for (i = 0; i < n; i++) {
    ck_assert_int_eq(exco_chan_try_send(c, &i), 0);
    if (i % 3 == 0) {
      ck_assert_int_eq(exco_chan_try_recv(c, &v), 0);
      ck_assert_int_eq(v, next);
      next++;
    }
  }
  while (exco_chan_try_recv(c, &v) == 0) {
    ck_assert_int_eq(v, next);
    next++;
  }
  ck_assert_int_eq(next, n);
  exco_chan_unref(c);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Coroutines                                                              */
/* ---------------------------------------------------------------------- */

typedef struct pc {
  exco_chan *c;
  int n;        /* items to send */
  int sent;     /* sends that returned 0 */
  int got;      /* items received */
  int in_order; /* every item came in order */
  int r;        /* the last result */
  int done;
} pc;

static void *fn_produce(void *arg) {
  pc *p = arg;
  int i;

  for (i = 0; i < p->n; i++) {
    p->r = exco_chan_send(p->c, &i);
    if (p->r != 0)
      break;
    p->sent++;
  }
  p->done = 1;
  return NULL;
}

static void *fn_consume(void *arg) {
  pc *p = arg;
  int v;

  p->in_order = 1;
  for (;;) {
    p->r = exco_chan_recv(p->c, &v);
    if (p->r != 0)
      break;
    if (v != p->got)
      p->in_order = 0;
    p->got++;
  }
  p->done = 1;
  return NULL;
}

/* Producer and consumer on one executor, of each kind, for each
 * capacity: rendezvous, bounded and unbounded. */
START_TEST(pipeline_each_capacity) {
  static const size_t caps[] = {0, 1, 7, EXCO_CHAN_UNBOUNDED};
  int kind = _i % H_RIG_KINDS;
  size_t cap = caps[_i / H_RIG_KINDS];
  h_rig rig;
  pc prod, cons;

  memset(&prod, 0, sizeof(prod));
  memset(&cons, 0, sizeof(cons));
  h_rig_init(&rig, kind);
  ck_assert_int_eq(exco_chan_new(&prod.c, sizeof(int), cap), 0);
  cons.c = prod.c;
  prod.n = 1000;
  h_rig_spawn(&rig, fn_consume, &cons, NULL);
  h_rig_spawn(&rig, fn_produce, &prod, NULL);
  /* Both block or finish; the consumer then waits for the close. */
  ck_assert_int_eq(h_rig_run_until_idle(&rig), 1);
  ck_assert_int_eq(prod.done, 1);
  ck_assert_int_eq(prod.sent, 1000);
  ck_assert_int_eq(cons.done, 0);
  ck_assert_int_eq(exco_chan_close(prod.c), 0);
  h_rig_run(&rig);
  ck_assert_int_eq(cons.r, EXCO_EPIPE);
  ck_assert_int_eq(cons.got, 1000);
  ck_assert_int_eq(cons.in_order, 1);
  exco_chan_unref(prod.c);
  h_rig_fini(&rig);
}
END_TEST

/* A bounded channel holds its sender back: backpressure. */
START_TEST(bounded_sender_waits) {
  h_host h;
  pc prod;
  h_ext *e;
  int v;

  memset(&prod, 0, sizeof(prod));
  h_host_init(&h);
  ck_assert_int_eq(exco_chan_new(&prod.c, sizeof(int), 3), 0);
  prod.n = 5;
  ck_assert_int_eq(exco_spawn(h.ex, fn_produce, &prod, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(prod.sent, 3);
  ck_assert_int_eq(exco_chan_len(prod.c), 3);
  ck_assert_uint_eq(h.n_wake, 0);
  /* A receive from this thread frees a slot: the sender's element goes
   * in and the sender is woken, once. */
  ck_assert_int_eq(exco_chan_try_recv(prod.c, &v), 0);
  ck_assert_int_eq(v, 0);
  ck_assert_uint_eq(h.n_wake, 1);
  ck_assert_int_eq(exco_chan_len(prod.c), 3);
  ck_assert_int_eq(h_host_run_until_idle(&h), 1);
  ck_assert_int_eq(prod.sent, 4);
  /* Closing fails the waiting send; its element was not delivered. */
  ck_assert_int_eq(exco_chan_close(prod.c), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(prod.r, EXCO_EPIPE);
  ck_assert_int_eq(prod.sent, 4);
  for (v = 1; v <= 3; v++) {
    int got;
    ck_assert_int_eq(exco_chan_try_recv(prod.c, &got), 0);
    ck_assert_int_eq(got, v);
  }
  ck_assert_int_eq(exco_chan_try_recv(prod.c, &v), EXCO_EPIPE);
  exco_chan_unref(prod.c);
  h_host_destroy(&h);
}
END_TEST

/* Closing wakes every waiting receiver with EXCO_EPIPE. */
START_TEST(close_wakes_receivers) {
  h_rig rig;
  pc cons[3];
  exco_chan *c;
  int i;

  memset(cons, 0, sizeof(cons));
  h_rig_init(&rig, _i);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), 0), 0);
  for (i = 0; i < 3; i++) {
    cons[i].c = c;
    h_rig_spawn(&rig, fn_consume, &cons[i], NULL);
  }
  ck_assert_int_eq(h_rig_run_until_idle(&rig), 3);
  ck_assert_int_eq(exco_chan_close(c), 0);
  h_rig_run(&rig);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(cons[i].r, EXCO_EPIPE);
    ck_assert_int_eq(cons[i].got, 0);
  }
  exco_chan_unref(c);
  h_rig_fini(&rig);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Deadlines and cancellation                                              */
/* ---------------------------------------------------------------------- */

typedef struct op {
  exco_chan *c;
  int send;         /* send (else receive) */
  int ms;           /* deadline in ms; -1 none */
  int use_until;    /* the _until form instead of the task's deadline */
  int cancel_first; /* cancel itself before the call */
  int v;
  int r;
  int done;
} op;

static void *fn_op(void *arg) {
  op *o = arg;
  int64_t prev;

  if (o->cancel_first)
    exco_task_cancel(exco_current());
  if (o->use_until) {
    int64_t d = exco_now() + o->ms;
    o->r = o->send ? exco_chan_send_until(o->c, &o->v, d)
                   : exco_chan_recv_until(o->c, &o->v, d);
  } else {
    if (o->ms >= 0)
      exco_deadline_after((uint64_t)o->ms, &prev);
    o->r = o->send ? exco_chan_send(o->c, &o->v) : exco_chan_recv(o->c, &o->v);
    if (o->ms >= 0)
      exco_deadline_set(prev, NULL);
  }
  o->done = 1;
  return NULL;
}

/* A send or receive that times out leaves nothing behind: the next
 * counterpart does not see it, and a sender's element is not taken.
 * _i: bit 0 send/recv, bit 1 task deadline/_until, bit 2 capacity 0/1. */
START_TEST(deadline_withdraws) {
  int send = _i & 1, until = (_i >> 1) & 1, cap = (_i >> 2) & 1;
  exco_executor *ex;
  exco_chan *c;
  op o;
  int v = 5, got;

  memset(&o, 0, sizeof(o));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), (size_t)cap), 0);
  if (send && cap)
    ck_assert_int_eq(exco_chan_try_send(c, &v), 0); /* full */
  o.c = c;
  o.send = send;
  o.ms = 20;
  o.use_until = until;
  o.v = 77;
  ck_assert_int_eq(exco_spawn(ex, fn_op, &o, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(o.r, EXCO_ETIMEDOUT);
  if (send) {
    if (cap) {
      ck_assert_int_eq(exco_chan_try_recv(c, &got), 0);
      ck_assert_int_eq(got, 5);
    }
    ck_assert_int_eq(exco_chan_try_recv(c, &got), EXCO_EAGAIN);
  } else {
    if (cap)
      ck_assert_int_eq(exco_chan_try_send(c, &v), 0);
    else
      ck_assert_int_eq(exco_chan_try_send(c, &v), EXCO_EAGAIN);
    ck_assert_int_eq(o.v, 77); /* not written */
  }
  exco_chan_unref(c);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* A deadline already past still lets a ready operation through. */
START_TEST(past_deadline_ready_op_succeeds) {
  exco_executor *ex;
  exco_chan *c;
  op o;
  int v = 9;

  memset(&o, 0, sizeof(o));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), 1), 0);
  ck_assert_int_eq(exco_chan_try_send(c, &v), 0);
  o.c = c;
  o.ms = -1000;
  o.use_until = 1;
  ck_assert_int_eq(exco_spawn(ex, fn_op, &o, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(o.r, 0);
  ck_assert_int_eq(o.v, 9);
  /* Outside a coroutine too. */
  ck_assert_int_eq(exco_chan_send_until(c, &v, exco_now() - 5), 0);
  ck_assert_int_eq(exco_chan_send_until(c, &v, exco_now() - 5), EXCO_ETIMEDOUT);
  exco_chan_unref(c);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* Cancelled while waiting (drop, or exco_task_cancel), or before the
 * call: EXCO_ECANCELED and nothing moved.  _i: bit 0 send/recv, bit 1
 * drop/cancel, bit 2 cancelled before the call. */
START_TEST(cancel_withdraws) {
  int send = _i & 1, by_drop = (_i >> 1) & 1, first = (_i >> 2) & 1;
  h_host h;
  exco_chan *c;
  exco_task *t;
  h_ext *e;
  op o;
  int v = 3, got;

  memset(&o, 0, sizeof(o));
  h_host_init(&h);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), 0), 0);
  o.c = c;
  o.send = send;
  o.ms = -1;
  o.v = 55;
  o.cancel_first = first;
  ck_assert_int_eq(exco_spawn(h.ex, fn_op, &o, NULL, &t), 0);
  e = h_host_pop(&h);
  if (first) {
    ck_assert_int_eq(h_host_poll(&h, e), 0);
    ck_assert_int_eq(h_host_drop(&h, e), 0);
  } else {
    ck_assert_int_eq(h_host_poll(&h, e), 1);
    ck_assert_int_eq(o.done, 0);
    if (by_drop) {
      ck_assert_int_eq(h_host_drop(&h, e), 0);
    } else {
      ck_assert_int_eq(exco_task_cancel(t), 0);
      ck_assert_int_eq(h_host_run_until_idle(&h), 0);
    }
  }
  ck_assert_int_eq(o.done, 1);
  ck_assert_int_eq(o.r, EXCO_ECANCELED);
  ck_assert_int_eq(o.v, 55);
  /* Nothing left waiting on the channel. */
  if (send)
    ck_assert_int_eq(exco_chan_try_recv(c, &got), EXCO_EAGAIN);
  else
    ck_assert_int_eq(exco_chan_try_send(c, &v), EXCO_EAGAIN);
  exco_task_release(t);
  exco_chan_unref(c);
  h_host_destroy(&h);
}
END_TEST

/* Completed, then cancelled before it ran again: the operation happened,
 * so it reports success and the element is not lost. */
START_TEST(completed_wins_over_cancel) {
  int send = _i & 1;
  h_host h;
  exco_chan *c;
  exco_task *t;
  h_ext *e;
  op o;
  int v = 4, got = 0;

  memset(&o, 0, sizeof(o));
  h_host_init(&h);
  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), 0), 0);
  o.c = c;
  o.send = send;
  o.ms = -1;
  o.v = 66;
  ck_assert_int_eq(exco_spawn(h.ex, fn_op, &o, NULL, &t), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  if (send) {
    ck_assert_int_eq(exco_chan_try_recv(c, &got), 0);
    ck_assert_int_eq(got, 66);
  } else {
    ck_assert_int_eq(exco_chan_try_send(c, &v), 0);
  }
  ck_assert_int_eq(exco_task_cancel(t), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(o.r, 0);
  if (!send)
    ck_assert_int_eq(o.v, 4);
  exco_task_release(t);
  exco_chan_unref(c);
  h_host_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Plain threads                                                           */
/* ---------------------------------------------------------------------- */

typedef struct th {
  exco_chan *c;
  int n;
  int r;
  long sum;
  int count;
} th;

static void *thread_send(void *arg) {
  th *t = arg;
  int i;

  for (i = 0; i < t->n; i++) {
    t->r = exco_chan_send(t->c, &i);
    if (t->r != 0)
      break;
    t->count++;
  }
  return NULL;
}

static void *thread_recv(void *arg) {
  th *t = arg;
  int v;

  while ((t->r = exco_chan_recv(t->c, &v)) == 0) {
    t->sum += v;
    t->count++;
  }
  return NULL;
}

static void *thread_run(void *arg) {
  return exco_run(arg) == 0 ? NULL : arg;
}

/* A thread sends to a coroutine and a coroutine to a thread, through
 * rendezvous channels, so both sides really block. */
START_TEST(threads_and_coroutines) {
  exco_executor *ex;
  pthread_t ts, tr, te;
  th s, r;
  pc cons, prod;

  memset(&s, 0, sizeof(s));
  memset(&r, 0, sizeof(r));
  memset(&cons, 0, sizeof(cons));
  memset(&prod, 0, sizeof(prod));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_chan_new(&s.c, sizeof(int), 0), 0);
  ck_assert_int_eq(exco_chan_new(&r.c, sizeof(int), 0), 0);
  s.n = (int)h_scale(2000);
  cons.c = s.c;
  prod.c = r.c;
  prod.n = (int)h_scale(2000);
  ck_assert_int_eq(exco_spawn(ex, fn_consume, &cons, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_produce, &prod, NULL, NULL), 0);
  h_thread_start(&ts, thread_send, &s);
  h_thread_start(&tr, thread_recv, &r);
  h_thread_start(&te, thread_run, ex);
  h_thread_join(ts);
  ck_assert_int_eq(exco_chan_close(s.c), 0);
  /* Both coroutines finish: the consumer at the close, the producer
   * once the thread took everything. */
  ck_assert_ptr_null(h_thread_join(te));
  ck_assert_int_eq(exco_chan_close(r.c), 0);
  h_thread_join(tr);
  ck_assert_int_eq(s.count, s.n);
  ck_assert_int_eq(cons.got, s.n);
  ck_assert_int_eq(cons.in_order, 1);
  ck_assert_int_eq(prod.sent, prod.n);
  ck_assert_int_eq(r.count, prod.n);
  ck_assert_int_eq(r.r, EXCO_EPIPE);
  exco_chan_unref(s.c);
  exco_chan_unref(r.c);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(thread_deadline) {
  exco_chan *c;
  int v = 1;
  double t0;

  ck_assert_int_eq(exco_chan_new(&c, sizeof(int), 0), 0);
  t0 = h_now();
  ck_assert_int_eq(exco_chan_recv_until(c, &v, exco_now() + 30),
                   EXCO_ETIMEDOUT);
  ck_assert(h_now() - t0 >= 0.025);
  ck_assert_int_eq(exco_chan_send_until(c, &v, exco_now() + 10),
                   EXCO_ETIMEDOUT);
  /* Nothing left behind. */
  ck_assert_int_eq(exco_chan_try_recv(c, &v), EXCO_EAGAIN);
  ck_assert_int_eq(exco_chan_try_send(c, &v), EXCO_EAGAIN);
  exco_chan_unref(c);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Stress: exact counts under threads, deadlines and cancellation          */
/* ---------------------------------------------------------------------- */

enum { ST_THREADS = 3, ST_CO_SENDERS = 3, ST_VICTIMS = 3, ST_SURVIVORS = 3 };

typedef struct stress {
  exco_chan *c;
  int per; /* items per sender */
  int total;
  atomic_int *sent; /* per item: sends that returned 0 */
  atomic_int *recv; /* per item: receives that returned it */
  atomic_int received;
  atomic_int ready;     /* executors that published their tasks */
  atomic_int cancelled; /* the canceller is done */
  atomic_int co_senders_done;
  exco_task *victims[ST_VICTIMS + ST_CO_SENDERS];
  int bad; /* an unexpected result somewhere */
} stress;

typedef struct stress_task {
  stress *s;
  int base; /* first item id */
} stress_task;

static void *fn_stress_send(void *arg) {
  stress_task *st = arg;
  stress *s = st->s;
  int i, id, r;

  for (i = 0; i < s->per; i++) {
    id = st->base + i;
    r = exco_chan_send(s->c, &id);
    if (r == 0) {
      atomic_fetch_add(&s->sent[id], 1);
    } else {
      if (r != EXCO_ECANCELED)
        s->bad = 1;
      break;
    }
  }
  atomic_fetch_add(&s->co_senders_done, 1);
  return NULL;
}

/* Victims receive until cancelled; survivors drain with short deadlines,
 * retrying, until the channel is closed. */
static void *fn_stress_recv(void *arg) {
  stress_task *st = arg;
  stress *s = st->s;
  int id, r;

  for (;;) {
    if (st->base < 0)
      r = exco_chan_recv(s->c, &id);
    else
      r = exco_chan_recv_until(s->c, &id, exco_now() + 1);
    if (r == 0) {
      if (id < 0 || id >= s->total) {
        s->bad = 1;
        continue;
      }
      atomic_fetch_add(&s->recv[id], 1);
      atomic_fetch_add(&s->received, 1);
      continue;
    }
    if (r == EXCO_ETIMEDOUT && st->base >= 0)
      continue;
    if (r != EXCO_EPIPE && !(st->base < 0 && r == EXCO_ECANCELED))
      s->bad = 1;
    break;
  }
  return NULL;
}

static void *thread_stress_send(void *arg) {
  stress_task *st = arg;
  stress *s = st->s;
  int i, id;

  for (i = 0; i < s->per; i++) {
    id = st->base + i;
    if (exco_chan_send(s->c, &id) != 0) {
      s->bad = 1;
      break;
    }
    atomic_fetch_add(&s->sent[id], 1);
  }
  return NULL;
}

/* An executor thread: senders (which) 0 or receivers 1. */
typedef struct exec_th {
  stress *s;
  int which;
  stress_task tasks[ST_CO_SENDERS + ST_VICTIMS + ST_SURVIVORS];
} exec_th;

static void *thread_exec(void *arg) {
  exec_th *x = arg;
  stress *s = x->s;
  exco_executor *ex;
  exco_task *h[ST_CO_SENDERS + ST_VICTIMS];
  int i, nh = 0;

  if (exco_executor_new_local(&ex) != 0) {
    s->bad = 1;
    return NULL;
  }
  if (x->which == 0) {
    for (i = 0; i < ST_CO_SENDERS; i++) {
      x->tasks[i].s = s;
      x->tasks[i].base = (ST_THREADS + i) * s->per;
      if (exco_spawn(ex, fn_stress_send, &x->tasks[i], NULL, &h[nh]) != 0)
        s->bad = 1;
      s->victims[ST_VICTIMS + i] = h[nh++];
    }
  } else {
    for (i = 0; i < ST_VICTIMS + ST_SURVIVORS; i++) {
      x->tasks[i].s = s;
      x->tasks[i].base = i < ST_VICTIMS ? -1 : 0;
      if (exco_spawn(ex, fn_stress_recv, &x->tasks[i], NULL,
                     i < ST_VICTIMS ? &h[nh] : NULL) != 0)
        s->bad = 1;
      if (i < ST_VICTIMS)
        s->victims[i] = h[nh++];
    }
  }
  atomic_fetch_add(&s->ready, 1);
  if (exco_run(ex) != 0)
    s->bad = 1;
  /* The canceller may still hold our handles. */
  if (h_wait_at_least(&s->cancelled, 1) != 0)
    s->bad = 1;
  for (i = 0; i < nh; i++)
    exco_task_release(h[i]);
  if (exco_executor_free(ex) != 0)
    s->bad = 1;
  return NULL;
}

START_TEST(stress_exact_counts) {
  static const size_t caps[] = {0, 4, EXCO_CHAN_UNBOUNDED};
  stress s;
  exec_th xs, xr;
  stress_task ts[ST_THREADS];
  pthread_t pt[ST_THREADS], es, er;
  int i, lost = 0, dup = 0, sent_total = 0;

  memset(&s, 0, sizeof(s));
  s.per = (int)h_scale(H_SANITIZED ? 1500 : 5000);
  s.total = s.per * (ST_THREADS + ST_CO_SENDERS);
  s.sent = calloc((size_t)s.total, sizeof(atomic_int));
  s.recv = calloc((size_t)s.total, sizeof(atomic_int));
  ck_assert_ptr_nonnull(s.sent);
  ck_assert_ptr_nonnull(s.recv);
  ck_assert_int_eq(exco_chan_new(&s.c, sizeof(int), caps[_i]), 0);
  xs.s = xr.s = &s;
  xs.which = 0;
  xr.which = 1;
  h_thread_start(&er, thread_exec, &xr);
  h_thread_start(&es, thread_exec, &xs);
  for (i = 0; i < ST_THREADS; i++) {
    ts[i].s = &s;
    ts[i].base = i * s.per;
    h_thread_start(&pt[i], thread_stress_send, &ts[i]);
  }
  /* Cancel the victims (receivers and coroutine senders) part way. */
  ck_assert_int_eq(h_wait_at_least(&s.ready, 2), 0);
  ck_assert_int_eq(h_wait_at_least(&s.received, s.total / 3), 0);
  for (i = 0; i < ST_VICTIMS + ST_CO_SENDERS; i++) {
    int r = exco_task_cancel(s.victims[i]);
    ck_assert(r == 0 || r == EXCO_EALREADY);
  }
  atomic_store(&s.cancelled, 1);
  for (i = 0; i < ST_THREADS; i++)
    h_thread_join(pt[i]);
  ck_assert_int_eq(h_wait_at_least(&s.co_senders_done, ST_CO_SENDERS), 0);
  h_thread_join(es);
  ck_assert_int_eq(exco_chan_close(s.c), 0);
  h_thread_join(er);
  ck_assert_int_eq(s.bad, 0);
  for (i = 0; i < s.total; i++) {
    int a = atomic_load(&s.sent[i]), b = atomic_load(&s.recv[i]);
    sent_total += a;
    if (a > 1 || b > 1)
      dup++;
    if (a != b)
      lost++;
  }
  ck_assert_int_eq(dup, 0);
  ck_assert_int_eq(lost, 0);
  ck_assert_int_eq(atomic_load(&s.received), sent_total);
  ck_assert_int_ge(sent_total, s.per * ST_THREADS);
  ck_assert_int_eq(exco_chan_len(s.c), 0);
  exco_chan_unref(s.c);
  free(s.sent);
  free(s.recv);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("chan");
  TCase *tc = h_tcase("chan", 60);
  TCase *ts = h_tcase("stress", 240);

  tcase_add_test(tc, bad_arguments);
  tcase_add_test(tc, try_forms_bounded_fifo);
  tcase_add_test(tc, try_forms_rendezvous_and_unbounded);
  tcase_add_test(tc, unbounded_keeps_order_across_growth);
  tcase_add_loop_test(tc, pipeline_each_capacity, 0, 4 * H_RIG_KINDS);
  tcase_add_test(tc, bounded_sender_waits);
  tcase_add_loop_test(tc, close_wakes_receivers, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, deadline_withdraws, 0, 8);
  tcase_add_test(tc, past_deadline_ready_op_succeeds);
  tcase_add_loop_test(tc, cancel_withdraws, 0, 8);
  tcase_add_loop_test(tc, completed_wins_over_cancel, 0, 2);
  tcase_add_test(tc, threads_and_coroutines);
  tcase_add_test(tc, thread_deadline);
  suite_add_tcase(s, tc);
  tcase_add_loop_test(ts, stress_exact_counts, 0, 3);
  suite_add_tcase(s, ts);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
