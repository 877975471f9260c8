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
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

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
  if (++clk.started == bench_o.w2_n) {
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
  if (clk.y1 <= clk.y0 || clk.finished != bench_o.w2_n) {
    snprintf(note, len, "no yields in the window: N and K too small?");
    return -1;
  }
  return (double)(clk.t1 - clk.t0) / (double)(clk.y1 - clk.y0);
}

static void *yielder(void *arg) {
  long i;

  (void)arg;
  clock_started();
  for (i = 0; i < bench_o.w2_k; i++) {
    if (exco_yield() != 0)
      break;
    clk.yields++;
  }
  clock_finished();
  return NULL;
}

static double rep_exco(void *ctx, char *note, size_t len) {
  bench_host *h = ctx;
  long n = bench_o.w2_n, i;
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
  if (s->done <= bench_o.w2_k) {
    uv_async_send(a);
  } else {
    clock_finished();
    uv_close((uv_handle_t *)a, bench_free_handle);
  }
}

static double rep_raw(void *ctx, char *note, size_t len) {
  uv_loop_t *loop = ctx;
  long n = bench_o.w2_n, i;

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

void bench_w2_yield(void) {
  bench_result t = {0};

  t.workload = "W2";
  t.title = "yield";
  t.metric = "ns/yield";
  snprintf(t.params, sizeof(t.params),
           "N=%ld tasks x K=%ld yields, timed while all are live", bench_o.w2_n,
           bench_o.w2_k);
  bench_target(bench_hosts_measure(&t, rep_exco), 30,
               "<= 30 ns/yield (seed 327, raw libuv 283)");
  bench_raw_measure(&t, rep_raw,
                    "uv_async_t per task, re-sent by its own callback for "
                    "each step");
}
