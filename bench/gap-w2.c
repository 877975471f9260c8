/*
 * gap-w2.c -- W2 (N tasks x K yields, round robin) through exco's public
 * API, for the experiments behind gap-report.md: several configurations
 * interleaved in one process (A, B, C, A, B, C, ...), each timed in
 * steady state as bench/w2-yield.c does, by the wall clock and by the
 * thread's CPU time; min and median per configuration.  Not built by
 * make.  Against the tree's shared libraries, from the top of a built
 * tree:
 *
 *   gcc -O2 -Iinclude bench/gap-w2.c -Lsrc/.libs -Ldrivers/uv/.libs \
 *       -lexco-uv -lexco -luv -o /tmp/gap-w2
 *   LD_LIBRARY_PATH=src/.libs:drivers/uv/.libs /tmp/gap-w2 10000 100 9 \
 *       uv:g1m uv:g4k uv:nog local:g1m
 *
 * or statically against a (patched) copy of src/ and drivers/uv/, as
 * bench/gap-build.sh does.  A configuration is HOST:STACK[:BUDGET]:
 * HOST uv (exco's libuv driver) or local (exco_run_until_idle()); STACK
 * g1m (guarded, exco's default 1 MiB guard), g64k or g4k (guarded, with
 * exco_set_stack_guard(65536) or (4096)) or nog (EXCO_SPAWN_NOGUARD, slab
 * stacks); BUDGET (uv only) the polls per loop
 * iteration, default 128 (EXCO_UV_BUDGET_DEFAULT).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "exco.h"
#include "exco/uv.h"

#ifdef GAP_INLINE_YIELD
/*
 * The experiment "no return after the switch": exco_yield()'s body
 * (src/await.c) inlined into the task's loop, so that the coroutine
 * resumes in its own loop instead of returning from exco_yield() with a
 * return address the return-stack predictor doesn't hold.  Only for a
 * static build against the sources (bench/gap-build.sh ... -DGAP_INLINE_
 * YIELD), which sees exco's internal headers and hidden symbols.
 */
#include "config.h"
#include "switch.h"

static inline __attribute__((always_inline)) int gap_yield(void) {
  exco_task *t = exco__current();

  if (t == NULL)
    return EXCO_EPERM;
  if (exco__task_cancelled(t))
    return EXCO_ECANCELED;
  t->yielded = 1;
  atomic_store_explicit(&t->wait_kind, "yield", memory_order_relaxed);
  exco__switch_suspend(t);
  exco__await_unlabel(t);
  return exco__task_cancelled(t) ? EXCO_ECANCELED : 0;
}
#define exco_yield gap_yield
#endif

static long w2_n, w2_k;
static long started, finished, yields, y0, y1;
static uint64_t t0, t1, c0, c1;

static uint64_t ns(clockid_t id) {
  struct timespec ts;

  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *yielder(void *arg) {
  long i;

  (void)arg;
  if (++started == w2_n) {
    y0 = yields;
    t0 = ns(CLOCK_MONOTONIC);
    c0 = ns(CLOCK_THREAD_CPUTIME_ID);
  }
  for (i = 0; i < w2_k; i++) {
    if (exco_yield() != 0)
      break;
    yields++;
  }
  if (++finished == 1) {
    y1 = yields;
    t1 = ns(CLOCK_MONOTONIC);
    c1 = ns(CLOCK_THREAD_CPUTIME_ID);
  }
  return NULL;
}

typedef struct config {
  const char *spec;
  int uv;          /* libuv driver, else the local executor */
  size_t guard;    /* for exco_set_stack_guard() */
  unsigned flags;  /* spawn flags */
  unsigned budget; /* uv */
  double wall[64], cpu[64];
} config;

static int parse(config *c, const char *spec) {
  char buf[64], *host, *stack, *budget;

  snprintf(buf, sizeof(buf), "%s", spec);
  host = strtok(buf, ":");
  stack = strtok(NULL, ":");
  budget = strtok(NULL, ":");
  c->spec = spec;
  c->uv = host != NULL && strcmp(host, "uv") == 0;
  if (!c->uv && (host == NULL || strcmp(host, "local") != 0))
    return -1;
  c->guard = 0;
  c->flags = 0;
  if (stack == NULL || strcmp(stack, "g1m") == 0)
    c->guard = 1024 * 1024;
  else if (strcmp(stack, "g4k") == 0)
    c->guard = 4096;
  else if (strcmp(stack, "g64k") == 0)
    c->guard = 65536;
  else if (strcmp(stack, "nog") == 0)
    c->flags = EXCO_SPAWN_NOGUARD;
  else
    return -1;
  c->budget = budget != NULL ? (unsigned)atol(budget) : 0;
  return 0;
}

static int run(config *c, double *wall, double *cpu) {
  exco_executor *ex;
  uv_loop_t loop;
  exco_spawn_opts o = {0, NULL, c->flags};
  long i;

  if (c->guard != 0)
    exco_set_stack_guard(c->guard);
  if (c->uv) {
    uv_loop_init(&loop);
    if (exco_uv_executor_new(&ex, &loop) != 0)
      return -1;
    if (c->budget != 0)
      exco_uv_executor_set_budget(ex, c->budget);
  } else if (exco_executor_new_local(&ex) != 0) {
    return -1;
  }
  started = finished = yields = 0;
  for (i = 0; i < w2_n; i++)
    if (exco_spawn(ex, yielder, NULL, &o, NULL) != 0)
      return -1;
  if (c->uv)
    uv_run(&loop, UV_RUN_DEFAULT);
  else
    exco_run_until_idle(ex);
  if (c->uv) {
    exco_uv_executor_free(ex);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  } else {
    exco_executor_free(ex);
  }
  if (finished != w2_n || y1 <= y0)
    return -1;
  *wall = (double)(t1 - t0) / (double)(y1 - y0);
  *cpu = (double)(c1 - c0) / (double)(y1 - y0);
  return 0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  config cs[16];
  int nc = 0, reps, r, i;

  if (argc < 5) {
    fprintf(stderr, "usage: gap-w2 N K REPS CONFIG...\n");
    return 2;
  }
  w2_n = atol(argv[1]);
  w2_k = atol(argv[2]);
  reps = atoi(argv[3]);
  if (reps > 64)
    reps = 64;
  for (i = 4; i < argc && nc < 16; i++)
    if (parse(&cs[nc++], argv[i]) != 0) {
      fprintf(stderr, "bad config %s\n", argv[i]);
      return 2;
    }
  for (r = 0; r < reps; r++)
    for (i = 0; i < nc; i++)
      if (run(&cs[i], &cs[i].wall[r], &cs[i].cpu[r]) != 0) {
        fprintf(stderr, "%s: run failed\n", cs[i].spec);
        return 1;
      }
  for (i = 0; i < nc; i++) {
    qsort(cs[i].wall, (size_t)reps, sizeof(double), cmp);
    qsort(cs[i].cpu, (size_t)reps, sizeof(double), cmp);
    printf("%-16s wall min %6.1f med %6.1f   cpu min %6.1f med %6.1f "
           "ns/yield (%d reps)\n",
           cs[i].spec, cs[i].wall[0], cs[i].wall[reps / 2], cs[i].cpu[0],
           cs[i].cpu[reps / 2], reps);
  }
  return 0;
}
