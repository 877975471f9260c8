/*
 * harness.h -- shared helpers for exco's Check test binaries.
 *
 * The harness provides:
 *   - a recording host driver (h_host): a thread-safe FIFO host that
 *     implements the driver contract and records every callback, so tests
 *     can check the library's promises (task_new/task_run once each, at
 *     most one task_wake per poll, no task_wake after drop);
 *   - a flag future (h_flag): a leaf future that is ready once a flag is
 *     set, from any thread, with the race-free register-then-check pattern;
 *   - a counting, optionally failing allocator for exco_replace_allocator;
 *   - a per-test watchdog and suite runner.
 *
 * Rule for every test: no ck_assert* inside a coroutine.  Coroutines store
 * what they saw in plain variables; tests assert after the poll or run.
 *
 * Environment:
 *   EXCO_TEST_VALGRIND=1  set by `make check-valgrind`: stress loops are
 *                         scaled down and tests that exhaust
 *                         vm.max_map_count are skipped (valgrind has its
 *                         own mapping limits).
 *   EXCO_TEST_SKIP_EXHAUST=1  skips only the map-count exhaustion test
 *                         (always skipped under ASan and TSan).
 *   EXCO_TEST_WATCHDOG=N  seconds before a single test is killed with
 *                         SIGALRM (default 120; 0 disables).
 */
#ifndef EXCO_TESTS_HARNESS_H
#define EXCO_TESTS_HARNESS_H

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "exco.h"

/* ---------------------------------------------------------------------- */
/* Environment                                                             */
/* ---------------------------------------------------------------------- */

/* Sanitizers the tests were built with (configure puts the flags in
 * CFLAGS, so the test programs get them too). */
#if defined(__SANITIZE_ADDRESS__)
#define H_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define H_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(H_ASAN)
#define H_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(H_TSAN)
#define H_TSAN 1
#endif
#endif
#if defined(H_ASAN) || defined(H_TSAN)
#define H_SANITIZED 1
#else
#define H_SANITIZED 0
#endif

/* Counts the process's memory mappings (lines of /proc/self/maps), or
 * returns -1.  With @guards_only, counts only PROT_NONE mappings of at most
 * 64 KiB or of exactly exco_stack_guard(): stack guards, which sanitizer
 * runtimes don't make. */
long h_map_count(int guards_only);

/* 1 when the tests run under valgrind (EXCO_TEST_VALGRIND set). */
int h_under_valgrind(void);

/* Scales a stress iteration count down under valgrind (never below 1). */
long h_scale(long n);

/* Seconds a blocking harness wait gives up after (lost-wakeup detector). */
double h_wait_timeout(void);

/* Monotonic time in seconds. */
double h_now(void);
/* Waits (yielding the CPU) until *v >= want; 0, or -1 after
 * h_wait_timeout() seconds.  For plain threads (and the test's own), never
 * a coroutine or a loop thread that must keep running. */
int h_wait_at_least(atomic_int *v, int want);

/* ---------------------------------------------------------------------- */
/* The recording host driver                                               */
/* ---------------------------------------------------------------------- */

typedef struct h_host h_host;
typedef struct h_ext h_ext;

/* The host's ("extern") handle for one task.  Exts stay allocated until
 * h_host_destroy() so a late task_wake is recorded instead of crashing. */
struct h_ext {
  h_host *host;
  exco_task *intern;   /* from task_run */
  h_ext *qnext;        /* ready-queue link */
  h_ext *anext;        /* list of all exts */
  int queued;          /* on the ready queue */
  int dropped;         /* exco_drop() returned 0 */
  int finished;        /* exco_poll() returned 0 */
  unsigned long runs;  /* task_run calls for this ext */
  unsigned long wakes; /* task_wake calls, total */
  unsigned long wakes_since_poll;
  unsigned long polls;  /* exco_poll calls made by the harness */
  pthread_t run_thread; /* thread task_run was called on */
};

struct h_host {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  exco_executor *ex; /* from exco_executor_new (NULL for exco_init) */
  h_ext *qhead, *qtail;
  h_ext *all;
  long live; /* exts run and not yet dropped */
  /* Counters. */
  unsigned long n_new, n_run, n_wake, n_polls, n_drops;
  void *last_new_data;
  int fail_new;  /* task_new returns NULL while nonzero */
  int slow_wake; /* task_wake yields the CPU first (widens races
                              with a concurrent drop) */
  /* Contract violations, all must stay 0. */
  unsigned long v_run_twice;    /* task_run twice for one ext */
  unsigned long v_run_null;     /* task_run with NULL intern */
  unsigned long v_wake_dropped; /* task_wake after exco_drop returned */
  unsigned long v_wake_extra;   /* >1 task_wake between two polls */
  unsigned long v_wake_unknown; /* task_wake for an ext never run */
  unsigned long v_poll_error;   /* exco_poll returned < 0 in a run */
  unsigned long v_drop_error;   /* exco_drop returned != 0 in a run */
};

/* The three callbacks; data must be the h_host. */
void *h_task_new(void *data);
void h_task_run(void *ext, exco_task *intern);
void h_task_wake(void *ext);

/* Initialises @h and creates its executor (asserts success). */
void h_host_init(h_host *h);
/* Initialises @h without creating an executor (for exco_init). */
void h_host_init_bare(h_host *h);
/* Asserts no violations, no live tasks, frees the executor and the exts. */
void h_host_destroy(h_host *h);
/* Frees the exts and the lock (no checks; the executor is left alone). */
void h_host_free_exts(h_host *h);
/* Asserts the violation counters are all 0. */
void h_host_assert_clean(h_host *h);

/* Pops the next ready ext, or NULL. */
h_ext *h_host_pop(h_host *h);
/* Finds the ext whose intern handle is @t, or NULL. */
h_ext *h_host_ext(h_host *h, exco_task *t);
/* Polls @e once (resets its wake count first); returns exco_poll's value. */
int h_host_poll(h_host *h, h_ext *e);
/* Drops @e; returns exco_drop's value and records the drop on success. */
int h_host_drop(h_host *h, h_ext *e);
/* Records that @e was dropped by someone else (exco_drop() called from a
 * coroutine, say), so the host stops tracking it. */
void h_host_mark_dropped(h_host *h, h_ext *e);
/* Polls ready tasks (dropping finished ones) until none is ready.
 * Returns the number of live tasks. */
long h_host_run_until_idle(h_host *h);
/* Like h_host_run_until_idle() but blocks for wakes until no task is
 * live.  Returns 0, or -1 if no wake came for h_wait_timeout() seconds
 * while tasks were live (a lost wakeup). */
int h_host_run(h_host *h);
/* Thread-safe snapshots. */
unsigned long h_host_wakes(h_host *h);
long h_host_live(h_host *h);

/* ---------------------------------------------------------------------- */
/* A flag future                                                           */
/* ---------------------------------------------------------------------- */

typedef struct h_flag {
  pthread_mutex_t mu;
  int ready;
  exco_waker *waker;     /* registered waker (a clone) */
  atomic_int polls;      /* poll calls */
  atomic_int cancels;    /* cancel calls */
  atomic_int wrong_task; /* poll called outside the awaiting coroutine */
} h_flag;

void h_flag_init(h_flag *f);
/* Drops any registered waker. */
void h_flag_destroy(h_flag *f);
/* Sets the flag and wakes the registered waker (any thread). */
void h_flag_set(h_flag *f);
/* Clears the flag again (the next await will wait). */
void h_flag_reset(h_flag *f);
/* Wakes the registered waker without setting the flag. */
void h_flag_poke(h_flag *f);
/* 1 if a waker is registered. */
int h_flag_has_waker(h_flag *f);
/* Awaits the flag: exco_await(h_flag_poll, h_flag_cancel, f). */
int h_flag_await(h_flag *f);
int h_flag_poll(void *arg, exco_waker *w);
void h_flag_cancel(void *arg);

/* A future that is never ready and registers nothing. */
int h_never_poll(void *arg, exco_waker *w);

/* A flag and what one task awaiting it saw. */
typedef struct h_flagged {
  h_flag flag;
  int result; /* h_flag_await()'s return */
  int done;   /* set once the await returned */
} h_flagged;

/* A task body (arg: an h_flagged) that awaits the flag once. */
void *h_flagged_body(void *arg);

/* ---------------------------------------------------------------------- */
/* Allocator                                                               */
/* ---------------------------------------------------------------------- */

/* Installs a counting allocator.  Allocation number @fail_at (1-based,
 * counted from this call) returns NULL; 0 never fails. */
void h_alloc_install(long fail_at);
/* Restores malloc/free (asserts success). */
void h_alloc_restore(void);
/* Allocations made since h_alloc_install(), and blocks outstanding (from
 * allocations made through the counting allocator). */
long h_alloc_count(void);
long h_alloc_outstanding(void);
/* 1 once the installed allocator has refused an allocation. */
int h_alloc_failed(void);

/* ---------------------------------------------------------------------- */
/* Threads and suites                                                      */
/* ---------------------------------------------------------------------- */

/* pthread_create/pthread_join that assert success. */
void h_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
void *h_thread_join(pthread_t t);

/* Checked fixtures: start/stop the watchdog.  h_tcase() adds them. */
void h_setup(void);
void h_teardown(void);
/* A test case with the watchdog fixture and @timeout seconds. */
TCase *h_tcase(const char *name, double timeout);

/* Runs @s (CK_ENV verbosity) and returns an exit status for main(). */
int h_run_suite(Suite *s);

/* ---------------------------------------------------------------------- */
/* One executor of either kind: the local one or the recording host        */
/* ---------------------------------------------------------------------- */

/* For tests that must hold on every executor kind: the local executor
 * (exco_run) and a bare three-callback host (the recording host above). */
enum { H_RIG_LOCAL, H_RIG_HOST, H_RIG_KINDS };

typedef struct h_rig {
  int kind;
  h_host h;
  exco_executor *ex;
} h_rig;

void h_rig_init(h_rig *r, int kind);
void h_rig_spawn(h_rig *r, exco_fn fn, void *arg, exco_task **out);
/* Runs until every task has finished and been dropped. */
void h_rig_run(h_rig *r);
long h_rig_run_until_idle(h_rig *r);
/* Checks that no task is left and frees the executor. */
void h_rig_fini(h_rig *r);

#endif
