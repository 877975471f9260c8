/*
 * task.c -- tasks: spawn, poll, drop, await, wakers, join and stack holds.
 *
 * A task is a control block (struct exco_task) plus a stack.  The control
 * block is reference counted: the host holds one reference from spawn to
 * drop, a join handle holds one, every cloned waker and every stack hold
 * holds one.  So a waker can be woken from another thread long after the
 * task was dropped: it finds EXCO__DROPPED in the state word and does
 * nothing, and its memory is still there to say so.
 *
 * The stack has its own, shorter life: it is released once the function
 * has returned and every stack hold is gone.  It is always released from
 * the poller's side (or a hold's owner), never from the coroutine itself,
 * because the coroutine's last switch away happens on that very stack: it
 * cannot give the stack back to the pool while it is still standing on it.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "exco-internal.h"

#ifdef EXCO__HAVE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef EXCO__HAVE_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef EXCO__HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

/* Largest stack a spawn may ask for: far beyond any sane use, low enough
 * that rounding it up to pages cannot overflow. */
#define EXCO__STACK_MAX ((size_t)1 << 40)

/*
 * The running task of this thread.  Code on a coroutine's side reads it
 * through exco__current(), which the compiler may not inline: a coroutine
 * suspended on one thread may be resumed on another, and a thread-local
 * address cached across the switch would then name the old thread's
 * variable.  The poller's side (exco__switch_in, exco_poll) uses it
 * directly.
 *
 * The initial-exec model makes the access a single %fs-relative load
 * instead of a __tls_get_addr call in the shared library (10 ns of a 50 ns
 * yield here).  It costs a few bytes of the static TLS block that glibc
 * keeps spare for libraries loaded with dlopen, as jemalloc's does.
 */
static __thread exco_task *exco__tls_current
    __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) exco_task *exco__current(void) {
  exco_task *t = exco__tls_current;
  __asm__ volatile("" ::: "memory");
  return t;
}

static int exco__task_valid(const exco_task *t) {
  return t != NULL && t->magic == EXCO__TASK_MAGIC;
}

void exco__task_ref(exco_task *t) {
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

/*
 * Counters below are often at their last count when we come to drop one,
 * and a plain load is much cheaper than a locked read-modify-write.  If
 * the load shows we hold the last count, nobody else can take a new one
 * (that needs a count already), so the object is ours alone.
 */
static int exco__put_last(atomic_long *count) {
  if (atomic_load_explicit(count, memory_order_acquire) == 1)
    return 1;
  return atomic_fetch_sub_explicit(count, 1, memory_order_acq_rel) == 1;
}

void exco__task_unref(exco_task *t) {
  if (!exco__put_last(&t->refs))
    return;
  t->magic = 0;
  exco__free(t);
}

/* ---------------------------------------------------------------------- */
/* Switching                                                               */
/* ---------------------------------------------------------------------- */

/*
 * Poller -> coroutine.  Sanitizers are told about the stack we are about
 * to run on, so ASan doesn't report the coroutine's frames as a wild stack
 * and TSan keeps a separate shadow stack per coroutine.
 *
 * The poller's side always comes back on the thread that left it (only
 * the coroutine's side can move between threads), so here the current
 * task is read and written directly, without exco__current()'s fence.
 * errno is the poller's on this side; the coroutine's errno stays the
 * coroutine's (see exco__suspend), so it is kept around the switch.
 */
static void exco__switch_in(exco_task *t) {
  exco_task *prev = exco__tls_current;
  int saved_errno = errno;

  exco__tls_current = t;
#ifdef EXCO__HAVE_ASAN
  void *fake = NULL;
  __sanitizer_start_switch_fiber(&fake, t->stack->lo, t->stack->size);
#endif
#ifdef EXCO__HAVE_TSAN
  t->tsan_caller = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
  exco__ctx_switch(&t->caller, &t->ctx);
#ifdef EXCO__HAVE_ASAN
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
  exco__tls_current = prev;
  errno = saved_errno;
}

/*
 * Coroutine -> poller.  On the final switch (the function returned) ASan
 * is given NULL for the fake stack, which tells it this stack is gone.
 */
static void exco__switch_out(exco_task *t, int final) {
  if (t->stack->flags & EXCO_SPAWN_NOGUARD) {
    /* Without a guard page an overflow is only seen after the fact.  The
     * memory below is corrupted by then: stop before anything uses it. */
    if (!exco__stack_canary_ok(t->stack)) {
      fprintf(stderr, "exco: stack overflow in unguarded task %s\n",
              t->name != NULL ? t->name : "(unnamed)");
      abort();
    }
  }
#ifdef EXCO__HAVE_ASAN
  __sanitizer_start_switch_fiber(final ? NULL : &t->asan_fake,
                                 t->caller_stack_bottom,
                                 t->caller_stack_size);
#endif
#ifdef EXCO__HAVE_TSAN
  __tsan_switch_to_fiber(t->tsan_caller, 0);
#endif
  exco__ctx_switch(&t->ctx, &t->caller);
#ifdef EXCO__HAVE_ASAN
  __sanitizer_finish_switch_fiber(t->asan_fake, &t->caller_stack_bottom,
                                  &t->caller_stack_size);
#endif
  (void)final;
}

static void exco__entry(void *arg) {
  exco_task *t = arg;

#ifdef EXCO__HAVE_ASAN
  __sanitizer_finish_switch_fiber(NULL, &t->caller_stack_bottom,
                                  &t->caller_stack_size);
#endif
  errno = 0;
  t->result = t->fn(t->arg);
  t->finished = 1;
  exco__switch_out(t, 1);
  /* A finished context is never resumed. */
  abort();
}

/*
 * Suspends the running coroutine until its next poll.  errno is the
 * coroutine's on this side: the poller's code in between may change it.
 */
/*
 * glibc declares __errno_location() const, so the compiler may compute
 * errno's address once and reuse it after a switch; but a coroutine may
 * be resumed on another thread, whose errno lives elsewhere.  Like
 * exco__current(), this asks again after every switch.
 */
__attribute__((noinline)) static int *exco__errno_ptr(void) {
  __asm__ volatile("" ::: "memory");
  return &errno;
}

static void exco__suspend(exco_task *t) {
  int saved_errno = errno;
  exco__switch_out(t, 0);
  *exco__errno_ptr() = saved_errno;
}

/* ---------------------------------------------------------------------- */
/* Stacks                                                                  */
/* ---------------------------------------------------------------------- */

static void exco__task_release_stake(exco_task *t) {
  if (exco__put_last(&t->unreleased))
    exco__executor_task_gone(t->ex);
}

static void exco__task_release_stack(exco_task *t) {
  exco__stack_put(t->ex->pool, t->stack);
  t->stack = NULL;
  exco__task_release_stake(t);
}

static void exco__task_unhold(exco_task *t) {
  if (exco__put_last(&t->holds))
    exco__task_release_stack(t);
}

exco_hold *exco_hold_stack(void) {
  exco_task *t = exco__current();

  if (t == NULL)
    return NULL;
  atomic_fetch_add_explicit(&t->holds, 1, memory_order_relaxed);
  exco__task_ref(t);
  return (exco_hold *)t;
}

void exco_hold_release(exco_hold *hold) {
  exco_task *t = (exco_task *)hold;

  if (t == NULL)
    return;
  exco__task_unhold(t);
  exco__task_unref(t);
}

/* ---------------------------------------------------------------------- */
/* Spawn                                                                   */
/* ---------------------------------------------------------------------- */

int exco_spawn(exco_executor *ex, exco_fn fn, void *arg,
               const exco_spawn_opts *opts, exco_task **out) {
  exco_spawn_opts o = {0, NULL, 0};
  exco_task *t;
  int err;

  if (fn == NULL)
    return EXCO_EINVAL;
  if (opts != NULL)
    o = *opts;
  if ((o.flags & ~EXCO_SPAWN_NOGUARD) != 0 || o.stack_size > EXCO__STACK_MAX)
    return EXCO_EINVAL;
  if (ex == NULL) {
    ex = exco_current_executor();
    if (ex == NULL && (err = exco__default_executor_get(&ex)) != 0)
      return err;
  }
  if (!exco__executor_valid(ex))
    return EXCO_EINVAL;

  t = exco__malloc(sizeof(*t));
  if (t == NULL)
    return EXCO_ENOMEM;
  t->magic = EXCO__TASK_MAGIC;
  /* The initial poll is already owed: task_run schedules it. */
  atomic_init(&t->state, EXCO__NOTIFIED);
  atomic_init(&t->flags, 0);
  atomic_init(&t->refs, out != NULL ? 2 : 1);
  atomic_init(&t->wakes_inflight, 0);
  atomic_init(&t->holds, 1);
  atomic_init(&t->unreleased, 2);
  t->started = 0;
  t->finished = 0;
  t->yielded = 0;
  t->ex = ex;
  t->ext = NULL;
  t->fn = fn;
  t->arg = arg;
  t->result = NULL;
  t->name = o.name;
  t->was_cancelled = 0;
  exco__list_init(&t->joiners);
  atomic_flag_clear(&t->lock);

  err = exco__stack_get(ex->pool, o.stack_size, o.flags, &t->stack);
  if (err != 0)
    goto fail;

  t->ext = ex->task_new(ex->data);
  if (t->ext == NULL) {
    exco__stack_put(ex->pool, t->stack);
    err = EXCO_ENOMEM;
    goto fail;
  }
  atomic_fetch_add_explicit(&ex->live, 1, memory_order_relaxed);
  if (out != NULL)
    *out = t;
  ex->task_run(t->ext, t);
  return 0;

fail:
  t->magic = 0;
  exco__free(t);
  return err;
}

/* ---------------------------------------------------------------------- */
/* Wake                                                                    */
/* ---------------------------------------------------------------------- */

/*
 * Calls the host's task_wake.  wakes_inflight tells a concurrent drop that
 * a thread is inside task_wake for this task: exco_drop() sets DROPPED and
 * then waits for the count to fall to zero, so once it returns the host
 * can free its handle without a wake landing on it.  The count is raised
 * *before* the state change that decides to call the host, so whichever
 * of the two (wake's CAS, drop's fetch_or) comes first in the state word's
 * order, the other one sees it.
 *
 * The state accesses here, the poll's claiming CAS, and the CANCEL flag's
 * set and test are all sequentially consistent.  A canceller sets CANCEL
 * in one word and then wakes through the other; a poll claims the task in
 * one and then tests CANCEL in the other.  That is the store-buffering
 * shape, and release/acquire would let both sides read the old values: the
 * wake coalesces with a poll that then misses CANCEL.  seq_cst forbids it
 * (tests/model/README.md), and on x86-64 and AArch64 it compiles to the
 * same instructions.
 */
void exco__task_wake(exco_task *t) {
  unsigned s = atomic_load_explicit(&t->state, memory_order_seq_cst);

  for (;;) {
    if (s & (EXCO__DONE | EXCO__DROPPED | EXCO__NOTIFIED))
      return; /* finished, gone, or a poll is owed already: coalesce */
    if (s & EXCO__RUNNING) {
      /* The poll in progress will see NOTIFIED when the coroutine
       * suspends and reschedule it: no host call from here. */
      if (atomic_compare_exchange_weak_explicit(
              &t->state, &s, s | EXCO__NOTIFIED, memory_order_seq_cst,
              memory_order_seq_cst))
        return;
      continue;
    }
    atomic_fetch_add_explicit(&t->wakes_inflight, 1, memory_order_seq_cst);
    if (atomic_compare_exchange_strong_explicit(
            &t->state, &s, s | EXCO__NOTIFIED, memory_order_seq_cst,
            memory_order_seq_cst)) {
      t->ex->task_wake(t->ext);
      atomic_fetch_sub_explicit(&t->wakes_inflight, 1, memory_order_release);
      return;
    }
    atomic_fetch_sub_explicit(&t->wakes_inflight, 1, memory_order_release);
  }
}

exco_waker *exco_waker_current(void) {
  exco_task *t = exco__current();

  if (t == NULL)
    return NULL;
  exco__task_ref(t);
  return (exco_waker *)t;
}

exco_waker *exco_waker_clone(exco_waker *w) {
  if (w != NULL)
    exco__task_ref((exco_task *)w);
  return w;
}

void exco_waker_wake(exco_waker *w) {
  if (w != NULL)
    exco__task_wake((exco_task *)w);
}

void exco_waker_drop(exco_waker *w) {
  if (w != NULL)
    exco__task_unref((exco_task *)w);
}

/* ---------------------------------------------------------------------- */
/* Poll and drop                                                           */
/* ---------------------------------------------------------------------- */

/* Resumes @t until it suspends or returns.  The caller owns RUNNING. */
static void exco__resume(exco_task *t) {
  if (!t->started) {
    t->started = 1;
#ifdef EXCO__HAVE_TSAN
    t->tsan_fiber = __tsan_create_fiber(0);
#endif
    if (exco__ctx_make(&t->ctx, t->stack->lo, t->stack->size, exco__entry,
                       t) != 0) {
      /* Only the ucontext backend can fail here, and then the task can't
       * ever run: it ends as if cancelled before it started. */
      atomic_fetch_or_explicit(&t->flags, EXCO__CANCEL, memory_order_relaxed);
      t->finished = 1;
      return;
    }
  }
  exco__switch_in(t);
}

static int exco__cancelled(exco_task *t) {
  return (atomic_load_explicit(&t->flags, memory_order_seq_cst) &
          EXCO__CANCEL) != 0;
}

/* A joiner waiting on a task, linked into the task's joiners list.  It
 * lives on the joiner's stack: the joiner is suspended in exco_join() while
 * it is linked, and unlinks it under the lock if it is cancelled. */
typedef struct exco__join_wait {
  exco__list link;
  exco_task *waker;
  exco_task *target;
  int linked;
} exco__join_wait;

/*
 * The function has returned (or will never run): publish DONE, wake the
 * joiners, and let go of the stack.  Runs on the poller's side.
 */
static void exco__finish(exco_task *t) {
  exco__list *n;

#ifdef EXCO__HAVE_TSAN
  if (t->started)
    __tsan_destroy_fiber(t->tsan_fiber);
#endif
  /* Joiners link themselves, set JOINERS, then look for DONE; we set
   * DONE, then look for JOINERS.  Both sides sequentially consistent: at
   * least one of them sees the other's write. */
  t->was_cancelled = exco__cancelled(t);
  atomic_fetch_or_explicit(&t->state, EXCO__DONE, memory_order_seq_cst);
  if (atomic_load_explicit(&t->flags, memory_order_seq_cst) & EXCO__JOINERS) {
    exco__spin_lock(&t->lock);
    while (!exco__list_empty(&t->joiners)) {
      n = t->joiners.next;
      exco__list_remove(n);
      exco__task_wake(exco__container_of(n, exco__join_wait, link)->waker);
    }
    exco__spin_unlock(&t->lock);
  }
#ifdef EXCO__HAVE_VALGRIND
  /* memcheck made the frames of the returned function inaccessible; a
   * hold means some of that memory is still lent out and will be used. */
  if (atomic_load_explicit(&t->holds, memory_order_acquire) > 1)
    VALGRIND_MAKE_MEM_DEFINED(t->stack->lo, t->stack->size);
#endif
  exco__task_unhold(t);
}

int exco_poll(exco_task *t) {
  exco_task_wake_cb wake;
  unsigned s, ns;
  void *ext;

  if (!exco__task_valid(t))
    return EXCO_EINVAL;
  if (exco__tls_current != NULL)
    return EXCO_EBUSY;

  s = atomic_load_explicit(&t->state, memory_order_seq_cst);
  do {
    if (s & EXCO__DROPPED)
      return EXCO_EALREADY;
    if (s & EXCO__DONE)
      return 0;
    if (s & EXCO__RUNNING)
      return EXCO_EBUSY;
    ns = (s & ~(unsigned)EXCO__NOTIFIED) | EXCO__RUNNING;
  } while (!atomic_compare_exchange_weak_explicit(
      &t->state, &s, ns, memory_order_seq_cst, memory_order_seq_cst));

  exco__resume(t);

  if (t->finished) {
    exco__finish(t);
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
   * After a yield the state is RUNNING, perhaps with NOTIFIED from a wake,
   * and becomes NOTIFIED: a plain release store is enough, because the
   * only concurrent writers are wakes adding NOTIFIED, which either came
   * before (and NOTIFIED stays) or find NOTIFIED and coalesce.  Otherwise
   * RUNNING is cleared with a read-modify-write that keeps a racing wake's
   * NOTIFIED.
   */
  wake = t->ex->task_wake;
  ext = t->ext;
  if (t->yielded) {
    t->yielded = 0;
    atomic_store_explicit(&t->state, EXCO__NOTIFIED, memory_order_release);
    wake(ext);
    return 1;
  }
  s = atomic_fetch_and_explicit(&t->state, ~(unsigned)EXCO__RUNNING,
                                memory_order_acq_rel);
  /* From here on the task may be another thread's: touch nothing of it. */
  if (s & EXCO__NOTIFIED)
    wake(ext);
  return 1;
}

int exco_drop(exco_task *t) {
  exco_task *cur = exco__current();
  unsigned s;

  if (!exco__task_valid(t))
    return EXCO_EINVAL;
  if (cur == t)
    return EXCO_EBUSY;

  s = atomic_load_explicit(&t->state, memory_order_acquire);
  do {
    if (s & EXCO__DROPPED)
      return EXCO_EALREADY;
    if (s & EXCO__RUNNING)
      return EXCO_EBUSY;
    /* Cancelling a started task means resuming it; from inside another
     * coroutine that would nest one coroutine in another's poll. */
    if (cur != NULL && t->started && !(s & EXCO__DONE))
      return EXCO_EBUSY;
  } while (!atomic_compare_exchange_weak_explicit(
      &t->state, &s, s | EXCO__DROPPED | EXCO__RUNNING,
      memory_order_seq_cst, memory_order_acquire));
  if (!(s & EXCO__DONE))
    atomic_fetch_or_explicit(&t->flags, EXCO__CANCEL, memory_order_seq_cst);

  /* No new host wake can start now; wait out the ones already inside
   * task_wake (a few instructions of the host's code). */
  while (atomic_load_explicit(&t->wakes_inflight, memory_order_acquire) != 0)
    sched_yield();

  if (!(s & EXCO__DONE)) {
    /* Every await now returns EXCO_ECANCELED without suspending, so one
     * resume normally runs the function to its end.  The loop is for a
     * function that ignores the error and awaits again. */
    while (t->started && !t->finished)
      exco__resume(t);
    t->finished = 1;
    exco__finish(t);
  }
  exco__task_release_stake(t);
  exco__task_unref(t);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Await                                                                   */
/* ---------------------------------------------------------------------- */

int exco_await(exco_poll_fn poll, exco_cancel_fn cancel, void *arg) {
  exco_task *t = exco__current();

  if (t == NULL)
    return EXCO_EPERM;
  if (poll == NULL)
    return EXCO_EINVAL;
  if (exco__cancelled(t))
    return EXCO_ECANCELED;
  while (!poll(arg, (exco_waker *)t)) {
    exco__suspend(t);
    if (exco__cancelled(t)) {
      if (cancel != NULL)
        cancel(arg);
      return EXCO_ECANCELED;
    }
  }
  return 0;
}

int exco_yield(void) {
  exco_task *t = exco__current();

  if (t == NULL)
    return EXCO_EPERM;
  if (exco__cancelled(t))
    return EXCO_ECANCELED;
  /* A wake of a running task only marks it, and the poll reschedules it
   * through the host once we have switched out.  Only this thread touches
   * the mark while the task runs, so it needs no atomic operation here;
   * the poll publishes it in the state word. */
  t->yielded = 1;
  exco__suspend(t);
  return exco__cancelled(t) ? EXCO_ECANCELED : 0;
}

/* ---------------------------------------------------------------------- */
/* Join, cancel, accessors                                                 */
/* ---------------------------------------------------------------------- */

static int exco__join_poll(void *arg, exco_waker *w) {
  exco__join_wait *jw = arg;
  int done;

  exco_task *target = jw->target;

  if (!jw->linked &&
      (atomic_load_explicit(&target->state, memory_order_acquire) &
       EXCO__DONE))
    return 1;
  exco__spin_lock(&target->lock);
  if (!jw->linked) {
    jw->linked = 1;
    jw->waker = (exco_task *)w;
    exco__list_insert_tail(&target->joiners, &jw->link);
  }
  atomic_fetch_or_explicit(&target->flags, EXCO__JOINERS,
                           memory_order_seq_cst);
  done = (atomic_load_explicit(&target->state, memory_order_seq_cst) &
          EXCO__DONE) != 0;
  if (done && !exco__list_empty(&jw->link))
    exco__list_remove(&jw->link);
  exco__spin_unlock(&target->lock);
  return done;
}

static void exco__join_cancel(void *arg) {
  exco__join_wait *jw = arg;

  exco__spin_lock(&jw->target->lock);
  if (!exco__list_empty(&jw->link))
    exco__list_remove(&jw->link);
  exco__spin_unlock(&jw->target->lock);
}

int exco_join(exco_task *task, void **result) {
  exco_task *cur = exco__current();
  exco__join_wait jw;
  int err;

  if (cur == NULL)
    return EXCO_EPERM;
  if (!exco__task_valid(task))
    return EXCO_EINVAL;
  if (task == cur)
    return EXCO_EDEADLK;
  exco__list_init(&jw.link);
  jw.waker = NULL;
  jw.target = task;
  jw.linked = 0;
  err = exco_await(exco__join_poll, exco__join_cancel, &jw);
  if (err != 0)
    return err;
  if (result != NULL)
    *result = task->result;
  return task->was_cancelled ? EXCO_ECANCELED : 0;
}

int exco_task_done(exco_task *task) {
  if (!exco__task_valid(task))
    return EXCO_EINVAL;
  return (atomic_load_explicit(&task->state, memory_order_acquire) &
          EXCO__DONE) != 0;
}

int exco_task_cancel(exco_task *task) {

  if (!exco__task_valid(task))
    return EXCO_EINVAL;
  if (atomic_load_explicit(&task->state, memory_order_acquire) & EXCO__DONE)
    return EXCO_EALREADY;
  atomic_fetch_or_explicit(&task->flags, EXCO__CANCEL, memory_order_seq_cst);
  exco__task_wake(task);
  return 0;
}

void exco_task_release(exco_task *task) {
  if (exco__task_valid(task))
    exco__task_unref(task);
}

exco_task *exco_current(void) {
  return exco__current();
}

exco_executor *exco_current_executor(void) {
  exco_task *t = exco__current();
  return t != NULL ? t->ex : NULL;
}

const char *exco_task_name(exco_task *task) {
  return exco__task_valid(task) ? task->name : NULL;
}

const char *exco_context_backend(void) {
  return exco__ctx_backend;
}
