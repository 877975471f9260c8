/*
 * exco-internal.h -- the structures shared by the core modules:
 * executor.c (executors and the default one), task.c (spawn, poll, drop,
 * await, wakers, join), local.c (the built-in run queue) and promise.c.
 */
#ifndef EXCO_INTERNAL_H
#define EXCO_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "exco.h"

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
  EXCO__CANCEL = 1u << 0, /* awaits return EXCO_ECANCELED */
  EXCO__JOINERS = 1u << 1 /* a joiner may be linked: DONE must wake */
};

/*
 * A tiny lock for lists that are touched rarely and briefly (a task's
 * joiners).  A pthread mutex would cost an init and a destroy per task on
 * the spawn path, which is hot; contention here is almost never.
 */
static inline void exco__spin_lock(atomic_flag *l) {
  while (atomic_flag_test_and_set_explicit(l, memory_order_acquire))
    sched_yield();
}

static inline void exco__spin_unlock(atomic_flag *l) {
  atomic_flag_clear_explicit(l, memory_order_release);
}

struct exco_executor {
  uint32_t magic;
  exco_task_new_cb task_new;
  exco_task_run_cb task_run;
  exco_task_wake_cb task_wake;
  void *data;              /* the host's data, passed to task_new */
  struct exco__local *local; /* non-NULL for local executors */
  int is_default;
  atomic_long live;        /* spawned, not yet dropped and released */
  exco__stack_pool *pool;
};

struct exco_task {
  uint32_t magic;
  _Atomic unsigned state;   /* EXCO__RUNNING... */
  _Atomic unsigned flags;   /* EXCO__CANCEL, EXCO__JOINERS */
  atomic_long refs;         /* host + join handle + wakers + holds */
  atomic_int wakes_inflight; /* threads inside the host's task_wake */
  atomic_long holds;        /* 1 while the coroutine lives + stack holds */
  atomic_long unreleased;   /* 2 - (dropped) - (stack released) */
  int started;              /* the context has been entered */
  int finished;             /* the function has returned */
  int yielded;              /* exco_yield: a poll is owed (poller's side) */
  int was_cancelled;        /* CANCEL as it was when DONE was published */
  exco_executor *ex;
  void *ext;                /* the host's handle */
  exco_fn fn;
  void *arg;
  void *result;
  const char *name;
  exco__stack *stack;
  atomic_flag lock;         /* protects joiners */
  exco__list joiners;
  exco__ctx ctx;            /* the coroutine */
  exco__ctx caller;         /* whoever resumed it */
#ifdef EXCO__HAVE_ASAN
  void *asan_fake;               /* ASan's fake stack of the suspended side */
  const void *caller_stack_bottom; /* the poller's stack, for switching back */
  size_t caller_stack_size;
#endif
#ifdef EXCO__HAVE_TSAN
  void *tsan_fiber;
  void *tsan_caller;
#endif
};

/* Allocation goes through exco_replace_allocator()'s functions. */
void *exco__malloc(size_t size);
void exco__free(void *ptr);

/* Sets up or tears down the parts common to every executor kind. */
int exco__executor_init(exco_executor *ex, exco_task_new_cb task_new,
                        exco_task_run_cb task_run,
                        exco_task_wake_cb task_wake, void *data);
void exco__executor_fini(exco_executor *ex);
int exco__executor_valid(const exco_executor *ex);

/* The default executor, set up on first use; EXCO_ENOMEM if it can't be. */
int exco__default_executor_get(exco_executor **out);

/* Called when a task's last stake (drop and stack release) is gone. */
void exco__executor_task_gone(exco_executor *ex);

/* local.c: the built-in host driver. */
struct exco__local;
int exco__local_new(struct exco__local **out);
void exco__local_free(struct exco__local *local);
void *exco__local_task_new(void *data);
void exco__local_task_run(void *ext, exco_task *intern);
void exco__local_task_wake(void *ext);

/* The running task of this thread, or NULL. */
exco_task *exco__current(void);

/* task.c: waking a task, from any thread. */
void exco__task_wake(exco_task *t);
void exco__task_ref(exco_task *t);
void exco__task_unref(exco_task *t);

#endif
