/*
 * test-threads.c -- the thread rule: a task stays on the thread of its
 * first poll unless its executor allows migration.
 *
 *   - a poll from another thread fails with EXCO_EXDEV, runs nothing, and
 *     hands the owed poll back to the host (task_wake again); a drop that
 *     would resume the task there fails the same way;
 *   - two host threads sharing one queue: errno and a __thread variable
 *     written before exco_yield() read back the same after it, 20,000
 *     times per task (at -O2 the compiler keeps both addresses across the
 *     call, so a task moved to the other thread would read that thread's);
 *   - exco_executor_set_migration() lets any thread poll;
 *   - a local executor is run by one thread while it has live tasks, by
 *     any after they are gone, by several with migration;
 *   - handle roles: exco_poll() and exco_drop() on a local executor's task
 *     (a join handle, say) are refused with EXCO_EPERM instead of wedging
 *     its run.
 */
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* A poll or drop on another thread                                        */
/* ---------------------------------------------------------------------- */

typedef struct flagged {
  h_flag flag;
  int result;
  int done;
} flagged;

static void *fn_flagged(void *arg) {
  flagged *f = arg;

  f->result = h_flag_await(&f->flag);
  f->done = 1;
  return NULL;
}

typedef struct other {
  h_host *h;
  h_ext *e;
  int poll;
  int drop;
  int do_drop;
} other;

static void *other_thread(void *arg) {
  other *o = arg;

  if (o->do_drop)
    o->drop = exco_drop(o->e->intern);
  else
    o->poll = h_host_poll(o->h, o->e);
  return NULL;
}

/* Polls (or, with @do_drop, drops) @o's task on a thread of its own. */
static void elsewhere(other *o, int do_drop) {
  pthread_t th;

  o->do_drop = do_drop;
  h_thread_start(&th, other_thread, o);
  h_thread_join(th);
}

START_TEST(poll_elsewhere_is_exdev_and_the_wake_is_kept) {
  flagged f = {0};
  other o = {0};
  h_host h;
  h_ext *e;

  h_flag_init(&f.flag);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_flagged, &f, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  h_flag_set(&f.flag);
  ck_assert_uint_eq(h_host_wakes(&h), 1);
  ck_assert_ptr_eq(h_host_pop(&h), e);

  /* The owed poll, on the wrong thread. */
  o.h = &h;
  o.e = e;
  elsewhere(&o, 0);
  ck_assert_int_eq(o.poll, EXCO_EXDEV);
  ck_assert_int_eq(f.done, 0);
  /* Handed back: the host was woken again and has it queued. */
  ck_assert_uint_eq(h_host_wakes(&h), 2);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  ck_assert_ptr_null(h_host_pop(&h));

  /* A drop there would cancel (resume) it: refused too. */
  elsewhere(&o, 1);
  ck_assert_int_eq(o.drop, EXCO_EXDEV);

  /* On its own thread it goes on as if nothing happened. */
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(f.result, 0);
  /* Finished: a drop from anywhere is fine. */
  elsewhere(&o, 1);
  ck_assert_int_eq(o.drop, 0);
  h_host_mark_dropped(&h, e);
  h_host_destroy(&h);
  h_flag_destroy(&f.flag);
}
END_TEST

START_TEST(first_poll_on_any_thread_sets_the_home) {
  flagged f = {0};
  other o = {0};
  h_host h;
  h_ext *e;

  h_flag_init(&f.flag);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_flagged, &f, NULL, NULL), 0);
  e = h_host_pop(&h);
  /* The first poll, on another thread. */
  o.h = &h;
  o.e = e;
  elsewhere(&o, 0);
  ck_assert_int_eq(o.poll, 1);
  /* Its home is that thread now: here is elsewhere. */
  h_flag_set(&f.flag);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  ck_assert_int_eq(h_host_poll(&h, e), EXCO_EXDEV);
  ck_assert_int_eq(h_host_drop(&h, e), EXCO_EXDEV);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  /* With migration allowed, here is fine. */
  ck_assert_int_eq(exco_executor_set_migration(h.ex, 1), 0);
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  h_host_destroy(&h);
  h_flag_destroy(&f.flag);
}
END_TEST

START_TEST(unstarted_task_drops_from_any_thread) {
  flagged f = {0};
  other o = {0};
  h_host h;
  h_ext *e;

  h_flag_init(&f.flag);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_flagged, &f, NULL, NULL), 0);
  e = h_host_pop(&h);
  o.h = &h;
  o.e = e;
  elsewhere(&o, 1);
  ck_assert_int_eq(o.drop, 0);
  ck_assert_int_eq(f.done, 0);
  h_host_mark_dropped(&h, e);
  h_host_destroy(&h);
  h_flag_destroy(&f.flag);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* errno and __thread with two pollers                                     */
/* ---------------------------------------------------------------------- */

#define NTASKS 4
#define NYIELDS 20000

/* The thread a coroutine runs on, through a thread-local's address (the
 * compiler may compute it once per function, as it does errno's). */
static __thread char tls_marker;

typedef struct keeper {
  long bad_errno;
  long bad_tls;
  int yields_failed;
} keeper;

static void *fn_keeper(void *arg) {
  keeper *k = arg;
  char *before;
  int i;

  for (i = 1; i <= NYIELDS; i++) {
    errno = i;
    before = &tls_marker;
    if (exco_yield() != 0)
      k->yields_failed++;
    if (errno != i)
      k->bad_errno++;
    if (&tls_marker != before)
      k->bad_tls++;
  }
  return NULL;
}

typedef struct pool {
  h_host *h;
  atomic_long refused;
  atomic_long finished;
} pool;

/* A host thread: polls whatever the shared queue gives it. */
static void *pool_thread(void *arg) {
  pool *p = arg;
  double end = h_now() + 4 * h_wait_timeout();
  h_ext *e;
  int r;

  while (atomic_load(&p->finished) < NTASKS && h_now() < end) {
    if ((e = h_host_pop(p->h)) == NULL) {
      sched_yield();
      continue;
    }
    r = h_host_poll(p->h, e);
    if (r == EXCO_EXDEV) {
      atomic_fetch_add(&p->refused, 1);
    } else if (r == 0) {
      h_host_drop(p->h, e);
      atomic_fetch_add(&p->finished, 1);
    }
  }
  return NULL;
}

START_TEST(errno_and_thread_locals_stay_with_two_pollers) {
  keeper k[NTASKS];
  pthread_t th[2];
  h_host h;
  pool p;
  int i;

  memset(k, 0, sizeof(k));
  h_host_init(&h);
  p.h = &h;
  atomic_init(&p.refused, 0);
  atomic_init(&p.finished, 0);
  for (i = 0; i < NTASKS; i++)
    ck_assert_int_eq(exco_spawn(h.ex, fn_keeper, &k[i], NULL, NULL), 0);
  h_thread_start(&th[0], pool_thread, &p);
  h_thread_start(&th[1], pool_thread, &p);
  h_thread_join(th[0]);
  h_thread_join(th[1]);
  ck_assert_int_eq(atomic_load(&p.finished), NTASKS);
  for (i = 0; i < NTASKS; i++) {
    ck_assert_int_eq(k[i].yields_failed, 0);
    ck_assert_int_eq(k[i].bad_errno, 0);
    ck_assert_int_eq(k[i].bad_tls, 0);
  }
  h_host_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The local executor                                                      */
/* ---------------------------------------------------------------------- */

typedef struct runner {
  exco_executor *ex;
  int until_idle;
  int r;
} runner;

static void *run_thread(void *arg) {
  runner *r = arg;

  r->r = r->until_idle ? exco_run_until_idle(r->ex) : exco_run(r->ex);
  return NULL;
}

START_TEST(local_executor_is_run_by_one_thread) {
  exco_executor *ex;
  flagged f = {0};
  runner r = {0};
  pthread_t th;

  h_flag_init(&f.flag);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_flagged, &f, NULL, NULL), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  /* Another thread, while the task is live: refused. */
  r.ex = ex;
  r.until_idle = 1;
  h_thread_start(&th, run_thread, &r);
  h_thread_join(th);
  ck_assert_int_eq(r.r, EXCO_EXDEV);
  h_flag_set(&f.flag);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(f.done, 1);

  /* Nothing live: any thread may take it over. */
  f.done = 0;
  h_flag_reset(&f.flag);
  ck_assert_int_eq(exco_spawn(ex, fn_flagged, &f, NULL, NULL), 0);
  h_thread_start(&th, run_thread, &r);
  h_thread_join(th);
  ck_assert_int_eq(r.r, 1);
  ck_assert_int_eq(exco_run_until_idle(ex), EXCO_EXDEV);

  /* With migration, this thread may go on with the other's task. */
  ck_assert_int_eq(exco_executor_set_migration(ex, 1), 0);
  h_flag_set(&f.flag);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  h_flag_destroy(&f.flag);
}
END_TEST

START_TEST(set_migration_errors) {
  ck_assert_int_eq(exco_executor_set_migration(NULL, 1), EXCO_EINVAL);
  ck_assert_str_eq(exco_strerror(EXCO_EXDEV),
                   "the task runs on another thread (migration not allowed)");
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Handle roles                                                            */
/* ---------------------------------------------------------------------- */

START_TEST(host_calls_on_a_local_task_are_eperm) {
  exco_executor *ex;
  flagged f = {0};
  exco_task *t;

  h_flag_init(&f.flag);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_flagged, &f, NULL, &t), 0);
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  /* A user mistaking the join handle for the host's. */
  ck_assert_int_eq(exco_drop(t), EXCO_EPERM);
  ck_assert_int_eq(exco_poll(t), EXCO_EPERM);
  /* The executor is not wedged: the task finishes normally. */
  h_flag_set(&f.flag);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(f.result, 0);
  ck_assert_int_eq(exco_drop(t), EXCO_EPERM);
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  h_flag_destroy(&f.flag);
}
END_TEST

int main(void) {
  Suite *s = suite_create("threads");
  TCase *tc = h_tcase("rule", 60);

  tcase_add_test(tc, poll_elsewhere_is_exdev_and_the_wake_is_kept);
  tcase_add_test(tc, first_poll_on_any_thread_sets_the_home);
  tcase_add_test(tc, unstarted_task_drops_from_any_thread);
  tcase_add_test(tc, errno_and_thread_locals_stay_with_two_pollers);
  tcase_add_test(tc, local_executor_is_run_by_one_thread);
  tcase_add_test(tc, set_migration_errors);
  tcase_add_test(tc, host_calls_on_a_local_task_are_eperm);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
