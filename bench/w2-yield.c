/*
 * w2-yield.c -- W2 yield: N tasks x K yields (exco_yield: wake self,
 * return pending); ns per yield.
 *
 * Timed in steady state: from the moment the last of the N tasks has
 * started to the moment the first one has done all its K yields, divided
 * by the yields made in between.  Spawning and dropping (W1's subject,
 * and with N = 10,000 guarded stacks mostly mmap and munmap) stay
 * outside the clock; every task is live and yielding inside it.
 *
 * raw-uv: N uv_async_t; each callback counts one step and uv_async_send()s
 * its own handle again until it has run K times, then closes it.  That is
 * a "yield" in plain libuv: one eventfd write per step, and one scan of
 * every async handle per loop wakeup.  It is timed the same way.
 *
 * exco-libev, exco-libevent, exco-glib: the same exco tasks on exco's
 * libev, libevent and GLib drivers (when exco-bench is built with them).
 *
 * boost-fiber, boost-context (ext-peers.c, when built): N fibers with
 * 256 KiB pooled stacks.  Boost.Fiber's each call this_fiber::yield()
 * under its round_robin scheduler, timed the same way; Boost.Context's
 * are resumed in turn by a main loop and each switches straight back
 * (resume + switch back = one yield), timed over every round but the
 * first (all start) and the last (all return).
 *
 * A second case, N = 1 with K = N x K yields (the same number in all),
 * runs exco-uv, exco-local and the Boost peers on a single task: the cost
 * of a yield with no other stack to visit.
 *
 * raw-libev: N started ev_idle watchers; each callback counts one step
 * and stops its watcher after K + 1 calls.  libev's way to "run again on
 * the next loop iteration", as a task that yields does: every iteration
 * queues all the active idle watchers (the loop polls I/O without
 * blocking in between).
 *
 * raw-libevent: N events, each added with a zero timeout and re-added by
 * its own callback until it has run K + 1 times.  libevent has no idle
 * events; a zero timeout is its "on the next loop iteration", and the
 * timeout is a common timeout (event_base_init_common_timeout()), so the
 * N re-adds cost a queue append each, not a heap insertion.
 *
 * raw-glib: N idle GSources on a GMainContext of their own, each
 * dispatched K + 1 times (its callback returns G_SOURCE_CONTINUE until
 * then): a "yield" in plain GLib, where every iteration prepares, checks
 * and dispatches each ready source.
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

/* The case being measured: N tasks x K yields. */
static long w2_n, w2_k;

/* The steady-state window, shared by the exco and raw runs. */
typedef struct w2_clock {
  long started, finished; /* tasks that have started / done K yields */
  long yields;            /* yields so far */
  long y0, y1;            /* yields at the window's ends */
  uint64_t t0, t1;
} w2_clock;

static w2_clock clk;

static void clock_reset(void) {
  clk = (w2_clock){0};
}

static void clock_started(void) {
  if (++clk.started == w2_n) {
    clk.y0 = clk.yields;
    clk.t0 = bench_now_ns();
  }
}

static void clock_finished(void) {
  if (++clk.finished == 1) {
    clk.y1 = clk.yields;
    clk.t1 = bench_now_ns();
  }
}

static double clock_result(char *note, size_t len) {
  if (clk.y1 <= clk.y0 || clk.finished != w2_n) {
    snprintf(note, len, "no yields in the window: N and K too small?");
    return -1;
  }
  return (double)(clk.t1 - clk.t0) / (double)(clk.y1 - clk.y0);
}

static void *yielder(void *arg) {
  long i;

  (void)arg;
  clock_started();
  for (i = 0; i < w2_k; i++) {
    if (exco_yield() != 0)
      break;
    clk.yields++;
  }
  clock_finished();
  return NULL;
}

static double rep_exco(void *ctx, char *note, size_t len) {
  bench_host *h = ctx;
  long n = w2_n, i;
  int err;

  clock_reset();
  for (i = 0; i < n; i++) {
    err = exco_spawn(h->ex, yielder, NULL, NULL, NULL);
    if (err != 0) {
      snprintf(note, len, "exco_spawn: %s", exco_strerror(err));
      bench_host_run(h);
      return -1;
    }
  }
  bench_host_run(h);
  return clock_result(note, len);
}

typedef struct raw_step {
  uv_async_t a;
  long done; /* callbacks so far */
} raw_step;

static void raw_cb(uv_async_t *a) {
  raw_step *s = (raw_step *)a;

  /* The first callback is the start; each later one ends a yield. */
  if (s->done++ == 0)
    clock_started();
  else
    clk.yields++;
  if (s->done <= w2_k) {
    uv_async_send(a);
  } else {
    clock_finished();
    uv_close((uv_handle_t *)a, bench_free_handle);
  }
}

static double rep_raw(void *ctx, char *note, size_t len) {
  uv_loop_t *loop = ctx;
  long n = w2_n, i;

  clock_reset();
  for (i = 0; i < n; i++) {
    raw_step *s = malloc(sizeof(*s));

    if (s == NULL || uv_async_init(loop, &s->a, raw_cb) != 0) {
      free(s);
      snprintf(note, len, "out of memory");
      uv_run(loop, UV_RUN_DEFAULT);
      return -1;
    }
    s->done = 0;
    uv_async_send(&s->a);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  return clock_result(note, len);
}

#ifdef BENCH_LIBEV
typedef struct ev_step {
  ev_idle w;
  long done; /* callbacks so far */
} ev_step;

static void ev_step_cb(struct ev_loop *loop, ev_idle *w, int revents) {
  ev_step *s = (ev_step *)w;

  (void)revents;
  if (s->done++ == 0)
    clock_started();
  else
    clk.yields++;
  if (s->done > w2_k) {
    clock_finished();
    ev_idle_stop(loop, w);
  }
}

static double rep_raw_libev(void *ctx, char *note, size_t len) {
  long n = w2_n, i;
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_step *steps = malloc(sizeof(*steps) * (size_t)n);

  (void)ctx;
  if (loop == NULL || steps == NULL) {
    if (loop != NULL)
      ev_loop_destroy(loop);
    free(steps);
    snprintf(note, len, "out of memory");
    return -1;
  }
  clock_reset();
  for (i = 0; i < n; i++) {
    ev_idle_init(&steps[i].w, ev_step_cb);
    steps[i].done = 0;
    ev_idle_start(loop, &steps[i].w);
  }
  ev_run(loop, 0);
  ev_loop_destroy(loop);
  free(steps);
  return clock_result(note, len);
}
#endif

#ifdef BENCH_LIBEVENT
typedef struct event_step {
  struct event *ev;
  const struct timeval *zero; /* the base's common zero timeout */
  long done;                  /* callbacks so far */
} event_step;

static void event_step_cb(evutil_socket_t fd, short what, void *arg) {
  event_step *s = arg;

  (void)fd;
  (void)what;
  if (s->done++ == 0)
    clock_started();
  else
    clk.yields++;
  if (s->done <= w2_k)
    event_add(s->ev, s->zero);
  else
    clock_finished();
}

static double rep_raw_libevent(void *ctx, char *note, size_t len) {
  static const struct timeval zero = {0, 0};
  long n = w2_n, i;
  struct event_base *base = event_base_new();
  event_step *steps = calloc((size_t)n, sizeof(*steps));
  const struct timeval *tv;
  double r = -1;
  int ran = 0;

  (void)ctx;
  if (base == NULL || steps == NULL)
    goto out;
  tv = event_base_init_common_timeout(base, &zero);
  if (tv == NULL)
    goto out;
  clock_reset();
  for (i = 0; i < n; i++) {
    steps[i].ev = event_new(base, -1, 0, event_step_cb, &steps[i]);
    steps[i].zero = tv;
    if (steps[i].ev == NULL)
      goto out;
    event_add(steps[i].ev, tv);
  }
  event_base_dispatch(base);
  ran = 1;
  r = clock_result(note, len);
out:
  if (!ran)
    snprintf(note, len, "out of memory");
  for (i = 0; steps != NULL && i < n; i++)
    if (steps[i].ev != NULL)
      event_free(steps[i].ev);
  free(steps);
  if (base != NULL)
    event_base_free(base);
  return r;
}
#endif

#ifdef BENCH_GLIB
typedef struct glib_step {
  long done; /* dispatches so far */
} glib_step;

static gboolean glib_step_cb(gpointer data) {
  glib_step *s = data;

  /* As raw_cb: the first dispatch is the start, each later one a yield. */
  if (s->done++ == 0)
    clock_started();
  else
    clk.yields++;
  if (s->done <= w2_k)
    return G_SOURCE_CONTINUE;
  clock_finished();
  return G_SOURCE_REMOVE;
}

static double rep_raw_glib(void *ctx, char *note, size_t len) {
  long n = w2_n, i;
  glib_step *steps = calloc((size_t)n, sizeof(*steps));
  GMainContext *gctx;

  (void)ctx;
  if (steps == NULL) {
    snprintf(note, len, "out of memory");
    return -1;
  }
  gctx = g_main_context_new();
  clock_reset();
  for (i = 0; i < n; i++) {
    GSource *s = g_idle_source_new();

    g_source_set_callback(s, glib_step_cb, &steps[i], NULL);
    g_source_attach(s, gctx);
    g_source_unref(s);
  }
  /* Every source removes itself after its last step. */
  while (clk.finished < n)
    g_main_context_iteration(gctx, TRUE);
  g_main_context_unref(gctx);
  free(steps);
  return clock_result(note, len);
}
#endif

#if defined(BENCH_LIBEV) || defined(BENCH_LIBEVENT) || defined(BENCH_GLIB)
/* Measures @fn (ctx unused: it makes its own loop) as the row of @peer. */
static void raw_host_measure(bench_result *t, unsigned bit, const char *peer,
                             bench_rep_fn fn, const char *what) {
  if (!bench_peer_on(bit))
    return;
  t->peer = peer;
  t->ref = 0;
  snprintf(t->note, sizeof(t->note), "%s", what);
  bench_measure(t, fn, NULL);
  t->note[0] = '\0';
}
#endif

/* The hosts of the N = 1 case: not seed-uv, whose yield through a
 * uv_async_t costs about 0.9 us (W4, P = 0, measures it). */
static const bench_host_kind one_task_kinds[] = {
    BENCH_HOST_EXCO_UV, BENCH_HOST_LOCAL, (bench_host_kind)-1};

/* Measures the Boost peers for the current case. */
static void boost_measure(bench_result *t) {
  char args[64];

  snprintf(args, sizeof(args), "w2 %ld %ld", w2_n, w2_n * w2_k);
  bench_ext_measure(t, BENCH_P_BOOST, BENCH_PEER_BOOST_FIBER " (pooled stack)",
                    args,
                    "this_fiber::yield(), round_robin scheduler, 256 KiB "
                    "pooled_fixedsize_stack");
  bench_ext_measure(t, BENCH_P_BOOST_CTX,
                    BENCH_PEER_BOOST_CONTEXT " (pooled stack)", args,
                    "fiber::resume() from a main loop, each fiber resumes "
                    "straight back; 256 KiB pooled_fixedsize_stack");
}

void bench_w2_yield(void) {
  bench_result t = {0};

  w2_n = bench_o.w2_n;
  w2_k = bench_o.w2_k;
  t.workload = "W2";
  t.title = "yield";
  t.metric = "ns/yield";
  snprintf(t.params, sizeof(t.params),
           "N=%ld tasks x K=%ld yields, timed while all are live", w2_n, w2_k);
  bench_target(bench_hosts_measure(&t, rep_exco), 30,
               "<= 30 ns/yield at N = 10,000 (libdill 20.4, fcontext 22.0 "
               "in issue 12's runs)");
  bench_hosts_measure_list(&t, rep_exco, bench_other_host_kinds);
  bench_raw_measure(&t, rep_raw,
                    "uv_async_t per task, re-sent by its own callback for "
                    "each step");
#ifdef BENCH_LIBEV
  raw_host_measure(&t, BENCH_P_RAW_LIBEV, BENCH_PEER_RAW_LIBEV, rep_raw_libev,
                   "ev_idle per task, stopped by its own callback after K "
                   "steps");
#endif
#ifdef BENCH_LIBEVENT
  raw_host_measure(&t, BENCH_P_RAW_LIBEVENT, BENCH_PEER_RAW_LIBEVENT,
                   rep_raw_libevent,
                   "event per task, re-added with a common zero timeout by "
                   "its own callback for each step");
#endif
#ifdef BENCH_GLIB
  raw_host_measure(&t, BENCH_P_RAW_GLIB, BENCH_PEER_RAW_GLIB, rep_raw_glib,
                   "idle GSource per task, dispatched again "
                   "(G_SOURCE_CONTINUE) for each step");
#endif
  boost_measure(&t);

  /* One task, as many yields in all. */
  w2_k = w2_n * w2_k;
  w2_n = 1;
  snprintf(t.cse, sizeof(t.cse), "N=1");
  snprintf(t.params, sizeof(t.params), "N=1 task x K=%ld yields", w2_k);
  bench_target(bench_hosts_measure_list(&t, rep_exco, one_task_kinds), 15,
               "<= 15 ns/yield at N = 1 (libdill 12.1, fcontext 11.5 in "
               "issue 12's runs)");
  boost_measure(&t);
}
