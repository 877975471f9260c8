/*
 * test-contract.c -- the driver contract (docs/ARCHITECTURE.md 1; exco.h "The
 * driver contract"), checked with the recording host of the harness.
 */
#include "harness.h"

#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RESULT ((void *)(uintptr_t)0x1234)

typedef struct rec {
  int ran;
  exco_task *self;
  exco_executor *ex;
  const char *name;
} rec;

static void *fn_record(void *arg) {
  rec *r = arg;

  r->ran++;
  r->self = exco_current();
  r->ex = exco_current_executor();
  r->name = exco_task_name(r->self);
  return RESULT;
}

typedef struct flagged {
  h_flag flag;
  int before; /* reached the await */
  int after;  /* returned from the await */
  int result; /* what the await returned */
} flagged;

static void *fn_flagged(void *arg) {
  flagged *f = arg;

  f->before++;
  f->result = h_flag_await(&f->flag);
  f->after++;
  return RESULT;
}

/* ---------------------------------------------------------------------- */

START_TEST(spawn_calls_new_and_run_once) {
  h_host h;
  rec r = {0};
  exco_task *t = NULL;
  h_ext *e;

  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r, NULL, &t), 0);
  ck_assert_ptr_nonnull(t);
  ck_assert_uint_eq(h.n_new, 1);
  ck_assert_uint_eq(h.n_run, 1);
  ck_assert_ptr_eq(h.last_new_data, &h);
  e = h_host_pop(&h);
  ck_assert_ptr_nonnull(e);
  ck_assert_ptr_null(h_host_pop(&h));
  /* task_run got the same intern handle the join handle names, on the
   * spawning thread. */
  ck_assert_ptr_eq(e->intern, t);
  ck_assert_uint_eq(e->runs, 1);
  ck_assert(pthread_equal(e->run_thread, pthread_self()));
  /* The body does not run before the first poll. */
  ck_assert_int_eq(r.ran, 0);
  ck_assert_int_eq(exco_task_done(t), 0);
  ck_assert_int_eq(exco_executor_live(h.ex), 1);

  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(r.ran, 1);
  ck_assert_ptr_eq(r.self, t);
  ck_assert_ptr_eq(r.ex, h.ex);
  ck_assert_int_eq(exco_task_done(t), 1);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);
  exco_task_release(t);
  ck_assert_uint_eq(h.n_new, 1);
  ck_assert_uint_eq(h.n_run, 1);
  ck_assert_uint_eq(h.n_wake, 0);
  h_host_destroy(&h);
}
END_TEST

START_TEST(spawn_many_detached) {
  enum { N = 50 };
  h_host h;
  rec r[N];
  int i;

  memset(r, 0, sizeof(r));
  h_host_init(&h);
  for (i = 0; i < N; i++)
    ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r[i], NULL, NULL), 0);
  ck_assert_uint_eq(h.n_new, N);
  ck_assert_uint_eq(h.n_run, N);
  ck_assert_int_eq(exco_executor_live(h.ex), N);
  for (i = 0; i < N; i++)
    ck_assert_int_eq(r[i].ran, 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  for (i = 0; i < N; i++)
    ck_assert_int_eq(r[i].ran, 1);
  ck_assert_uint_eq(h.n_polls, N);
  ck_assert_uint_eq(h.n_new, N);
  ck_assert_uint_eq(h.n_run, N);
  h_host_destroy(&h);
}
END_TEST

typedef struct spawner {
  h_host *h;
  rec r;
  pthread_t self;
  int err;
} spawner;

static void *thread_spawn(void *arg) {
  spawner *s = arg;

  s->self = pthread_self();
  s->err = exco_spawn(s->h->ex, fn_record, &s->r, NULL, NULL);
  return NULL;
}

START_TEST(spawn_from_other_thread_runs_there) {
  h_host h;
  spawner s;
  pthread_t t;
  h_ext *e;

  memset(&s, 0, sizeof(s));
  h_host_init(&h);
  s.h = &h;
  h_thread_start(&t, thread_spawn, &s);
  h_thread_join(t);
  ck_assert_int_eq(s.err, 0);
  e = h_host_pop(&h);
  ck_assert_ptr_nonnull(e);
  ck_assert(pthread_equal(e->run_thread, s.self));
  ck_assert_int_eq(s.r.ran, 0);
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(s.r.ran, 1);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  h_host_destroy(&h);
}
END_TEST

START_TEST(poll_pending_then_done) {
  h_host h;
  flagged f = {0};
  h_ext *e;

  h_host_init(&h);
  h_flag_init(&f.flag);
  ck_assert_int_eq(exco_spawn(h.ex, fn_flagged, &f, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_ptr_nonnull(e);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(f.before, 1);
  ck_assert_int_eq(f.after, 0);
  ck_assert_int_eq(atomic_load(&f.flag.polls), 1);
  ck_assert(h_flag_has_waker(&f.flag));
  ck_assert_ptr_null(h_host_pop(&h));
  ck_assert_uint_eq(h.n_wake, 0);

  /* A spurious poll keeps the task pending. */
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(f.after, 0);

  h_flag_set(&f.flag);
  ck_assert_uint_eq(h.n_wake, 1);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(f.after, 1);
  ck_assert_int_eq(f.result, 0);
  ck_assert_int_eq(atomic_load(&f.flag.wrong_task), 0);

  /* Polling a finished task returns 0 and does nothing. */
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(f.before, 1);
  ck_assert_int_eq(f.after, 1);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  h_flag_destroy(&f.flag);
  h_host_destroy(&h);
}
END_TEST

typedef struct reent {
  exco_task *started; /* a task that has been polled and is pending */
  exco_task *fresh;   /* a task never polled */
  int self_poll, started_poll, self_drop, started_drop, fresh_drop;
} reent;

static void *fn_reent(void *arg) {
  reent *r = arg;

  r->self_poll = exco_poll(exco_current());
  r->started_poll = exco_poll(r->started);
  r->self_drop = exco_drop(exco_current());
  r->started_drop = exco_drop(r->started);
  r->fresh_drop = exco_drop(r->fresh);
  return NULL;
}

START_TEST(poll_and_drop_from_coroutine) {
  h_host h;
  flagged b = {0};
  rec c = {0};
  reent r;
  exco_task *tb, *tc;
  h_ext *eb, *ec, *ea;

  memset(&r, 0, sizeof(r));
  h_host_init(&h);
  h_flag_init(&b.flag);
  ck_assert_int_eq(exco_spawn(h.ex, fn_flagged, &b, NULL, &tb), 0);
  eb = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, eb), 1);
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &c, NULL, &tc), 0);
  ec = h_host_pop(&h);
  r.started = tb;
  r.fresh = tc;
  ck_assert_int_eq(exco_spawn(h.ex, fn_reent, &r, NULL, NULL), 0);
  ea = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, ea), 0);

  ck_assert_int_eq(r.self_poll, EXCO_EBUSY);
  ck_assert_int_eq(r.started_poll, EXCO_EBUSY);
  ck_assert_int_eq(r.self_drop, EXCO_EBUSY);
  ck_assert_int_eq(r.started_drop, EXCO_EBUSY);
  /* A task that never ran can be dropped from a coroutine: it does not
   * need resuming. */
  ck_assert_int_eq(r.fresh_drop, 0);
  h_host_mark_dropped(&h, ec);
  ck_assert_int_eq(c.ran, 0);
  /* The refused poll of b did nothing. */
  ck_assert_int_eq(b.after, 0);
  ck_assert_int_eq(atomic_load(&b.flag.polls), 1);

  ck_assert_int_eq(h_host_drop(&h, ea), 0);
  h_flag_set(&b.flag);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(b.after, 1);
  ck_assert_int_eq(b.result, 0);
  ck_assert_int_eq(c.ran, 0);
  exco_task_release(tb);
  exco_task_release(tc);
  h_flag_destroy(&b.flag);
  h_host_destroy(&h);
}
END_TEST

typedef struct spinner {
  atomic_int inside;
  atomic_int release;
  int timed_out;
} spinner;

static void *fn_spin(void *arg) {
  spinner *s = arg;
  double end = h_now() + h_wait_timeout();

  atomic_store(&s->inside, 1);
  while (!atomic_load(&s->release)) {
    if (h_now() > end) {
      s->timed_out = 1;
      break;
    }
    sched_yield();
  }
  return NULL;
}

typedef struct poller {
  h_host *h;
  h_ext *e;
  int result;
} poller;

static void *thread_poll(void *arg) {
  poller *p = arg;

  p->result = h_host_poll(p->h, p->e);
  return NULL;
}

START_TEST(poll_while_polled_elsewhere_is_busy) {
  h_host h;
  spinner s;
  poller p;
  pthread_t t;
  int rp, rd;

  memset(&s, 0, sizeof(s));
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_spin, &s, NULL, NULL), 0);
  p.h = &h;
  p.e = h_host_pop(&h);
  p.result = -1;
  h_thread_start(&t, thread_poll, &p);
  while (!atomic_load(&s.inside))
    sched_yield();
  rp = exco_poll(p.e->intern);
  rd = exco_drop(p.e->intern);
  atomic_store(&s.release, 1);
  h_thread_join(t);
  ck_assert_int_eq(rp, EXCO_EBUSY);
  ck_assert_int_eq(rd, EXCO_EBUSY);
  ck_assert_int_eq(s.timed_out, 0);
  ck_assert_int_eq(p.result, 0);
  ck_assert_int_eq(h_host_drop(&h, p.e), 0);
  h_host_destroy(&h);
}
END_TEST

START_TEST(drop_twice_while_referenced) {
  h_host h;
  rec r = {0};
  flagged f = {0};
  exco_task *t1, *t2;
  h_ext *e1, *e2;

  h_host_init(&h);
  h_flag_init(&f.flag);

  /* Finished task. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r, NULL, &t1), 0);
  e1 = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e1), 0);
  ck_assert_int_eq(h_host_drop(&h, e1), 0);
  ck_assert_int_eq(exco_drop(t1), EXCO_EALREADY);
  ck_assert_int_eq(exco_poll(t1), EXCO_EALREADY);
  ck_assert_int_eq(exco_task_done(t1), 1);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);

  /* Pending task: the first drop cancels, the second is refused. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_flagged, &f, NULL, &t2), 0);
  e2 = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e2), 1);
  ck_assert_int_eq(h_host_drop(&h, e2), 0);
  ck_assert_int_eq(f.after, 1);
  ck_assert_int_eq(f.result, EXCO_ECANCELED);
  ck_assert_int_eq(exco_drop(t2), EXCO_EALREADY);
  ck_assert_int_eq(exco_poll(t2), EXCO_EALREADY);
  ck_assert_int_eq(f.after, 1);

  exco_task_release(t1);
  exco_task_release(t2);
  h_flag_destroy(&f.flag);
  h_host_destroy(&h);
}
END_TEST

START_TEST(task_new_null_is_enomem) {
  h_host h;
  rec r = {0};
  exco_task *t = NULL;

  h_host_init(&h);
  h.fail_new = 1;
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r, NULL, &t), EXCO_ENOMEM);
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r, NULL, NULL), EXCO_ENOMEM);
  ck_assert_uint_eq(h.n_new, 2);
  ck_assert_uint_eq(h.n_run, 0);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);
  ck_assert_int_eq(r.ran, 0);
  /* Nothing was left behind: the executor can be freed and made again. */
  ck_assert_int_eq(exco_executor_free(h.ex), 0);
  ck_assert_int_eq(
      exco_executor_new(&h.ex, h_task_new, h_task_run, h_task_wake, &h), 0);
  h.fail_new = 0;
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r, NULL, &t), 0);
  ck_assert_uint_eq(h.n_run, 1);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(r.ran, 1);
  exco_task_release(t);
  h_host_destroy(&h);
}
END_TEST

START_TEST(null_callbacks_are_einval) {
  exco_executor *ex = NULL;
  h_host h;

  h_host_init_bare(&h);
  ck_assert_int_eq(exco_executor_new(&ex, NULL, h_task_run, h_task_wake, &h),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_new(&ex, h_task_new, NULL, h_task_wake, &h),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_new(&ex, h_task_new, h_task_run, NULL, &h),
                   EXCO_EINVAL);
  ck_assert_int_eq(
      exco_executor_new(NULL, h_task_new, h_task_run, h_task_wake, &h),
      EXCO_EINVAL);
  ck_assert_ptr_null(ex);
  ck_assert_int_eq(exco_executor_new_local(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_init(NULL, h_task_run, h_task_wake, &h), EXCO_EINVAL);
  ck_assert_int_eq(exco_init(h_task_new, NULL, h_task_wake, &h), EXCO_EINVAL);
  ck_assert_int_eq(exco_init(h_task_new, h_task_run, NULL, &h), EXCO_EINVAL);
  /* Data may be NULL. */
  ck_assert_int_eq(
      exco_executor_new(&ex, h_task_new, h_task_run, h_task_wake, NULL), 0);
  ck_assert_ptr_null(exco_executor_data(ex));
  ck_assert_int_eq(exco_executor_free(ex), 0);
  ck_assert_uint_eq(h.n_new, 0);
}
END_TEST

START_TEST(executor_free_with_live_tasks_is_busy) {
  h_host h;
  rec r = {0};
  flagged f = {0};
  h_ext *e;

  h_host_init(&h);
  h_flag_init(&f.flag);
  /* A task never polled. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r, NULL, NULL), 0);
  ck_assert_int_eq(exco_executor_free(h.ex), EXCO_EBUSY);
  ck_assert_int_eq(exco_executor_live(h.ex), 1);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(r.ran, 1);
  /* A pending task. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_flagged, &f, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(exco_executor_free(h.ex), EXCO_EBUSY);
  /* The executor was left intact. */
  h_flag_set(&f.flag);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(f.after, 1);
  ck_assert_int_eq(f.result, 0);
  ck_assert_int_eq(exco_executor_free(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_free(exco_default_executor()), EXCO_EINVAL);
  h_flag_destroy(&f.flag);
  h_host_destroy(&h);
}
END_TEST

START_TEST(executor_data_and_live) {
  h_host h;
  exco_executor *local;
  rec r = {0};

  h_host_init(&h);
  ck_assert_ptr_eq(exco_executor_data(h.ex), &h);
  ck_assert_ptr_null(exco_executor_data(NULL));
  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  ck_assert_ptr_null(exco_executor_data(local));
  ck_assert_int_eq(exco_executor_live(local), 0);
  ck_assert_int_eq(exco_executor_live(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_spawn(local, fn_record, &r, NULL, NULL), 0);
  ck_assert_int_eq(exco_executor_live(local), 1);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);
  ck_assert_int_eq(exco_run(local), 0);
  ck_assert_int_eq(r.ran, 1);
  ck_assert_ptr_eq(r.ex, local);
  ck_assert_int_eq(exco_executor_live(local), 0);
  ck_assert_int_eq(exco_executor_free(local), 0);
  h_host_destroy(&h);
}
END_TEST

START_TEST(spawn_bad_arguments) {
  h_host h;
  rec r = {0};
  exco_spawn_opts o;
  exco_task *t = NULL;

  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, NULL, &r, NULL, &t), EXCO_EINVAL);
  memset(&o, 0, sizeof(o));
  o.flags = 0x80000000u;
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r, &o, &t), EXCO_EINVAL);
  memset(&o, 0, sizeof(o));
  o.stack_size = SIZE_MAX;
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r, &o, &t), EXCO_EINVAL);
  ck_assert_uint_eq(h.n_run, 0);
  ck_assert_int_eq(exco_executor_live(h.ex), 0);
  ck_assert_int_eq(r.ran, 0);
  h_host_destroy(&h);
}
END_TEST

START_TEST(null_task_handles) {
  ck_assert_int_eq(exco_poll(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_drop(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_task_done(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_task_cancel(NULL), EXCO_EINVAL);
  ck_assert_ptr_null(exco_task_name(NULL));
  exco_task_release(NULL);
}
END_TEST

START_TEST(task_name) {
  static const char name[] = "worker-7";
  h_host h;
  rec r = {0}, r2 = {0};
  exco_spawn_opts o;
  exco_task *t, *t2;

  h_host_init(&h);
  memset(&o, 0, sizeof(o));
  o.name = name;
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r, &o, &t), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_record, &r2, NULL, &t2), 0);
  ck_assert_ptr_eq(exco_task_name(t), name);
  ck_assert_ptr_null(exco_task_name(t2));
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_ptr_eq(r.name, name);
  ck_assert_ptr_null(r2.name);
  ck_assert_ptr_eq(exco_task_name(t), name);
  exco_task_release(t);
  exco_task_release(t2);
  h_host_destroy(&h);
}
END_TEST

START_TEST(context_backend_name) {
  const char *b = exco_context_backend();

  ck_assert_ptr_nonnull(b);
  ck_assert(strcmp(b, "asm") == 0 || strcmp(b, "ucontext") == 0 ||
            strcmp(b, "swapcontext") == 0);
}
END_TEST

/* Must run before init_sets_default_executor in no-fork mode. */
START_TEST(default_executor_is_local_before_init) {
  exco_executor *d = exco_default_executor();
  rec r = {0};

  ck_assert_ptr_nonnull(d);
  ck_assert_ptr_eq(exco_default_executor(), d);
  ck_assert_ptr_null(exco_executor_data(d));
  ck_assert_ptr_null(exco_current_executor());
  ck_assert_int_eq(exco_spawn(NULL, fn_record, &r, NULL, NULL), 0);
  ck_assert_int_eq(exco_executor_live(d), 1);
  ck_assert_int_eq(r.ran, 0);
  ck_assert_int_eq(exco_run(NULL), 0);
  ck_assert_int_eq(r.ran, 1);
  ck_assert_ptr_eq(r.ex, d);
  ck_assert_int_eq(exco_executor_live(d), 0);
}
END_TEST

/* The default executor outlives this test in no-fork mode, so its host
 * is static. */
static h_host init_host;

START_TEST(init_sets_default_executor) {
  h_host *h = &init_host;
  exco_executor *d;
  rec r = {0};
  exco_task *t;
  h_ext *e;

  h_host_init_bare(h);
  ck_assert_int_eq(exco_init(h_task_new, h_task_run, h_task_wake, h), 0);
  d = exco_default_executor();
  ck_assert_ptr_nonnull(d);
  ck_assert_ptr_eq(exco_executor_data(d), h);
  ck_assert_int_eq(exco_run(NULL), EXCO_ENOTSUP);
  ck_assert_int_eq(exco_run_until_idle(NULL), EXCO_ENOTSUP);

  ck_assert_int_eq(exco_spawn(NULL, fn_record, &r, NULL, &t), 0);
  ck_assert_uint_eq(h->n_new, 1);
  ck_assert_uint_eq(h->n_run, 1);
  ck_assert_ptr_eq(h->last_new_data, h);
  ck_assert_int_eq(exco_executor_live(d), 1);
  /* Not while the default executor has live tasks. */
  ck_assert_int_eq(exco_init(h_task_new, h_task_run, h_task_wake, h),
                   EXCO_EBUSY);
  e = h_host_pop(h);
  ck_assert_ptr_eq(e->intern, t);
  ck_assert_int_eq(r.ran, 0);
  ck_assert_int_eq(h_host_poll(h, e), 0);
  ck_assert_int_eq(r.ran, 1);
  ck_assert_ptr_eq(r.ex, exco_default_executor());
  ck_assert_int_eq(h_host_drop(h, e), 0);
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_live(d), 0);
  /* Again, now that it is idle. */
  ck_assert_int_eq(exco_init(h_task_new, h_task_run, h_task_wake, h), 0);
  ck_assert_ptr_eq(exco_executor_data(exco_default_executor()), h);
  ck_assert_int_eq(exco_executor_free(exco_default_executor()), EXCO_EINVAL);
  h_host_assert_clean(h);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("contract");
  TCase *tc = h_tcase("spawn-poll-drop", 30);

  tcase_add_test(tc, spawn_calls_new_and_run_once);
  tcase_add_test(tc, spawn_many_detached);
  tcase_add_test(tc, spawn_from_other_thread_runs_there);
  tcase_add_test(tc, poll_pending_then_done);
  tcase_add_test(tc, poll_and_drop_from_coroutine);
  tcase_add_test(tc, poll_while_polled_elsewhere_is_busy);
  tcase_add_test(tc, drop_twice_while_referenced);
  tcase_add_test(tc, task_new_null_is_enomem);
  tcase_add_test(tc, spawn_bad_arguments);
  tcase_add_test(tc, null_task_handles);
  tcase_add_test(tc, task_name);
  suite_add_tcase(s, tc);

  tc = h_tcase("executor", 30);
  tcase_add_test(tc, null_callbacks_are_einval);
  tcase_add_test(tc, executor_free_with_live_tasks_is_busy);
  tcase_add_test(tc, executor_data_and_live);
  tcase_add_test(tc, context_backend_name);
  /* Order matters without fork: the default executor is local until
   * exco_init() is called. */
  tcase_add_test(tc, default_executor_is_local_before_init);
  tcase_add_test(tc, init_sets_default_executor);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
