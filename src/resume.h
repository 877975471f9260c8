/*
 * resume.h -- resuming a task whose RUNNING bit the caller owns: the part
 * of a poll after its claim (task.c), inline for the executors that queue
 * their own tasks (runq.c, local.c).
 *
 * Inline because of the return stack.  A context switch leaves the
 * processor's return-address predictor holding the other side's calls, so
 * every return made after a switch, before the next call, is mispredicted.
 * With the resume in a function of its own, a poller returned twice
 * (resume, poll) after each yield; inline in the queue's loop, the loop
 * calls the switch itself and returns nowhere: a yield then costs one
 * mispredicted return (exco_yield's own, on the coroutine's side), as in
 * the fastest peers.
 */
#ifndef EXCO_RESUME_H
#define EXCO_RESUME_H

#include "exco-internal.h"
#include "switch.h"

/* task.c: the rare paths, out of line. */
/* First resume: sets up the context; nonzero if the task can never run
 * (finished is then set). */
int exco__task_first_resume(exco_task *t);
/* Runs the exco_host_call() functions the coroutine asked for. */
void exco__task_host_calls(exco_task *t);
/* The function returned: publish DONE (| @also), wake joiners, let go of
 * the stack. */
void exco__task_finish(exco_task *t, unsigned also);
/* Suspended for real: clear RUNNING and call task_wake if a wake came
 * meanwhile.  Returns 1. */
int exco__task_suspend_tail(exco_task *t);

/* Resumes @t until it suspends or returns.  The caller owns RUNNING. */
/* Returns the task that came back: @t, or with @keep the loop's current
 * task (see exco__inplace in switch.h). */
static inline __attribute__((always_inline)) exco_task *
exco__resume_inline(exco_task *t, int keep) {
  exco__overflow_check_thread();
  if (__builtin_expect(!t->started, 0) && exco__task_first_resume(t) != 0)
    return t;
  t = exco__switch_in_ex(t, 1, keep);
  if (__builtin_expect(t->host_fn != NULL, 0))
    exco__task_host_calls(t);
  return t;
}

/* A kept task's resume, from a loop that has done this thread's overflow
 * set-up and keeps its errno itself (exco__task_poll_kept()). */
static inline __attribute__((always_inline)) exco_task *
exco__resume_kept(exco_task *t) {
  t = exco__switch_in_ex(t, 0, 1);
  if (__builtin_expect(t->host_fn != NULL, 0))
    exco__task_host_calls(t);
  return t;
}

/*
 * The part of a poll after the claim: resumes @t and handles how it came
 * back.  Returns 0 (finished: drop it), 1 (suspended; the host was told
 * of any wake meanwhile) or, with @keep, 2 (a kept yield: see
 * exco__task_poll()).  @watch: the executor's watchdog is on.
 */
static inline __attribute__((always_inline)) int
exco__task_run_claimed(exco_task *t, int keep, int watch, int kept) {
  exco_task_wake_cb wake;
  void *ext;

  atomic_store_explicit(
      &t->polls, atomic_load_explicit(&t->polls, memory_order_relaxed) + 1,
      memory_order_relaxed);
  if (__builtin_expect(watch, 0))
    atomic_store_explicit(&t->poll_start, exco__now_ns(), memory_order_relaxed);
  if (kept)
    t = exco__resume_kept(t);
  else
    t = exco__resume_inline(t, keep);
  if (__builtin_expect(watch, 0))
    atomic_store_explicit(&t->poll_start, 0, memory_order_relaxed);

  if (__builtin_expect(t->finished, 0)) {
    if (keep) {
      /* The queue drops the task next (exco__task_drop_finished()): DONE
       * and DROPPED in one step, RUNNING left set, the state a drop
       * leaves; no other thread polls or drops a queue's task. */
      exco__task_finish(t, EXCO__DROPPED);
      return 0;
    }
    exco__task_finish(t, 0);
    atomic_fetch_and_explicit(&t->state, ~(unsigned)EXCO__RUNNING,
                              memory_order_release);
    return 0;
  }

  /*
   * Suspended.  A wake that came while it ran (or the task's own yield)
   * left a poll owed and called nobody: the host is told now, after
   * RUNNING is cleared, so the poll it schedules can't find the task still
   * running.  No drop can come between the state change and task_wake:
   * the host doesn't drop a task while it polls it.
   *
   * A yield polled by an executor that queues its own tasks keeps
   * RUNNING instead (@keep): no state change, no host call.
   *
   * After a yield the state is RUNNING, perhaps with NOTIFIED from a wake,
   * and becomes NOTIFIED: a plain release store is enough, because the
   * only concurrent writers are wakes adding NOTIFIED, which either came
   * before (and NOTIFIED stays) or find NOTIFIED and coalesce.  Otherwise
   * RUNNING is cleared with a read-modify-write that keeps a racing wake's
   * NOTIFIED (exco__task_suspend_tail()).
   */
  if (t->yielded) {
    t->yielded = 0;
    if (keep) {
      atomic_store_explicit(&t->kept, 1, memory_order_relaxed);
      return 2;
    }
    wake = t->ex->task_wake;
    ext = t->ext;
    atomic_store_explicit(&t->state, EXCO__NOTIFIED, memory_order_release);
    wake(ext);
    return 1;
  }
  return exco__task_suspend_tail(t);
}

/*
 * Resumes a task that a kept yield left RUNNING (exco__task_poll()), on
 * its home thread (the executors that keep tasks run them on one thread,
 * or allow migration): the claim and the home check were done by the
 * poll that kept it.  The caller's loop keeps its errno around the loop
 * and has called exco__overflow_check_thread() (exco__kept_loop_enter()).
 */
static inline __attribute__((always_inline)) int
exco__task_poll_kept(exco_task *t, int watch) {
  atomic_store_explicit(&t->kept, 0, memory_order_relaxed);
  return exco__task_run_claimed(t, 1, watch, 1);
}

/* Around a loop that calls exco__task_poll_kept(): returns the errno to
 * give back with exco__kept_loop_leave(). */
static inline int exco__kept_loop_enter(void) {
  exco__overflow_check_thread();
  return errno;
}

static inline void exco__kept_loop_leave(int saved_errno) {
  errno = saved_errno;
}

#endif
