/*
 * w8-sync.c -- the concurrency toolkit's workloads, each with peers from
 * outside exco run as separate programs when they are there:
 *
 *   W3 (channel case): two tasks pass a token M times through two
 *       channels of capacity 1; ns per hop.
 *   W8 fan-in: T plain threads each send N/T integers into one bounded
 *       channel (capacity 64) that one coroutine drains; ns per item.
 *   W9 mutex: K tasks on one thread each lock a mutex M/K times, yield
 *       while holding it (so the others queue up) and unlock; ns per
 *       critical section.
 *
 * Peers: "boost-fiber" (bench/peers/boost_fiber.cc, Boost.Fiber's
 * buffered_channel and mutex, built when configure finds
 * libboost-fiber-dev) and "go" (bench/peers/chanpeer.go, built with the
 * go tool at run time if it is on PATH), run by ext-peers.c.  Each peer
 * program does one repetition per run and prints its ns/op; process
 * start-up is outside its clock.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "exco/sync.h"

/* Measures the two outside peers with arguments @args. */
static void ext_measure(bench_result *t, const char *args) {
  bench_ext_measure(t, BENCH_P_BOOST, NULL, args, NULL);
  bench_ext_measure(t, BENCH_P_GO, NULL, args, NULL);
}

/* ---------------------------------------------------------------------- */
/* W3, channel case                                                        */
/* ---------------------------------------------------------------------- */

typedef struct w3c {
  exco_chan *in, *out;
  long m;
  int first; /* sends first */
  int err;
} w3c;

static void *w3c_player(void *arg) {
  w3c *p = arg;
  long i, v = 0;
  int err;

  for (i = 0; i < p->m; i++) {
    if (p->first) {
      if ((err = exco_chan_send(p->out, &v)) != 0 ||
          (err = exco_chan_recv(p->in, &v)) != 0)
        break;
    } else {
      if ((err = exco_chan_recv(p->in, &v)) != 0)
        break;
      v++;
      if ((err = exco_chan_send(p->out, &v)) != 0)
        break;
    }
  }
  p->err = i == p->m ? 0 : err;
  return NULL;
}

static double rep_w3c(void *ctx, char *note, size_t len) {
  bench_host *h = ctx;
  long m = bench_o.w3_m / 2; /* round trips: two hops each */
  exco_chan *ab, *ba;
  w3c a, b;
  uint64_t t0;
  int err;

  if ((err = exco_chan_new(&ab, sizeof(long), 1)) != 0 ||
      (err = exco_chan_new(&ba, sizeof(long), 1)) != 0) {
    snprintf(note, len, "exco_chan_new: %s", exco_strerror(err));
    return -1;
  }
  a.out = b.in = ab;
  a.in = b.out = ba;
  a.m = b.m = m;
  a.first = 1;
  b.first = 0;
  a.err = b.err = 0;
  t0 = bench_now_ns();
  if ((err = exco_spawn(h->ex, w3c_player, &a, NULL, NULL)) != 0 ||
      (err = exco_spawn(h->ex, w3c_player, &b, NULL, NULL)) != 0) {
    snprintf(note, len, "exco_spawn: %s", exco_strerror(err));
    return -1;
  }
  bench_host_run(h);
  t0 = bench_now_ns() - t0;
  exco_chan_unref(ab);
  exco_chan_unref(ba);
  if (a.err != 0 || b.err != 0) {
    snprintf(note, len, "ping-pong failed: %s",
             exco_strerror(a.err ? a.err : b.err));
    return -1;
  }
  return (double)t0 / (double)(2 * m);
}

void bench_w3_channel(void) {
  bench_result t = {0};
  char args[64];

  t.workload = "W3";
  t.title = "ping-pong";
  snprintf(t.cse, sizeof(t.cse), "channel");
  t.metric = "ns/hop";
  snprintf(t.params, sizeof(t.params),
           "M=%ld hops through two channels of capacity 1", bench_o.w3_m);
  bench_hosts_measure(&t, rep_w3c);
  snprintf(args, sizeof(args), "w3 %ld", bench_o.w3_m);
  ext_measure(&t, args);
}

/* ---------------------------------------------------------------------- */
/* W8 fan-in                                                               */
/* ---------------------------------------------------------------------- */

typedef struct w8 {
  exco_chan *c;
  long n; /* items in all */
  long per;
  long got;
  long sum;
  int err;
} w8;

static void *w8_sender(void *arg) {
  w8 *w = arg;
  long i;

  for (i = 1; i <= w->per; i++)
    if (exco_chan_send(w->c, &i) != 0)
      return arg;
  return NULL;
}

static void *w8_consumer(void *arg) {
  w8 *w = arg;
  long v;
  int err;

  while ((err = exco_chan_recv(w->c, &v)) == 0) {
    w->got++;
    w->sum += v;
  }
  if (err != EXCO_EPIPE)
    w->err = err;
  return NULL;
}

static void *w8_closer(void *arg) {
  w8 *w = arg;
  pthread_t th[BENCH_MAX_P];
  int i, t = (int)bench_o.w8_t;
  void *bad = NULL;

  for (i = 0; i < t; i++)
    if (pthread_create(&th[i], NULL, w8_sender, w) != 0)
      return arg;
  for (i = 0; i < t; i++) {
    void *r;
    pthread_join(th[i], &r);
    if (r != NULL)
      bad = arg;
  }
  exco_chan_close(w->c);
  return bad;
}

static double rep_w8(void *ctx, char *note, size_t len) {
  bench_host *h = ctx;
  long t = bench_o.w8_t;
  pthread_t closer;
  void *r;
  w8 w;
  uint64_t t0;
  int err;

  memset(&w, 0, sizeof(w));
  w.per = bench_o.w8_n / t;
  w.n = w.per * t;
  if ((err = exco_chan_new(&w.c, sizeof(long), 64)) != 0) {
    snprintf(note, len, "exco_chan_new: %s", exco_strerror(err));
    return -1;
  }
  t0 = bench_now_ns();
  if ((err = exco_spawn(h->ex, w8_consumer, &w, NULL, NULL)) != 0) {
    snprintf(note, len, "exco_spawn: %s", exco_strerror(err));
    return -1;
  }
  if (pthread_create(&closer, NULL, w8_closer, &w) != 0) {
    snprintf(note, len, "pthread_create failed");
    return -1;
  }
  /* The wakes come from the sending threads: the local executor must
   * sleep for them rather than return when nothing is ready. */
  if (h->kind == BENCH_HOST_LOCAL)
    exco_run(h->ex);
  else
    bench_host_run(h);
  pthread_join(closer, &r);
  t0 = bench_now_ns() - t0;
  exco_chan_unref(w.c);
  if (r != NULL || w.err != 0 || w.got != w.n ||
      w.sum != t * (w.per * (w.per + 1) / 2)) {
    snprintf(note, len, "fan-in lost items: got %ld of %ld", w.got, w.n);
    return -1;
  }
  return (double)t0 / (double)w.n;
}

void bench_w8_fanin(void) {
  bench_result t = {0};
  char args[64];

  t.workload = "W8";
  t.title = "fan-in";
  t.metric = "ns/item";
  snprintf(t.params, sizeof(t.params),
           "T=%ld threads send N=%ld items, channel capacity 64", bench_o.w8_t,
           bench_o.w8_n);
  bench_hosts_measure(&t, rep_w8);
  snprintf(args, sizeof(args), "w8 %ld %ld", bench_o.w8_t, bench_o.w8_n);
  ext_measure(&t, args);
}

/* ---------------------------------------------------------------------- */
/* W9 mutex                                                                */
/* ---------------------------------------------------------------------- */

typedef struct w9 {
  exco_mutex *m;
  long per;
  long counter;
  int err;
} w9;

static void *w9_task(void *arg) {
  w9 *w = arg;
  long i;
  int err;

  for (i = 0; i < w->per; i++) {
    if ((err = exco_mutex_lock(w->m)) != 0) {
      w->err = err;
      return NULL;
    }
    w->counter++;
    exco_yield();
    exco_mutex_unlock(w->m);
  }
  return NULL;
}

static double rep_w9(void *ctx, char *note, size_t len) {
  bench_host *h = ctx;
  long k = bench_o.w9_k, i;
  w9 w;
  uint64_t t0;
  int err;

  memset(&w, 0, sizeof(w));
  w.per = bench_o.w9_m / k;
  if ((err = exco_mutex_new(&w.m)) != 0) {
    snprintf(note, len, "exco_mutex_new: %s", exco_strerror(err));
    return -1;
  }
  t0 = bench_now_ns();
  for (i = 0; i < k; i++)
    if ((err = exco_spawn(h->ex, w9_task, &w, NULL, NULL)) != 0) {
      snprintf(note, len, "exco_spawn: %s", exco_strerror(err));
      return -1;
    }
  bench_host_run(h);
  t0 = bench_now_ns() - t0;
  exco_mutex_free(w.m);
  if (w.err != 0 || w.counter != w.per * k) {
    snprintf(note, len, "mutex run failed: %s", exco_strerror(w.err));
    return -1;
  }
  return (double)t0 / (double)(w.per * k);
}

void bench_w9_mutex(void) {
  bench_result t = {0};
  char args[64];

  t.workload = "W9";
  t.title = "mutex";
  t.metric = "ns/section";
  snprintf(t.params, sizeof(t.params),
           "K=%ld tasks, M=%ld sections: lock, yield, unlock", bench_o.w9_k,
           bench_o.w9_m);
  bench_hosts_measure(&t, rep_w9);
  snprintf(args, sizeof(args), "w9 %ld %ld", bench_o.w9_k, bench_o.w9_m);
  ext_measure(&t, args);
}
