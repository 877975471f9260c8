/*
 * exco-internal.h -- the structures shared by the core modules:
 * executor.c (executors, drivers, task lists, closing), task.c (the task
 * lifecycle: spawn, wake, poll, drop), switch.h (the switch glue),
 * await.c (await, yield, join, holds, sleeps and deadlines), timer.c (the
 * timer queues), waitq.c (wait queues), runq.c (the shared run queue),
 * local.c (the built-in local executor) and promise.c.
 * docs/ARCHITECTURE.md says how they fit together.
 */
#ifndef EXCO_INTERNAL_H
#define EXCO_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "exco.h"
#include "exco/driver.h"

#include "context.h"
#include "queue.h"
#include "stack.h"

/* Which tools need to be told about coroutine switches. */
#if defined(__SANITIZE_ADDRESS__)
#define EXCO__HAVE_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define EXCO__HAVE_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(EXCO__HAVE_ASAN)
#define EXCO__HAVE_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(EXCO__HAVE_TSAN)
#define EXCO__HAVE_TSAN 1
#endif
#endif
#if defined(HAVE_VALGRIND_VALGRIND_H)
#define EXCO__HAVE_VALGRIND 1
#endif

#define EXCO__TASK_MAGIC 0x7461736bu /* "task" */
#define EXCO__EXEC_MAGIC 0x65786563u /* "exec" */

/*
 * Task state bits, all in one atomic word so that a wake, a poll and a
 * drop racing on different threads each see one consistent picture.
 *
 * NOTIFIED means "a poll is scheduled": it is set by task_run's initial
 * schedule and by every wake, and cleared when a poll starts.  While it is
 * set, further wakes coalesce and do not call the host again.
 *
 * Only wakes, polls and drops write this word, and while a poll runs only
 * the poller and wakes (which add NOTIFIED to RUNNING) do.  That lets a
 * poll that ends in a yield publish NOTIFIED with a plain store instead of
 * a locked read-modify-write (see exco_poll).  Bits that other threads set
 * at any time live in the separate flags word.
 */
enum {
  EXCO__RUNNING = 1u << 0,  /* being polled (or cancelled by a drop) */
  EXCO__NOTIFIED = 1u << 1, /* a poll is owed */
  EXCO__DONE = 1u << 2,     /* the function returned, or never will run */
  EXCO__DROPPED = 1u << 3   /* the host dropped it: no more host calls */
};

/* Task flags: set from any thread, never cleared. */
enum {
  EXCO__CANCEL = 1u << 0 /* awaits return EXCO_ECANCELED */
};

/*
 * A tiny lock for lists that are touched briefly (a task's waiters, an
 * executor's task list).  A pthread mutex would cost an init and a destroy
 * per object on the spawn path, which is hot; contention here is rare.
 */
static inline void exco__spin_lock(atomic_flag *l) {
  while (atomic_flag_test_and_set_explicit(l, memory_order_acquire))
    sched_yield();
}

static inline void exco__spin_unlock(atomic_flag *l) {
  atomic_flag_clear_explicit(l, memory_order_release);
}

#include "timer.h"
#include "waitq.h"

/* What kind of host an executor has; decides who polls and when a closed
 * executor can be freed. */
enum {
  EXCO__KIND_CALLBACKS, /* a host of the three callbacks */
  EXCO__KIND_LOCAL,     /* the built-in local executor (local.c) */
  EXCO__KIND_RUNQ       /* a driver on the shared run queue (runq.c) */
};

typedef struct exco__attachment {
  _Atomic(const void *) key;
  _Atomic(void *) value;
} exco__attachment;

struct exco_executor {
  uint32_t magic;
  int kind; /* EXCO__KIND_* */
  /* The contract's callbacks, copied from the ops for the hot paths; for
   * the shared run queue they are runq.c's and cb_data is the queue. */
  exco_task_new_cb task_new;
  exco_task_run_cb task_run;
  exco_task_wake_cb task_wake;
  void *cb_data;              /* passed to task_new */
  const exco_driver_ops *ops; /* the driver's description (identity) */
  exco_driver_ops own_ops;    /* for exco_init() / exco_executor_new() */
  void *data;                 /* the driver's data */
  struct exco__local *local;  /* EXCO__KIND_LOCAL */
  struct exco__runq *runq;    /* EXCO__KIND_RUNQ */
  int is_default;
  int migrate;               /* exco_executor_set_migration() */
  exco__list reg_link;       /* in debug.c's list of all executors */
  _Atomic uint64_t watch_ns; /* exco_executor_watchdog() threshold, 0: off */
  exco_watchdog_fn watch_fn;
  void *watch_arg;
  exco__stack_pool *pool;
  exco__timers *timers; /* own_timers, or the helper thread's */
  exco__timers own_timers;
  /* Live tasks: spawned and not yet gone (dropped, stack released). */
  atomic_flag tasks_lock;
  exco__list tasks; /* of exco_task.ex_link, oldest first */
  atomic_long live; /* written under tasks_lock */
  int closing;      /* exco_executor_close() was called */
  exco_close_cb close_cb;
  void *close_arg;
  exco__attachment attach[EXCO_ATTACH_MAX];
};

struct exco_task {
  /*
   * Line 0 holds what a yield on the run queue or the local executor
   * touches (a kept poll, exco__task_poll()); the task is allocated on a
   * cache-line boundary (exco__task_alloc()), so with many tasks such a
   * yield misses on one line of the task.  Line 1 holds the rest of what
   * a full poll touches.
   */
  _Atomic unsigned state; /* EXCO__RUNNING... */
  _Atomic unsigned flags; /* EXCO__CANCEL */
  unsigned char started;  /* the context has been entered */
  unsigned char finished; /* the function has returned */
  unsigned char yielded;  /* exco_yield: a poll is owed (poller's side) */
  unsigned char noguard;  /* the stack has a canary, not a guard page */
  /* A yield's poll that kept RUNNING for the queue (see
   * exco__task_poll()): the task is queued, not running. */
  atomic_uchar kept;
  /* exco_await_site() was called: site_file is to be cleared when the
   * await returns (the coroutine's side only). */
  unsigned char site_set;
  exco_task *rq_next; /* the run queue's link (runq.c) */
  exco__ctx ctx;      /* the coroutine */
  exco__ctx caller;   /* whoever resumed it */
  /* exco_host_call(): the function the poller runs on its own stack
   * before it resumes the coroutine; NULL when none is asked for. */
  void (*host_fn)(void *arg);
  /* For listings and the watchdog (debug.c), read from other threads:
   * how often the task was polled, and what it waits for. */
  atomic_ulong polls;
  _Atomic(const char *) wait_kind;
  /* Line 1. */
  uint32_t magic;
  atomic_int site_line;
  exco_executor *ex;
  void *ext; /* the host's handle */
  /* The thread of the first poll (exco__thread_id()), 0 before it. */
  atomic_uintptr_t home;
  /* When the poll in progress began (0: none, or no watchdog on its
   * executor), and where the task waits (debug.c). */
  _Atomic uint64_t poll_start;
  _Atomic(const char *) site_file;
  /* The C++ runtime's per-thread exception state (caught exceptions,
   * uncaught count) of the suspended coroutine (switch.h). */
  struct exco__eh_globals {
    void *caught;
    unsigned int uncaught;
  } eh;
  /* The rest: spawn, finish, join, cancel (two more lines: the block is
   * 256 bytes, so that with its alignment it takes a 320-byte malloc
   * chunk, which W5's 4.5 KiB a parked task has room for). */
  unsigned char was_cancelled; /* CANCEL as it was when DONE was published */
  unsigned char alloc_libc;    /* the block came from malloc() (task.c) */
  unsigned char alloc_off;     /* the task's offset in its block */
  atomic_int wakes_inflight;   /* threads inside the host's task_wake */
  atomic_int refs;             /* host + join handle + wakers + holds */
  atomic_int holds;            /* 1 while the coroutine lives + stack holds */
  atomic_int unreleased;       /* 2 - (dropped) - (stack released) */
  int host_errno;              /* errno as host_fn left it */
  unsigned watch_reported;     /* the poll the watchdog reported (low bits) */
  uint32_t spawn_ms;           /* exco__coarse_now_ns() / 1e6, wrapping */
  void *host_arg;
  int64_t deadline; /* exco_deadline_set(), in exco_now() ms */
  union {
    exco_fn fn;   /* until the function is called */
    void *result; /* once it has returned */
  } u;
  void *arg;
  const char *name;
  exco__stack *stack;
  exco__list ex_link;         /* in ex->tasks while live */
  exco__waitq joiners;        /* exco_join() waiters; signalled at DONE */
  struct exco__tls_slot *tls; /* task-local values (scope.c), or NULL */
#ifdef EXCO__HAVE_ASAN
  void *asan_fake;                 /* ASan's fake stack of the suspended side */
  const void *caller_stack_bottom; /* the poller's stack, for switching back */
  size_t caller_stack_size;
#endif
#ifdef EXCO__HAVE_TSAN
  void *tsan_fiber;
  void *tsan_caller;
#endif
};

/*
 * fork.c: pthread_atfork() handlers.  Each module with a process-wide lock
 * takes it before fork() (PREPARE) and lets it go after, in the parent
 * (PARENT) and in the child (CHILD), which also forgets threads that
 * don't exist there.
 */
enum { EXCO__FORK_PREPARE, EXCO__FORK_PARENT, EXCO__FORK_CHILD };
void exco__executor_fork(int phase);
void exco__timers_fork(int phase);
void exco__seed_fork(int phase);
void exco__overflow_fork(int phase);
/* scope.c (the task-local key table) and offload.c (the worker pool). */
void exco__tls_fork(int phase);
void exco__offload_fork(int phase);
/* task.c: the threads' caches of task blocks. */
void exco__task_fork(int phase);

/* debug.c: the list of all executors (for the watchdog and gdb). */
void exco__registry_add(exco_executor *ex);
void exco__registry_remove(exco_executor *ex);
void exco__debug_fork(int phase);

/* Allocation goes through exco_replace_allocator()'s functions. */
void *exco__malloc(size_t size);
void exco__free(void *ptr);
/* 1 while those are malloc() and free() (task.c keeps a cache of freed
 * task blocks then). */
extern int exco__alloc_libc;

/* executor.c */
int exco__executor_valid(const exco_executor *ex);
/* The default executor, set up on first use; EXCO_ENOMEM if it can't be. */
int exco__default_executor_get(exco_executor **out);
/* The closed executor's last stake is gone: free it where its kind of
 * host can take it. */
void exco__executor_closed(exco_executor *ex);
/* Frees a closed executor: the driver's close hook, the core parts, then
 * the user's close callback. */
void exco__executor_destroy(exco_executor *ex);

/*
 * The task list and the live count, both under tasks_lock, so that a
 * spawn and a task's end cost one lock each instead of an atomic add
 * each.  Inline: they are on the spawn path.
 */

/* Links a new task into ex->tasks; EXCO_ESHUTDOWN if @ex is closing. */
static inline int exco__executor_task_add(exco_executor *ex, exco_task *t) {
  exco__spin_lock(&ex->tasks_lock);
  if (ex->closing) {
    exco__spin_unlock(&ex->tasks_lock);
    return EXCO_ESHUTDOWN;
  }
  exco__list_insert_tail(&ex->tasks, &t->ex_link);
  atomic_store_explicit(
      &ex->live, atomic_load_explicit(&ex->live, memory_order_relaxed) + 1,
      memory_order_relaxed);
  exco__spin_unlock(&ex->tasks_lock);
  return 0;
}

/* Drops one stake in ex->live: a task's, once its drop and its stack
 * release are both done (then @t leaves the task list), or a closing
 * call's (@t NULL). */
static inline void exco__executor_unstake(exco_executor *ex, exco_task *t) {
  long left;
  int closed;

  exco__spin_lock(&ex->tasks_lock);
  if (t != NULL)
    exco__list_remove(&t->ex_link);
  left = atomic_load_explicit(&ex->live, memory_order_relaxed) - 1;
  atomic_store_explicit(&ex->live, left, memory_order_release);
  closed = left == 0 && ex->closing;
  exco__spin_unlock(&ex->tasks_lock);
  if (closed)
    exco__executor_closed(ex);
}

/* local.c: the built-in host driver. */
struct exco__local;
extern const exco_driver_ops exco__local_ops;
int exco__local_new(exco_executor *ex, struct exco__local **out);
void exco__local_free(struct exco__local *local);
/* The executor is closed and its last task gone: free it now, or at the
 * end of the exco_run() in progress. */
void exco__local_closed(struct exco__local *local);

/* runq.c: the shared run queue. */
struct exco__runq;
int exco__runq_new(exco_executor *ex, struct exco__runq **out);
void exco__runq_free(struct exco__runq *q);
void exco__runq_task_run(void *ext, exco_task *intern);
void exco__runq_task_wake(void *ext);
/* The executor is closing: keep the loop alive until it is freed. */
void exco__runq_closing(struct exco__runq *q);
/* The executor is closed and its last task gone: have the loop free it. */
void exco__runq_closed(struct exco__runq *q);

/* The running task of this thread, or NULL (switch.c). */
exco_task *exco__current(void);

/* task.c: waking a task, from any thread, and its references. */
int exco__task_valid(const exco_task *t);
void exco__task_wake(exco_task *t);
void exco__task_ref(exco_task *t);
void exco__task_unref(exco_task *t);

/* Whether the task was cancelled (seq_cst: see exco__task_wake()). */
static inline int exco__task_cancelled(exco_task *t) {
  return (atomic_load_explicit(&t->flags, memory_order_seq_cst) &
          EXCO__CANCEL) != 0;
}
/*
 * Polls or drops for the executors that own their tasks' polls (runq.c,
 * local.c).  A poll returns 0 when the function has returned (drop it),
 * 1 when the task suspended, and, when @keep is set, 2 when it yielded:
 * the task is still RUNNING, no wake was made, and the caller queues it
 * and later resumes it with exco__task_poll_kept() (same returns).  To
 * every other thread a kept task looks like one long poll, so the wake
 * protocol is unchanged: their wakes set NOTIFIED, which the poll that
 * finally clears RUNNING turns into a task_wake.  With @keep, a 0 means
 * DONE and DROPPED were set together: drop it with
 * exco__task_drop_finished().
 */
int exco__task_poll(exco_task *t, int keep);
/* exco__task_poll_kept(t, watch) is inline, in resume.h; @watch says the
 * executor's watchdog is on (ex->watch_ns != 0), which the caller reads
 * from its own copy of the executor so that a kept yield touches only the
 * task's first line. */
int exco__task_drop(exco_task *t);
/* Drops a task whose exco__task_poll(t, 1) returned 0: the poll set DONE
 * and DROPPED together, so only the host-wake wait, the stake and the
 * reference are left. */
void exco__task_drop_finished(exco_task *t);
/* Suspends the running coroutine until its next poll (await.c). */
void exco__task_suspend(exco_task *t);
/* scope.c: runs the task's task-local destructors and frees its slots,
 * on its own stack, once its function has returned. */
void exco__tls_finish(exco_task *t);
/* Releases a stack hold (await.c), for the poller's side of a finish. */
void exco__task_unhold(exco_task *t);

#endif
