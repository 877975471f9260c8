/*
 * w4-idle.c -- W4 idle scaling: one task yields up to K times while P
 * other tasks stay pending; ns per yield for each P.
 *
 * The P tasks are parked once per peer and P (each polled once, then
 * pending on a future that is never ready, without guard pages so that
 * P = 100,000 fits under vm.max_map_count), and every repetition spawns
 * a fresh yielder.  The yielder stops after K yields or after
 * --w4-seconds, whichever comes first (a peer whose yields cost O(P)
 * would otherwise take minutes at P = 100,000), and the result is the
 * time divided by the yields it made.  A flat line across P is the goal.
 *
 * raw-uv: P uv_async_t that are never sent, and one more whose callback
 * re-sends itself (as in W2).
 *
 * exco-libev, exco-libevent: the same on exco's libev and libevent
 * drivers (when exco-bench is built with them).  libev and libevent have
 * no handle that sits idle without a file descriptor except a timer, so
 * their raw peers are P idle timers (an hour away) and one more watcher
 * that steps as in W2:
 *
 * raw-libev: P started ev_timer, and one ev_idle whose callback counts
 * the steps (one per loop iteration) and ends the run with ev_break().
 *
 * raw-libevent: P added timer events, and one event re-added with a
 * common zero timeout by its own callback, which ends the run with
 * event_base_loopbreak().
 *
 * exco-glib (when exco-bench is built with GLib): the P tasks sleep for
 * an hour instead (exco's timers, on the driver's one GSource), as the
 * idle items of raw-glib are timeouts too:
 *
 * raw-glib: P timeout GSources of an hour on a GMainContext, and one idle
 * GSource dispatched again (G_SOURCE_CONTINUE) for each step.  GLib
 * prepares and checks every source of a context in each iteration, so
 * its cost per step grows with P; exco's pending tasks are no sources at
 * all.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#ifdef BENCH_LIBEV
#include <ev.h>
#endif
#ifdef BENCH_LIBEVENT
#include <event2/event.h>
#endif
#ifdef BENCH_GLIB
#include <glib.h>
#endif

/* Yields are counted against the clock every CHECK of them. */
#define CHECK 64

typedef struct w4_ctx {
  bench_host *h;     /* exco peers */
  uv_loop_t *loop;   /* raw-uv */
  uv_async_t *idle;  /* raw-uv: the P handles */
  long yields;       /* result of one repetition */
  uint64_t deadline; /* when the yielder gives up */
  uv_async_t step;   /* raw-uv: the yielding handle */
} w4_ctx;

static void *yielder(void *arg) {
  w4_ctx *c = arg;
  long i;

  for (i = 0; i < bench_o.w4_k; i++) {
    if (exco_yield() != 0)
      break;
    if (i % CHECK == CHECK - 1 && bench_now_ns() >= c->deadline) {
      i++;
      break;
    }
  }
  c->yields = i;
  bench_host_stop(c->h);
  return NULL;
}

static double rep_exco(void *ctx, char *note, size_t len) {
  w4_ctx *c = ctx;
  uint64_t t0 = bench_now_ns();
  int err;

  c->yields = 0;
  c->deadline = t0 + (uint64_t)(bench_o.w4_seconds * 1e9);
  err = exco_spawn(c->h->ex, yielder, c, NULL, NULL);
  if (err != 0) {
    snprintf(note, len, "exco_spawn: %s", exco_strerror(err));
    return -1;
  }
  bench_host_run(c->h);
  if (c->yields == 0) {
    snprintf(note, len, "the yielder did not run");
    return -1;
  }
  return (double)(bench_now_ns() - t0) / (double)c->yields;
}

static void raw_step(uv_async_t *a) {
  w4_ctx *c = a->data;

  c->yields++;
  if (c->yields < bench_o.w4_k &&
      (c->yields % CHECK != 0 || bench_now_ns() < c->deadline))
    uv_async_send(a);
  else
    uv_stop(c->loop);
}

static double rep_raw(void *ctx, char *note, size_t len) {
  w4_ctx *c = ctx;
  uint64_t t0 = bench_now_ns();

  (void)note;
  (void)len;
  c->yields = 0;
  c->deadline = t0 + (uint64_t)(bench_o.w4_seconds * 1e9);
  uv_async_send(&c->step);
  uv_run(c->loop, UV_RUN_DEFAULT);
  return (double)(bench_now_ns() - t0) / (double)c->yields;
}

static void fill(bench_result *t, long p) {
  t->workload = "W4";
  t->title = "idle";
  t->metric = "ns/yield";
  snprintf(t->cse, sizeof(t->cse), "P=%ld", p);
  snprintf(t->params, sizeof(t->params),
           "P pending tasks; up to K=%ld yields or %.3g s per rep",
           bench_o.w4_k, bench_o.w4_seconds);
}

static void run_exco(bench_host_kind kind, long p, bench_result **rows) {
  bench_result t = {0};
  bench_host h;
  w4_ctx c = {0};
  exco_task **parked = NULL;
  long n = 0;
  int err;

  fill(&t, p);
  t.peer = bench_host_peer(kind);
  t.ref = kind == BENCH_HOST_EXCO_UV;
  if ((err = bench_host_init(&h, kind)) != 0) {
    bench_skip(&t, exco_strerror(err));
    return;
  }
  c.h = &h;
  /* The GLib peer's pending tasks sleep (timers), as raw-glib's idle
   * sources are timeouts. */
  bench_park_sleeping = kind == BENCH_HOST_EXCO_GLIB;
  if (p > 0) {
    parked = malloc(sizeof(*parked) * (size_t)p);
    if (parked == NULL) {
      bench_skip(&t, "out of memory");
      bench_host_close(&h);
      return;
    }
    bench_progress("W4 idle %s: parking P=%ld tasks", t.peer, p);
    n = bench_park(&h, p, EXCO_SPAWN_NOGUARD, parked, &err);
  }
  if (n < p) {
    char why[96];

    snprintf(why, sizeof(why), "parked only %ld: %s", n, exco_strerror(err));
    bench_skip(&t, why);
  } else {
    bench_result *r = bench_measure(&t, rep_exco, &c);

    if (rows != NULL)
      *rows = r;
  }
  bench_unpark(&h, parked, n);
  bench_park_sleeping = 0;
  free(parked);
  bench_host_close(&h);
}

static void run_raw(long p) {
  bench_result t = {0};
  uv_loop_t loop;
  w4_ctx c = {0};
  long i;

  fill(&t, p);
  t.peer = BENCH_PEER_RAW_UV;
  snprintf(t.note, sizeof(t.note),
           "P idle uv_async_t; one more re-sent by its own callback");
  c.idle = malloc(sizeof(*c.idle) * (size_t)(p > 0 ? p : 1));
  if (c.idle == NULL || uv_loop_init(&loop) != 0) {
    free(c.idle);
    bench_skip(&t, "out of memory");
    return;
  }
  c.loop = &loop;
  for (i = 0; i < p; i++)
    uv_async_init(&loop, &c.idle[i], NULL);
  uv_async_init(&loop, &c.step, raw_step);
  c.step.data = &c;
  bench_measure(&t, rep_raw, &c);
  for (i = 0; i < p; i++)
    uv_close((uv_handle_t *)&c.idle[i], NULL);
  uv_close((uv_handle_t *)&c.step, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  free(c.idle);
}

#if defined(BENCH_LIBEV) || defined(BENCH_LIBEVENT) || defined(BENCH_GLIB)
/* One more step of a raw yielder: 1 to go on, 0 to stop. */
static int raw_more(long yields, uint64_t deadline) {
  return yields < bench_o.w4_k &&
         (yields % CHECK != 0 || bench_now_ns() < deadline);
}
#endif

#ifdef BENCH_LIBEV
typedef struct w4_ev {
  struct ev_loop *loop;
  ev_timer *idle; /* the P timers */
  ev_idle step;
  long yields;
  uint64_t deadline;
} w4_ev;

static void ev_idle_timer(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
}

static void ev_step_cb(struct ev_loop *loop, ev_idle *w, int revents) {
  w4_ev *c = w->data;

  (void)revents;
  c->yields++;
  if (!raw_more(c->yields, c->deadline)) {
    ev_idle_stop(loop, w);
    ev_break(loop, EVBREAK_ALL);
  }
}

static double rep_raw_libev(void *ctx, char *note, size_t len) {
  w4_ev *c = ctx;
  uint64_t t0 = bench_now_ns();

  (void)note;
  (void)len;
  c->yields = 0;
  c->deadline = t0 + (uint64_t)(bench_o.w4_seconds * 1e9);
  ev_idle_start(c->loop, &c->step);
  ev_run(c->loop, 0);
  return (double)(bench_now_ns() - t0) / (double)c->yields;
}

static void run_raw_libev(long p) {
  bench_result t = {0};
  w4_ev c = {0};
  long i;

  fill(&t, p);
  t.peer = BENCH_PEER_RAW_LIBEV;
  snprintf(t.note, sizeof(t.note),
           "P idle ev_timer (1 h); one ev_idle steps once per iteration");
  c.idle = malloc(sizeof(*c.idle) * (size_t)(p > 0 ? p : 1));
  c.loop = ev_loop_new(EVFLAG_AUTO);
  if (c.idle == NULL || c.loop == NULL) {
    if (c.loop != NULL)
      ev_loop_destroy(c.loop);
    free(c.idle);
    bench_skip(&t, "out of memory");
    return;
  }
  for (i = 0; i < p; i++) {
    ev_timer_init(&c.idle[i], ev_idle_timer, 3600.0, 0.0);
    ev_timer_start(c.loop, &c.idle[i]);
  }
  ev_idle_init(&c.step, ev_step_cb);
  c.step.data = &c;
  bench_measure(&t, rep_raw_libev, &c);
  for (i = 0; i < p; i++)
    ev_timer_stop(c.loop, &c.idle[i]);
  ev_loop_destroy(c.loop);
  free(c.idle);
}
#endif

#ifdef BENCH_LIBEVENT
typedef struct w4_event {
  struct event_base *base;
  struct event **idle; /* the P timers */
  struct event *step;
  const struct timeval *zero; /* the base's common zero timeout */
  long yields;
  uint64_t deadline;
} w4_event;

static void event_idle_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
}

static void event_step_cb(evutil_socket_t fd, short what, void *arg) {
  w4_event *c = arg;

  (void)fd;
  (void)what;
  c->yields++;
  if (raw_more(c->yields, c->deadline))
    event_add(c->step, c->zero);
  else
    event_base_loopbreak(c->base);
}

static double rep_raw_libevent(void *ctx, char *note, size_t len) {
  w4_event *c = ctx;
  uint64_t t0 = bench_now_ns();

  (void)note;
  (void)len;
  c->yields = 0;
  c->deadline = t0 + (uint64_t)(bench_o.w4_seconds * 1e9);
  event_add(c->step, c->zero);
  event_base_dispatch(c->base);
  return (double)(bench_now_ns() - t0) / (double)c->yields;
}

static void run_raw_libevent(long p) {
  static const struct timeval zero = {0, 0}, hour = {3600, 0};
  bench_result t = {0};
  w4_event c = {0};
  long i, made = 0;

  fill(&t, p);
  t.peer = BENCH_PEER_RAW_LIBEVENT;
  snprintf(t.note, sizeof(t.note),
           "P idle timer events (1 h); one event re-added with a common "
           "zero timeout steps once per iteration");
  c.idle = calloc((size_t)(p > 0 ? p : 1), sizeof(*c.idle));
  c.base = event_base_new();
  if (c.idle != NULL && c.base != NULL) {
    c.zero = event_base_init_common_timeout(c.base, &zero);
    c.step = event_new(c.base, -1, 0, event_step_cb, &c);
    for (made = 0; made < p; made++) {
      c.idle[made] = evtimer_new(c.base, event_idle_timer, NULL);
      if (c.idle[made] == NULL)
        break;
      evtimer_add(c.idle[made], &hour);
    }
  }
  if (c.idle == NULL || c.base == NULL || c.zero == NULL || c.step == NULL ||
      made < p)
    bench_skip(&t, "out of memory");
  else
    bench_measure(&t, rep_raw_libevent, &c);
  for (i = 0; i < made; i++)
    event_free(c.idle[i]);
  if (c.step != NULL)
    event_free(c.step);
  if (c.base != NULL)
    event_base_free(c.base);
  free(c.idle);
}
#endif

#ifdef BENCH_GLIB
typedef struct w4_glib {
  GMainContext *ctx;
  long yields;
  uint64_t deadline;
  int done; /* the stepping source has removed itself */
} w4_glib;

static gboolean glib_step_cb(gpointer data) {
  w4_glib *g = data;

  g->yields++;
  if (raw_more(g->yields, g->deadline))
    return G_SOURCE_CONTINUE;
  g->done = 1;
  return G_SOURCE_REMOVE;
}

static double rep_raw_glib(void *ctx, char *note, size_t len) {
  w4_glib *g = ctx;
  uint64_t t0 = bench_now_ns();
  GSource *s = g_idle_source_new();

  (void)note;
  (void)len;
  g->yields = 0;
  g->done = 0;
  g->deadline = t0 + (uint64_t)(bench_o.w4_seconds * 1e9);
  g_source_set_callback(s, glib_step_cb, g, NULL);
  g_source_attach(s, g->ctx);
  g_source_unref(s);
  while (!g->done)
    g_main_context_iteration(g->ctx, TRUE);
  return (double)(bench_now_ns() - t0) / (double)g->yields;
}

static void run_raw_glib(long p) {
  bench_result t = {0};
  w4_glib g = {0};
  GSource **timers;
  long i;

  fill(&t, p);
  t.peer = BENCH_PEER_RAW_GLIB;
  snprintf(t.note, sizeof(t.note),
           "P pending timeout GSources (1 h); one idle GSource dispatched "
           "again for each step");
  timers = malloc(sizeof(*timers) * (size_t)(p > 0 ? p : 1));
  if (timers == NULL) {
    bench_skip(&t, "out of memory");
    return;
  }
  g.ctx = g_main_context_new();
  for (i = 0; i < p; i++) {
    timers[i] = g_timeout_source_new(3600 * 1000);
    g_source_attach(timers[i], g.ctx);
  }
  bench_measure(&t, rep_raw_glib, &g);
  for (i = 0; i < p; i++) {
    g_source_destroy(timers[i]);
    g_source_unref(timers[i]);
  }
  g_main_context_unref(g.ctx);
  free(timers);
}
#endif

void bench_w4_idle(void) {
  const bench_host_kind *k;
  bench_result *first = NULL, *last = NULL;
  int i;

  for (i = 0; i < bench_o.w4_np; i++) {
    long p = bench_o.w4_p[i];
    bench_result *r = NULL;

    for (k = bench_host_kinds; *k != (bench_host_kind)-1; k++)
      if (bench_peer_on(bench_host_bit(*k)))
        run_exco(*k, p, *k == BENCH_HOST_EXCO_UV ? &r : NULL);
    for (k = bench_other_host_kinds; *k != (bench_host_kind)-1; k++)
      if (bench_peer_on(bench_host_bit(*k)))
        run_exco(*k, p, NULL);
    if (bench_peer_on(BENCH_P_RAW_UV))
      run_raw(p);
#ifdef BENCH_LIBEV
    if (bench_peer_on(BENCH_P_RAW_LIBEV))
      run_raw_libev(p);
#endif
#ifdef BENCH_LIBEVENT
    if (bench_peer_on(BENCH_P_RAW_LIBEVENT))
      run_raw_libevent(p);
#endif
#ifdef BENCH_GLIB
    if (bench_peer_on(BENCH_P_RAW_GLIB))
      run_raw_glib(p);
#endif
    if (i == 0)
      first = r;
    last = r;
  }
  /* The goal: exco's cost per yield at the largest P stays within 1.2x of
   * its cost at the smallest. */
  if (first != NULL && last != NULL && last != first && !first->failed) {
    char goal[128];

    snprintf(goal, sizeof(goal), "<= 1.2x %s (%.1f ns)", first->cse,
             first->median);
    bench_target(last, 1.2 * first->median, goal);
  }
}
