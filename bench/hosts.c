/*
 * hosts.c -- the exco peers of exco-bench: the same exco tasks run under
 * exco's uv driver, under the seed's driver design (one uv_async_t per
 * task) and under exco's built-in local executor; for W2 and W4 also
 * under exco's libev, libevent and GLib drivers, when exco-bench is built
 * with them (BENCH_LIBEV, BENCH_LIBEVENT, BENCH_GLIB).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#include "exco/uv.h"
#include "seed-driver.h"
#ifdef BENCH_LIBEV
#include "exco/libev.h"
#endif
#ifdef BENCH_LIBEVENT
#include "exco/libevent.h"
#endif
#ifdef BENCH_GLIB
#include "exco/glib.h"
#endif

const bench_host_kind bench_host_kinds[] = {
    BENCH_HOST_EXCO_UV, BENCH_HOST_SEED_UV, BENCH_HOST_LOCAL,
    (bench_host_kind)-1};

const bench_host_kind bench_other_host_kinds[] = {
#ifdef BENCH_LIBEV
    BENCH_HOST_EXCO_LIBEV,
#endif
#ifdef BENCH_LIBEVENT
    BENCH_HOST_EXCO_LIBEVENT,
#endif
#ifdef BENCH_GLIB
    BENCH_HOST_EXCO_GLIB,
#endif
    (bench_host_kind)-1};

unsigned bench_host_bit(bench_host_kind kind) {
  switch (kind) {
  case BENCH_HOST_EXCO_UV:
    return BENCH_P_EXCO_UV;
  case BENCH_HOST_SEED_UV:
    return BENCH_P_SEED_UV;
  case BENCH_HOST_LOCAL:
    return BENCH_P_LOCAL;
  case BENCH_HOST_EXCO_LIBEV:
    return BENCH_P_EXCO_LIBEV;
  case BENCH_HOST_EXCO_LIBEVENT:
    return BENCH_P_EXCO_LIBEVENT;
  case BENCH_HOST_EXCO_GLIB:
    return BENCH_P_EXCO_GLIB;
  }
  return 0;
}

const char *bench_host_peer(bench_host_kind kind) {
  switch (kind) {
  case BENCH_HOST_EXCO_UV:
    return BENCH_PEER_EXCO_UV;
  case BENCH_HOST_SEED_UV:
    return BENCH_PEER_SEED_UV;
  case BENCH_HOST_LOCAL:
    return BENCH_PEER_LOCAL;
  case BENCH_HOST_EXCO_LIBEV:
    return BENCH_PEER_EXCO_LIBEV;
  case BENCH_HOST_EXCO_LIBEVENT:
    return BENCH_PEER_EXCO_LIBEVENT;
  case BENCH_HOST_EXCO_GLIB:
    return BENCH_PEER_EXCO_GLIB;
  }
  return "?";
}

int bench_host_init(bench_host *h, bench_host_kind kind) {
  int err;

  h->kind = kind;
  h->peer = bench_host_peer(kind);
  h->loop = NULL;
  h->other = NULL;
  h->stopped = 0;
  h->ex = NULL;
  if (kind == BENCH_HOST_LOCAL)
    return exco_executor_new_local(&h->ex);
  if (kind == BENCH_HOST_EXCO_LIBEV) {
#ifdef BENCH_LIBEV
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

    if (loop == NULL)
      return EXCO_ENOMEM;
    err = exco_libev_executor_new(&h->ex, loop);
    if (err != 0)
      ev_loop_destroy(loop);
    else
      h->other = loop;
    return err;
#else
    return EXCO_ENOTSUP;
#endif
  }
  if (kind == BENCH_HOST_EXCO_LIBEVENT) {
#ifdef BENCH_LIBEVENT
    /* Every wake in the bench comes from the loop's thread: no
     * evthread_use_pthreads() needed. */
    struct event_base *base = event_base_new();

    if (base == NULL)
      return EXCO_ENOMEM;
    err = exco_libevent_executor_new(&h->ex, base);
    if (err != 0)
      event_base_free(base);
    else
      h->other = base;
    return err;
#else
    return EXCO_ENOTSUP;
#endif
  }
  if (kind == BENCH_HOST_EXCO_GLIB) {
#ifdef BENCH_GLIB
    /* The executor takes a reference of its own on the context. */
    GMainContext *gctx = g_main_context_new();

    err = exco_glib_executor_new(&h->ex, gctx);
    if (err != 0)
      g_main_context_unref(gctx);
    else
      h->other = gctx;
    return err;
#else
    return EXCO_ENOTSUP;
#endif
  }
  h->loop = malloc(sizeof(*h->loop));
  if (h->loop == NULL)
    return EXCO_ENOMEM;
  if (uv_loop_init(h->loop) != 0) {
    free(h->loop);
    h->loop = NULL;
    return EXCO_ENOMEM;
  }
  if (kind == BENCH_HOST_EXCO_UV) {
    err = exco_uv_executor_new(&h->ex, h->loop);
  } else {
    /* It registers its loop with exco_uv_attach(), so exco's awaitables
     * (W7) work on it too. */
    err = exco_uv_seed_executor_new(&h->ex, h->loop);
  }
  if (err != 0) {
    uv_loop_close(h->loop);
    free(h->loop);
    h->loop = NULL;
  }
  return err;
}

int bench_host_run(bench_host *h) {
  if (h->kind == BENCH_HOST_LOCAL) {
    /* Every wake in the bench comes from the loop's own thread, so
     * "nothing ready" is the end of a run; exco_run() would sleep forever
     * on the tasks W4 and W5 keep pending on purpose. */
    int live = exco_run_until_idle(h->ex);

    return live < 0 ? live : 0;
  }
#ifdef BENCH_LIBEV
  if (h->kind == BENCH_HOST_EXCO_LIBEV) {
    ev_run(h->other, 0);
    return 0;
  }
#endif
#ifdef BENCH_LIBEVENT
  if (h->kind == BENCH_HOST_EXCO_LIBEVENT)
    return event_base_dispatch(h->other) < 0 ? EXCO_EINVAL : 0;
#endif
#ifdef BENCH_GLIB
  if (h->kind == BENCH_HOST_EXCO_GLIB) {
    /* exco_glib_run_until_idle(), but bench_host_stop() can end it early:
     * W4 and bench_park() keep tasks pending on purpose. */
    h->stopped = 0;
    while (!h->stopped && exco_executor_live(h->ex) > 0)
      g_main_context_iteration(h->other, TRUE);
    return 0;
  }
#endif
  return uv_run(h->loop, UV_RUN_DEFAULT) < 0 ? EXCO_EINVAL : 0;
}

void bench_host_stop(bench_host *h) {
  if (h->loop != NULL)
    uv_stop(h->loop);
  h->stopped = 1;
#ifdef BENCH_LIBEV
  if (h->kind == BENCH_HOST_EXCO_LIBEV)
    ev_break(h->other, EVBREAK_ALL);
#endif
#ifdef BENCH_LIBEVENT
  if (h->kind == BENCH_HOST_EXCO_LIBEVENT)
    event_base_loopbreak(h->other);
#endif
}

void bench_host_close(bench_host *h) {
  if (h->kind == BENCH_HOST_LOCAL) {
    exco_executor_free(h->ex);
  } else if (h->kind == BENCH_HOST_EXCO_LIBEV ||
             h->kind == BENCH_HOST_EXCO_LIBEVENT ||
             h->kind == BENCH_HOST_EXCO_GLIB) {
    exco_executor_free(h->ex);
#ifdef BENCH_LIBEV
    if (h->kind == BENCH_HOST_EXCO_LIBEV)
      ev_loop_destroy(h->other);
#endif
#ifdef BENCH_LIBEVENT
    if (h->kind == BENCH_HOST_EXCO_LIBEVENT)
      event_base_free(h->other);
#endif
#ifdef BENCH_GLIB
    if (h->kind == BENCH_HOST_EXCO_GLIB) {
      /* Let whatever the freed executor left behind be dispatched. */
      while (g_main_context_iteration(h->other, FALSE))
        ;
      g_main_context_unref(h->other);
    }
#endif
    h->other = NULL;
  } else if (h->kind == BENCH_HOST_EXCO_UV) {
    exco_uv_executor_free(h->ex);
  } else {
    exco_uv_seed_executor_free(h->ex);
  }
  if (h->loop != NULL) {
    /* Let close callbacks run, then close the loop. */
    uv_run(h->loop, UV_RUN_DEFAULT);
    uv_loop_close(h->loop);
    free(h->loop);
  }
  h->ex = NULL;
  h->loop = NULL;
}

void bench_free_handle(uv_handle_t *h) {
  free(h);
}

int bench_never_poll(void *arg, exco_waker *waker) {
  (void)arg;
  (void)waker;
  return 0;
}

static long parked_started;
int bench_park_sleeping;

static void *parked(void *arg) {
  (void)arg;
  parked_started++;
  if (bench_park_sleeping)
    exco_sleep(3600 * 1000);
  else
    exco_await(bench_never_poll, NULL, NULL);
  return NULL;
}

typedef struct stopper {
  bench_host *h;
  long target;
} stopper;

/* Waits (yielding) until every parked task has had its first poll, then
 * ends the host's run although they stay pending. */
static void *stop_when_parked(void *arg) {
  stopper *s = arg;

  while (parked_started < s->target)
    if (exco_yield() != 0)
      return NULL;
  bench_host_stop(s->h);
  return NULL;
}

long bench_park(bench_host *h, long p, unsigned flags, exco_task **tasks,
                int *err) {
  exco_spawn_opts o = {0, NULL, flags};
  exco_spawn_opts stop_opts = {0, NULL, EXCO_SPAWN_NOGUARD};
  stopper s;
  long i;

  *err = 0;
  parked_started = 0;
  for (i = 0; i < p; i++) {
    *err = exco_spawn(h->ex, parked, NULL, &o, &tasks[i]);
    if (*err != 0)
      break;
  }
  s.h = h;
  s.target = i;
  /* The stopper has no guard page, so it can still be had when the
   * guarded parked ones have used up vm.max_map_count. */
  if (exco_spawn(h->ex, stop_when_parked, &s, &stop_opts, NULL) == 0)
    bench_host_run(h);
  else if (*err == 0)
    *err = EXCO_ENOMEM;
  return i;
}

int bench_unpark(bench_host *h, exco_task **tasks, long n) {
  long i;

  for (i = 0; i < n; i++) {
    exco_task_cancel(tasks[i]);
    exco_task_release(tasks[i]);
  }
  return bench_host_run(h);
}

static bench_result *measure_list(bench_result *t, bench_rep_fn fn,
                                  const bench_host_kind *kinds) {
  const bench_host_kind *k;
  bench_result *ref = NULL;

  for (k = kinds; *k != (bench_host_kind)-1; k++) {
    bench_host h;
    bench_result *r;
    int err;

    if (!bench_peer_on(bench_host_bit(*k)))
      continue;
    t->peer = bench_host_peer(*k);
    t->ref = *k == BENCH_HOST_EXCO_UV;
    if ((err = bench_host_init(&h, *k)) != 0) {
      bench_skip(t, exco_strerror(err));
      continue;
    }
    r = bench_measure(t, fn, &h);
    if (t->ref)
      ref = r;
    bench_host_close(&h);
  }
  return ref;
}

bench_result *bench_hosts_measure(bench_result *t, bench_rep_fn fn) {
  return measure_list(t, fn, bench_host_kinds);
}

bench_result *bench_hosts_measure_list(bench_result *t, bench_rep_fn fn,
                                       const bench_host_kind *kinds) {
  return measure_list(t, fn, kinds);
}

void bench_raw_measure(bench_result *t, bench_rep_fn fn, const char *what) {
  uv_loop_t loop;

  if (!bench_peer_on(BENCH_P_RAW_UV))
    return;
  t->peer = BENCH_PEER_RAW_UV;
  t->ref = 0;
  snprintf(t->note, sizeof(t->note), "%s", what);
  if (uv_loop_init(&loop) != 0) {
    bench_skip(t, "uv_loop_init failed");
    return;
  }
  bench_measure(t, fn, &loop);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  t->note[0] = '\0';
}
