/*
 * w1r-rounds.c -- W1R spawn in rounds: R tasks live at once, then all of
 * them finish; ns per task, and RSS after the rounds.
 *
 * W1 keeps at most a batch of tasks live, so every stack comes from the
 * pool.  W1R measures what W1 hides: a program whose number of live tasks
 * swings between zero and R.  A spawner task spawns R tasks; each touches
 * --w1r-touch KiB of its stack (a local array, written) and then waits at
 * a gate (a future that keeps each task's waker).  When all R have
 * parked, the spawner opens the gate, wakes them all and yields until all
 * R have finished; that is one round.  A repetition is --w1r-passes rounds, and its sample is the time
 * of all of them divided by the tasks spawned.  The discarded warm-up run
 * is the same, so the recorded rounds run on whatever the executor's
 * stack pool kept from it: with a pool that keeps every freed stack
 * mapped, no round maps or touches a new stack; with one that keeps fewer
 * than R, each round maps, faults in and unmaps the difference.
 *
 * The row's note has the process's RSS after the last repetition, when
 * no task is live: what the pool keeps resident.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* One round: a gate the R tasks wait at, one waker slot each. */
typedef struct w1r_round {
  exco_executor *ex;
  exco_waker **slots;
  int open;
  long parked, finished;
  int err;
} w1r_round;

typedef struct w1r_task {
  w1r_round *r;
  long id;
} w1r_task;

static int gate_poll(void *arg, exco_waker *w) {
  w1r_task *t = arg;

  if (t->r->open)
    return 1;
  if (t->r->slots[t->id] == NULL)
    t->r->slots[t->id] = exco_waker_clone(w);
  return 0;
}

static void gate_cancel(void *arg) {
  w1r_task *t = arg;

  exco_waker_drop(t->r->slots[t->id]);
  t->r->slots[t->id] = NULL;
}

static void *toucher(void *arg) {
  w1r_task *t = arg;
  w1r_round *r = t->r;
  size_t n = (size_t)bench_o.w1r_touch * 1024;
  volatile unsigned char *buf = NULL;
  int err;

  if (n > 0) {
    buf = __builtin_alloca(n);
    /* One write per page is what commits it; the last byte is the one
     * farthest from the top. */
    for (size_t i = 0; i < n; i += 4096)
      buf[i] = 1;
    buf[n - 1] = 1;
  }
  r->parked++;
  if ((err = exco_await(gate_poll, gate_cancel, t)) != 0 && r->err == 0)
    r->err = err;
  r->finished++;
  return NULL;
}

static long round_r;
static w1r_task *round_tasks;

static void *spawner(void *arg) {
  w1r_round *r = arg;
  long pass, i, j;
  int err;

  for (pass = 0; pass < bench_o.w1r_passes && r->err == 0; pass++) {
    r->open = 0;
    r->parked = r->finished = 0;
    for (i = 0; i < round_r; i++) {
      round_tasks[i].r = r;
      round_tasks[i].id = i;
      if ((err = exco_spawn(r->ex, toucher, &round_tasks[i], NULL, NULL)) !=
          0) {
        r->err = err;
        break;
      }
    }
    while (r->parked < i && (err = exco_yield()) == 0)
      ;
    r->open = 1;
    for (j = 0; j < i; j++) {
      exco_waker_wake(r->slots[j]);
      exco_waker_drop(r->slots[j]);
      r->slots[j] = NULL;
    }
    while (r->finished < i && exco_yield() == 0)
      ;
  }
  return NULL;
}

static double rep_exco(void *ctx, char *note, size_t len) {
  bench_host *h = ctx;
  exco_stack_pool_stats st;
  w1r_round r;
  uint64_t t0;
  int err;

  memset(&r, 0, sizeof(r));
  r.ex = h->ex;
  r.slots = calloc((size_t)round_r, sizeof(*r.slots));
  round_tasks = calloc((size_t)round_r, sizeof(*round_tasks));
  if (r.slots == NULL || round_tasks == NULL) {
    free(r.slots);
    free(round_tasks);
    snprintf(note, len, "out of memory");
    return -1;
  }
  t0 = bench_now_ns();
  if ((err = exco_spawn(h->ex, spawner, &r, NULL, NULL)) != 0 ||
      (err = bench_host_run(h)) != 0 || (err = r.err) != 0) {
    snprintf(note, len, "%s", exco_strerror(err));
    free(r.slots);
    free(round_tasks);
    return -1;
  }
  t0 = bench_now_ns() - t0;
  free(r.slots);
  free(round_tasks);
  bench_trim();
  exco_stack_pool_usage(&st);
  snprintf(note, len,
           "after the rounds, no task live: RSS %.1f MiB; pools hold %zu "
           "stacks, %.1f MiB counted resident",
           (double)bench_rss_bytes() / (1024.0 * 1024.0), st.pooled,
           (double)st.resident / (1024.0 * 1024.0));
  return (double)t0 / (double)(round_r * bench_o.w1r_passes);
}

void bench_w1r_rounds(void) {
  bench_result t = {0};
  bench_result *ref[BENCH_MAX_P];
  int i;

  t.workload = "W1R";
  t.title = "spawn in rounds";
  t.metric = "ns/task";
  for (i = 0; i < bench_o.w1r_nr; i++) {
    round_r = bench_o.w1r_r[i];
    snprintf(t.cse, sizeof(t.cse), "R=%ld", round_r);
    snprintf(t.params, sizeof(t.params),
             "%ld rounds of R live tasks, each touching %ld KiB of stack",
             bench_o.w1r_passes, bench_o.w1r_touch);
    ref[i] = bench_hosts_measure(&t, rep_exco);
  }
  /* The target compares each R with the first (smallest) one. */
  for (i = 1; i < bench_o.w1r_nr; i++) {
    char goal[96];

    if (ref[0] == NULL || ref[i] == NULL || ref[0]->failed || ref[i]->failed)
      continue;
    snprintf(goal, sizeof(goal), "within 2x of R=%ld (%.0f ns)",
             bench_o.w1r_r[0], ref[0]->median);
    bench_target(ref[i], 2.0 * ref[0]->median, goal);
  }
}
