/*
 * w5-memory.c -- W5 memory: RSS per pending task, and how many pending
 * tasks a process can hold with and without guard pages.
 *
 * RSS comes from /proc/self/statm: once before parking P tasks (after
 * the loop and executor exist, and after malloc_trim, so that no freed
 * heap is waiting to be reused) and once after, when each of them has been
 * polled once and waits on a future that is never ready.  Every
 * repetition uses a new executor, so no stack comes pre-touched from a
 * pool.  The per-task figure includes everything a task costs: its stack
 * pages, its control block and the driver's per-task state.
 *
 * raw-uv: P malloc'd uv_async_t, initialised and never sent (what the
 * seed's driver allocates per task, without any task).
 *
 * The limits are found once (not repeated): tasks are parked until
 * exco_spawn fails or the cap is reached, and the row says which.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct w5_ctx {
  bench_host_kind kind;
  long p;
  unsigned flags;
  exco_task **tasks;
} w5_ctx;

static const char *err_name(int err) {
  switch (err) {
  case EXCO_ENOMEM:
    return "EXCO_ENOMEM";
  case EXCO_EINVAL:
    return "EXCO_EINVAL";
  case EXCO_EBUSY:
    return "EXCO_EBUSY";
  default:
    return "error";
  }
}

static double rep_exco(void *ctx, char *note, size_t len) {
  w5_ctx *c = ctx;
  bench_host h;
  long before, after, n;
  int err;

  if ((err = bench_host_init(&h, c->kind)) != 0) {
    snprintf(note, len, "%s", exco_strerror(err));
    return -1;
  }
  bench_trim();
  before = bench_rss_bytes();
  n = bench_park(&h, c->p, c->flags, c->tasks, &err);
  after = bench_rss_bytes();
  bench_unpark(&h, c->tasks, n);
  bench_host_close(&h);
  if (n < c->p) {
    snprintf(note, len, "spawn failed at P=%ld: %s (%s)", n, err_name(err),
             exco_strerror(err));
    return -1;
  }
  if (before < 0 || after < 0) {
    snprintf(note, len, "/proc/self/statm is not readable");
    return -1;
  }
  return (double)(after - before) / (double)c->p;
}

static double rep_raw(void *ctx, char *note, size_t len) {
  w5_ctx *c = ctx;
  uv_loop_t loop;
  uv_async_t **hs = (uv_async_t **)c->tasks;
  long before, after, i;

  if (uv_loop_init(&loop) != 0) {
    snprintf(note, len, "uv_loop_init failed");
    return -1;
  }
  bench_trim();
  before = bench_rss_bytes();
  for (i = 0; i < c->p; i++) {
    hs[i] = malloc(sizeof(uv_async_t));
    if (hs[i] == NULL || uv_async_init(&loop, hs[i], NULL) != 0) {
      snprintf(note, len, "out of memory");
      free(hs[i]);
      break;
    }
  }
  after = bench_rss_bytes();
  for (long j = 0; j < i; j++)
    uv_close((uv_handle_t *)hs[j], bench_free_handle);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (i < c->p)
    return -1;
  return (double)(after - before) / (double)c->p;
}

static void fill(bench_result *t, const char *cse, long p) {
  t->workload = "W5";
  t->title = "memory";
  t->metric = "B/task";
  snprintf(t->cse, sizeof(t->cse), "%s", cse);
  snprintf(t->params, sizeof(t->params),
           "RSS growth / P after parking P=%ld pending tasks", p);
}

/* The RSS-per-task rows for one P and stack kind. */
static bench_result *rss_rows(const char *cse, long p, unsigned flags,
                              int raw) {
  const bench_host_kind *k;
  bench_result t = {0}, *ref = NULL;
  w5_ctx c;

  fill(&t, cse, p);
  c.p = p;
  c.flags = flags;
  c.tasks = malloc(sizeof(*c.tasks) * (size_t)p);
  if (c.tasks == NULL) {
    t.peer = BENCH_PEER_EXCO_UV;
    bench_skip(&t, "out of memory");
    return NULL;
  }
  /* Touch the handle array now, so that it is in both RSS readings. */
  memset(c.tasks, 0, sizeof(*c.tasks) * (size_t)p);
  for (k = bench_host_kinds; *k != (bench_host_kind)-1; k++) {
    bench_result *r;

    if (!bench_peer_on(bench_host_bit(*k)))
      continue;
    c.kind = *k;
    t.peer = bench_host_peer(*k);
    t.ref = *k == BENCH_HOST_EXCO_UV;
    r = bench_measure_nowarm(&t, rep_exco, &c);
    if (t.ref)
      ref = r;
  }
  if (raw && bench_peer_on(BENCH_P_RAW_UV)) {
    t.peer = BENCH_PEER_RAW_UV;
    t.ref = 0;
    snprintf(t.note, sizeof(t.note), "one malloc'd uv_async_t per task");
    bench_measure_nowarm(&t, rep_raw, &c);
  }
  free(c.tasks);
  return ref;
}

/* Parks tasks on exco's uv driver until spawn fails or @cap is reached;
 * one row with the count reached. */
static bench_result *limit_row(const char *cse, long cap, unsigned flags) {
  bench_result t = {0};
  bench_host h;
  exco_task **tasks;
  long before, after, n;
  int err;

  t.workload = "W5";
  t.title = "memory";
  t.metric = "tasks";
  t.higher_better = 1;
  t.peer = BENCH_PEER_EXCO_UV;
  snprintf(t.cse, sizeof(t.cse), "%s", cse);
  snprintf(t.params, sizeof(t.params),
           "largest P that parks, searched once up to %ld", cap);
  if (!bench_peer_on(BENCH_P_EXCO_UV))
    return NULL;
  tasks = malloc(sizeof(*tasks) * (size_t)(cap > 0 ? cap : 1));
  if (tasks == NULL) {
    bench_skip(&t, "out of memory");
    return NULL;
  }
  memset(tasks, 0, sizeof(*tasks) * (size_t)cap);
  if ((err = bench_host_init(&h, BENCH_HOST_EXCO_UV)) != 0) {
    free(tasks);
    bench_skip(&t, exco_strerror(err));
    return NULL;
  }
  bench_progress("W5 memory %s: parking up to %ld tasks (%s)", t.peer, cap,
                 cse);
  bench_trim();
  before = bench_rss_bytes();
  n = bench_park(&h, cap, flags, tasks, &err);
  after = bench_rss_bytes();
  bench_progress("W5 memory %s: parked %ld, releasing them", t.peer, n);
  bench_unpark(&h, tasks, n);
  bench_host_close(&h);
  free(tasks);
  t.n = 1;
  t.samples[0] = (double)n;
  if (n < cap)
    snprintf(t.note, sizeof(t.note),
             "spawn failed at P=%ld with %s (%s); %.0f B/task there", n,
             err_name(err), exco_strerror(err),
             n > 0 ? (double)(after - before) / (double)n : 0.0);
  else
    snprintf(t.note, sizeof(t.note),
             "no failure up to the cap; %.0f B/task, %.2f GiB in all",
             n > 0 ? (double)(after - before) / (double)n : 0.0,
             (double)(after - before) / (1024.0 * 1024 * 1024));
  return bench_add(&t);
}

void bench_w5_memory(void) {
  char cse[48];
  bench_result *r;

  snprintf(cse, sizeof(cse), "no-guard P=%ld", bench_o.w5_p);
  bench_target(rss_rows(cse, bench_o.w5_p, EXCO_SPAWN_NOGUARD, 1), 4608,
               "<= 4.5 KiB per pending task");
  snprintf(cse, sizeof(cse), "guarded P=%ld", bench_o.w5_guard_p);
  rss_rows(cse, bench_o.w5_guard_p, 0, 0);
  if (bench_o.w5_guard_max > 0)
    limit_row("limit, guard pages", bench_o.w5_guard_max, 0);
  if (bench_o.w5_noguard_max > 0) {
    r = limit_row("limit, no guard", bench_o.w5_noguard_max,
                  EXCO_SPAWN_NOGUARD);
    if (r != NULL && bench_o.w5_noguard_max >= 1000000)
      bench_target(r, 1000000, ">= 1,000,000 pending tasks");
  }
}
