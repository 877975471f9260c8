/*
 * test-wake.c -- the waker promise (docs/ARCHITECTURE.md 1.1, 4): no lost
 * wakeups from other threads, wakes coalesce, wakes after the task is gone
 * are harmless.  Threaded; meant to pass under TSan too.
 */
#include "harness.h"

#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Hand-off: a coroutine posts a request, a helper thread completes it and */
/* wakes the coroutine.  The helper jitters, so its wake lands before the  */
/* future's readiness check, between the check and the suspension, or     */
/* after the task has suspended.                                           */
/* ---------------------------------------------------------------------- */

typedef struct handoff {
  pthread_mutex_t mu;
  atomic_long req; /* last request posted by the coroutine */
  long done;       /* last request completed by the helper (mu) */
  exco_waker *w;   /* registered by the future (mu) */
  atomic_int stop;
  int jitter; /* max spin iterations before completing */
  long iters;
  long completed; /* coroutine side */
  long errors;
} handoff;

static int handoff_poll(void *arg, exco_waker *w) {
  handoff *p = arg;
  exco_waker *old = NULL;
  int ready;

  pthread_mutex_lock(&p->mu);
  ready = p->done >= atomic_load(&p->req);
  if (!ready) {
    old = p->w;
    p->w = exco_waker_clone(w);
  }
  pthread_mutex_unlock(&p->mu);
  exco_waker_drop(old);
  return ready;
}

static void handoff_cancel(void *arg) {
  handoff *p = arg;
  exco_waker *old;

  pthread_mutex_lock(&p->mu);
  old = p->w;
  p->w = NULL;
  pthread_mutex_unlock(&p->mu);
  exco_waker_drop(old);
}

static void *fn_handoff(void *arg) {
  handoff *p = arg;
  long i;

  for (i = 1; i <= p->iters; i++) {
    atomic_store(&p->req, i);
    if (exco_await(handoff_poll, handoff_cancel, p) != 0)
      p->errors++;
    p->completed++;
  }
  return NULL;
}

static void spin(unsigned n) {
  volatile unsigned i;

  for (i = 0; i < n; i++)
    ;
}

/* The helper spins for requests (yielding now and then, for valgrind's
 * sake) so that it answers within nanoseconds: its wake can then land in
 * the short window between the future's check and the task's suspension. */
static void *thread_handoff(void *arg) {
  handoff *p = arg;
  unsigned seed = 12345, idle = 0;
  long seen = 0;

  while (!atomic_load(&p->stop)) {
    long q = atomic_load(&p->req);
    exco_waker *w;

    if (q == seen) {
      if (++idle % 64 == 0)
        sched_yield();
      continue;
    }
    seen = q;
    seed = seed * 1103515245u + 12345u;
    if (p->jitter > 0)
      spin((seed >> 16) % (unsigned)p->jitter);
    pthread_mutex_lock(&p->mu);
    p->done = q;
    w = p->w;
    p->w = NULL;
    pthread_mutex_unlock(&p->mu);
    exco_waker_wake(w);
    exco_waker_drop(w);
  }
  return NULL;
}

static void handoff_init(handoff *p, long iters, int jitter) {
  memset(p, 0, sizeof(*p));
  pthread_mutex_init(&p->mu, NULL);
  atomic_init(&p->req, 0);
  atomic_init(&p->stop, 0);
  p->iters = iters;
  p->jitter = jitter;
}

static void handoff_stop(handoff *p, pthread_t t) {
  atomic_store(&p->stop, 1);
  h_thread_join(t);
  exco_waker_drop(p->w);
  p->w = NULL;
  pthread_mutex_destroy(&p->mu);
}

static void handoff_host(int jitter) {
  h_host h;
  handoff p;
  pthread_t t;
  long iters = h_scale(20000);

  handoff_init(&p, iters, jitter);
  h_host_init(&h);
  h_thread_start(&t, thread_handoff, &p);
  ck_assert_int_eq(exco_spawn(h.ex, fn_handoff, &p, NULL, NULL), 0);
  /* A lost wakeup leaves the host waiting with nothing queued. */
  ck_assert_int_eq(h_host_run(&h), 0);
  handoff_stop(&p, t);
  ck_assert_int_eq(p.completed, iters);
  ck_assert_int_eq(p.errors, 0);
  h_host_destroy(&h);
}

START_TEST(no_lost_wakeups_host) {
  handoff_host(0);
}
END_TEST

START_TEST(no_lost_wakeups_host_jitter) {
  handoff_host(300);
}
END_TEST

START_TEST(no_lost_wakeups_local) {
  exco_executor *ex;
  handoff p;
  pthread_t t;
  long iters = h_scale(20000);

  handoff_init(&p, iters, 100);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  h_thread_start(&t, thread_handoff, &p);
  ck_assert_int_eq(exco_spawn(ex, fn_handoff, &p, NULL, NULL), 0);
  /* exco_run sleeps while the task waits; a lost wake would hang it (the
   * watchdog then kills the test). */
  ck_assert_int_eq(exco_run(ex), 0);
  handoff_stop(&p, t);
  ck_assert_int_eq(p.completed, iters);
  ck_assert_int_eq(p.errors, 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Wake while running: the helper wakes the task while it runs; the task   */
/* then awaits a future that is pending on its first call and registers    */
/* nothing.  Only the wake that arrived while running can get it polled    */
/* again.                                                                  */
/* ---------------------------------------------------------------------- */

typedef struct running {
  _Atomic(exco_waker *) w;
  atomic_long req;
  atomic_long done;
  atomic_int stop;
  long iters;
  long completed;
  long errors;
  int timed_out;
} running;

static int pending_once_poll(void *arg, exco_waker *w) {
  int *calls = arg;

  (void)w;
  return (*calls)++ > 0;
}

static void *fn_running(void *arg) {
  running *r = arg;
  long i;

  atomic_store(&r->w, exco_waker_current());
  for (i = 1; i <= r->iters; i++) {
    double end = h_now() + h_wait_timeout();
    int calls = 0;

    atomic_store(&r->req, i);
    while (atomic_load(&r->done) < i) {
      if (h_now() > end) {
        r->timed_out = 1;
        return NULL;
      }
      sched_yield();
    }
    if (exco_await(pending_once_poll, NULL, &calls) != 0)
      r->errors++;
    r->completed++;
  }
  return NULL;
}

static void *thread_running(void *arg) {
  running *r = arg;
  long seen = 0;

  while (!atomic_load(&r->stop)) {
    long q = atomic_load(&r->req);
    exco_waker *w = atomic_load(&r->w);

    if (q == seen || w == NULL) {
      sched_yield();
      continue;
    }
    seen = q;
    exco_waker_wake(w);
    atomic_store(&r->done, q);
  }
  return NULL;
}

START_TEST(no_lost_wakeups_while_running) {
  h_host h;
  running r;
  pthread_t t;

  memset(&r, 0, sizeof(r));
  r.iters = h_scale(5000);
  h_host_init(&h);
  h_thread_start(&t, thread_running, &r);
  ck_assert_int_eq(exco_spawn(h.ex, fn_running, &r, NULL, NULL), 0);
  ck_assert_int_eq(h_host_run(&h), 0);
  atomic_store(&r.stop, 1);
  h_thread_join(t);
  ck_assert_int_eq(r.timed_out, 0);
  ck_assert_int_eq(r.completed, r.iters);
  ck_assert_int_eq(r.errors, 0);
  /* The task is gone: wakes through its waker do nothing. */
  exco_waker_wake(atomic_load(&r.w));
  exco_waker_drop(atomic_load(&r.w));
  h_host_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Coalescing: at most one task_wake per poll.                             */
/* ---------------------------------------------------------------------- */

START_TEST(wakes_coalesce_same_thread) {
  h_host h;
  h_flagged f = {0};
  h_ext *e;
  int i;

  h_host_init(&h);
  h_flag_init(&f.flag);
  ck_assert_int_eq(exco_spawn(h.ex, h_flagged_body, &f, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  for (i = 0; i < 100; i++)
    h_flag_poke(&f.flag);
  ck_assert_uint_eq(h.n_wake, 1);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  /* Polled since: the next wake goes through again, once. */
  for (i = 0; i < 100; i++)
    h_flag_poke(&f.flag);
  ck_assert_uint_eq(h.n_wake, 2);
  h_flag_set(&f.flag);
  ck_assert_uint_eq(h.n_wake, 2);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(f.result, 0);
  ck_assert_int_eq(f.done, 1);
  h_flag_destroy(&f.flag);
  h_host_destroy(&h);
}
END_TEST

typedef struct selfwake {
  int result;
} selfwake;

static void *fn_self_wake(void *arg) {
  selfwake *s = arg;
  exco_waker *w = exco_waker_current();
  int calls = 0, i;

  for (i = 0; i < 10; i++)
    exco_waker_wake(w);
  exco_waker_drop(w);
  s->result = exco_await(pending_once_poll, NULL, &calls);
  return NULL;
}

START_TEST(wakes_coalesce_while_running) {
  h_host h;
  selfwake s = {0};
  h_ext *e;

  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_self_wake, &s, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  /* Ten wakes during the poll: the task is scheduled once. */
  ck_assert_uint_eq(h.n_wake, 1);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  ck_assert_int_eq(s.result, 0);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  h_host_destroy(&h);
}
END_TEST

enum { WAKERS = 4 };

typedef struct waker_thread {
  exco_waker *w;
  pthread_barrier_t *go;
  long n;
} waker_thread;

static void *thread_wake_n(void *arg) {
  waker_thread *wt = arg;
  long i;

  pthread_barrier_wait(wt->go);
  for (i = 0; i < wt->n; i++)
    exco_waker_wake(wt->w);
  return NULL;
}

START_TEST(wakes_coalesce_across_threads) {
  h_host h;
  h_flagged f = {0};
  waker_thread wt[WAKERS];
  pthread_t t[WAKERS];
  pthread_barrier_t go;
  h_ext *e;
  int i;

  h_host_init(&h);
  h_flag_init(&f.flag);
  ck_assert_int_eq(exco_spawn(h.ex, h_flagged_body, &f, NULL, NULL), 0);
  e = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  pthread_barrier_init(&go, NULL, WAKERS);
  for (i = 0; i < WAKERS; i++) {
    pthread_mutex_lock(&f.flag.mu);
    wt[i].w = exco_waker_clone(f.flag.waker);
    pthread_mutex_unlock(&f.flag.mu);
    ck_assert_ptr_nonnull(wt[i].w);
    wt[i].go = &go;
    wt[i].n = h_scale(10000);
    h_thread_start(&t[i], thread_wake_n, &wt[i]);
  }
  for (i = 0; i < WAKERS; i++) {
    h_thread_join(t[i]);
    exco_waker_drop(wt[i].w);
  }
  pthread_barrier_destroy(&go);
  /* Many wakes, no poll in between: one task_wake. */
  ck_assert_uint_eq(h_host_wakes(&h), 1);
  h_flag_set(&f.flag);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  ck_assert_int_eq(f.result, 0);
  h_flag_destroy(&f.flag);
  h_host_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Storm: several threads send events to several tasks.                    */
/* ---------------------------------------------------------------------- */

enum { STORM_THREADS = 4, STORM_TASKS = 8 };

typedef struct storm_task {
  atomic_long events;
  _Atomic(exco_waker *) w;
  long expected;
  long consumed;
  long awaits;
  long errors;
} storm_task;

static int storm_poll(void *arg, exco_waker *w) {
  storm_task *s = arg;
  long cur = atomic_load(&s->events);

  (void)w; /* The task's waker is registered with the senders for good. */
  if (cur > s->consumed) {
    s->consumed = cur;
    return 1;
  }
  return 0;
}

static void *fn_storm(void *arg) {
  storm_task *s = arg;

  atomic_store(&s->w, exco_waker_current());
  while (s->consumed < s->expected) {
    if (exco_await(storm_poll, NULL, s) != 0) {
      s->errors++;
      break;
    }
    s->awaits++;
  }
  exco_waker_drop(atomic_load(&s->w));
  return NULL;
}

typedef struct storm_sender {
  storm_task *tasks;
  exco_waker *w[STORM_TASKS];
  int id;
  long n;
  pthread_barrier_t *go;
} storm_sender;

static void *thread_storm(void *arg) {
  storm_sender *s = arg;
  long j;

  pthread_barrier_wait(s->go);
  for (j = 0; j < s->n; j++) {
    int k = (int)((s->id + j) % STORM_TASKS);

    atomic_fetch_add(&s->tasks[k].events, 1);
    exco_waker_wake(s->w[k]);
  }
  return NULL;
}

START_TEST(wake_storm) {
  h_host h;
  storm_task tasks[STORM_TASKS];
  storm_sender snd[STORM_THREADS];
  pthread_t t[STORM_THREADS];
  pthread_barrier_t go;
  long n = h_scale(20000);
  int i, k;
  long j;

  memset(tasks, 0, sizeof(tasks));
  for (i = 0; i < STORM_THREADS; i++)
    for (j = 0; j < n; j++)
      tasks[(i + j) % STORM_TASKS].expected++;
  h_host_init(&h);
  for (k = 0; k < STORM_TASKS; k++)
    ck_assert_int_eq(exco_spawn(h.ex, fn_storm, &tasks[k], NULL, NULL), 0);
  /* Each task publishes its waker and parks. */
  ck_assert_int_eq(h_host_run_until_idle(&h), STORM_TASKS);
  pthread_barrier_init(&go, NULL, STORM_THREADS);
  for (i = 0; i < STORM_THREADS; i++) {
    snd[i].tasks = tasks;
    snd[i].id = i;
    snd[i].n = n;
    snd[i].go = &go;
    for (k = 0; k < STORM_TASKS; k++) {
      snd[i].w[k] = exco_waker_clone(atomic_load(&tasks[k].w));
      ck_assert_ptr_nonnull(snd[i].w[k]);
    }
    h_thread_start(&t[i], thread_storm, &snd[i]);
  }
  ck_assert_int_eq(h_host_run(&h), 0);
  for (i = 0; i < STORM_THREADS; i++) {
    h_thread_join(t[i]);
    for (k = 0; k < STORM_TASKS; k++)
      exco_waker_drop(snd[i].w[k]);
  }
  pthread_barrier_destroy(&go);
  for (k = 0; k < STORM_TASKS; k++) {
    ck_assert_int_eq(tasks[k].errors, 0);
    ck_assert_int_eq(tasks[k].consumed, tasks[k].expected);
    ck_assert_int_ge(tasks[k].awaits, 1);
  }
  h_host_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Wakers outliving their task.                                            */
/* ---------------------------------------------------------------------- */

typedef struct late {
  h_flag flag;
  exco_waker *w;
  atomic_int stop;
  atomic_int started;
  long wakes;
  int result;
} late;

static void *fn_late(void *arg) {
  late *l = arg;

  l->w = exco_waker_current();
  l->result = h_flag_await(&l->flag);
  return NULL;
}

static void *thread_late(void *arg) {
  late *l = arg;

  atomic_store(&l->started, 1);
  while (!atomic_load(&l->stop)) {
    exco_waker *w2 = exco_waker_clone(l->w);

    exco_waker_wake(w2);
    exco_waker_drop(w2);
    exco_waker_wake(l->w);
    l->wakes++;
  }
  return NULL;
}

/* Starts a task that takes its waker and awaits @l's flag, polls it until
 * it waits, then starts the thread that keeps waking it.  Returns the
 * task's host handle. */
static h_ext *start_late(h_host *h, late *l, int slow_wake, pthread_t *t) {
  h_ext *e;

  memset(l, 0, sizeof(*l));
  h_flag_init(&l->flag);
  h_host_init(h);
  h->slow_wake = slow_wake;
  ck_assert_int_eq(exco_spawn(h->ex, fn_late, l, NULL, NULL), 0);
  e = h_host_pop(h);
  ck_assert_int_eq(h_host_poll(h, e), 1);
  ck_assert_ptr_nonnull(l->w);
  h_thread_start(t, thread_late, l);
  while (!atomic_load(&l->started))
    sched_yield();
  return e;
}

START_TEST(waker_after_drop_is_safe) {
  long rounds = h_scale(200), i;

  for (i = 0; i < rounds; i++) {
    h_host h;
    late l;
    pthread_t t;

    start_late(&h, &l, 0, &t);
    /* Finish and drop the task while the thread keeps waking it. */
    h_flag_set(&l.flag);
    ck_assert_int_eq(h_host_run(&h), 0);
    ck_assert_int_eq(l.result, 0);
    atomic_store(&l.stop, 1);
    h_thread_join(t);
    /* And after the drop, from this thread. */
    exco_waker_wake(l.w);
    exco_waker_drop(exco_waker_clone(l.w));
    exco_waker_drop(l.w);
    h_flag_destroy(&l.flag);
    /* No task_wake came after exco_drop() returned. */
    h_host_destroy(&h);
  }
}
END_TEST

/* Wakes racing the drop (cancellation) of a pending task: a task_wake
 * that started before the drop must be over when exco_drop() returns. */
START_TEST(wakes_racing_drop_of_pending_task) {
  long rounds = h_scale(300), i;

  for (i = 0; i < rounds; i++) {
    h_host h;
    late l;
    pthread_t t;
    h_ext *e;

    e = start_late(&h, &l, 1, &t);
    /* Let some wakes through (each re-polls the pending task). */
    while (h_host_wakes(&h) < 3) {
      h_host_run_until_idle(&h);
      sched_yield();
    }
    ck_assert_int_eq(h_host_drop(&h, e), 0);
    ck_assert_int_eq(l.result, EXCO_ECANCELED);
    atomic_store(&l.stop, 1);
    h_thread_join(t);
    exco_waker_drop(l.w);
    h_flag_destroy(&l.flag);
    h_host_destroy(&h);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("wake");
  TCase *tc = h_tcase("lost", 120);

  tcase_add_test(tc, no_lost_wakeups_host);
  tcase_add_test(tc, no_lost_wakeups_host_jitter);
  tcase_add_test(tc, no_lost_wakeups_local);
  tcase_add_test(tc, no_lost_wakeups_while_running);
  suite_add_tcase(s, tc);

  tc = h_tcase("coalesce", 60);
  tcase_add_test(tc, wakes_coalesce_same_thread);
  tcase_add_test(tc, wakes_coalesce_while_running);
  tcase_add_test(tc, wakes_coalesce_across_threads);
  suite_add_tcase(s, tc);

  tc = h_tcase("storm", 120);
  tcase_add_test(tc, wake_storm);
  tcase_add_test(tc, waker_after_drop_is_safe);
  tcase_add_test(tc, wakes_racing_drop_of_pending_task);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
