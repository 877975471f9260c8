/*
 * conformance.h -- the driver conformance suite: one set of contract
 * checks (checks.c) run against any driver through a small adapter.
 *
 * An adapter is one file that defines
 *
 *     const cf_adapter cf_this_adapter = { ... };
 *
 * and is linked with checks.c (which has main()) into one Check program
 * per driver: tests/conformance/conformance-<name>.  The suite is named
 * after the adapter, so a failure names the driver that broke the
 * contract.  README.md ("Checking your own driver") says how to add one.
 *
 * Rules for adapters: their functions never use Check's assertions (the
 * join check runs a second executor on another thread); they return 0 or
 * an error and may describe it in the rig's msg buffer, which the suite
 * prints with the adapter's name.  The suite calls make, run and fini,
 * and spawns from outside coroutines, on one thread; everything else it
 * does from other threads is what <exco.h> allows from any thread
 * (wakers, promises, cancellation).  A host whose loop runs on a thread
 * of its own keeps it from polling between two runs (the Dart adapter
 * parks its isolate), so that "spawned, not yet polled" means the same
 * on every driver.
 */
#ifndef EXCO_TESTS_CONFORMANCE_H
#define EXCO_TESTS_CONFORMANCE_H

#include <stdatomic.h>

#include "exco.h"

/* Capability flags (cf_adapter.caps). */
enum {
  /*
   * The host's loop returns by itself once every task has finished (and
   * stays in while any task waits, on a timer or on another thread): run
   * is the host's own run call (uv_run(UV_RUN_DEFAULT), exco_run()), not a
   * loop of the adapter's that watches the task count.
   */
  CF_LOOP_EXIT = 1u << 0,
  /* The adapter counts the host's calls (the counts function). */
  CF_COUNTS = 1u << 1,
  /*
   * The driver runs the process-default executor (a seed-style init such
   * as extern_executor's): one such executor per process, never two at
   * once, and it can't be closed (exco_executor_close() refuses the
   * default executor).  The suite then joins across threads on one
   * executor, and cancels with exco_executor_cancel_all() where it would
   * close.
   */
  CF_DEFAULT_EXECUTOR = 1u << 2,
  /*
   * The host may poll woken tasks in another order than exco woke them
   * (the seed's libuv driver: one uv_async_t per task, which libuv runs in
   * the order of its handle queue, not of the sends).  exco fires timers
   * in due order, but then the suite can't check that sleeps end in that
   * order; it still checks that each lasted long enough.
   */
  CF_UNORDERED_WAKES = 1u << 3
};

/* Errors of adapter functions (besides EXCO_E* and the host's codes). */
enum {
  /*
   * run gave up: nothing happened for h_wait_timeout() seconds while tasks
   * were live -- a lost wakeup, or a loop that won't return.
   */
  CF_ERR_TIMEOUT = -10000,
  /* Something else; msg says what. */
  CF_ERR_OTHER = -10001
};

/*
 * The host's calls as an instrumented adapter saw them, since make.  The
 * v_ fields count contract violations and must stay 0.
 */
typedef struct cf_counts {
  unsigned long task_new;       /* task_new calls */
  unsigned long task_run;       /* task_run calls */
  unsigned long task_wake;      /* task_wake calls */
  unsigned long polls;          /* exco_poll() calls by the host */
  unsigned long drops;          /* exco_drop() calls that returned 0 */
  unsigned long v_run_twice;    /* task_run twice for one task */
  unsigned long v_wake_dropped; /* task_wake after exco_drop() returned */
  unsigned long v_wake_extra;   /* two task_wake calls between two polls */
  unsigned long v_wake_unknown; /* task_wake before task_run */
  unsigned long v_host_error;   /* exco_poll() < 0 or exco_drop() != 0 */
} cf_counts;

typedef struct cf_adapter cf_adapter;

/* One executor of the adapter's driver, with its host loop. */
typedef struct cf_rig {
  const cf_adapter *ad;
  exco_executor *ex; /* set by make */
  void *priv;        /* the adapter's state */
  /*
   * Set (on the loop thread) by the suite's close callback once
   * exco_executor_close() has freed ex: run then returns as soon as the
   * close is complete, and fini must not touch ex.
   */
  atomic_int closed;
  char msg[256]; /* the adapter's description of its last error */
} cf_rig;

struct cf_adapter {
  const char *name; /* "uv", "local", ... */
  unsigned caps;    /* CF_* */
  /*
   * Makes an executor and its loop; sets r->ex and r->priv.  The calling
   * thread is the loop thread.  Returns 0 or an error.
   */
  int (*make)(cf_rig *r);
  /*
   * Runs the loop until every task has finished and been dropped, or,
   * once r->closed is set, until the close is complete.  Waits for wakes
   * from other threads (blocking, not spinning) but gives up with
   * CF_ERR_TIMEOUT after h_wait_timeout() seconds without progress.
   * Returns 0 or an error.
   */
  int (*run)(cf_rig *r);
  /*
   * Frees the executor (unless r->closed) and the loop, checking that
   * nothing is left (no live task, no handle on the loop).  Returns 0 or
   * an error.
   */
  int (*fini)(cf_rig *r);
  /* Optional (CF_COUNTS): the host's calls so far. */
  int (*counts)(cf_rig *r, cf_counts *out);
  /*
   * Optional: 1 if the caller runs on the loop thread, where the host
   * polls (for a host whose loop has a thread of its own, such as a Dart
   * isolate); without it, the loop thread is the one that called make.
   */
  int (*on_loop_thread)(cf_rig *r);
};

/* Defined by the adapter file linked with the suite. */
extern const cf_adapter cf_this_adapter;

#endif
