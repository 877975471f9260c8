/*
 * checks.c -- the driver conformance suite: the contract checks of
 * include/exco.h and docs/ARCHITECTURE.md (section 1.1), written once
 * against the adapter of conformance.h and run on whichever driver the
 * adapter linked with this file brings (cf_this_adapter).
 *
 *   - a task's body does not run before its first poll;
 *   - each task's body is entered once (and, where the adapter counts the
 *     host's calls, task_new and task_run come once per task, and every
 *     poll and wake is accounted for);
 *   - wakes coalesce: a hundred wakes between two polls give one poll;
 *   - wakes from other threads, racing with the task's own polls, are
 *     never lost (exact counts);
 *   - no task_wake follows a drop, whatever other threads keep waking;
 *   - exco_executor_close() with tasks pending cancels them all (each sees
 *     EXCO_ECANCELED), calls back once on the loop thread after the last,
 *     and leaves nothing behind (exco's allocations are counted; valgrind
 *     and ASan see the rest);
 *   - joins and promises across threads and across two executors of the
 *     driver on two threads;
 *   - timers: exco_sleep() order and a deadline's EXCO_ETIMEDOUT;
 *   - 10,000 tasks x 100 yields, exactly counted;
 *   - the host loop's exit: it stays in while any task waits (on a timer,
 *     on another thread) and returns once all have finished.
 *
 * A driver of the process-default executor (CF_DEFAULT_EXECUTOR) can't
 * have a second executor or be closed: its joins cross threads on one
 * executor, and exco_executor_cancel_all() stands in for the close.
 *
 * As everywhere in the tests: coroutines and other threads only record
 * what they see; the assertions come after the loop has returned, on the
 * test's thread.  Every message names the adapter.
 */
#include "conformance.h"
#include "harness.h"

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AD (&cf_this_adapter)
#define V(n) ((void *)(uintptr_t)(n))

/* ---------------------------------------------------------------------- */
/* The rig                                                                 */
/* ---------------------------------------------------------------------- */

static void rig_make(cf_rig *r) {
  int err;

  memset(r, 0, sizeof(*r));
  r->ad = AD;
  atomic_init(&r->closed, 0);
  err = AD->make(r);
  ck_assert_msg(err == 0 && r->ex != NULL, "[%s] make: %d (%s) %s", AD->name,
                err, exco_strerror(err), r->msg);
}

/* Set on the test's thread while it is inside exco_spawn(): a body that
 * sees it set runs inside the spawn. */
static _Thread_local int in_spawn;

static void rig_spawn(cf_rig *r, exco_fn fn, void *arg, exco_task **out) {
  int err;

  in_spawn = 1;
  err = exco_spawn(r->ex, fn, arg, NULL, out);
  in_spawn = 0;

  ck_assert_msg(err == 0, "[%s] exco_spawn: %s", AD->name, exco_strerror(err));
}

static void rig_run(cf_rig *r) {
  int err = AD->run(r);

  ck_assert_msg(err == 0, "[%s] run: %d (%s) %s", AD->name, err,
                err == CF_ERR_TIMEOUT ? "no progress: a lost wakeup?"
                                      : exco_strerror(err),
                r->msg);
}

/* Fills @c if the adapter counts; returns 1 then. */
static int rig_counts(cf_rig *r, cf_counts *c) {
  int err;

  if (!(AD->caps & CF_COUNTS))
    return 0;
  err = AD->counts(r, c);
  ck_assert_msg(err == 0, "[%s] counts: %d %s", AD->name, err, r->msg);
  return 1;
}

static void assert_no_violation(cf_rig *r) {
  cf_counts c;

  if (!rig_counts(r, &c))
    return;
  ck_assert_msg(c.v_run_twice == 0, "[%s] task_run twice for a task (%lu)",
                AD->name, c.v_run_twice);
  ck_assert_msg(c.v_wake_dropped == 0,
                "[%s] task_wake after exco_drop() returned (%lu)", AD->name,
                c.v_wake_dropped);
  ck_assert_msg(c.v_wake_extra == 0,
                "[%s] two task_wake calls between two polls (%lu)", AD->name,
                c.v_wake_extra);
  ck_assert_msg(c.v_wake_unknown == 0, "[%s] task_wake before task_run (%lu)",
                AD->name, c.v_wake_unknown);
  ck_assert_msg(c.v_host_error == 0,
                "[%s] exco_poll()/exco_drop() failed in the host (%lu)",
                AD->name, c.v_host_error);
}

static void rig_fini(cf_rig *r) {
  int err;

  assert_no_violation(r);
  if (!atomic_load(&r->closed)) {
    long live = exco_executor_live(r->ex);

    ck_assert_msg(live == 0, "[%s] %ld tasks live after the run", AD->name,
                  live);
  }
  err = AD->fini(r);
  ck_assert_msg(err == 0, "[%s] fini: %d (%s) %s", AD->name, err,
                exco_strerror(err), r->msg);
}

/* Checks exact host-call counts, where the adapter counts them. */
static void assert_counts(cf_rig *r, unsigned long tasks, unsigned long polls,
                          unsigned long wakes) {
  cf_counts c;

  if (!rig_counts(r, &c))
    return;
  ck_assert_msg(c.task_new == tasks, "[%s] task_new: %lu calls for %lu tasks",
                AD->name, c.task_new, tasks);
  ck_assert_msg(c.task_run == tasks, "[%s] task_run: %lu calls for %lu tasks",
                AD->name, c.task_run, tasks);
  ck_assert_msg(c.drops == tasks, "[%s] drops: %lu for %lu tasks", AD->name,
                c.drops, tasks);
  ck_assert_msg(c.polls == polls, "[%s] polls: %lu, want %lu", AD->name,
                c.polls, polls);
  ck_assert_msg(c.task_wake == wakes, "[%s] task_wake: %lu calls, want %lu",
                AD->name, c.task_wake, wakes);
}

/* ---------------------------------------------------------------------- */
/* The body runs at the first poll, once                                   */
/* ---------------------------------------------------------------------- */

enum { FP_TASKS = 8 };

typedef struct entry {
  int entered;  /* times the body was entered */
  int in_spawn; /* entered inside the test's exco_spawn() */
  int yields;   /* exco_yield() calls to make */
  int errors;   /* failed yields */
} entry;

static void *fn_nothing(void *arg) {
  (void)arg;
  return NULL;
}

static void *fn_entry(void *arg) {
  entry *e = arg;
  int i;

  e->entered++;
  e->in_spawn |= in_spawn;
  for (i = 0; i < e->yields; i++)
    if (exco_yield() != 0)
      e->errors++;
  return NULL;
}

typedef struct parent {
  entry child;
  int r_spawn;
  int child_entered_at_spawn;
  int r_yield;
} parent;

/* Spawns a child from inside a coroutine: it must not run inside the
 * spawn either, only once the host polls it. */
static void *fn_parent(void *arg) {
  parent *p = arg;

  p->r_spawn = exco_spawn(NULL, fn_entry, &p->child, NULL, NULL);
  p->child_entered_at_spawn = p->child.entered;
  p->r_yield = exco_yield();
  return NULL;
}

START_TEST(body_not_run_before_first_poll) {
  cf_rig r;
  entry e[FP_TASKS];
  parent p;
  cf_counts c;
  int i;

  memset(e, 0, sizeof(e));
  memset(&p, 0, sizeof(p));
  p.r_spawn = p.r_yield = 1;
  rig_make(&r);
  for (i = 0; i < FP_TASKS; i++)
    rig_spawn(&r, fn_entry, &e[i], NULL);
  rig_spawn(&r, fn_parent, &p, NULL);
  for (i = 0; i < FP_TASKS; i++)
    ck_assert_msg(e[i].entered == 0, "[%s] body ran inside exco_spawn()",
                  AD->name);
  if (rig_counts(&r, &c)) {
    ck_assert_uint_eq(c.task_new, FP_TASKS + 1);
    ck_assert_uint_eq(c.task_run, FP_TASKS + 1);
    ck_assert_uint_eq(c.polls, 0);
    ck_assert_uint_eq(c.task_wake, 0);
  }
  ck_assert_int_eq(p.child.entered, 0);
  rig_run(&r);
  for (i = 0; i < FP_TASKS; i++) {
    ck_assert_msg(e[i].entered == 1, "[%s] task %d entered %d times", AD->name,
                  i, e[i].entered);
    ck_assert_msg(e[i].in_spawn == 0, "[%s] body ran inside exco_spawn()",
                  AD->name);
  }
  ck_assert_int_eq(p.r_spawn, 0);
  ck_assert_int_eq(p.r_yield, 0);
  ck_assert_msg(p.child_entered_at_spawn == 0,
                "[%s] a child spawned by a coroutine ran inside exco_spawn()",
                AD->name);
  ck_assert_int_eq(p.child.entered, 1);
  /* Each task is polled once, the parent twice (its yield is a wake). */
  assert_counts(&r, FP_TASKS + 2, FP_TASKS + 3, 1);
  rig_fini(&r);
}
END_TEST

enum { RO_TASKS = 50 };

START_TEST(task_run_once_per_task) {
  cf_rig r;
  entry e[RO_TASKS];
  unsigned long yields = 0;
  int i;

  memset(e, 0, sizeof(e));
  rig_make(&r);
  for (i = 0; i < RO_TASKS; i++) {
    e[i].yields = i % 5;
    yields += (unsigned long)e[i].yields;
    rig_spawn(&r, fn_entry, &e[i], NULL);
  }
  rig_run(&r);
  for (i = 0; i < RO_TASKS; i++) {
    ck_assert_msg(e[i].entered == 1, "[%s] task %d entered %d times", AD->name,
                  i, e[i].entered);
    ck_assert_int_eq(e[i].errors, 0);
  }
  /* One poll per start and per yield, one wake per yield, one task_new,
   * task_run and drop per task. */
  assert_counts(&r, RO_TASKS, RO_TASKS + yields, yields);
  rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Wakes coalesce                                                          */
/* ---------------------------------------------------------------------- */

enum { CO_WAKES = 100, CO_MAX_YIELDS = 100000 };

typedef struct coalesce {
  h_flag flag;
  int r_await;
  int b_yields;   /* yields of the waker task until the waiter waited */
  int b_gave_up;  /* the waiter never registered its waker */
  int wakes_done; /* the waker task's wakes */
} coalesce;

static void *fn_waiter(void *arg) {
  coalesce *co = arg;

  co->r_await = h_flag_await(&co->flag);
  return NULL;
}

/* Wakes the waiter a hundred times, then makes it ready: all between two
 * of its polls, since the waker runs on the loop thread without
 * suspending in between. */
static void *fn_waker(void *arg) {
  coalesce *co = arg;
  int i;

  while (!h_flag_has_waker(&co->flag)) {
    if (co->b_yields == CO_MAX_YIELDS) {
      co->b_gave_up = 1;
      return NULL;
    }
    co->b_yields++;
    exco_yield();
  }
  for (i = 0; i < CO_WAKES; i++) {
    h_flag_poke(&co->flag);
    co->wakes_done++;
  }
  h_flag_set(&co->flag);
  return NULL;
}

START_TEST(wakes_coalesce) {
  cf_rig r;
  coalesce co;

  memset(&co, 0, sizeof(co));
  h_flag_init(&co.flag);
  co.r_await = 1;
  rig_make(&r);
  rig_spawn(&r, fn_waiter, &co, NULL);
  rig_spawn(&r, fn_waker, &co, NULL);
  rig_run(&r);
  ck_assert_int_eq(co.b_gave_up, 0);
  ck_assert_int_eq(co.wakes_done, CO_WAKES);
  ck_assert_int_eq(co.r_await, 0);
  /* The flag was polled at the first poll and once more: a hundred and
   * one wakes made one poll. */
  ck_assert_msg(atomic_load(&co.flag.polls) == 2,
                "[%s] %d wakes between two polls gave %d extra polls", AD->name,
                CO_WAKES + 1, atomic_load(&co.flag.polls) - 1);
  /* The waiter: two polls, one task_wake.  The waker: one poll more than
   * its yields, one task_wake per yield. */
  assert_counts(&r, 2, 2 + (unsigned long)co.b_yields + 1,
                1 + (unsigned long)co.b_yields);
  rig_fini(&r);
  h_flag_destroy(&co.flag);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Wakes from other threads are not lost                                   */
/* ---------------------------------------------------------------------- */

/* A counting semaphore as a leaf future: await takes one token. */
typedef struct tokens {
  pthread_mutex_t mu;
  long avail;
  exco_waker *waker;
} tokens;

static int tokens_poll(void *arg, exco_waker *w) {
  tokens *t = arg;
  exco_waker *old = NULL;
  int ready = 0;

  pthread_mutex_lock(&t->mu);
  if (t->avail > 0) {
    t->avail--;
    ready = 1;
  } else {
    old = t->waker;
    t->waker = exco_waker_clone(w);
  }
  pthread_mutex_unlock(&t->mu);
  exco_waker_drop(old);
  return ready;
}

static void tokens_cancel(void *arg) {
  tokens *t = arg;
  exco_waker *w;

  pthread_mutex_lock(&t->mu);
  w = t->waker;
  t->waker = NULL;
  pthread_mutex_unlock(&t->mu);
  exco_waker_drop(w);
}

static void tokens_post(tokens *t) {
  exco_waker *w;

  pthread_mutex_lock(&t->mu);
  t->avail++;
  w = t->waker;
  t->waker = NULL;
  pthread_mutex_unlock(&t->mu);
  exco_waker_wake(w);
  exco_waker_drop(w);
}

enum { ST_TASKS = 4, ST_POSTERS = 2 };

typedef struct stress_task {
  tokens tk;
  long want; /* tokens to take */
  long got;
  int errors;
} stress_task;

static void *fn_consumer(void *arg) {
  stress_task *s = arg;

  while (s->got < s->want) {
    if (exco_await(tokens_poll, tokens_cancel, &s->tk) != 0) {
      s->errors++;
      break;
    }
    s->got++;
    /* Keep running a little now and then, so posts land while the task
     * runs as well as while it waits. */
    if (s->got % 7 == 0 && exco_yield() != 0)
      s->errors++;
  }
  return NULL;
}

typedef struct poster {
  stress_task *tasks;
  long each; /* tokens per task from this poster */
} poster;

static void *thread_post(void *arg) {
  poster *p = arg;
  long i;
  int k;

  for (i = 0; i < p->each; i++) {
    for (k = 0; k < ST_TASKS; k++)
      tokens_post(&p->tasks[k].tk);
    if (i % 64 == 0)
      sched_yield();
  }
  return NULL;
}

START_TEST(cross_thread_wakes_not_lost) {
  cf_rig r;
  stress_task s[ST_TASKS];
  poster p[ST_POSTERS];
  pthread_t t[ST_POSTERS];
  long each = h_scale(2500);
  int k;

  memset(s, 0, sizeof(s));
  rig_make(&r);
  for (k = 0; k < ST_TASKS; k++) {
    pthread_mutex_init(&s[k].tk.mu, NULL);
    s[k].want = each * ST_POSTERS;
    rig_spawn(&r, fn_consumer, &s[k], NULL);
  }
  for (k = 0; k < ST_POSTERS; k++) {
    p[k].tasks = s;
    p[k].each = each;
    h_thread_start(&t[k], thread_post, &p[k]);
  }
  rig_run(&r);
  for (k = 0; k < ST_POSTERS; k++)
    h_thread_join(t[k]);
  for (k = 0; k < ST_TASKS; k++) {
    ck_assert_msg(s[k].got == s[k].want, "[%s] task %d took %ld of %ld",
                  AD->name, k, s[k].got, s[k].want);
    ck_assert_int_eq(s[k].errors, 0);
    ck_assert_int_eq(s[k].tk.avail, 0);
    exco_waker_drop(s[k].tk.waker);
    pthread_mutex_destroy(&s[k].tk.mu);
  }
  rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* No task_wake after the drop                                             */
/* ---------------------------------------------------------------------- */

enum { WD_TASKS = 64 };

typedef struct hammer {
  _Atomic(exco_waker *) wakers[WD_TASKS];
  atomic_int stop;
  atomic_int rounds;
  atomic_int registered;
} hammer;

typedef struct wd_task {
  hammer *h;
  int i;
  int yields;
} wd_task;

static void *fn_wd(void *arg) {
  wd_task *t = arg;
  int i;

  atomic_store(&t->h->wakers[t->i], exco_waker_current());
  atomic_fetch_add(&t->h->registered, 1);
  for (i = 0; i < t->i % 4; i++)
    if (exco_yield() == 0)
      t->yields++;
  return NULL;
}

/* Wakes every waker it finds, over and over, until told to stop. */
static void *thread_hammer(void *arg) {
  hammer *h = arg;
  int i;

  while (!atomic_load(&h->stop)) {
    for (i = 0; i < WD_TASKS; i++)
      exco_waker_wake(atomic_load(&h->wakers[i]));
    atomic_fetch_add(&h->rounds, 1);
  }
  return NULL;
}

START_TEST(no_task_wake_after_drop) {
  cf_rig r;
  hammer h;
  wd_task t[WD_TASKS];
  pthread_t th;
  int i, rounds, late;

  memset(&h, 0, sizeof(h));
  memset(t, 0, sizeof(t));
  rig_make(&r);
  for (i = 0; i < WD_TASKS; i++) {
    atomic_init(&h.wakers[i], NULL);
    t[i].h = &h;
    t[i].i = i;
    rig_spawn(&r, fn_wd, &t[i], NULL);
  }
  h_thread_start(&th, thread_hammer, &h);
  rig_run(&r);
  /* Every task is finished and dropped: let the hammer go round a few
   * more times before it stops. */
  rounds = atomic_load(&h.rounds);
  late = h_wait_at_least(&h.rounds, rounds + 3);
  atomic_store(&h.stop, 1);
  h_thread_join(th);
  ck_assert_int_eq(late, 0);
  ck_assert_int_eq(atomic_load(&h.registered), WD_TASKS);
  for (i = 0; i < WD_TASKS; i++) {
    ck_assert_int_eq(t[i].yields, i % 4);
    exco_waker_drop(atomic_load(&h.wakers[i]));
  }
  /* The violation counters (rig_fini) say whether a wake came late; the
   * drivers that don't count would crash or show in ASan/valgrind. */
  rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Closing an executor with tasks pending                                  */
/* ---------------------------------------------------------------------- */

enum { V_AWAIT, V_SLEEP, V_YIELD, V_JOIN, V_KINDS };

typedef struct close_state close_state;

typedef struct victim {
  close_state *cs;
  int how;
  int ran;
  int r; /* the result that ended its wait */
  long yields;
} victim;

struct close_state {
  cf_rig *rig;
  exco_promise *never;    /* never resolved */
  exco_task *join_target; /* the V_AWAIT victim's join handle */
  victim v[V_KINDS];
  victim unpolled; /* spawned right before the close */
  atomic_int waiting;
  int finished;
  /* The closer task. */
  int closer_yields;
  int closer_gave_up;
  int r_close;
  int r_close_again;
  int r_spawn_after;
  int r_yield_after;
  int r_spawn_unpolled;
  int cancel_only; /* CF_DEFAULT_EXECUTOR: cancel_all instead of close */
  long n_cancelled;
  /* The close callback. */
  int calls;
  int finished_at_cb;
  int in_coroutine;
  int on_loop; /* the callback ran on the loop thread */
  pthread_t test_thread;
};

static void *fn_victim(void *arg) {
  victim *v = arg;
  close_state *cs = v->cs;

  v->ran = 1;
  atomic_fetch_add(&cs->waiting, 1);
  switch (v->how) {
  case V_AWAIT:
    v->r = exco_promise_await(cs->never, NULL);
    break;
  case V_SLEEP:
    v->r = exco_sleep(600000);
    break;
  case V_YIELD:
    while ((v->r = exco_yield()) == 0)
      v->yields++;
    break;
  default:
    v->r = exco_join(cs->join_target, NULL);
    break;
  }
  cs->finished++;
  return NULL;
}

static void on_close(void *arg) {
  close_state *cs = arg;

  cs->calls++;
  cs->finished_at_cb = cs->finished;
  cs->in_coroutine = exco_current() != NULL;
  if (AD->on_loop_thread != NULL)
    cs->on_loop = AD->on_loop_thread(cs->rig);
  else
    cs->on_loop = pthread_equal(pthread_self(), cs->test_thread);
  atomic_store(&cs->rig->closed, 1);
}

static void *fn_closer(void *arg) {
  close_state *cs = arg;
  exco_executor *ex = exco_current_executor();

  while (atomic_load(&cs->waiting) < V_KINDS) {
    if (cs->closer_yields == CO_MAX_YIELDS) {
      cs->closer_gave_up = 1;
      break;
    }
    cs->closer_yields++;
    exco_yield();
  }
  cs->r_spawn_unpolled = exco_spawn(NULL, fn_victim, &cs->unpolled, NULL, NULL);
  if (cs->cancel_only) {
    /* The default executor can't be closed: cancel every task instead. */
    cs->n_cancelled = exco_executor_cancel_all(ex);
  } else {
    cs->r_close = exco_executor_close(ex, on_close, cs);
    cs->r_close_again = exco_executor_close(ex, on_close, cs);
    cs->r_spawn_after = exco_spawn(NULL, fn_nothing, NULL, NULL, NULL);
  }
  /* The closer is live too: cancelled like the others. */
  cs->r_yield_after = exco_yield();
  return NULL;
}

START_TEST(close_with_tasks_pending) {
  cf_rig r;
  close_state cs;
  int k, ran;

  memset(&cs, 0, sizeof(cs));
  cs.cancel_only = (AD->caps & CF_DEFAULT_EXECUTOR) != 0;
  cs.test_thread = pthread_self();
  /* Everything exco allocates from here on must be given back: the
   * executor too, unless it is the default one, which is never freed. */
  if (!cs.cancel_only)
    h_alloc_install(0);
  rig_make(&r);
  if (cs.cancel_only)
    h_alloc_install(0);
  cs.rig = &r;
  ck_assert_int_eq(exco_promise_new(&cs.never), 0);
  for (k = 0; k < V_KINDS; k++) {
    cs.v[k].cs = &cs;
    cs.v[k].how = k;
    cs.v[k].r = 1;
    rig_spawn(&r, fn_victim, &cs.v[k], k == V_AWAIT ? &cs.join_target : NULL);
  }
  cs.unpolled.cs = &cs;
  cs.unpolled.how = V_AWAIT;
  cs.unpolled.r = 1;
  rig_spawn(&r, fn_closer, &cs, NULL);
  rig_run(&r);
  ck_assert_int_eq(cs.closer_gave_up, 0);
  ck_assert_int_eq(cs.r_spawn_unpolled, 0);
  if (cs.cancel_only) {
    /* The victims, the unpolled one and the closer itself. */
    ck_assert_int_eq(cs.n_cancelled, V_KINDS + 2);
  } else {
    ck_assert_int_eq(cs.r_close, 0);
    ck_assert_int_eq(cs.r_close_again, EXCO_EALREADY);
    ck_assert_int_eq(cs.r_spawn_after, EXCO_ESHUTDOWN);
  }
  ck_assert_int_eq(cs.r_yield_after, EXCO_ECANCELED);
  for (k = 0; k < V_KINDS; k++) {
    ck_assert_int_eq(cs.v[k].ran, 1);
    ck_assert_msg(cs.v[k].r == EXCO_ECANCELED,
                  "[%s] victim %d: %d, not EXCO_ECANCELED", AD->name, k,
                  cs.v[k].r);
  }
  /* Cancelled before its first poll: it runs with every await failing,
   * or (a drop before the start) not at all. */
  if (cs.unpolled.ran)
    ck_assert_int_eq(cs.unpolled.r, EXCO_ECANCELED);
  ran = V_KINDS + cs.unpolled.ran;
  ck_assert_int_eq(cs.finished, ran);
  exco_task_release(cs.join_target);
  exco_promise_unref(cs.never);
  if (cs.cancel_only) {
    ck_assert_msg(h_alloc_outstanding() == 0,
                  "[%s] %ld blocks of exco's left after the cancel", AD->name,
                  h_alloc_outstanding());
    h_alloc_restore();
    rig_fini(&r);
    return;
  }
  /* One callback, after the last task, on the loop thread, outside any
   * coroutine. */
  ck_assert_msg(cs.calls == 1, "[%s] close callback called %d times", AD->name,
                cs.calls);
  ck_assert_int_eq(cs.finished_at_cb, ran);
  ck_assert_int_eq(cs.in_coroutine, 0);
  ck_assert_msg(cs.on_loop, "[%s] close callback off the loop thread",
                AD->name);
  ck_assert_int_eq(atomic_load(&r.closed), 1);
  rig_fini(&r);
  ck_assert_msg(h_alloc_outstanding() == 0,
                "[%s] %ld blocks of exco's left after the close", AD->name,
                h_alloc_outstanding());
  h_alloc_restore();
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Joins and promises across threads                                       */
/* ---------------------------------------------------------------------- */

enum { XJ_JOBS = 16 };

typedef struct xjob {
  exco_promise *in;  /* resolved by a plain thread */
  exco_promise *out; /* resolved by the joiner on the other executor */
  exco_task *handle; /* the producer's join handle */
  int r_in;
  int r_join;
  void *joined;
  int r_out;
  void *got;
} xjob;

static void *fn_producer(void *arg) {
  xjob *j = arg;
  void *v = NULL;

  j->r_in = exco_promise_await(j->in, &v);
  return (char *)v + 1;
}

static void *fn_joiner(void *arg) {
  xjob *j = arg;

  j->r_join = exco_join(j->handle, &j->joined);
  exco_promise_resolve(j->out, j->joined);
  return NULL;
}

static void *fn_collector(void *arg) {
  xjob *jobs = arg;
  int i;

  for (i = 0; i < XJ_JOBS; i++)
    jobs[i].r_out = exco_promise_await(jobs[i].out, &jobs[i].got);
  return NULL;
}

static char xj_base[XJ_JOBS * 2];

static void *thread_resolve_in(void *arg) {
  xjob *jobs = arg;
  int i;

  for (i = XJ_JOBS - 1; i >= 0; i--)
    exco_promise_resolve(jobs[i].in, &xj_base[2 * i]);
  return NULL;
}

/* The second executor, made, run and freed on its own thread. */
typedef struct other_loop {
  xjob *jobs;
  int r_make, r_spawn, r_run, r_fini;
  long live;
  char msg[256];
} other_loop;

static void *thread_other_loop(void *arg) {
  other_loop *o = arg;
  cf_rig r;
  int i;

  memset(&r, 0, sizeof(r));
  r.ad = AD;
  atomic_init(&r.closed, 0);
  o->r_make = AD->make(&r);
  if (o->r_make != 0) {
    snprintf(o->msg, sizeof(o->msg), "%s", r.msg);
    return NULL;
  }
  for (i = 0; i < XJ_JOBS && o->r_spawn == 0; i++)
    o->r_spawn = exco_spawn(r.ex, fn_joiner, &o->jobs[i], NULL, NULL);
  o->r_run = AD->run(&r);
  o->live = exco_executor_live(r.ex);
  o->r_fini = AD->fini(&r);
  snprintf(o->msg, sizeof(o->msg), "%s", r.msg);
  return NULL;
}

START_TEST(join_and_promises_across_threads) {
  cf_rig r;
  xjob jobs[XJ_JOBS];
  other_loop o;
  pthread_t resolver, other;
  int one = (AD->caps & CF_DEFAULT_EXECUTOR) != 0, i;

  memset(jobs, 0, sizeof(jobs));
  memset(&o, 0, sizeof(o));
  rig_make(&r);
  for (i = 0; i < XJ_JOBS; i++) {
    ck_assert_int_eq(exco_promise_new(&jobs[i].in), 0);
    ck_assert_int_eq(exco_promise_new(&jobs[i].out), 0);
    jobs[i].r_in = jobs[i].r_join = jobs[i].r_out = 1;
    rig_spawn(&r, fn_producer, &jobs[i], &jobs[i].handle);
  }
  rig_spawn(&r, fn_collector, jobs, NULL);
  if (one) {
    /* One executor per process: the joiners run on this one. */
    for (i = 0; i < XJ_JOBS; i++)
      rig_spawn(&r, fn_joiner, &jobs[i], NULL);
  } else {
    o.jobs = jobs;
    h_thread_start(&other, thread_other_loop, &o);
  }
  h_thread_start(&resolver, thread_resolve_in, jobs);
  rig_run(&r);
  h_thread_join(resolver);
  if (!one)
    h_thread_join(other);
  ck_assert_msg(o.r_make == 0 && o.r_spawn == 0 && o.r_run == 0 &&
                    o.live == 0 && o.r_fini == 0,
                "[%s] the executor on the other thread: make %d spawn %d "
                "run %d live %ld fini %d %s",
                AD->name, o.r_make, o.r_spawn, o.r_run, o.live, o.r_fini,
                o.msg);
  for (i = 0; i < XJ_JOBS; i++) {
    ck_assert_int_eq(jobs[i].r_in, 0);
    ck_assert_int_eq(jobs[i].r_join, 0);
    ck_assert_ptr_eq(jobs[i].joined, &xj_base[2 * i + 1]);
    ck_assert_int_eq(jobs[i].r_out, 0);
    ck_assert_ptr_eq(jobs[i].got, &xj_base[2 * i + 1]);
    ck_assert_int_eq(exco_task_done(jobs[i].handle), 1);
    exco_task_release(jobs[i].handle);
    exco_promise_unref(jobs[i].in);
    exco_promise_unref(jobs[i].out);
  }
  rig_fini(&r);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Timers                                                                  */
/* ---------------------------------------------------------------------- */

enum { NSLEEP = 6 };

/* The sleeps' due times are this many ms after the test's start, plus
 * their offsets; a run that arms them all with at least ORDER_MARGIN ms
 * to spare is checked for order. */
enum { SLEEP_BASE = 60, ORDER_MARGIN = 20 };

typedef struct timers {
  int64_t base; /* exco_now() at the start + SLEEP_BASE */
  int order[NSLEEP];
  int norder;
  int r_sleep[NSLEEP];
  int64_t started[NSLEEP]; /* exco_now() just before the sleep */
  int64_t woke[NSLEEP];    /* exco_now() just after it */
  /* The deadline task. */
  exco_promise *p;
  int r_deadline;
  int64_t waited;
  int r_sleep_deadline;
  int restored;
  int r_after;
  void *v_after;
} timers;

static const int64_t sleep_ms[NSLEEP] = {30, 10, 20, 10, 0, 10};

typedef struct sleeper {
  timers *tm;
  int i;
} sleeper;

static void *fn_sleeper(void *arg) {
  sleeper *s = arg;
  timers *tm = s->tm;

  tm->started[s->i] = exco_now();
  tm->r_sleep[s->i] = exco_sleep_until(tm->base + sleep_ms[s->i]);
  tm->woke[s->i] = exco_now();
  tm->order[tm->norder++] = s->i;
  return NULL;
}

static void *fn_deadline(void *arg) {
  timers *tm = arg;
  int64_t prev, t0 = exco_now();

  exco_deadline_after(40, &prev);
  tm->r_deadline = exco_promise_await(tm->p, NULL);
  tm->waited = exco_now() - t0;
  tm->r_sleep_deadline = exco_sleep(600000);
  exco_deadline_set(prev, NULL);
  tm->restored = exco_deadline_get() == EXCO_NO_DEADLINE;
  /* With the deadline gone, awaits work again. */
  exco_promise_resolve(tm->p, tm);
  tm->r_after = exco_promise_await(tm->p, &tm->v_after);
  return NULL;
}

/*
 * Sleeps end in the order of their due times.  Each sleeper sleeps until
 * a due time of its own on a common base, so how far apart the host polls
 * them for the first time does not matter.  A timer armed after another
 * has fired can't fire before it, whatever its due time, so the order is
 * checked only when every sleep was armed at least ORDER_MARGIN ms before
 * the first came due (on a loaded machine the host may start them late;
 * that run checks the rest).  Equal due times may end in either order (the
 * unit tests of the core's timer queue check those in arming order).
 */
START_TEST(timers_sleep_order_and_deadline) {
  cf_rig r;
  timers tm;
  sleeper s[NSLEEP];
  int64_t last_start = INT64_MIN;
  int i;

  memset(&tm, 0, sizeof(tm));
  tm.r_deadline = tm.r_sleep_deadline = tm.r_after = 1;
  ck_assert_int_eq(exco_promise_new(&tm.p), 0);
  rig_make(&r);
  tm.base = exco_now() + SLEEP_BASE;
  for (i = 0; i < NSLEEP; i++) {
    s[i].tm = &tm;
    s[i].i = i;
    rig_spawn(&r, fn_sleeper, &s[i], NULL);
  }
  rig_spawn(&r, fn_deadline, &tm, NULL);
  rig_run(&r);
  ck_assert_int_eq(tm.norder, NSLEEP);
  for (i = 0; i < NSLEEP; i++) {
    ck_assert_int_eq(tm.r_sleep[i], 0);
    ck_assert_int_ge(tm.woke[i], tm.base + sleep_ms[i]);
    if (tm.started[i] > last_start)
      last_start = tm.started[i];
  }
  for (i = 1; i < NSLEEP && !(AD->caps & CF_UNORDERED_WAKES) &&
              last_start + ORDER_MARGIN <= tm.base;
       i++) {
    int a = tm.order[i - 1], b = tm.order[i];

    ck_assert_msg(sleep_ms[a] <= sleep_ms[b],
                  "[%s] sleeps ended out of order: %d (due %lld ms after "
                  "the base) before %d (due %lld ms)",
                  AD->name, a, (long long)sleep_ms[a], b,
                  (long long)sleep_ms[b]);
  }
  ck_assert_int_eq(tm.r_deadline, EXCO_ETIMEDOUT);
  ck_assert_int_ge(tm.waited, 40);
  ck_assert_int_eq(tm.r_sleep_deadline, EXCO_ETIMEDOUT);
  ck_assert_int_eq(tm.restored, 1);
  ck_assert_int_eq(tm.r_after, 0);
  ck_assert_ptr_eq(tm.v_after, &tm);
  rig_fini(&r);
  exco_promise_unref(tm.p);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Scale                                                                   */
/* ---------------------------------------------------------------------- */

enum { SC_TASKS = 10000, SC_YIELDS = 100 };

/* ThreadSanitizer gives each coroutine a fiber, and at most 8128 can be
 * live ("Thread limit exceeded. Dying."): fewer tasks there. */
#ifdef H_TSAN
enum { SC_TSAN_TASKS = 2000 };
#else
enum { SC_TSAN_TASKS = SC_TASKS };
#endif

static void *fn_yielder(void *arg) {
  int *count = arg;
  int i;

  for (i = 0; i < SC_YIELDS; i++) {
    if (exco_yield() != 0)
      return NULL;
    ++*count;
  }
  return NULL;
}

START_TEST(ten_thousand_tasks_hundred_yields) {
  cf_rig r;
  long n = h_scale(SC_TSAN_TASKS), i, sum = 0, short_tasks = 0;
  int *count = calloc((size_t)n, sizeof(*count));
  exco_spawn_opts o;

  ck_assert_ptr_nonnull(count);
  memset(&o, 0, sizeof(o));
  o.stack_size = EXCO_STACK_MIN;
  rig_make(&r);
  for (i = 0; i < n; i++) {
    int err = exco_spawn(r.ex, fn_yielder, &count[i], &o, NULL);

    ck_assert_msg(err == 0, "[%s] spawn %ld: %s", AD->name, i,
                  exco_strerror(err));
  }
  rig_run(&r);
  for (i = 0; i < n; i++) {
    sum += count[i];
    short_tasks += count[i] != SC_YIELDS;
  }
  ck_assert_msg(sum == n * SC_YIELDS && short_tasks == 0,
                "[%s] %ld yields of %ld, %ld tasks short", AD->name, sum,
                n * SC_YIELDS, short_tasks);
  assert_counts(&r, (unsigned long)n, (unsigned long)(n * (SC_YIELDS + 1)),
                (unsigned long)(n * SC_YIELDS));
  rig_fini(&r);
  free(count);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The loop's exit                                                         */
/* ---------------------------------------------------------------------- */

typedef struct exit_state {
  /* A promise resolved by another thread once the task waits. */
  exco_promise *p;
  atomic_int waiting;
  int r_await;
  void *v;
  int wait_failed;
  /* A deadline with nothing else pending. */
  int r_deadline;
  /* A task spawned late, by a task that slept first. */
  int r_sleep;
  int r_spawn;
  entry late;
  int done;
} exit_state;

static void *fn_wait_promise(void *arg) {
  exit_state *es = arg;

  atomic_store(&es->waiting, 1);
  es->r_await = exco_promise_await(es->p, &es->v);
  es->done++;
  return NULL;
}

static void *thread_resolve_when_waiting(void *arg) {
  exit_state *es = arg;

  es->wait_failed = h_wait_at_least(&es->waiting, 1) != 0;
  exco_promise_resolve(es->p, es);
  return NULL;
}

static void *fn_wait_deadline(void *arg) {
  exit_state *es = arg;
  int64_t prev;

  exco_deadline_after(30, &prev);
  es->r_deadline = exco_await(h_never_poll, NULL, NULL);
  exco_deadline_set(prev, NULL);
  es->done++;
  return NULL;
}

static void *fn_spawn_late(void *arg) {
  exit_state *es = arg;

  es->r_sleep = exco_sleep(20);
  es->late.yields = 3;
  es->r_spawn = exco_spawn(NULL, fn_entry, &es->late, NULL, NULL);
  es->done++;
  return NULL;
}

START_TEST(loop_exit) {
  cf_rig r;
  exit_state es;
  pthread_t t;
  double t0;

  memset(&es, 0, sizeof(es));
  es.r_await = es.r_deadline = es.r_sleep = es.r_spawn = 1;
  ck_assert_int_eq(exco_promise_new(&es.p), 0);
  rig_make(&r);
  /* Nothing to run: the loop returns at once. */
  t0 = h_now();
  rig_run(&r);
  ck_assert_msg(h_now() - t0 < 5.0, "[%s] an idle run took %.1f s", AD->name,
                h_now() - t0);
  /* A task waiting on another thread, one on a deadline alone, and one
   * that spawns another after a sleep: the loop must stay in for each. */
  rig_spawn(&r, fn_wait_promise, &es, NULL);
  rig_spawn(&r, fn_wait_deadline, &es, NULL);
  rig_spawn(&r, fn_spawn_late, &es, NULL);
  h_thread_start(&t, thread_resolve_when_waiting, &es);
  rig_run(&r);
  h_thread_join(t);
  ck_assert_int_eq(es.wait_failed, 0);
  ck_assert_msg(es.done == 3 && es.late.entered == 1,
                "[%s] the loop returned with tasks unfinished (%d of 3, late "
                "task %d)%s",
                AD->name, es.done, es.late.entered,
                (AD->caps & CF_LOOP_EXIT) ? ": the host's loop left early"
                                          : "");
  ck_assert_int_eq(es.r_await, 0);
  ck_assert_ptr_eq(es.v, &es);
  ck_assert_int_eq(es.r_deadline, EXCO_ETIMEDOUT);
  ck_assert_int_eq(es.r_sleep, 0);
  ck_assert_int_eq(es.r_spawn, 0);
  ck_assert_int_eq(es.late.errors, 0);
  /* And once everything has finished, it returns again at once. */
  t0 = h_now();
  rig_run(&r);
  ck_assert_msg(h_now() - t0 < 5.0, "[%s] an idle run took %.1f s", AD->name,
                h_now() - t0);
  rig_fini(&r);
  exco_promise_unref(es.p);
}
END_TEST

/* ---------------------------------------------------------------------- */

int main(void) {
  char name[64];
  Suite *s;
  TCase *tc;

  snprintf(name, sizeof(name), "conformance:%s", AD->name);
  s = suite_create(name);
  tc = h_tcase(name, 120);
  tcase_add_test(tc, body_not_run_before_first_poll);
  tcase_add_test(tc, task_run_once_per_task);
  tcase_add_test(tc, wakes_coalesce);
  tcase_add_test(tc, cross_thread_wakes_not_lost);
  tcase_add_test(tc, no_task_wake_after_drop);
  tcase_add_test(tc, close_with_tasks_pending);
  tcase_add_test(tc, join_and_promises_across_threads);
  tcase_add_test(tc, timers_sleep_order_and_deadline);
  tcase_add_test(tc, ten_thousand_tasks_hundred_yields);
  tcase_add_test(tc, loop_exit);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
