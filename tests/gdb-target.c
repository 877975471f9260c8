/*
 * gdb-target.c -- the program tests/gdb-test.sh runs under gdb with
 * tools/exco-gdb.py.
 *
 * On a local executor it leaves, all suspended at once:
 *   "alpha"    pending in level3(), called from level2() from level1(),
 *              waiting on a promise at a site marked with EXCO_SITE();
 *   "beta"     pending in beta_wait(), waiting on a promise;
 *   "gamma"    cancelled while pending in gamma_wait() (cancelling);
 *   "epsilon"  spawned, polled only later: it yields in epsilon_spin()
 *              until delta has run;
 *   "delta"    spawned and never polled.
 * and then calls gdb_stop_here() on the main thread, where the test
 * stops it; the test then stops it again in delta_fn(), with "delta"
 * running, "alpha" and "beta" woken (ready) and "epsilon" yielded (its
 * poll kept by the executor: ready, with its registers on its stack).  Run on its own (make
 * check-valgrind runs it), it goes on: resolves the promises, runs every
 * task to its end, frees everything and exits 0, or 1 if something went
 * wrong.
 */
#include <stdio.h>
#include <stdlib.h>

#include <exco.h>

static exco_promise *p_alpha, *p_beta, *p_gamma;
/* The join handles, global so that the test can name a task by address
 * ("exco bt gdb_tasks[1]"). */
exco_task *gdb_tasks[5];
static int alpha_ok, beta_ok, gamma_ok, delta_ok, epsilon_ok;

/* Not inlined, so that each has a frame of its own in a backtrace. */
#define FRAME_FN __attribute__((noinline))

FRAME_FN static int level3(int depth) {
  void *v = NULL;
  int r;

  EXCO_SITE();
  r = exco_promise_await(p_alpha, &v);
  /* Keeps the call from being a tail call. */
  return r == 0 && v == (void *)p_alpha ? depth + 3 : -1;
}

FRAME_FN static int level2(int depth) {
  int r = level3(depth + 1);

  return r < 0 ? r : r + 1;
}

FRAME_FN static int level1(int depth) {
  int r = level2(depth + 1);

  return r < 0 ? r : r + 1;
}

static void *alpha_fn(void *arg) {
  (void)arg;
  alpha_ok = level1(0) == 7;
  return NULL;
}

FRAME_FN static int beta_wait(void) {
  void *v = NULL;
  int r = exco_promise_await(p_beta, &v);

  return r == 0 && v == (void *)p_beta;
}

static void *beta_fn(void *arg) {
  (void)arg;
  beta_ok = beta_wait();
  return NULL;
}

FRAME_FN static int gamma_wait(void) {
  int r = exco_promise_await(p_gamma, NULL);

  return r == EXCO_ECANCELED;
}

static void *gamma_fn(void *arg) {
  (void)arg;
  gamma_ok = gamma_wait();
  return NULL;
}

FRAME_FN static int epsilon_spin(void) {
  int n = 0;

  while (!delta_ok && exco_yield() == 0)
    n++;
  return n > 0;
}

static void *epsilon_fn(void *arg) {
  (void)arg;
  epsilon_ok = epsilon_spin();
  return NULL;
}

static void *delta_fn(void *arg) {
  (void)arg;
  delta_ok = 1;
  return NULL;
}

/* The test's breakpoint: every task is suspended (or not started) here. */
FRAME_FN void gdb_stop_here(void);
FRAME_FN void gdb_stop_here(void) {
  __asm__ volatile("" ::: "memory");
}

static exco_task *spawn(exco_executor *ex, exco_fn fn, const char *name) {
  exco_spawn_opts o = {0, name, 0};
  exco_task *t = NULL;

  if (exco_spawn(ex, fn, NULL, &o, &t) != 0) {
    fprintf(stderr, "gdb-target: spawn %s failed\n", name);
    exit(1);
  }
  return t;
}

int main(void) {
  exco_executor *ex;
  exco_task **t = gdb_tasks;
  int i, bad = 0;

  if (exco_executor_new_local(&ex) != 0 || exco_promise_new(&p_alpha) != 0 ||
      exco_promise_new(&p_beta) != 0 || exco_promise_new(&p_gamma) != 0) {
    fprintf(stderr, "gdb-target: set-up failed\n");
    return 1;
  }
  t[0] = spawn(ex, alpha_fn, "alpha");
  t[1] = spawn(ex, beta_fn, "beta");
  t[2] = spawn(ex, gamma_fn, "gamma");
  if (exco_run_until_idle(ex) != 3 || exco_task_cancel(t[2]) != 0)
    bad = 1;
  t[4] = spawn(ex, epsilon_fn, "epsilon");
  t[3] = spawn(ex, delta_fn, "delta");

  gdb_stop_here();

  if (exco_promise_resolve(p_alpha, p_alpha) != 0 ||
      exco_promise_resolve(p_beta, p_beta) != 0 || exco_run(ex) != 0)
    bad = 1;
  for (i = 0; i < 5; i++)
    exco_task_release(t[i]);
  exco_promise_unref(p_alpha);
  exco_promise_unref(p_beta);
  exco_promise_unref(p_gamma);
  if (exco_executor_free(ex) != 0)
    bad = 1;
  if (bad || !alpha_ok || !beta_ok || !gamma_ok || !delta_ok || !epsilon_ok) {
    fprintf(stderr, "gdb-target: failed (%d %d %d %d %d %d)\n", bad, alpha_ok,
            beta_ok, gamma_ok, delta_ok, epsilon_ok);
    return 1;
  }
  return 0;
}
