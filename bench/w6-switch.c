/*
 * w6-switch.c -- W6 switch: the context switch round trip (resume +
 * yield) and create+destroy, per backend.
 *
 * Three kinds of rows:
 *  - "raw asm" / "raw ucontext" / "raw swapcontext": the bare
 *    exco__ctx_switch() round trip of each backend, through the renamed
 *    second copies that bench/local.mk compiles into this binary
 *    (ctx-measure.c), whatever libexco was configured with;
 *  - "exco (<backend>)": the library's whole round trip, exco_poll() of a
 *    task that calls exco_yield(), on a host-driven executor whose
 *    callbacks do nothing: switch, state word, wake bookkeeping, errno;
 *  - "exco run-queue yield": the same round trip on the shared run queue
 *    that the built-in drivers use: exco_driver_run(ex, 64) resumes two
 *    tasks that yield straight back, in turn (the queue keeps their
 *    polls), on a driver whose schedule and notify do nothing.  Two, so
 *    that each yield switches: a task alone on the queue yields in place
 *    (src/switch.h), which W2 at N = 1 shows.  On the asm backends
 *    (without ASan or TSan) each yield switches to the other task
 *    directly, one switch where the raw round trip makes two;
 *  - create+destroy: exco__ctx_make + first switch in and out for the raw
 *    copies; exco_spawn + exco_poll (the function returns at once) +
 *    exco_drop for the library, with pooled stacks.
 *  - boost-context (ext-peers.c, when built): boost::context::fiber's
 *    resume() of a fiber that resumes straight back, and for
 *    create+destroy a fiber made on a 256 KiB pooled_fixedsize_stack,
 *    resumed once and returning (its stack goes back to the pool).
 * Iteration counts are calibrated so that a repetition lasts about
 * --w6-seconds.  The round-trip target is Boost.Context's 9.5 ns.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <exco/driver.h>

#include "bench.h"
#include "ctx-copies.h"

int bench_uc_measure(int create, long iters, uint64_t *elapsed_ns);
int bench_sc_measure(int create, long iters, uint64_t *elapsed_ns);
int bench_asm_measure(int create, long iters, uint64_t *elapsed_ns);

typedef int (*measure_fn)(int create, long iters, uint64_t *elapsed_ns);

typedef struct w6_ctx {
  measure_fn raw; /* a raw copy, or NULL for the library */
  int create;
  long iters;
  exco_executor *ex; /* the library's rows: the host-driven executor */
  int runq;          /* ... or the run-queue one (rex) */
  exco_executor *rex;
} w6_ctx;

/* ---- the library, on a host that does nothing ----------------------- */

static int w6_ext;
static exco_task *w6_task;

static void *w6_new(void *data) {
  (void)data;
  return &w6_ext;
}

static void w6_run(void *ext, exco_task *t) {
  (void)ext;
  w6_task = t;
}

static void w6_wake(void *ext) {
  /* The poll loop polls whether woken or not. */
  (void)ext;
}

static void *bounce(void *arg) {
  (void)arg;
  while (exco_yield() == 0) {
  }
  return NULL;
}

static void *nothing(void *arg) {
  return arg;
}

static int lib_measure(exco_executor *ex, int create, long iters,
                       uint64_t *elapsed_ns) {
  uint64_t t0;
  long i;
  int err;

  if (create) {
    t0 = bench_now_ns();
    for (i = 0; i < iters; i++) {
      if ((err = exco_spawn(ex, nothing, NULL, NULL, NULL)) != 0)
        return err;
      exco_poll(w6_task);
      exco_drop(w6_task);
    }
    *elapsed_ns = bench_now_ns() - t0;
    return 0;
  }
  if ((err = exco_spawn(ex, bounce, NULL, NULL, NULL)) != 0)
    return err;
  exco_poll(w6_task); /* runs up to the first yield */
  t0 = bench_now_ns();
  for (i = 0; i < iters; i++)
    exco_poll(w6_task);
  *elapsed_ns = bench_now_ns() - t0;
  exco_drop(w6_task); /* cancels it: its yield returns EXCO_ECANCELED */
  return 0;
}

/* ---- the library, on its shared run queue ----------------------------
 * A driver whose loop is this function: schedule and notify have nothing
 * to do, since it calls exco_driver_run() itself.  A round trip is one
 * poll, within exco_driver_run(ex, RQ_BUDGET), of one of two tasks that
 * yield straight back (a kept yield: the queue takes it again without a
 * wake, src/runq.c; with the other task ready, it can't yield in place). */

static void rq_nothing(void *data) {
  (void)data;
}

static const exco_driver_ops rq_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "w6",
    .schedule = rq_nothing,
    .notify = rq_nothing,
};

enum { RQ_BUDGET = 64 };

static int runq_measure(exco_executor *ex, int create, long iters,
                        uint64_t *elapsed_ns) {
  exco_task *t[2];
  uint64_t t0;
  long i, want = iters;
  int err, k;

  if (create) {
    t0 = bench_now_ns();
    for (i = 0; i < iters; i++) {
      if ((err = exco_spawn(ex, nothing, NULL, NULL, NULL)) != 0)
        return err;
      exco_driver_run(ex, 1);
    }
    *elapsed_ns = bench_now_ns() - t0;
    return 0;
  }
  for (k = 0; k < 2; k++)
    if ((err = exco_spawn(ex, bounce, NULL, NULL, &t[k])) != 0)
      return err;
  exco_driver_run(ex, 2); /* runs both up to their first yield */
  /* A host's loop runs the queue with a budget: RQ_BUDGET trips a call
   * (each task is queued again after each yield). */
  iters = (iters + RQ_BUDGET - 1) / RQ_BUDGET * RQ_BUDGET;
  t0 = bench_now_ns();
  for (i = 0; i < iters; i += RQ_BUDGET)
    exco_driver_run(ex, RQ_BUDGET);
  *elapsed_ns = (bench_now_ns() - t0) * (uint64_t)want / (uint64_t)iters;
  for (k = 0; k < 2; k++)
    exco_task_cancel(t[k]); /* its yield returns EXCO_ECANCELED */
  while (exco_driver_live(ex) > 0)
    exco_driver_run(ex, 0);
  for (k = 0; k < 2; k++)
    exco_task_release(t[k]);
  return 0;
}

static int run_one(w6_ctx *c, long iters, uint64_t *elapsed) {
  if (c->raw != NULL)
    return c->raw(c->create, iters, elapsed);
  if (c->runq)
    return runq_measure(c->rex, c->create, iters, elapsed);
  return lib_measure(c->ex, c->create, iters, elapsed);
}

static double rep(void *ctx, char *note, size_t len) {
  w6_ctx *c = ctx;
  uint64_t el;
  int err = run_one(c, c->iters, &el);

  if (err != 0) {
    snprintf(note, len, "%s", exco_strerror(err));
    return -1;
  }
  return (double)el / (double)c->iters;
}

/* Picks an iteration count for about --w6-seconds per repetition. */
static int calibrate(w6_ctx *c) {
  uint64_t el = 0;
  long n = 1000;
  int err;

  for (;;) {
    if ((err = run_one(c, n, &el)) != 0)
      return err;
    if (el >= 2000000 || n >= 100000000)
      break;
    n *= 10;
  }
  c->iters = (long)(bench_o.w6_seconds * 1e9 / ((double)el / (double)n));
  if (c->iters < 1000)
    c->iters = 1000;
  return 0;
}

static bench_result *row(bench_result *t, w6_ctx *c, const char *peer,
                         int ref) {
  char buf[160];
  bench_result *r;
  int err;

  t->peer = peer;
  t->ref = ref;
  if ((err = calibrate(c)) != 0) {
    snprintf(buf, sizeof(buf), "%s",
             err == EXCO_ENOTSUP ? "not built into this binary"
                                 : exco_strerror(err));
    bench_skip(t, buf);
    return NULL;
  }
  snprintf(t->params, sizeof(t->params), "%ld iterations per rep", c->iters);
  r = bench_measure(t, rep, c);
  if (!c->create && c->raw != NULL && strstr(peer, "asm") != NULL)
    bench_target(r, 9.5, "<= 9.5 ns (Boost.Context fcontext)");
  return r;
}

/* The Boost.Context row of @t: calibrated by one run of its program,
 * then measured like the others. */
static void boost_row(bench_result *t, int create) {
  const char *mode = create ? "w6c" : "w6";
  char args[64], why[200];
  double v;
  long iters;

  if (!bench_peer_on(BENCH_P_BOOST_CTX))
    return;
  snprintf(args, sizeof(args), "%s 100000", mode);
  v = bench_ext_once(BENCH_P_BOOST_CTX, args, why, sizeof(why));
  if (v <= 0) {
    t->peer = create ? BENCH_PEER_BOOST_CONTEXT " (pooled stack)"
                     : BENCH_PEER_BOOST_CONTEXT " resume";
    t->ref = 0;
    bench_skip(t, v < 0 ? why : "calibration run took no time");
    return;
  }
  iters = (long)(bench_o.w6_seconds * 1e9 / v);
  if (iters < 1000)
    iters = 1000;
  snprintf(t->params, sizeof(t->params), "%ld iterations per rep", iters);
  snprintf(args, sizeof(args), "%s %ld", mode, iters);
  if (create)
    bench_ext_measure(t, BENCH_P_BOOST_CTX,
                      BENCH_PEER_BOOST_CONTEXT " (pooled stack)", args,
                      "fiber made on a 256 KiB pooled_fixedsize_stack, "
                      "resumed once, returns (stack back to the pool)");
  else
    bench_ext_measure(t, BENCH_P_BOOST_CTX, BENCH_PEER_BOOST_CONTEXT " resume",
                      args,
                      "fiber::resume() of a fiber that resumes straight "
                      "back");
}

const char *bench_w6_copies(void) {
  static char buf[64];
  uint64_t el;

  snprintf(buf, sizeof(buf), "%s%s%s",
           bench_asm_measure(0, 1, &el) == 0 ? "asm " : "",
           bench_uc_measure(0, 1, &el) == 0 ? "ucontext " : "",
           bench_sc_measure(0, 1, &el) == 0 ? "swapcontext" : "");
  if (buf[0] == '\0')
    snprintf(buf, sizeof(buf), "none (sanitizer build)");
  return buf;
}

void bench_w6_switch(void) {
  static char lib_rt[48], lib_cd[48], rq_rt[48], rq_cd[48];
  const char *be = exco_context_backend();
  bench_result t = {0}, *lib, *rq, *raw;
  w6_ctx c = {0};
  int create, err, rerr;

  snprintf(lib_rt, sizeof(lib_rt), "exco poll+yield (%s)", be);
  snprintf(lib_cd, sizeof(lib_cd), "exco spawn+poll+drop (%s)", be);
  snprintf(rq_rt, sizeof(rq_rt), "exco run-queue yield (%s)", be);
  snprintf(rq_cd, sizeof(rq_cd), "exco run-queue spawn+run (%s)", be);
  err = exco_executor_new(&c.ex, w6_new, w6_run, w6_wake, NULL);
  rerr = exco_driver_executor_new(&c.rex, &rq_ops, NULL);
  t.workload = "W6";
  t.title = "switch";
  for (create = 0; create <= 1; create++) {
    snprintf(t.cse, sizeof(t.cse), "%s",
             create ? "create+destroy" : "round trip");
    t.metric = create ? "ns/task" : "ns/trip";
    c.create = create;
    c.raw = NULL;
    lib = rq = NULL;
    t.peer = create ? lib_cd : lib_rt;
    if (err == 0)
      lib = row(&t, &c, create ? lib_cd : lib_rt, 1);
    else
      bench_skip(&t, exco_strerror(err));
    c.runq = 1;
    t.peer = create ? rq_cd : rq_rt;
    if (rerr == 0) {
      rq = row(&t, &c, create ? rq_cd : rq_rt, 0);
      if (rq != NULL && !create)
        snprintf(rq->note, sizeof(rq->note), "%s",
                 "per yield of two tasks in turn: one direct switch each "
                 "(asm backend, no ASan/TSan), else two via the loop");
    } else
      bench_skip(&t, exco_strerror(rerr));
    c.runq = 0;
    c.raw = bench_asm_measure;
    raw = row(&t, &c, create ? "raw asm make+enter" : "raw asm switch", 0);
    if (!create && raw != NULL) {
      /* Issue 12: the library's round trip within 2x of its switch. */
      bench_target(lib, 2 * raw->median, "within 2x of the raw asm switch");
      bench_target(rq, 2 * raw->median, "within 2x of the raw asm switch");
    }
    c.raw = bench_uc_measure;
    row(&t, &c, create ? "raw ucontext make+enter" : "raw ucontext switch", 0);
    c.raw = bench_sc_measure;
    row(&t, &c,
        create ? "raw swapcontext make+enter" : "raw swapcontext switch", 0);
    boost_row(&t, create);
  }
  if (err == 0)
    exco_executor_free(c.ex);
  if (rerr == 0)
    exco_executor_free(c.rex);
}
