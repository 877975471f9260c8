/*
 * pipeline.c -- a three-stage pipeline on a libuv loop: a producer task
 * sends numbers into a bounded channel, four worker tasks square them and
 * pass them on (the squaring is "blocking", so each runs it on exco's
 * offload pool), and a collector task sums the results.  Closing a channel
 * ends the stage after it once the channel is drained; a wait group tells
 * the last worker to close the results channel.
 *
 *     examples/pipeline [count]
 */
#include <stdio.h>
#include <stdlib.h>

#include <exco/sync.h>
#include <exco/uv.h>

enum { WORKERS = 4 };

typedef struct pipeline {
  long count;
  exco_chan *numbers; /* producer -> workers, capacity 8 */
  exco_chan *squares; /* workers -> collector, capacity 8 */
  exco_waitgroup *working;
  long sum;
} pipeline;

static void *produce(void *arg) {
  pipeline *p = arg;
  long i;

  for (i = 1; i <= p->count; i++)
    if (exco_chan_send(p->numbers, &i) != 0)
      break;
  exco_chan_close(p->numbers); /* the workers drain it, then stop */
  return NULL;
}

/* Runs on a worker thread of the offload pool. */
static void *square(void *arg) {
  long *v = arg;

  *v = *v * *v;
  return NULL;
}

static void *work(void *arg) {
  pipeline *p = arg;
  long v;

  while (exco_chan_recv(p->numbers, &v) == 0) {
    if (exco_offload(square, &v, NULL) != 0 ||
        exco_chan_send(p->squares, &v) != 0)
      break;
  }
  exco_waitgroup_done(p->working);
  return NULL;
}

static void *close_when_done(void *arg) {
  pipeline *p = arg;

  exco_waitgroup_wait(p->working);
  exco_chan_close(p->squares);
  return NULL;
}

static void *collect(void *arg) {
  pipeline *p = arg;
  long v;

  while (exco_chan_recv(p->squares, &v) == 0)
    p->sum += v;
  return NULL;
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  pipeline p = {0};
  long want;
  int i, err;

  p.count = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
  if (p.count < 0 || p.count > 1000000) {
    fprintf(stderr, "pipeline: count must be 0 to 1000000\n");
    return 2;
  }
  err = exco_uv_init(loop);
  if (err == 0)
    err = exco_chan_new(&p.numbers, sizeof(long), 8);
  if (err == 0)
    err = exco_chan_new(&p.squares, sizeof(long), 8);
  if (err == 0)
    err = exco_waitgroup_new(&p.working);
  if (err == 0)
    err = exco_waitgroup_add(p.working, WORKERS);
  for (i = 0; err == 0 && i < WORKERS; i++)
    err = exco_spawn(NULL, work, &p, NULL, NULL);
  if (err == 0)
    err = exco_spawn(NULL, produce, &p, NULL, NULL);
  if (err == 0)
    err = exco_spawn(NULL, close_when_done, &p, NULL, NULL);
  if (err == 0)
    err = exco_spawn(NULL, collect, &p, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "pipeline: %s\n", exco_strerror(err));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  want = p.count * (p.count + 1) * (2 * p.count + 1) / 6;
  printf("sum of squares 1..%ld = %ld (%s)\n", p.count, p.sum,
         p.sum == want ? "right" : "WRONG");
  exco_chan_unref(p.numbers);
  exco_chan_unref(p.squares);
  exco_waitgroup_free(p.working);
  exco_uv_executor_free(exco_default_executor());
  uv_run(loop, UV_RUN_DEFAULT);
  exco_offload_shutdown();
  return uv_loop_close(loop) == 0 && p.sum == want ? 0 : 1;
}
