/*
 * test-races.c -- regression tests for races found by reviewing the core.
 * Each test failed (or crashed) on the bug it names before it was fixed.
 *
 *   join_exit_while_linked  exco_join()'s lock-free DONE fast path lets a
 *                           joiner leave while its wait node, on its stack,
 *                           is still linked in the target's joiner list; the
 *                           finishing thread then unlinks it (writing into
 *                           the joiner's live frames) and reads the waker
 *                           pointer from there.
 *   cancel_after_finish     exco_task_cancel() on a task that returned
 *                           normally says EXCO_EALREADY, yet makes a later
 *                           exco_join() report EXCO_ECANCELED.
 *   errno_after_migration   exco__suspend() caches errno's address (glibc's
 *                           __errno_location is a const function) across
 *                           the switch, so a coroutine resumed on another
 *                           thread restores its errno into the old thread's
 *                           errno and sees the new thread's.
 */
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define V(n) ((void *)(uintptr_t)(n))

/* ---------------------------------------------------------------------- */
/* A manual host: the test polls by hand; task_wake only counts, and can   */
/* be told to stall (what a preempted or contended waker thread does).     */
/* ---------------------------------------------------------------------- */

typedef struct m_ext {
  exco_task *intern;
  atomic_int wakes;
  atomic_int stall;   /* task_wake stalls until release is set */
  atomic_int entered; /* a stalled task_wake is in progress */
  atomic_int release;
  atomic_int late; /* task_wake after the test dropped it */
  int dropped;
} m_ext;

#define M_EXTS 16
static m_ext m_exts[M_EXTS];
static atomic_int m_next;

static void *m_task_new(void *data) {
  int i = atomic_fetch_add(&m_next, 1);

  (void)data;
  if (i >= M_EXTS)
    return NULL;
  return &m_exts[i];
}

static void m_task_run(void *ext, exco_task *intern) {
  ((m_ext *)ext)->intern = intern;
}

static void m_task_wake(void *ext) {
  m_ext *e = ext;
  double end;

  atomic_fetch_add(&e->wakes, 1);
  if (e->dropped)
    atomic_fetch_add(&e->late, 1);
  if (atomic_load(&e->stall)) {
    atomic_store(&e->entered, 1);
    end = h_now() + h_wait_timeout();
    while (!atomic_load(&e->release) && h_now() < end)
      sched_yield();
  }
}

static exco_executor *m_setup(void) {
  exco_executor *ex;

  memset(m_exts, 0, sizeof(m_exts));
  atomic_store(&m_next, 0);
  ck_assert_int_eq(
      exco_executor_new(&ex, m_task_new, m_task_run, m_task_wake, NULL), 0);
  /* These races poll a task on several threads on purpose. */
  ck_assert_int_eq(exco_executor_set_migration(ex, 1), 0);
  return ex;
}

static m_ext *m_ext_of(exco_task *t) {
  int i;

  for (i = 0; i < M_EXTS; i++)
    if (m_exts[i].intern == t)
      return &m_exts[i];
  return NULL;
}

/* Waits (bounded) for an atomic flag; returns it. */
static int m_wait_flag(atomic_int *f, double seconds) {
  double end = h_now() + seconds;

  while (!atomic_load(f) && h_now() < end)
    sched_yield();
  return atomic_load(f);
}

/* ---------------------------------------------------------------------- */
/* join_exit_while_linked                                                  */
/* ---------------------------------------------------------------------- */

static void *fn_value(void *arg) {
  return arg;
}

typedef struct joiner {
  exco_task *target;
  int r;
  void *result;
} joiner;

static void *fn_joiner(void *arg) {
  joiner *j = arg;

  j->r = exco_join(j->target, &j->result);
  return NULL;
}

/* The victim joins from deep in its stack, then reuses that stack in
 * probe(): a large frame whose contents (whatever the join left there) are
 * copied aside, kept live across an await, and compared afterwards.  No
 * one may write into a suspended coroutine's live frame. */
#define PROBE_WORDS 2048

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define EXCO_TEST_MAKE_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif
#ifndef EXCO_TEST_MAKE_DEFINED
#define EXCO_TEST_MAKE_DEFINED(p, n) ((void)(p), (void)(n))
#endif

typedef struct victim {
  exco_task *target;
  exco_waker *waker; /* a clone of its own waker, for the test */
  h_flag flag;       /* probe() waits on it */
  int r;
  int in_probe;
  long corrupt; /* words of the probe frame someone changed */
} victim;

static __attribute__((noinline)) int deep_join(victim *v) {
  volatile char pad[2048];
  int r;

  pad[0] = 1;
  r = exco_join(v->target, NULL);
  return r + pad[0] - 1;
}

static __attribute__((noinline)) void probe(victim *v) {
  volatile uintptr_t buf[PROBE_WORDS];
  uintptr_t *copy = malloc(sizeof(buf));
  long i, bad = 0;

  if (copy == NULL) {
    v->corrupt = -1;
    return;
  }
  /* Deliberately not initialised: it holds the join's dead frames.  Tell
   * memcheck that reading them is meant. */
  EXCO_TEST_MAKE_DEFINED((void *)buf, sizeof(buf));
  for (i = 0; i < PROBE_WORDS; i++)
    copy[i] = buf[i];
  v->in_probe = 1;
  (void)h_flag_await(&v->flag);
  for (i = 0; i < PROBE_WORDS; i++)
    if (buf[i] != copy[i])
      bad++;
  free(copy);
  v->corrupt = bad;
}

static void *fn_victim(void *arg) {
  victim *v = arg;

  v->waker = exco_waker_current();
  v->r = deep_join(v);
  probe(v);
  return NULL;
}

typedef struct poll_job {
  exco_task *task;
  int r;
  atomic_int done;
} poll_job;

static void *poll_thread(void *arg) {
  poll_job *p = arg;

  p->r = exco_poll(p->task);
  atomic_store(&p->done, 1);
  return NULL;
}

START_TEST(join_exit_while_linked) {
  exco_executor *ex = m_setup();
  exco_task *target;
  exco_task *j2_task, *v_task;
  m_ext *e2, *ev, *et;
  joiner j2;
  victim v;
  poll_job pt, pv;
  pthread_t ta, tb;

  memset(&j2, 0, sizeof(j2));
  memset(&v, 0, sizeof(v));
  memset(&pt, 0, sizeof(pt));
  memset(&pv, 0, sizeof(pv));
  h_flag_init(&v.flag);

  ck_assert_int_eq(exco_spawn(ex, fn_value, V(7), NULL, &target), 0);
  j2.target = target;
  v.target = target;
  ck_assert_int_eq(exco_spawn(ex, fn_joiner, &j2, NULL, &j2_task), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_victim, &v, NULL, &v_task), 0);
  et = m_ext_of(target);
  e2 = m_ext_of(j2_task);
  ev = m_ext_of(v_task);
  ck_assert_ptr_nonnull(et);
  ck_assert_ptr_nonnull(e2);
  ck_assert_ptr_nonnull(ev);

  /* Both joiners link themselves: j2 first, the victim second. */
  ck_assert_int_eq(exco_poll(j2_task), 1);
  ck_assert_int_eq(exco_poll(v_task), 1);
  ck_assert_ptr_nonnull(v.waker);

  /* Thread A finishes the target.  Its finisher wakes j2 first, under the
   * target's joiner lock, and j2's host task_wake stalls there -- as a
   * preempted thread would, or one waiting for the host's queue lock. */
  atomic_store(&e2->stall, 1);
  pt.task = target;
  h_thread_start(&ta, poll_thread, &pt);
  ck_assert(m_wait_flag(&e2->entered, h_wait_timeout()));

  /* Meanwhile the victim is woken (a spurious wake, which the contract
   * allows) and polled on thread B.  The target is DONE, so the victim's
   * join may return -- but only once its wait node is off the list.  A
   * fixed library blocks thread B on the joiner lock until A lets go; the
   * bounded wait below is not synchronisation, only a cap for that case. */
  exco_waker_wake(v.waker);
  pv.task = v_task;
  h_thread_start(&tb, poll_thread, &pv);
  (void)m_wait_flag(&pv.done, 0.5);

  /* Let the finisher go on: it unlinks the victim's node. */
  atomic_store(&e2->release, 1);
  h_thread_join(ta);
  h_thread_join(tb);
  ck_assert_int_eq(pt.r, 0);
  ck_assert_int_eq(pv.r, 1);
  ck_assert_int_eq(v.in_probe, 1);
  ck_assert_int_eq(v.r, 0);

  /* Finish everything. */
  h_flag_set(&v.flag);
  ck_assert_int_eq(exco_poll(v_task), 0);
  ck_assert_int_eq(exco_poll(j2_task), 0);
  ck_assert_int_eq(j2.r, 0);
  ck_assert_int_eq(exco_drop(v_task), 0);
  ev->dropped = 1;
  ck_assert_int_eq(exco_drop(j2_task), 0);
  e2->dropped = 1;
  ck_assert_int_eq(exco_drop(target), 0);
  et->dropped = 1;
  exco_waker_drop(v.waker);
  exco_task_release(v_task);
  exco_task_release(j2_task);
  exco_task_release(target);
  h_flag_destroy(&v.flag);

  /* With the bug, the finisher unlinked the victim's node after the
   * victim had left exco_join(): list_remove() wrote two self pointers
   * into the victim's live frame (probe's buffer). */
  ck_assert_int_eq(v.corrupt, 0);
  ck_assert_int_eq(atomic_load(&ev->late) + atomic_load(&e2->late), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* cancel_after_finish                                                     */
/* ---------------------------------------------------------------------- */

START_TEST(cancel_after_finish) {
  exco_executor *ex;
  exco_task *target;
  joiner j;

  memset(&j, 0, sizeof(j));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_value, V(7), NULL, &target), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_task_done(target), 1);

  /* Too late to cancel: it returned normally. */
  ck_assert_int_eq(exco_task_cancel(target), EXCO_EALREADY);

  j.target = target;
  ck_assert_int_eq(exco_spawn(ex, fn_joiner, &j, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_ptr_eq(j.result, V(7));
  /* "0 when the task returned normally". */
  ck_assert_int_eq(j.r, 0);
  exco_task_release(target);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* errno_after_migration                                                   */
/* ---------------------------------------------------------------------- */

/* Read and write errno through functions the compiler can't see into, so
 * that the test's own code asks for the current thread's errno. */
static __attribute__((noinline)) void set_errno(int v) {
  __asm__ volatile("" ::: "memory");
  errno = v;
}

static __attribute__((noinline)) int get_errno(void) {
  __asm__ volatile("" ::: "memory");
  return errno;
}

static int second_time(void *arg, exco_waker *w) {
  int *polls = arg;

  (void)w;
  return ++*polls >= 2;
}

typedef struct errno_rec {
  int polls;
  int r;
  int seen;
} errno_rec;

static void *fn_errno(void *arg) {
  errno_rec *rec = arg;

  set_errno(EXDEV);
  rec->r = exco_await(second_time, NULL, &rec->polls);
  rec->seen = get_errno();
  return NULL;
}

START_TEST(errno_after_migration) {
  exco_executor *ex = m_setup();
  exco_task *t;
  errno_rec rec;
  poll_job pj;
  pthread_t tb;
  int mine;

  memset(&rec, 0, sizeof(rec));
  memset(&pj, 0, sizeof(pj));
  ck_assert_int_eq(exco_spawn(ex, fn_errno, &rec, NULL, &t), 0);
  /* First poll here: the coroutine sets errno and suspends. */
  set_errno(0);
  ck_assert_int_eq(exco_poll(t), 1);
  ck_assert_int_eq(get_errno(), 0);

  /* Second poll on another thread (a host may move tasks between polls,
   * and the local executor runs on whichever thread calls exco_run). */
  pj.task = t;
  h_thread_start(&tb, poll_thread, &pj);
  h_thread_join(tb);
  mine = get_errno();
  ck_assert_int_eq(pj.r, 0);
  ck_assert_int_eq(rec.r, 0);
  ck_assert_int_eq(exco_drop(t), 0);
  exco_task_release(t);
  ck_assert_int_eq(exco_executor_free(ex), 0);

  /* The coroutine's errno followed it... */
  ck_assert_int_eq(rec.seen, EXDEV);
  /* ...and nobody wrote this thread's errno from another thread. */
  ck_assert_int_eq(mine, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */

static Suite *review_suite(void) {
  Suite *s = suite_create("races");
  TCase *tc = h_tcase("review", 30);

  tcase_add_test(tc, join_exit_while_linked);
  tcase_add_test(tc, cancel_after_finish);
  tcase_add_test(tc, errno_after_migration);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(review_suite());
}
