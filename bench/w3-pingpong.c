/*
 * w3-pingpong.c -- W3 ping-pong: two tasks pass a token M times through
 * promises; ns per hop.
 *
 * A new promise per hop: the token a task receives is the promise its
 * peer will wait on next, so each hop is promise_new + resolve (which
 * wakes the peer) + await + unref on both sides.  The last hop passes
 * NULL, which ends both tasks.
 *
 * raw-uv: two uv_async_t whose callbacks uv_async_send() each other's
 * handle; a hop is one eventfd write and one loop wakeup.
 */
#include "config.h"

#include <stdio.h>

#include "bench.h"

typedef struct w3_player {
  exco_promise *first; /* the promise this player waits on first */
  long *left;          /* hops still to make, shared by both players */
  int err;
} w3_player;

static void *player(void *arg) {
  w3_player *pl = arg;
  exco_promise *mine = pl->first, *theirs;
  void *v;
  int err;

  for (;;) {
    err = exco_promise_await(mine, &v);
    exco_promise_unref(mine);
    if (err != 0) {
      pl->err = err;
      return NULL;
    }
    theirs = v;
    if (theirs == NULL)
      return NULL; /* the peer made the last hop */
    if (--*pl->left <= 0) {
      exco_promise_resolve(theirs, NULL);
      exco_promise_unref(theirs);
      return NULL;
    }
    if ((err = exco_promise_new(&mine)) != 0) {
      pl->err = err;
      exco_promise_resolve(theirs, NULL);
      exco_promise_unref(theirs);
      return NULL;
    }
    /* The peer gets a reference of its own to resolve and drop. */
    exco_promise_resolve(theirs, exco_promise_ref(mine));
    exco_promise_unref(theirs);
  }
}

static double rep_exco(void *ctx, char *note, size_t len) {
  bench_host *h = ctx;
  long m = bench_o.w3_m, left = m;
  w3_player a = {NULL, &left, 0}, b = {NULL, &left, 0};
  uint64_t t0 = bench_now_ns();
  int err;

  if ((err = exco_promise_new(&a.first)) != 0 ||
      (err = exco_promise_new(&b.first)) != 0) {
    exco_promise_unref(a.first);
    snprintf(note, len, "exco_promise_new: %s", exco_strerror(err));
    return -1;
  }
  /* The first hop: a receives the promise b waits on. */
  exco_promise_resolve(a.first, exco_promise_ref(b.first));
  left--;
  if ((err = exco_spawn(h->ex, player, &a, NULL, NULL)) != 0 ||
      (err = exco_spawn(h->ex, player, &b, NULL, NULL)) != 0) {
    snprintf(note, len, "exco_spawn: %s", exco_strerror(err));
    return -1;
  }
  bench_host_run(h);
  if (a.err != 0 || b.err != 0 || left > 0) {
    snprintf(note, len, "ping-pong stopped with %ld hops left: %s", left,
             exco_strerror(a.err ? a.err : b.err));
    return -1;
  }
  return (double)(bench_now_ns() - t0) / (double)m;
}

typedef struct raw_pp {
  uv_async_t a, b;
  long left;
} raw_pp;

static void raw_hop(uv_async_t *self) {
  raw_pp *p = self->data;

  if (--p->left > 0) {
    uv_async_send(self == &p->a ? &p->b : &p->a);
  } else {
    uv_close((uv_handle_t *)&p->a, NULL);
    uv_close((uv_handle_t *)&p->b, NULL);
  }
}

static double rep_raw(void *ctx, char *note, size_t len) {
  uv_loop_t *loop = ctx;
  raw_pp p;
  uint64_t t0 = bench_now_ns();

  (void)note;
  (void)len;
  p.left = bench_o.w3_m;
  uv_async_init(loop, &p.a, raw_hop);
  uv_async_init(loop, &p.b, raw_hop);
  p.a.data = p.b.data = &p;
  uv_async_send(&p.a);
  uv_run(loop, UV_RUN_DEFAULT);
  return (double)(bench_now_ns() - t0) / (double)bench_o.w3_m;
}

void bench_w3_pingpong(void) {
  bench_result t = {0};

  t.workload = "W3";
  t.title = "ping-pong";
  t.metric = "ns/hop";
  snprintf(t.params, sizeof(t.params), "M=%ld hops, a new promise per hop",
           bench_o.w3_m);
  bench_hosts_measure(&t, rep_exco);
  bench_raw_measure(&t, rep_raw,
                    "two uv_async_t whose callbacks send each other");
  bench_w3_channel();
}
