/*
 * w1-spawn.c -- W1 spawn: N tasks that finish without awaiting; ns per
 * task, spawn to drop.
 *
 * A spawner task spawns the N tasks and yields after every B of them
 * (--w1-batch, default 100), so the batch runs, finishes and gives its
 * stacks back before the next one is spawned.  At most about B stacks
 * are live at once: after the warm-up run every stack comes from the
 * executor's pool, as the target assumes, and guarded stacks never meet
 * the vm.max_map_count limit.  The time covers all N spawns, polls and
 * drops, and the spawner's N/B yields.
 *
 * raw-uv does the closest thing plain libuv has to "schedule a callback
 * that runs once": per task, malloc a uv_async_t, uv_async_init and
 * uv_async_send it; its callback uv_close()s it and the close callback
 * frees it (what the seed's driver does per task).  A spawner uv_async_t
 * makes B of them per callback and re-sends itself, like the exco
 * spawner.
 *
 * boost-fiber, boost-context (ext-peers.c, when built): M fibers with
 * 256 KiB stacks from one pooled_fixedsize_stack, B at a time: construct
 * B fibers, then join each (Boost.Fiber, round_robin scheduler) or resume
 * each once to its return (Boost.Context, no scheduler); ns per fiber.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct w1_spawner {
  exco_executor *ex;
  int err;
} w1_spawner;

static void *nothing(void *arg) {
  return arg;
}

static void *spawner(void *arg) {
  w1_spawner *s = arg;
  long n = bench_o.w1_n, b = bench_o.w1_batch, i;

  for (i = 0; i < n; i++) {
    if ((s->err = exco_spawn(s->ex, nothing, NULL, NULL, NULL)) != 0)
      break;
    if (i % b == b - 1 && (s->err = exco_yield()) != 0)
      break;
  }
  return NULL;
}

static double rep_exco(void *ctx, char *note, size_t len) {
  bench_host *h = ctx;
  w1_spawner s = {h->ex, 0};
  uint64_t t0 = bench_now_ns();
  int err;

  if ((err = exco_spawn(h->ex, spawner, &s, NULL, NULL)) != 0 ||
      (err = bench_host_run(h)) != 0 || (err = s.err) != 0) {
    snprintf(note, len, "%s", exco_strerror(err));
    return -1;
  }
  return (double)(bench_now_ns() - t0) / (double)bench_o.w1_n;
}

typedef struct raw_spawner {
  uv_async_t a;
  long left;
  int err;
} raw_spawner;

static void raw_once(uv_async_t *a) {
  uv_close((uv_handle_t *)a, bench_free_handle);
}

static void raw_spawn(uv_async_t *a) {
  raw_spawner *s = (raw_spawner *)a;
  long i;

  for (i = 0; i < bench_o.w1_batch && s->left > 0; i++, s->left--) {
    uv_async_t *t = malloc(sizeof(*t));

    if (t == NULL || uv_async_init(a->loop, t, raw_once) != 0) {
      free(t);
      s->err = UV_ENOMEM;
      s->left = 0;
      break;
    }
    uv_async_send(t);
  }
  if (s->left > 0)
    uv_async_send(a);
  else
    uv_close((uv_handle_t *)a, NULL);
}

static double rep_raw(void *ctx, char *note, size_t len) {
  uv_loop_t *loop = ctx;
  raw_spawner s;
  uint64_t t0 = bench_now_ns();

  s.left = bench_o.w1_n;
  s.err = 0;
  uv_async_init(loop, &s.a, raw_spawn);
  uv_async_send(&s.a);
  uv_run(loop, UV_RUN_DEFAULT);
  if (s.err != 0) {
    snprintf(note, len, "%s", uv_strerror(s.err));
    return -1;
  }
  return (double)(bench_now_ns() - t0) / (double)bench_o.w1_n;
}

void bench_w1_spawn(void) {
  bench_result t = {0};
  char args[64];

  t.workload = "W1";
  t.title = "spawn";
  t.metric = "ns/task";
  snprintf(t.params, sizeof(t.params), "N=%ld, spawned %ld at a time",
           bench_o.w1_n, bench_o.w1_batch);
  bench_target(bench_hosts_measure(&t, rep_exco), 50,
               "<= 50 ns/task with pooled stacks (libdill 39.7, fcontext "
               "46.1 in issue 12's runs)");
  bench_raw_measure(&t, rep_raw,
                    "uv_async_t per task: malloc, init, send; its callback "
                    "closes it, its close callback frees it");
  snprintf(args, sizeof(args), "w1 %ld %ld", bench_o.w1_n, bench_o.w1_batch);
  bench_ext_measure(&t, BENCH_P_BOOST, BENCH_PEER_BOOST_FIBER " (pooled stack)",
                    args,
                    "B fibers constructed, then joined; round_robin "
                    "scheduler, 256 KiB pooled_fixedsize_stack");
  bench_ext_measure(&t, BENCH_P_BOOST_CTX,
                    BENCH_PEER_BOOST_CONTEXT " (pooled stack)", args,
                    "B fibers made, then each resumed once to its return; "
                    "256 KiB pooled_fixedsize_stack");
}
