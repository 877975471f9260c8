/*
 * test-oom.c -- allocation failures, neco style: a counting allocator
 * installed with exco_replace_allocator() fails allocation number N, and N
 * walks 1, 2, 3, ... through each operation until it succeeds.  Every
 * failure must come back as EXCO_ENOMEM, with nothing leaked (the counting
 * allocator checks the small objects, /proc/self/maps the stacks, and
 * valgrind or ASan the rest).
 */
#include "harness.h"

#include "exco/driver.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V(n) ((void *)(uintptr_t)(n))
#define WALK_MAX 5000

/* Returned by a scenario for a broken promise other than ENOMEM. */
#define E_STUCK (-10001)     /* a task never finished */
#define E_HOST_LEAK (-10002) /* task_new called for a spawn that failed */
#define E_BAD (-10003)       /* an unexpected return value */

/* Folds a result into the first error seen: 0 and ENOMEM are expected,
 * anything else is E_BAD. */
static void fold(int *err, int r) {
  if (r == 0)
    return;
  if (r != EXCO_ENOMEM)
    r = E_BAD;
  if (*err == 0 || *err == EXCO_ENOMEM)
    *err = r;
}

/* Runs @op with allocation n failing, for n = 1, 2, ... until an op runs
 * with no allocation failing; it must then succeed.  Every failing run must
 * return 0 or EXCO_ENOMEM and leave nothing behind. */
static void walk(const char *name, int (*op)(void)) {
  long n, enomem = 0, maps0, guards0;

  maps0 = h_map_count(0);
  guards0 = h_map_count(1);
  for (n = 1; n < WALK_MAX; n++) {
    long outstanding;
    int r, failed;

    h_alloc_install(n);
    r = op();
    outstanding = h_alloc_outstanding();
    failed = h_alloc_failed();
    h_alloc_restore();
    ck_assert_msg(outstanding == 0, "%s: N=%ld: %ld blocks leaked (r=%d)", name,
                  n, outstanding, r);
    if (!failed) {
      ck_assert_msg(r == 0, "%s: no allocation failed, got %d", name, r);
      break;
    }
    ck_assert_msg(r == 0 || r == EXCO_ENOMEM,
                  "%s: N=%ld: expected 0 or EXCO_ENOMEM, got %d", name, n, r);
    if (r == EXCO_ENOMEM)
      enomem++;
  }
  ck_assert_msg(n < WALK_MAX, "%s: still allocating after %d", name, WALK_MAX);
  /* Every op here allocates, so some run must have failed. */
  ck_assert_msg(enomem > 0, "%s: no run returned EXCO_ENOMEM", name);
  /* Stacks of failed spawns and freed executors were unmapped.  (A
   * sanitizer's allocator maps memory as it goes, so then only guard pages
   * are counted.) */
  ck_assert_msg(h_map_count(1) - guards0 < 2, "%s: guard pages grew by %ld",
                name, h_map_count(1) - guards0);
  if (!H_SANITIZED)
    ck_assert_msg(h_map_count(0) - maps0 < 8, "%s: mappings grew by %ld", name,
                  h_map_count(0) - maps0);
  if (getenv("EXCO_TEST_OOM_VERBOSE") != NULL)
    fprintf(stderr, "%s: %ld allocations walked, %ld ENOMEM\n", name, n - 1,
            enomem);
}

/* ---------------------------------------------------------------------- */
/* Single entry points                                                     */
/* ---------------------------------------------------------------------- */

/* Makes @h's executor on the recording host, or returns the error with
 * @h freed. */
static int host_open(h_host *h) {
  int r;

  h_host_init_bare(h);
  r = exco_executor_new(&h->ex, h_task_new, h_task_run, h_task_wake, h);
  if (r != 0)
    h_host_free_exts(h);
  return r;
}

/* Frees what host_open() made; returns @err, or the broken promise the
 * host or the free found. */
static int host_close(h_host *h, int err) {
  /* A host handle made by task_new for a spawn that then failed could
   * never be given back: there is no task_free callback. */
  if (h->n_new != h->n_run)
    err = E_HOST_LEAK;
  if (exco_executor_free(h->ex) != 0)
    err = E_BAD;
  h_host_free_exts(h);
  return err;
}

static int op_executor_new(void) {
  h_host h;
  int r;

  h_host_init_bare(&h);
  r = exco_executor_new(&h.ex, h_task_new, h_task_run, h_task_wake, &h);
  if (r == 0 && exco_executor_free(h.ex) != 0)
    r = E_BAD;
  h_host_free_exts(&h);
  return r;
}

static int op_executor_new_local(void) {
  exco_executor *ex;
  int r = exco_executor_new_local(&ex);

  if (r == 0 && exco_executor_free(ex) != 0)
    r = E_BAD;
  return r;
}

/* A driver on the shared run queue whose hooks do nothing: spawning,
 * running and closing it allocate (the executor, its queue, stacks). */
static void rq_nop(void *data) {
  (void)data;
}

static const exco_driver_ops rq_nop_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "oom-rq",
    .schedule = rq_nop,
    .notify = rq_nop,
};

static void *fn_yield_once(void *arg) {
  (void)arg;
  exco_yield();
  return NULL;
}

static int op_driver_executor(void) {
  exco_executor *ex;
  int r = exco_driver_executor_new(&ex, &rq_nop_ops, NULL), i;

  if (r != 0)
    return r;
  for (i = 0; i < 3 && r == 0; i++)
    r = exco_spawn(ex, fn_yield_once, NULL, NULL, NULL);
  while (exco_driver_run(ex, 0) > 0)
    ;
  if (exco_driver_live(ex) != 0)
    return E_STUCK;
  if (exco_executor_close(ex, NULL, NULL) != 0 || exco_driver_accept(ex) != 1)
    return E_BAD;
  return r;
}

static int op_promise_new(void) {
  exco_promise *p;
  int r = exco_promise_new(&p);

  if (r == 0) {
    if (exco_promise_resolve(p, V(1)) != 0)
      r = E_BAD;
    exco_promise_unref(exco_promise_ref(p));
    exco_promise_unref(p);
  }
  return r;
}

static void *fn_nothing(void *arg) {
  return arg;
}

static int op_spawn_host(void) {
  h_host h;
  exco_task *t = NULL;
  int r;

  r = host_open(&h);
  if (r != 0)
    return r;
  r = exco_spawn(h.ex, fn_nothing, V(3), NULL, &t);
  if (r == 0) {
    if (h_host_run_until_idle(&h) != 0)
      r = E_STUCK;
    exco_task_release(t);
  }
  return host_close(&h, r);
}

static int op_spawn_local_noguard(void) {
  exco_executor *ex;
  exco_spawn_opts o;
  int r = exco_executor_new_local(&ex);

  if (r != 0)
    return r;
  memset(&o, 0, sizeof(o));
  o.flags = EXCO_SPAWN_NOGUARD;
  r = exco_spawn(ex, fn_nothing, NULL, &o, NULL);
  if (r == 0) {
    int rr = exco_run(ex);

    if (rr != 0)
      r = rr == EXCO_ENOMEM ? rr : E_BAD;
  }
  if (exco_run_until_idle(ex) != 0)
    r = E_STUCK;
  if (exco_executor_free(ex) != 0)
    r = E_BAD;
  return r;
}

/* ---------------------------------------------------------------------- */
/* Scenarios: several entry points in a row                                */
/* ---------------------------------------------------------------------- */

typedef struct world {
  exco_promise *p;
  exco_task *waiter;
  int r_await;
  int r_join;
  void *joined;
  int r_yield;
  int r_waker;
  int r_hold;
  int r_spawn;
} world;

static void *fn_waiter(void *arg) {
  world *w = arg;
  void *v = NULL;

  w->r_await = exco_promise_await(w->p, &v);
  return v;
}

static void *fn_joiner(void *arg) {
  world *w = arg;

  w->r_join = exco_join(w->waiter, &w->joined);
  return NULL;
}

static void *fn_misc(void *arg) {
  world *w = arg;
  exco_waker *wk;
  exco_hold *hold;

  w->r_yield = exco_yield();
  wk = exco_waker_current();
  if (wk == NULL) {
    w->r_waker = EXCO_ENOMEM;
  } else {
    exco_waker *w2 = exco_waker_clone(wk);

    if (w2 == NULL)
      w->r_waker = EXCO_ENOMEM;
    exco_waker_drop(w2);
    exco_waker_drop(wk);
  }
  hold = exco_hold_stack();
  if (hold == NULL)
    w->r_hold = EXCO_ENOMEM;
  exco_hold_release(hold);
  /* Spawning from a coroutine, onto its own executor. */
  w->r_spawn = exco_spawn(NULL, fn_nothing, NULL, NULL, NULL);
  exco_yield();
  return NULL;
}

static int world_results(world *w) {
  int err = 0;

  fold(&err, w->r_await);
  fold(&err, w->r_join);
  fold(&err, w->r_yield);
  fold(&err, w->r_waker);
  fold(&err, w->r_hold);
  fold(&err, w->r_spawn);
  return err;
}

/* Folds the world's results into *@err; a world that saw no error must
 * have awaited and joined the resolved value. */
static void world_fold(world *w, int *err) {
  fold(err, world_results(w));
  if (*err == 0 && (w->r_await != 0 || w->r_join != 0 || w->joined != V(9)))
    *err = E_BAD;
}

/* The same program on a host executor: spawn a promise waiter, a joiner
 * of it, and a task that yields, takes wakers and a hold, and spawns. */
static int op_host_world(void) {
  h_host h;
  world w;
  int err = 0;
  h_ext *e;

  memset(&w, 0, sizeof(w));
  err = host_open(&h);
  if (err != 0)
    return err;
  err = exco_promise_new(&w.p);
  if (err != 0)
    goto out_ex;
  err = exco_spawn(h.ex, fn_waiter, &w, NULL, &w.waiter);
  if (err != 0)
    goto out_p;
  fold(&err, exco_spawn(h.ex, fn_joiner, &w, NULL, NULL));
  fold(&err, exco_spawn(h.ex, fn_misc, &w, NULL, NULL));
  h_host_run_until_idle(&h);
  fold(&err, exco_promise_resolve(w.p, V(9)));
  if (h_host_run_until_idle(&h) != 0) {
    err = E_STUCK;
    /* Cancel what is left so the executor can go. */
    while ((e = h_host_pop(&h)) != NULL)
      h_host_drop(&h, e);
    for (e = h.all; e != NULL; e = e->anext)
      if (e->runs && !e->dropped)
        h_host_drop(&h, e);
  }
  world_fold(&w, &err);
  exco_task_release(w.waiter);
out_p:
  exco_promise_unref(w.p);
out_ex:
  return host_close(&h, err);
}

/* The same program on the local executor. */
static int op_local_world(void) {
  exco_executor *ex;
  world w;
  int err, r;

  memset(&w, 0, sizeof(w));
  err = exco_executor_new_local(&ex);
  if (err != 0)
    return err;
  err = exco_promise_new(&w.p);
  if (err != 0)
    goto out_ex;
  err = exco_spawn(ex, fn_waiter, &w, NULL, &w.waiter);
  if (err != 0)
    goto out_p;
  fold(&err, exco_spawn(ex, fn_joiner, &w, NULL, NULL));
  fold(&err, exco_spawn(ex, fn_misc, &w, NULL, NULL));
  r = exco_run_until_idle(ex);
  if (r < 0)
    fold(&err, r);
  fold(&err, exco_promise_resolve(w.p, V(9)));
  r = exco_run_until_idle(ex);
  if (r < 0)
    fold(&err, r);
  else if (r > 0)
    err = E_STUCK;
  r = exco_run(ex);
  if (r != 0)
    fold(&err, r);
  world_fold(&w, &err);
  exco_task_release(w.waiter);
out_p:
  exco_promise_unref(w.p);
out_ex:
  if (exco_executor_free(ex) != 0)
    err = E_BAD;
  return err;
}

/* ---------------------------------------------------------------------- */

START_TEST(replace_allocator_arguments) {
  ck_assert_int_eq(exco_replace_allocator(malloc, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_replace_allocator(NULL, free), EXCO_EINVAL);
  ck_assert_int_eq(exco_replace_allocator(malloc, free), 0);
  ck_assert_int_eq(exco_replace_allocator(NULL, NULL), 0);
}
END_TEST

START_TEST(counting_allocator_is_used) {
  exco_executor *ex;
  exco_promise *p;

  h_alloc_install(0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_promise_new(&p), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_nothing, NULL, NULL, NULL), 0);
  ck_assert_int_gt(h_alloc_count(), 2);
  ck_assert_int_gt(h_alloc_outstanding(), 1);
  ck_assert_int_eq(exco_run(ex), 0);
  exco_promise_unref(p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  ck_assert_int_eq(h_alloc_outstanding(), 0);
  h_alloc_restore();
}
END_TEST

/*
 * Task blocks freed while exco allocates with malloc are kept for the
 * thread's next spawns (src/task.c), but never handed out once another
 * allocator is installed: a spawn then allocates its task block from it
 * (with the local executor's node, two blocks), and gives it back to it.
 */
START_TEST(task_cache_not_used_by_other_allocators) {
  exco_executor *ex;
  int i;

  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  /* Fill this thread's cache with malloc blocks. */
  for (i = 0; i < 8; i++)
    ck_assert_int_eq(exco_spawn(ex, fn_nothing, NULL, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);

  h_alloc_install(0);
  ck_assert_int_eq(exco_spawn(ex, fn_nothing, NULL, NULL, NULL), 0);
  ck_assert_int_eq(h_alloc_count(), 2);
  ck_assert_int_eq(h_alloc_outstanding(), 2);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(h_alloc_outstanding(), 0);
  h_alloc_restore();
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(oom_executor_new) {
  walk("exco_executor_new", op_executor_new);
}
END_TEST

START_TEST(oom_executor_new_local) {
  walk("exco_executor_new_local", op_executor_new_local);
}
END_TEST

START_TEST(oom_driver_executor) {
  walk("exco_driver_executor_new + spawn + close", op_driver_executor);
}
END_TEST

START_TEST(oom_promise_new) {
  walk("exco_promise_new", op_promise_new);
}
END_TEST

START_TEST(oom_spawn_host) {
  walk("exco_spawn (host)", op_spawn_host);
}
END_TEST

START_TEST(oom_spawn_local_noguard) {
  walk("exco_spawn (local, noguard) + exco_run", op_spawn_local_noguard);
}
END_TEST

START_TEST(oom_host_world) {
  walk("host scenario", op_host_world);
}
END_TEST

START_TEST(oom_local_world) {
  walk("local scenario", op_local_world);
}
END_TEST

/* exco_init replaces the process-default executor, which then stays; so
 * this runs last and checks return values only. */
static h_host init_host;

START_TEST(oom_init) {
  long n;
  int r = EXCO_ENOMEM;

  h_host_init_bare(&init_host);
  for (n = 1; n < WALK_MAX; n++) {
    int failed;

    h_alloc_install(n);
    r = exco_init(h_task_new, h_task_run, h_task_wake, &init_host);
    failed = h_alloc_failed();
    if (!failed)
      break;
    ck_assert_msg(r == 0 || r == EXCO_ENOMEM, "exco_init: N=%ld: got %d", n, r);
  }
  ck_assert_int_eq(r, 0);
  ck_assert_ptr_eq(exco_executor_data(exco_default_executor()), &init_host);
  /* The counting allocator stays installed: the default executor came
   * from it. */
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("oom");
  TCase *tc = h_tcase("oom", 120);

  tcase_add_test(tc, replace_allocator_arguments);
  tcase_add_test(tc, counting_allocator_is_used);
  tcase_add_test(tc, task_cache_not_used_by_other_allocators);
  tcase_add_test(tc, oom_executor_new);
  tcase_add_test(tc, oom_executor_new_local);
  tcase_add_test(tc, oom_driver_executor);
  tcase_add_test(tc, oom_promise_new);
  tcase_add_test(tc, oom_spawn_host);
  tcase_add_test(tc, oom_spawn_local_noguard);
  tcase_add_test(tc, oom_host_world);
  tcase_add_test(tc, oom_local_world);
  /* Last (no-fork mode): it leaves the default executor replaced. */
  tcase_add_test(tc, oom_init);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
